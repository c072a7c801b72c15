"""Gaussian mixture models fitted by EM, computed in log space.

The model: ``p(x) = sum_k weights[k] N(x | means[k], covariances[k])``
(:eq:`gmm-density`).  The E-step (:func:`e_step`) computes the
responsibilities ``resp[n, k]`` of :eq:`gmm-e-step` from log densities and
log weights normalised with log-sum-exp (:eq:`logsumexp`), so points far
from every component still get finite responsibilities.  The M-step
(:func:`m_step`) is :eq:`gmm-m-weights`, :eq:`gmm-m-means` and
:eq:`gmm-m-covariances`.  :func:`fit` runs them with the generic driver
:func:`emtutor.em.run_em`.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

from ._validation import (
    as_data_matrix,
    check_nonnegative,
    check_positive_int,
    check_probability_vector,
    check_shape,
    check_spd_stack,
)
from .em import EMResult, run_em

__all__ = [
    "GMMParams", "log_gaussian_density", "e_step", "m_step", "log_likelihood",
    "regularisation_gap", "fit",
]

_LOG_2PI = np.log(2.0 * np.pi)


class GMMParams(NamedTuple):
    """Parameters of a full-covariance Gaussian mixture.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights, non-negative, summing to 1.
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray of shape (n_components, n_features, n_features)
        Symmetric positive definite.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


def log_gaussian_density(X, means, covariances) -> np.ndarray:
    """Log density of every point under every component.

    Implements :eq:`gaussian-log-density` through the Cholesky factor
    ``L`` of each covariance: the log-determinant is ``2 sum(log diag L)``
    and the Mahalanobis term is ``|L^{-1}(x - mu)|^2``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    means : array of shape (n_components, n_features)
    covariances : array of shape (n_components, n_features, n_features)

    Returns
    -------
    log_dens : ndarray of shape (n_samples, n_components)
        ``log_dens[n, k] = log N(X[n] | means[k], covariances[k])``.

    Raises
    ------
    ValueError
        If a covariance is not positive definite (a collapsed component).
    """
    n_samples, n_features = X.shape
    log_dens = np.empty((n_samples, len(means)))
    for k, (mean, cov) in enumerate(zip(means, covariances)):
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"the covariance of component {k} is not positive definite (the "
                "component has collapsed onto too few points); increase reg_covar, "
                "use fewer components, or start from other initial parameters"
            ) from None
        z = solve_triangular(chol, (X - mean).T, lower=True, check_finite=False)
        log_det = 2.0 * np.sum(np.log(np.diag(chol)))
        log_dens[:, k] = -0.5 * (n_features * _LOG_2PI + log_det + np.sum(z * z, axis=0))
    return log_dens


def e_step(X, params: GMMParams) -> tuple[np.ndarray, np.ndarray]:
    """E-step: responsibilities of each component for each point.

    Implements :eq:`gmm-e-step` in log space: ``log weights[k] + log N(x_n
    | mu_k, Sigma_k)`` normalised over ``k`` with :eq:`logsumexp`.  The
    per-point normaliser is ``log p(x_n)``, whose sum is the log-likelihood
    :eq:`gmm-log-likelihood`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : GMMParams

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
        Rows sum to 1.
    log_norm : ndarray of shape (n_samples,)
        ``log p(X[n])`` under ``params``.
    """
    with np.errstate(divide="ignore"):  # a zero weight is log 0 = -inf: allowed
        log_weighted = np.log(params.weights) + log_gaussian_density(X, params.means, params.covariances)
    log_norm = logsumexp(log_weighted, axis=1)
    resp = np.exp(log_weighted - log_norm[:, None])
    return resp, log_norm


def m_step(X, resp, reg_covar: float = 0.0) -> GMMParams:
    """M-step: weights, means and covariances from the responsibilities.

    Implements :eq:`gmm-m-weights`, :eq:`gmm-m-means` and
    :eq:`gmm-m-covariances`, then adds ``reg_covar`` to every covariance's
    diagonal.  ``N_k`` gets a floor of ``10 * eps`` so an empty component
    gives zero (not NaN) statistics; its covariance is then singular unless
    ``reg_covar > 0`` and the next E-step says so.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    resp : array of shape (n_samples, n_components)
    reg_covar : float, default 0.0

    Returns
    -------
    GMMParams
    """
    n_samples, n_features = X.shape
    counts = resp.sum(axis=0) + 10 * np.finfo(float).eps  # N_k
    weights = counts / n_samples
    means = (resp.T @ X) / counts[:, None]
    covariances = np.empty((len(counts), n_features, n_features))
    for k in range(len(counts)):
        centred = X - means[k]
        covariances[k] = (resp[:, k] * centred.T) @ centred / counts[k]
        covariances[k].flat[:: n_features + 1] += reg_covar
    return GMMParams(weights, means, covariances)


