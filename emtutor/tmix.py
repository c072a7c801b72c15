"""Mixtures of multivariate Student t distributions, fitted by ECM and its relatives.

The model: ``p(x) = sum_k weights[k] t(x | means[k], covariances[k], dofs[k])``
(:eq:`tmix-density`), a mixture of t distributions with location ``mu_k``,
scale matrix ``Sigma_k`` and ``nu_k`` degrees of freedom (Peel and McLachlan,
2000).  Each t is a normal whose precision is scaled by a hidden weight
``u ~ Gamma(nu / 2, rate nu / 2)`` (:eq:`tmix-latent`), so the hidden
variables are the labels ``z`` and the weights ``u``.

* :func:`e_step` computes the responsibilities ``resp[n, k]``
  (:eq:`tmix-e-resp`) and, given ``z_n = k``, the posterior means of
  ``u_n`` and of ``log u_n`` (:eq:`tmix-e-u`, :eq:`tmix-e-log-u`); the
  per-point normaliser is ``log p(x_n)``, whose sum is the observed-data
  log-likelihood :func:`log_likelihood`.
* The M-step is split into two conditional maximisation (CM) steps, as in
  ECM (Meng and Rubin, 1993): :func:`cm_step_components` updates the
  weights, means and scale matrices with ``nu`` fixed, in closed form
  (:eq:`tmix-cm-weights`, :eq:`tmix-cm-means`, :eq:`tmix-cm-covariances`);
  :func:`cm_step_dofs` then updates ``nu`` in one of the ways of
  :data:`NU_STEPS`.  :func:`m_step` is the two in turn.
* :func:`fit` runs them with the generic driver :func:`emtutor.em.run_em`,
  which checks that the observed-data log-likelihood never decreases:
  each variant's M-step does not decrease ``Q`` (or, for ``"ecme"``, the
  log-likelihood itself), which is all :eq:`em-monotone` needs.

What each ``nu`` step guarantees (:data:`NU_STEPS`):

============  ===============================================================
``"ecm"``     the exact maximiser of ``Q`` over ``nu`` (the root of
              :eq:`tmix-dofs-equation`); since ``Q`` separates into a part in
              ``(pi, mu, Sigma)`` and a part in ``nu``, the two CM-steps
              together are the exact M-step: this ECM is EM
``"newton"``  one Newton step on :eq:`tmix-dofs-equation`, halved until
              ``Q`` does not decrease: a generalized EM (GEM) step, which
              guarantees ``Q(new) >= Q(old)`` and nothing more
``"ecme"``    maximises the observed-data log-likelihood over each ``nu_k``
              in turn, the other parameters fixed (Liu and Rubin, 1994,
              1995); kept only if it does not lower the log-likelihood
``"fixed"``   ``nu`` is not learned (a known constant; ``inf`` gives the
              Gaussian mixture)
============  ===============================================================

Only full scale matrices are implemented.  ``dofs[k] = inf`` is allowed: the
component is then the normal ``N(mu_k, Sigma_k)`` exactly, ``u = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import partial
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import digamma, gammaln, logsumexp, polygamma

from . import gmm
from ._validation import as_data_matrix, as_rng, check_nonnegative, check_positive_int, check_shape
from .em import EMResult, run_em

__all__ = [
    "NU_STEPS",
    "DOFS_MIN",
    "TMixParams",
    "TMixExpectations",
    "TMixResult",
    "log_t_density",
    "e_step",
    "log_likelihood",
    "expected_complete_log_likelihood",
    "dofs_score",
    "cm_step_components",
    "cm_step_dofs",
    "m_step",
    "initial_params",
    "check_params",
    "n_parameters",
    "sample",
    "fit",
]

NU_STEPS = ("ecm", "newton", "ecme", "fixed")
"""The ways :func:`cm_step_dofs` updates the degrees of freedom (see the module's table)."""

_LOG_2PI = np.log(2.0 * np.pi)

DOFS_MIN = 0.01
"""The smallest degrees of freedom allowed; the parameter space is ``nu_k >= DOFS_MIN``.

Without a floor the likelihood is unbounded: with one component's location
on a data point, its density there grows without bound as ``nu -> 0`` (for
``D > 2``), and each CM-step moves the location towards the nearest point,
so ``nu`` would shrink towards 0 until rounding took over.  Every ``nu`` step
maximises over ``nu >= DOFS_MIN``, which keeps its guarantee (``Q`` is
concave in ``nu``: the constrained maximiser is the root or the bound)."""

#: The search interval of the ECME step in nu (nu = 1e8 is a normal to eight digits).
_ECME_BOUNDS = (DOFS_MIN, 1e8)


class TMixParams(NamedTuple):
    """Parameters of a mixture of t distributions.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights ``pi_k``, non-negative, summing to 1.
    means : ndarray of shape (n_components, n_features)
        Locations ``mu_k``.
    covariances : ndarray of shape (n_components, n_features, n_features)
        Scale matrices ``Sigma_k`` (the covariance of component ``k`` is
        ``nu_k / (nu_k - 2) Sigma_k`` when ``nu_k > 2``); the name is the
        Gaussian mixture's, which ``nu_k = inf`` gives.
    dofs : ndarray of shape (n_components,)
        Degrees of freedom ``nu_k >= DOFS_MIN``; ``inf`` is allowed.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    dofs: np.ndarray


class TMixExpectations(NamedTuple):
    """What the E-step computes, each an array of shape (n_samples, n_components).

    Attributes
    ----------
    resp : ndarray
        Responsibilities ``r_nk = p(z_n = k | x_n)``, :eq:`tmix-e-resp`.
    u_mean : ndarray
        ``E[u_n | x_n, z_n = k]``, :eq:`tmix-e-u`.
    log_u_mean : ndarray
        ``E[log u_n | x_n, z_n = k]``, :eq:`tmix-e-log-u`.
    """

    resp: np.ndarray
    u_mean: np.ndarray
    log_u_mean: np.ndarray


# ---------------------------------------------------------------------------
# Special functions, accurate for large nu.
# ---------------------------------------------------------------------------


def _log_minus_digamma(a):
    """``log(a) - digamma(a)`` (positive, about ``1 / (2a)`` for large ``a``; 0 at ``inf``).

    The difference of two nearly equal numbers for large ``a``: there its
    asymptotic series is used, accurate to rounding for ``a >= 100``.
    """
    a = np.asarray(a, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv = 1.0 / a
        series = inv * (0.5 + inv * (1.0 / 12 - inv**2 * (1.0 / 120 - inv**2 / 252)))
        direct = np.log(a) - digamma(np.minimum(a, 100.0))
    return np.where(a >= 100.0, series, direct)


def _log_gamma_ratio(a, h):
    """``gammaln(a + h) - gammaln(a) - h log(a)`` for ``a > 0``, ``h >= 0`` (0 at ``a = inf``).

    For large ``a`` the two log-gammas are huge and nearly cancel; there
    Stirling's series is used, in a form without cancellation.
    """
    a = np.asarray(a, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        small = np.minimum(a, 1e4)
        direct = gammaln(small + h) - gammaln(small) - h * np.log(small)
        b = a + h
        # (b - 1/2) log(b) - b - [(a - 1/2) log(a) - a] - h log(a) + the 1/(12 z) - 1/(360 z^3) terms
        series = (a * np.log1p(h / a) - h) + (h - 0.5) * np.log1p(h / a) \
            + (1.0 / (12 * b) - 1.0 / (12 * a)) - (1.0 / (360 * b**3) - 1.0 / (360 * a**3))
    return np.where(np.isinf(a), 0.0, np.where(a >= 1e4, series, direct))


# ---------------------------------------------------------------------------
# The density and the E-step.
# ---------------------------------------------------------------------------


def _mahalanobis(X, means, covariances):
    """Squared Mahalanobis distances ``d2[n, k]`` and ``log|Sigma_k|``."""
    n_components = len(means)
    d2 = np.empty((len(X), n_components))
    log_det = np.empty(n_components)
    for k in range(n_components):
        try:
            chol = np.linalg.cholesky(covariances[k])
        except np.linalg.LinAlgError:
            raise gmm.CollapsedComponentError(k, "scale matrix", "is not positive definite") from None
        z = np.linalg.solve(chol, (X - means[k]).T)
        d2[:, k] = np.einsum("in,in->n", z, z)
        log_det[k] = 2.0 * np.sum(np.log(np.diag(chol)))
    return d2, log_det


def _log_t_from_distances(d2, log_det, dofs, n_features):
    """:eq:`tmix-log-density` from the distances: array of shape (n_samples, n_components)."""
    half_d = 0.5 * n_features
    with np.errstate(divide="ignore", invalid="ignore"):
        # (nu + D)/2 log(1 + d2/nu); its limit d2 / 2 for nu = inf
        tail = np.where(np.isinf(dofs), 0.5 * d2, 0.5 * (dofs + n_features) * np.log1p(d2 / dofs))
    constant = _log_gamma_ratio(0.5 * dofs, half_d) - half_d * _LOG_2PI - 0.5 * log_det
    return constant - tail


def log_t_density(X, means, covariances, dofs) -> np.ndarray:
    """Log-densities ``log t(x_n | mu_k, Sigma_k, nu_k)``, :eq:`tmix-log-density`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    means : array of shape (n_components, n_features)
    covariances : array of shape (n_components, n_features, n_features)
        Scale matrices.
    dofs : array of shape (n_components,)
        Degrees of freedom, ``>= DOFS_MIN``; ``inf`` gives the normal density.

    Returns
    -------
    ndarray of shape (n_samples, n_components)
    """
    X = as_data_matrix(X)
    k = len(np.atleast_1d(dofs))
    params = check_params(TMixParams(np.full(k, 1.0 / k), means, covariances, dofs), k, X.shape[1])
    d2, log_det = _mahalanobis(X, params.means, params.covariances)
    return _log_t_from_distances(d2, log_det, params.dofs, X.shape[1])


def e_step(X, params: TMixParams, previous=None) -> tuple[TMixExpectations, np.ndarray]:
    """E-step: responsibilities and the posterior means of ``u`` and ``log u``.

    Implements :eq:`tmix-e-resp` in log space (normalised with
    log-sum-exp), :eq:`tmix-e-u` and :eq:`tmix-e-log-u`.  ``X`` and
    ``params`` are trusted (validated by :func:`fit`; use
    :func:`log_likelihood` for a checked evaluation).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : TMixParams
    previous : ignored
        The previous expectations, which :func:`emtutor.em.run_em` hands
        every E-step; the exact posterior does not depend on them.

    Returns
    -------
    expectations : TMixExpectations
    log_norm : ndarray of shape (n_samples,)
        ``log p(X[n])`` under ``params``; its sum is the log-likelihood.
    """
    weights, means, covariances, dofs = params
    n_features = X.shape[1]
    d2, log_det = _mahalanobis(X, means, covariances)
    with np.errstate(divide="ignore"):  # a zero weight is log 0 = -inf: allowed
        log_weighted = np.log(weights) + _log_t_from_distances(d2, log_det, dofs, n_features)
    log_norm = logsumexp(log_weighted, axis=1)
    if not np.all(np.isfinite(log_norm)):
        n = int(np.flatnonzero(~np.isfinite(log_norm))[0])
        raise ValueError(
            f"row {n} of X has a log-density that float64 cannot represent under every "
            "component; rescale X or check the parameters"
        )
    resp = np.exp(log_weighted - log_norm[:, None])
    infinite = np.isinf(dofs)
    with np.errstate(divide="ignore", invalid="ignore"):
        # E[u | x, z = k] = (nu + D) / (nu + d2), divided directly: as 1 + (D - d2) / (nu + d2)
        # a far point's weight (1e-15, say) would be lost to cancellation
        u_mean = np.where(infinite, 1.0, (dofs + n_features) / (dofs + d2))
        # E[log u | x, z = k] = digamma((nu + D)/2) - log((nu + d2)/2)
        #                     = log(u_mean) - [log((nu + D)/2) - digamma((nu + D)/2)];
        # log(u_mean) as log1p of the excess when u_mean is near 1, where that is exact
        excess = np.where(infinite, 0.0, (n_features - d2) / (dofs + d2))
        log_u = np.where(np.abs(excess) < 0.5, np.log1p(excess), np.log(u_mean))
        log_u_mean = log_u - np.where(infinite, 0.0, _log_minus_digamma(0.5 * (dofs + n_features)))
    return TMixExpectations(resp, u_mean, log_u_mean), log_norm


def log_likelihood(X, params: TMixParams) -> float:
    """Total observed-data log-likelihood :eq:`tmix-log-likelihood` of ``X`` under ``params``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : TMixParams

    Returns
    -------
    float
    """
    X = as_data_matrix(X)
    params = _check_params_tuple(params, X.shape[1])
    return float(np.sum(e_step(X, params)[1]))


def _check_params_tuple(params, n_features) -> TMixParams:
    if not isinstance(params, TMixParams):
        raise TypeError(f"params must be a TMixParams, got {type(params).__name__}")
    k = len(np.atleast_1d(params.weights))
    return check_params(params, k, n_features)


# ---------------------------------------------------------------------------
# Q and the CM-steps.
# ---------------------------------------------------------------------------


def _dofs_statistic(expectations: TMixExpectations) -> tuple[np.ndarray, np.ndarray]:
    """``N_k`` and ``s_k = -(1/N_k) sum_n r_nk (E[log u] - E[u] + 1) >= 0``, the data
    term of :eq:`tmix-dofs-equation`."""
    resp, u_mean, log_u_mean = expectations
    counts = np.maximum(resp.sum(axis=0), 10 * np.finfo(float).eps)
    s = -np.sum(resp * (log_u_mean - u_mean + 1.0), axis=0) / counts
    return counts, np.maximum(s, 0.0)  # >= 0 by Jensen's inequality; clip rounding


def _q_dofs(nu, count, s):
    """The part of ``Q`` that depends on ``nu_k``, up to a constant: :eq:`tmix-q-dofs`,
    ``N_k [a log a - log Gamma(a) - a (1 + s_k)]`` with ``a = nu_k / 2``."""
    a = np.asarray(0.5 * np.asarray(nu, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        small = np.minimum(a, 1e4)
        # a log a - gammaln(a) - a: huge terms that cancel for large a, where
        # Stirling's series gives it directly
        direct = small * np.log(small) - gammaln(small) - small
        series = 0.5 * np.log(a) - 0.5 * _LOG_2PI - 1.0 / (12 * a) + 1.0 / (360 * a**3)
    return count * (np.where(a >= 1e4, series, direct) - a * s)


def dofs_score(expectations: TMixExpectations, dofs) -> np.ndarray:
    """The derivative of ``Q`` in each ``nu_k``, :eq:`tmix-dofs-equation`.

    ``(N_k / 2) [log(nu_k / 2) - digamma(nu_k / 2) - s_k]`` with
    ``s_k = -(1/N_k) sum_n r_nk (E[log u_n] - E[u_n] + 1)``; zero at the
    ECM step's ``nu_k``.

    Parameters
    ----------
    expectations : TMixExpectations
    dofs : array of shape (n_components,)

    Returns
    -------
    ndarray of shape (n_components,)
    """
    counts, s = _dofs_statistic(expectations)
    return 0.5 * counts * (_log_minus_digamma(0.5 * np.asarray(dofs, dtype=float)) - s)


def expected_complete_log_likelihood(X, expectations: TMixExpectations, params: TMixParams) -> float:
    """``Q(theta)``, :eq:`tmix-q`: the expected complete-data log-likelihood of ``params``.

    The expectations are over the posterior of ``(z, u)`` that
    ``expectations`` describes (an E-step's output for some ``theta_old``).
    A component with ``nu_k = inf`` has ``u = 1`` exactly; its term of the
    gamma density (a point mass) is left out, so ``Q`` is then that of the
    Gaussian component.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    expectations : TMixExpectations
    params : TMixParams

    Returns
    -------
    float
    """
    resp, u_mean, log_u_mean = expectations
    weights, means, covariances, dofs = params
    n_features = X.shape[1]
    d2, log_det = _mahalanobis(X, means, covariances)
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    normal = (log_weights - 0.5 * n_features * _LOG_2PI - 0.5 * log_det
              + 0.5 * n_features * log_u_mean - 0.5 * u_mean * d2)
    total = float(np.sum(resp * np.where(resp > 0, normal, 0.0)))
    finite = np.isfinite(dofs)
    if np.any(finite):
        a = 0.5 * dofs[finite]
        gamma_term = (a * np.log(a) - gammaln(a) + (a - 1.0) * log_u_mean[:, finite]
                      - a * u_mean[:, finite])
        total += float(np.sum(resp[:, finite] * gamma_term))
    return total


def cm_step_components(X, expectations: TMixExpectations, params: TMixParams, *,
                       reg_covar: float = 0.0) -> TMixParams:
    """First CM-step: weights, locations and scale matrices with ``nu`` fixed.

    Implements :eq:`tmix-cm-weights`, :eq:`tmix-cm-means` and
    :eq:`tmix-cm-covariances`, then adds ``reg_covar`` to every scale
    matrix's diagonal.  With ``reg_covar = 0`` it maximises ``Q`` over
    ``(pi, mu, Sigma)`` exactly; with ``reg_covar > 0`` it maximises ``Q``
    minus the penalty of :eq:`gmm-reg-bound`, which bounds how far ``Q``
    (and so the log-likelihood) may fall (:func:`emtutor.gmm.regularisation_slack`).
    A scale matrix that is singular up to the rounding of its computation
    (a component collapsed onto fewer than ``n_features + 1`` points)
    raises ``emtutor.gmm.CollapsedComponentError``, a ``ValueError``
    that suggests ``reg_covar``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    expectations : TMixExpectations
    params : TMixParams
        The current parameters; their ``dofs`` are kept.
    reg_covar : float, default 0.0

    Returns
    -------
    TMixParams
    """
    resp, u_mean, _ = expectations
    tiny = 10 * np.finfo(float).eps
    counts = np.maximum(resp.sum(axis=0), tiny)
    weighted = resp * u_mean  # r_nk E[u_nk]
    weighted_counts = np.maximum(weighted.sum(axis=0), tiny)
    means = (weighted.T @ X) / weighted_counts[:, None]
    n_features = X.shape[1]
    covariances = np.empty((len(counts), n_features, n_features))
    noise = np.empty(len(counts))
    for k in range(len(counts)):
        centred = X - means[k]
        covariances[k] = (weighted[:, k] * centred.T) @ centred / counts[k]
        covariances[k] = 0.5 * (covariances[k] + covariances[k].T)
        # rounding of the scatter: eps times its size, and eps |mu| sqrt(size) from x - mu
        size = np.max(np.diag(covariances[k]))
        noise[k] = 100 * n_features * np.finfo(float).eps * (size + np.max(np.abs(means[k])) * np.sqrt(size))
        covariances[k].flat[:: n_features + 1] += reg_covar
    # a scale matrix singular to rounding: the component sits on fewer than D + 1
    # points (the likelihood is unbounded there), as for a Gaussian mixture
    smallest = np.linalg.eigvalsh(covariances)[:, 0]
    for k in np.flatnonzero(~(smallest > noise)):
        raise gmm.CollapsedComponentError(int(k), "scale matrix", "is not positive definite")
    return TMixParams(counts / len(X), means, covariances, params.dofs)


def _dofs_root(s):
    """The ``nu`` solving ``log(nu/2) - digamma(nu/2) = s`` (``inf`` for ``s = 0``)."""
    if not s > 0:
        return np.inf
    if _log_minus_digamma(0.5 * DOFS_MIN) <= s:
        return DOFS_MIN  # the root is at or below the floor: Q decreases beyond it
    # 1/(2a) < log(a) - digamma(a) < 1/a brackets the root a = nu / 2
    low, high = max(0.49 / s, 0.5 * DOFS_MIN), 1.01 / s
    if not np.isfinite(high):
        return np.inf
    a = brentq(lambda log_a: float(_log_minus_digamma(np.exp(log_a))) - s, np.log(low), np.log(high),
               xtol=1e-14, rtol=4 * np.finfo(float).eps)
    return 2.0 * float(np.exp(a))


def _newton_dofs(nu, count, s):
    """One Newton step on :eq:`tmix-dofs-equation` from ``nu``, halved until ``Q`` does not decrease."""
    if not np.isfinite(nu):
        return nu  # the derivative vanishes at infinity: no Newton step
    a = 0.5 * nu
    gradient = 0.5 * (_log_minus_digamma(a) - s)  # per unit count
    curvature = 0.25 * (1.0 / a - polygamma(1, a))  # < 0: Q is concave in nu
    step = -gradient / curvature
    old = _q_dofs(nu, 1.0, s)
    for _ in range(60):
        new = max(nu + step, DOFS_MIN)
        if _q_dofs(new, 1.0, s) >= old:
            return float(new)
        step *= 0.5
    return float(nu)


def _ecme_dofs(X, params: TMixParams) -> np.ndarray:
    """Each ``nu_k`` in turn maximising the observed-data log-likelihood, :eq:`tmix-ecme`."""
    weights, means, covariances, dofs = params
    dofs = np.array(dofs, dtype=float)
    d2, log_det = _mahalanobis(X, means, covariances)
    n_features = X.shape[1]
    with np.errstate(divide="ignore"):
        log_weighted = np.log(weights) + _log_t_from_distances(d2, log_det, dofs, n_features)

    for k in range(len(dofs)):
        others = np.delete(log_weighted, k, axis=1)

        def loglik(nu, k=k, others=others):
            column = np.log(weights[k]) + _log_t_from_distances(d2[:, k:k + 1], log_det[k:k + 1],
                                                                np.array([nu]), n_features)
            return float(np.sum(logsumexp(np.hstack([others, column]), axis=1)))

        current = loglik(dofs[k])
        found = minimize_scalar(lambda y: -loglik(np.exp(y)), bounds=np.log(_ECME_BOUNDS),
                                method="bounded", options={"xatol": 1e-10})
        candidate = float(np.exp(found.x))
        if loglik(candidate) > current:  # keep the old value unless the new one is better
            dofs[k] = candidate
            log_weighted[:, k] = np.log(weights[k]) + _log_t_from_distances(
                d2[:, k:k + 1], log_det[k:k + 1], dofs[k:k + 1], n_features)[:, 0]
    return dofs


def cm_step_dofs(X, expectations: TMixExpectations, params: TMixParams, *, nu_step: str = "ecm") -> TMixParams:
    """Second CM-step: the degrees of freedom, the other parameters fixed.

    ``nu_step`` (see :data:`NU_STEPS`):

    * ``"ecm"``: the root of :eq:`tmix-dofs-equation` for each component,
      the exact maximiser of ``Q`` over ``nu_k`` (``Q`` is concave in
      ``nu_k``; the root is ``inf`` when ``s_k = 0``, and ``DOFS_MIN``
      if it lies below that floor);
    * ``"newton"``: one Newton step :eq:`tmix-newton` on that equation,
      halved until ``Q`` does not decrease (generalized EM);
    * ``"ecme"``: each ``nu_k`` in turn maximises the observed-data
      log-likelihood :eq:`tmix-ecme` with the other parameters (the new
      ones of ``params``) fixed, searched over ``[1e-3, 1e8]`` and kept only
      if it raises the log-likelihood;
    * ``"fixed"``: ``params.dofs`` unchanged.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Used by ``"ecme"`` only.
    expectations : TMixExpectations
    params : TMixParams
        The parameters after :func:`cm_step_components`.
    nu_step : {"ecm", "newton", "ecme", "fixed"}, default "ecm"

    Returns
    -------
    TMixParams
    """
    check_nu_step(nu_step)
    if nu_step == "fixed":
        return params
    if nu_step == "ecme":
        return params._replace(dofs=_ecme_dofs(X, params))
    counts, s = _dofs_statistic(expectations)
    if nu_step == "ecm":
        dofs = np.array([_dofs_root(s_k) for s_k in s])
    else:
        dofs = np.array([_newton_dofs(nu, 1.0, s_k) for nu, s_k in zip(params.dofs, s)])
    return params._replace(dofs=dofs)


def m_step(X, expectations: TMixExpectations, params: TMixParams, *, reg_covar: float = 0.0,
           nu_step: str = "ecm") -> TMixParams:
    """M-step: :func:`cm_step_components`, then :func:`cm_step_dofs`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    expectations : TMixExpectations
    params : TMixParams
        The current parameters.
    reg_covar : float, default 0.0
    nu_step : {"ecm", "newton", "ecme", "fixed"}, default "ecm"

    Returns
    -------
    TMixParams
    """
    components = cm_step_components(X, expectations, params, reg_covar=reg_covar)
    return cm_step_dofs(X, expectations, components, nu_step=nu_step)


def _slack(X, expectations, old_params, new_params, *, reg_covar):
    """The driver's ``m_step_slack``: :eq:`gmm-reg-bound` with the responsibilities' counts."""
    return gmm.regularisation_slack(X, expectations.resp, old_params, new_params, reg_covar=reg_covar)


# ---------------------------------------------------------------------------
# Checks, initial values, sampling.
# ---------------------------------------------------------------------------


def check_nu_step(nu_step) -> str:
    """Validate a ``nu_step`` setting: one of :data:`NU_STEPS`."""
    if not isinstance(nu_step, str) or nu_step not in NU_STEPS:
        raise ValueError(f"nu_step must be one of {list(NU_STEPS)}, got {nu_step!r}")
    return nu_step


def _check_dofs(dofs, k: int) -> np.ndarray:
    try:
        dofs = np.asarray(dofs, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"dofs must be a numeric array: {exc}") from None
    if dofs.ndim == 0:
        dofs = np.full(k, float(dofs))
    if dofs.shape != (k,):
        raise ValueError(f"dofs must have shape ({k},), got {dofs.shape}")
    if not np.all(dofs >= DOFS_MIN):  # also rejects NaN
        raise ValueError(f"dofs must be >= DOFS_MIN = {DOFS_MIN} (inf allowed), got {dofs}")
    return dofs


def check_params(params: TMixParams, k: int, d: int) -> TMixParams:
    """Validate t-mixture parameters; return them as float arrays."""
    weights, means, covariances = gmm.check_params(gmm.GMMParams(*params[:3]), k, d, "full")
    return TMixParams(weights, means, covariances, _check_dofs(params[3], k))


def n_parameters(n_components: int, n_features: int, learn_dofs: bool = True) -> int:
    """Number of free parameters: those of a full Gaussian mixture plus one ``nu_k`` per component."""
    return gmm.n_parameters(n_components, n_features, "full") + (n_components if learn_dofs else 0)


def initial_params(X, n_components: int, *, init: str = "k-means++", reg_covar: float = 1e-6,
                   random_state=None, weights=None, means=None, covariances=None, dofs=None) -> TMixParams:
    """Initial parameters: those of :func:`emtutor.gmm.initial_params`, and ``nu_k = 10`` unless given.

    Returns
    -------
    TMixParams
    """
    X = as_data_matrix(X)
    k = check_positive_int(n_components, "n_components", 1, len(X))
    gmm.check_init(init)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    start = gmm._initial_params(X, k, "full", init, reg_covar, as_rng(random_state), weights, means, covariances)
    return check_params(TMixParams(*start, 10.0 if dofs is None else dofs), k, X.shape[1])


def sample(params: TMixParams, n_samples: int, random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Draw points from the mixture, through :eq:`tmix-latent`.

    Parameters
    ----------
    params : TMixParams
    n_samples : int
    random_state : int, numpy Generator or None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Grouped by component.
    labels : ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        If a draw lies beyond float64's range, which a component with
        ``nu`` of about 0.1 or less produces with a noticeable probability.
    """
    if not isinstance(params, TMixParams):
        raise TypeError(f"params must be a TMixParams, got {type(params).__name__}")
    k = len(np.atleast_1d(params.weights))
    params = check_params(params, k, np.shape(params.means)[-1])
    n_samples = check_positive_int(n_samples, "n_samples", 1)
    rng = as_rng(random_state)
    counts = rng.multinomial(n_samples, params.weights / params.weights.sum())
    parts = []
    for index, (mean, cov, nu, count) in enumerate(zip(params.means, params.covariances, params.dofs, counts)):
        normal = rng.multivariate_normal(np.zeros(len(mean)), cov, size=count, method="cholesky")
        if np.isinf(nu):
            parts.append(mean + normal)
            continue
        # u ~ Gamma(a, rate a), a = nu / 2, drawn as log u: for small nu, u itself underflows to 0.
        # Gamma(a) = Gamma(a + 1) U^(1/a) with U uniform (Marsaglia and Tsang's boost)
        a = 0.5 * nu
        log_u = np.log(rng.gamma(a + 1.0, size=count)) + np.log(rng.random(count)) / a - np.log(a)
        with np.errstate(over="ignore", invalid="ignore"):
            part = mean + normal * np.exp(-0.5 * log_u)[:, None]
        if not np.all(np.isfinite(part)):
            raise ValueError(
                f"a draw from component {index} (nu = {nu:.3g}) lies beyond float64's range: its tails "
                "are too heavy to sample; this happens for nu of about 0.1 and below"
            )
        parts.append(part)
    return np.vstack(parts), np.repeat(np.arange(k), counts)


# ---------------------------------------------------------------------------
# Fitting.
# ---------------------------------------------------------------------------


@dataclass
class TMixResult(EMResult):
    """:class:`~emtutor.em.EMResult` of the kept restart, plus the restarts' summary.

    Attributes
    ----------
    restarts : emtutor.gmm.RestartSummary
    """

    restarts: gmm.RestartSummary | None = None


def fit(
    X,
    n_components: int,
    *,
    init: str = "k-means++",
    n_init: int = 1,
    weights=None,
    means=None,
    covariances=None,
    dofs=None,
    nu_step: str = "ecm",
    reg_covar: float = 1e-6,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
) -> TMixResult:
    """Fit a mixture of t distributions to ``X`` by ECM (or GEM, ECME; see ``nu_step``).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
        Number of components, ``1 <= n_components <= n_samples``.
    init : {"k-means++", "random_from_data"}, default "k-means++"
        How to choose the initial means when ``means`` is not given.
    n_init : int, default 1
        Number of restarts; the one with the highest final log-likelihood
        is kept (ties as in :func:`emtutor.gmm.fit`).
    weights, means, covariances : array, optional
        Initial values, as in :func:`emtutor.gmm.fit` (``covariances`` are
        the scale matrices, full).
    dofs : float or array of shape (n_components,), optional
        Initial degrees of freedom (``inf`` allowed); default 10.
    nu_step : {"ecm", "newton", "ecme", "fixed"}, default "ecm"
        How the degrees of freedom are updated (:data:`NU_STEPS`).
    reg_covar : float, default 1e-6
        Added to the diagonal of every scale matrix in each M-step
        (scikit-learn's meaning for the covariances of a Gaussian mixture).
    tol : float, default 1e-4
        Stop when the log-likelihood *per sample* changes by less than
        ``tol`` (see :func:`emtutor.em.run_em`).
    max_iter : int, default 100
    random_state : int, numpy Generator or None
        Seed for the initial means.
    record : bool, default False
        Keep every iteration's parameters and expectations in ``result.history``.

    Returns
    -------
    TMixResult
        ``result.weights``, ``result.means``, ``result.covariances``,
        ``result.dofs``, ``result.objectives`` (the log-likelihood after
        every iteration), ``result.expectations``, ``result.restarts``.

    Raises
    ------
    ValueError
        For bad ``X`` or settings (each named), initial parameters of the
        wrong shape or out of range, or a component that collapses.

    Examples
    --------
    >>> from emtutor import datasets, tmix
    >>> result = tmix.fit(datasets.three_gaussians(), 3, random_state=0)
    >>> result.dofs.shape
    (3,)
    """
    return _fit(as_data_matrix(X), n_components, init=init, n_init=n_init, weights=weights, means=means,
                covariances=covariances, dofs=dofs, nu_step=nu_step, reg_covar=reg_covar, tol=tol,
                max_iter=max_iter, random_state=random_state, record=record)


def _fit(X, n_components, *, init, n_init, weights, means, covariances, dofs, nu_step, reg_covar, tol,
         max_iter, random_state, record) -> TMixResult:
    """:func:`fit` for an ``X`` already validated."""
    n_samples, n_features = X.shape
    k = check_positive_int(n_components, "n_components", 1, n_samples)
    gmm.check_init(init)
    check_nu_step(nu_step)
    n_init = check_positive_int(n_init, "n_init", 1)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    gmm._check_enough_distinct(X, k)
    m_step_fn = partial(m_step, reg_covar=reg_covar, nu_step=nu_step)
    slack_fn = partial(_slack, reg_covar=reg_covar) if reg_covar > 0 else None
    rng = as_rng(random_state)
    runs = []
    for _ in range(n_init):
        start = gmm._initial_params(X, k, "full", init, reg_covar, rng, weights, means, covariances)
        params = check_params(TMixParams(*start, 10.0 if dofs is None else dofs), k, n_features)
        runs.append(run_em(X, params, e_step=e_step, m_step=m_step_fn, m_step_slack=slack_fn,
                           n_observations=n_samples, tol=tol, max_iter=max_iter, record=record))
    final = [run.objective for run in runs]
    summary = gmm._summarise_restarts(final, atol=max(100 * tol * n_samples, 1e-6 * max(abs(v) for v in final)))
    best = runs[summary.best]
    return TMixResult(**{f.name: getattr(best, f.name) for f in fields(EMResult)}, restarts=summary)
