"""The evidence lower bound (ELBO) of a mixture model, term by term.

For a mixture the latent variable of point ``n`` is its component, and any
distribution ``q`` over it is a row ``q[n]`` of an array of shape
``(n_samples, n_components)``.  With the log joint
``log_joint[n, k] = log p(x_n, z_n = k | theta)``,

* :func:`expected_complete_log_likelihood` is ``E_q[log p(x, z)]``,
* :func:`entropy` is ``H(q)``,
* :func:`elbo` is their sum, :eq:`elbo-definition`,
* :func:`kl_gap` is ``sum_n KL(q_n || p(z_n | x_n))``, computed directly
  from the posterior,

and the identity :eq:`elbo-decomposition` says ``log p(x) = ELBO + KL``.
:func:`decompose` returns every term at once.  These functions take the log
joint, so they serve any mixture; :func:`gmm_log_joint` builds it for a
Gaussian mixture from :func:`emtutor.gmm.log_gaussian_density`, and
:func:`gmm_decompose` is the decomposition for a Gaussian mixture.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp, xlogy

from . import gmm

__all__ = [
    "ELBODecomposition",
    "expected_complete_log_likelihood",
    "entropy",
    "elbo",
    "kl_gap",
    "decompose",
    "gmm_log_joint",
    "gmm_decompose",
]


class ELBODecomposition(NamedTuple):
    """The terms of :eq:`elbo-decomposition`, each summed over the samples.

    Attributes
    ----------
    expected_complete : float
        ``E_q[log p(x, z | theta)]``.
    entropy : float
        ``H(q)``.
    elbo : float
        ``expected_complete + entropy``.
    kl : float
        ``KL(q || p(z | x, theta))`` (computed directly, not as a difference).
    log_likelihood : float
        ``log p(x | theta)``; equals ``elbo + kl`` up to rounding.
    """

    expected_complete: float
    entropy: float
    elbo: float
    kl: float
    log_likelihood: float


def expected_complete_log_likelihood(log_joint, q) -> float:
    """Expected complete-data log-likelihood ``E_q[log p(x, z | theta)]``.

    The first term of :eq:`elbo-definition` (for a Gaussian mixture it is
    :eq:`gmm-expected-complete`).  A component with ``q[n, k] = 0``
    contributes nothing, even where ``log_joint[n, k] = -inf``.

    Parameters
    ----------
    log_joint : array of shape (n_samples, n_components)
        ``log p(x_n, z_n = k | theta)``.
    q : array of shape (n_samples, n_components)
        Rows are distributions over the components.

    Returns
    -------
    float
    """
    log_joint, q = _check_pair(log_joint, q)
    terms = np.where(q > 0, q * np.where(q > 0, log_joint, 0.0), 0.0)
    return float(np.sum(terms))


def entropy(q) -> float:
    """Entropy ``H(q) = -sum_n sum_k q[n, k] log q[n, k]``, the second term of :eq:`elbo-definition`.

    Parameters
    ----------
    q : array of shape (n_samples, n_components)

    Returns
    -------
    float
        Non-negative; ``0 log 0 = 0``.
    """
    q = _check_q(q)
    return float(-np.sum(xlogy(q, q)))


def elbo(log_joint, q) -> float:
    """Evidence lower bound :eq:`elbo-definition`: ``E_q[log p(x, z)] + H(q)``.

    Parameters
    ----------
    log_joint : array of shape (n_samples, n_components)
    q : array of shape (n_samples, n_components)

    Returns
    -------
    float
        At most ``log p(x)`` (:eq:`elbo-jensen`), with equality when ``q``
        is the posterior.
    """
    return expected_complete_log_likelihood(log_joint, q) + entropy(q)


def kl_gap(log_joint, q) -> float:
    """KL divergence from ``q`` to the posterior, the gap in :eq:`elbo-decomposition`.

    Computed directly as ``sum q (log q - log p(z | x))`` with the posterior
    ``log p(z_n = k | x_n) = log_joint[n, k] - logsumexp_k log_joint[n, k]``
    (:eq:`kl-divergence`).

    Parameters
    ----------
    log_joint : array of shape (n_samples, n_components)
    q : array of shape (n_samples, n_components)

    Returns
    -------
    float
        Non-negative up to rounding; ``inf`` if ``q`` puts mass where the
        posterior has none.
    """
    log_joint, q = _check_pair(log_joint, q)
    log_post = log_joint - logsumexp(log_joint, axis=1, keepdims=True)
    positive = q > 0
    if np.any(positive & np.isneginf(log_post)):
        return float("inf")
    terms = np.where(positive, q * (np.log(np.where(positive, q, 1.0)) - np.where(positive, log_post, 0.0)), 0.0)
    return float(max(np.sum(terms), 0.0))


def decompose(log_joint, q) -> ELBODecomposition:
    """All terms of :eq:`elbo-decomposition` for a distribution ``q``.

    Parameters
    ----------
    log_joint : array of shape (n_samples, n_components)
        ``log p(x_n, z_n = k | theta)``.
    q : array of shape (n_samples, n_components)

    Returns
    -------
    ELBODecomposition
    """
    log_joint, q = _check_pair(log_joint, q)
    expected = expected_complete_log_likelihood(log_joint, q)
    ent = entropy(q)
    log_lik = float(np.sum(logsumexp(log_joint, axis=1)))
    return ELBODecomposition(expected, ent, expected + ent, kl_gap(log_joint, q), log_lik)


def gmm_log_joint(X, params) -> np.ndarray:
    """``log pi_k + log N(x_n | mu_k, Sigma_k)`` for a Gaussian mixture.

    The log joint :eq:`gmm-joint`, the numerator of :eq:`gmm-e-step`, from
    :func:`emtutor.gmm.log_gaussian_density`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : emtutor.gmm.GMMParams

    Returns
    -------
    ndarray of shape (n_samples, n_components)
    """
    X = np.asarray(X, dtype=float)
    with np.errstate(divide="ignore"):  # a zero weight is log 0 = -inf: allowed
        return np.log(params.weights) + gmm.log_gaussian_density(X, params.means, params.covariances)


def gmm_decompose(X, params, q=None) -> ELBODecomposition:
    """:eq:`elbo-decomposition` for a Gaussian mixture.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : emtutor.gmm.GMMParams
        The parameters ``theta`` of the log joint.
    q : array of shape (n_samples, n_components), optional
        Default: the posterior under ``params`` from :func:`emtutor.gmm.e_step`,
        which makes the bound tight (``kl == 0``).

    Returns
    -------
    ELBODecomposition
    """
    if q is None:
        q = gmm.e_step(np.asarray(X, dtype=float), params)[0]
    return decompose(gmm_log_joint(X, params), q)


def _check_q(q) -> np.ndarray:
    q = np.asarray(q, dtype=float)
    if q.ndim != 2:
        raise ValueError(f"q must be 2-D of shape (n_samples, n_components), got shape {q.shape}")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError("q must be finite and non-negative")
    sums = q.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-8):
        i = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"every row of q must sum to 1, but row {i} sums to {sums[i]!r}")
    return q


def _check_pair(log_joint, q) -> tuple[np.ndarray, np.ndarray]:
    q = _check_q(q)
    log_joint = np.asarray(log_joint, dtype=float)
    if log_joint.shape != q.shape:
        raise ValueError(f"log_joint has shape {log_joint.shape} but q has shape {q.shape}")
    if np.any(np.isnan(log_joint)) or np.any(np.isposinf(log_joint)):
        raise ValueError("log_joint contains NaN or +inf")
    if np.any(np.all(np.isneginf(log_joint), axis=1)):
        raise ValueError("some point has log_joint = -inf under every component (zero likelihood)")
    return log_joint, q