def regularisation_gap(X, resp, params: GMMParams, reg_covar: float) -> float:
    """How much ``reg_covar`` lowers the M-step's objective below its maximum.

    The exact M-step sets ``Sigma_k = S_k``, the weighted scatter of
    :eq:`gmm-m-covariances`; the regularised one uses ``S_k + reg_covar I``.
    The expected complete-data log-likelihood then falls short of its
    maximum by ``sum_k N_k KL(N(0, S_k) || N(0, S_k + reg_covar I))``,
    which in terms of the eigenvalues ``lambda_i`` of ``S_k`` is
    ``sum_k N_k / 2 sum_i [log(1 + r / lambda_i) - r / (lambda_i + r)]``.
    EM's guarantee :eq:`em-monotone` weakens by exactly this much, so the
    driver uses it as its ``m_step_slack``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Unused; present for the driver's ``m_step_slack`` signature.
    resp : array of shape (n_samples, n_components)
        Responsibilities the M-step used.
    params : GMMParams
        The M-step's (regularised) output.
    reg_covar : float

    Returns
    -------
    float
        Non-negative; ``inf`` if some ``S_k`` is singular.
    """
    if reg_covar == 0:
        return 0.0
    counts = resp.sum(axis=0)
    scatter_eigvals = np.linalg.eigvalsh(params.covariances) - reg_covar
    if np.any(scatter_eigvals <= 0):
        return np.inf
    ratio = reg_covar / scatter_eigvals
    per_component = 0.5 * np.sum(np.log1p(ratio) - ratio / (1.0 + ratio), axis=1)
    return float(counts @ per_component)


def log_likelihood(X, params: GMMParams) -> float:
    """Total log-likelihood :eq:`gmm-log-likelihood` of ``X`` under ``params``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : GMMParams

    Returns
    -------
    float
        ``sum_n log sum_k weights[k] N(X[n] | means[k], covariances[k])``.
    """
    X = as_data_matrix(X)
    params = _check_params(params, len(params.weights), X.shape[1])
    return float(np.sum(e_step(X, params)[1]))


def fit(
    X,
    n_components: int,
    *,
    weights=None,
    means=None,
    covariances=None,
    reg_covar: float = 1e-6,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
) -> EMResult:
    """Fit a full-covariance Gaussian mixture to ``X`` by EM.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
        Number of mixture components, ``1 <= n_components <= n_samples``.
    weights : array of shape (n_components,), optional
        Initial mixing weights; default uniform.
    means : array of shape (n_components, n_features), optional
        Initial means; default ``n_components`` distinct rows of ``X`` drawn
        with ``random_state``.
    covariances : array of shape (n_components, n_features, n_features), optional
        Initial covariances; default the covariance of ``X`` (plus
        ``reg_covar`` on the diagonal) for every component.
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance in each M-step; keeps a
        component from collapsing onto a single point.  The regularised
        M-step is not the exact maximiser, so the log-likelihood may dip by
        at most :func:`regularisation_gap` per iteration (checked).
    tol : float, default 1e-4
        Stop when the total log-likelihood changes by less than ``tol``
        (checked from the second iteration on).
    max_iter : int, default 100
    random_state : int, numpy Generator or None
        Seed for the default initial means.
    record : bool, default False
        Keep every iteration's parameters and responsibilities in
        ``result.history``.

    Returns
    -------
    EMResult
        ``result.weights``, ``result.means``, ``result.covariances``,
        ``result.log_likelihoods``, ``result.n_iter``, ``result.converged``,
        ``result.resp`` (responsibilities under the final parameters).

    Raises
    ------
    ValueError
        For NaN/inf or non-2-D ``X``, ``n_components`` out of range, initial
        parameters of the wrong shape, weights that are negative or do not
        sum to 1, covariances that are not symmetric positive definite, or
        a component that collapses when ``reg_covar`` is too small.

    Examples
    --------
    >>> from emtutor import datasets, gmm
    >>> X = datasets.three_gaussians()
    >>> result = gmm.fit(X, 3, random_state=0)
    >>> result.means.shape
    (3, 2)
    """
    X = as_data_matrix(X)
    n_samples, n_features = X.shape
    k = check_positive_int(n_components, "n_components", 1, n_samples)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")

    if weights is None:
        weights = np.full(k, 1.0 / k)
    if means is None:
        means = _random_distinct_rows(X, k, np.random.default_rng(random_state))
    if covariances is None:
        data_cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True))
        data_cov.flat[:: n_features + 1] += reg_covar
        covariances = np.repeat(data_cov[None], k, axis=0)
    params = _check_params(GMMParams(weights, means, covariances), k, n_features)

    return run_em(
        X,
        params,
        e_step=e_step,
        m_step=partial(m_step, reg_covar=reg_covar),
        m_step_slack=partial(regularisation_gap, reg_covar=reg_covar) if reg_covar else None,
        tol=tol,
        max_iter=max_iter,
        record=record,
    )


def _check_params(params: GMMParams, k: int, d: int) -> GMMParams:
    return GMMParams(
        check_probability_vector(params.weights, k, "weights"),
        check_shape(params.means, (k, d), "means"),
        check_spd_stack(params.covariances, (k, d, d), "covariances"),
    )


def _random_distinct_rows(X, k: int, rng: np.random.Generator) -> np.ndarray:
    distinct = np.unique(X, axis=0)
    if len(distinct) < k:
        raise ValueError(
            f"X has only {len(distinct)} distinct points, fewer than n_components={k}; "
            "use fewer components"
        )
    return distinct[rng.choice(len(distinct), size=k, replace=False)]
