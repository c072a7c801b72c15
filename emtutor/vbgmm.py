r"""Variational Bayes for Gaussian mixtures (Bishop 2006, §10.2).

The parameters get priors, a Dirichlet on the weights and a Gauss-Wishart on
each component's mean and precision (:eq:`vb-priors`), and instead of point
estimates EM-like iterations fit an approximate posterior
``q(Z) q(pi) prod_k q(mu_k, Lambda_k)`` by coordinate ascent on the evidence
lower bound (ELBO, :eq:`vb-elbo`).  The "E-step" (:func:`e_step`) updates
``q(Z)``: responsibilities from the *expected* log weights and log
densities, :eq:`vb-log-rho`; the "M-step" (:func:`m_step`) updates the
posterior hyperparameters in closed form, :eq:`vb-m-step`.  Each step is the
exact maximiser of the ELBO over its factor, so the ELBO never decreases and
the generic driver :func:`emtutor.em.run_em` checks that.  Components the
data do not need keep weights near their prior and are effectively pruned.

The updates and defaults follow scikit-learn's ``BayesianGaussianMixture``
with ``weight_concentration_prior_type="dirichlet_distribution"`` and
``covariance_type="full"``, which the tests match iteration for iteration:
``reg_covar`` is added to each component's scatter ``S_k / N_k`` as there
(and as in :mod:`emtutor.gmm`).  Only full covariances are implemented.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import partial
from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from ._validation import as_data_matrix, as_rng, check_nonnegative, check_positive_int, check_shape, \
    check_spd
from .em import EMResult, run_em
from .gmm import GMMParams, RestartSummary, _covariances_full, _kmeans_plusplus, best_restart, log_gaussian_density
from .gmm import e_step as gmm_e_step

__all__ = [
    "VBPrior",
    "VBParams",
    "VBResult",
    "default_prior",
    "expected_log_weights",
    "expected_log_det_precision",
    "log_rho",
    "e_step",
    "m_step",
    "kl_parameters",
    "elbo",
    "fit",
]


class VBPrior(NamedTuple):
    """Hyperparameters of the prior :eq:`vb-priors` (scikit-learn's names, without ``_prior``).

    Attributes
    ----------
    weight_concentration : float
        ``alpha`` of the symmetric Dirichlet prior on the weights.
    mean_precision : float
        ``kappa``: the prior of ``mu_k`` given ``Sigma_k`` is
        ``N(m_0, Sigma_k / kappa)``.
    mean : ndarray of shape (n_features,)
        ``m_0``.
    degrees_of_freedom : float
        ``nu > n_features - 1``: ``Sigma_k ~ IW(Psi, nu)``, i.e. the precision
        ``Lambda_k = Sigma_k^-1`` is Wishart with scale ``Psi^-1``.
    covariance : ndarray of shape (n_features, n_features)
        ``Psi``, the inverse-Wishart scale (as in :mod:`emtutor.map_gmm`).
    """

    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: np.ndarray


class VBParams(NamedTuple):
    """The posterior hyperparameters (:eq:`vb-m-step`), in scikit-learn's layout.

    Attributes
    ----------
    weight_concentration : ndarray of shape (n_components,)
        ``alpha~_k``: ``q(pi) = Dirichlet(alpha~)``.
    mean_precision : ndarray of shape (n_components,)
        ``kappa~_k``.
    means : ndarray of shape (n_components, n_features)
        ``m~_k``.
    degrees_of_freedom : ndarray of shape (n_components,)
        ``nu~_k``.
    covariances : ndarray of shape (n_components, n_features, n_features)
        ``Psi~_k / nu~_k``, the inverse of the expected precision
        ``E[Lambda_k] = nu~_k Psi~_k^-1`` (scikit-learn's ``covariances_``).
    """

    weight_concentration: np.ndarray
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: np.ndarray
    covariances: np.ndarray


@dataclass
class VBResult(EMResult):
    """:class:`~emtutor.em.EMResult` of the kept restart, with the prior and the restarts."""

    prior: VBPrior | None = None
    restarts: RestartSummary | None = None


def default_prior(X) -> VBPrior:
    """scikit-learn's default prior; ``alpha = 1/K`` depends on ``n_components`` and is filled in by :func:`fit`.

    ``kappa = 1``, ``m_0`` the mean of ``X``, ``nu = D`` and ``Psi`` the
    covariance of ``X`` (with the ``N - 1`` divisor, as ``numpy.cov``).
    """
    X = as_data_matrix(X)
    return _default_prior(X, np.nan)


def _default_prior(X, weight_concentration) -> VBPrior:
    return VBPrior(weight_concentration, 1.0, X.mean(axis=0), float(X.shape[1]), np.atleast_2d(np.cov(X.T)))


def expected_log_weights(params: VBParams) -> np.ndarray:
    """``E[log pi_k] = digamma(alpha~_k) - digamma(sum_j alpha~_j)``, :eq:`vb-expectations`."""
    alpha = params.weight_concentration
    return digamma(alpha) - digamma(alpha.sum())


def _log_det_scale(params: VBParams) -> np.ndarray:
    """``log |Psi~_k^-1|`` from ``covariances = Psi~_k / nu~_k``."""
    d = params.means.shape[1]
    _, log_det_cov = np.linalg.slogdet(params.covariances)
    return -log_det_cov - d * np.log(params.degrees_of_freedom)


def expected_log_det_precision(params: VBParams) -> np.ndarray:
    """``E[log |Lambda_k|] = sum_i digamma((nu~_k + 1 - i) / 2) + D log 2 - log |Psi~_k|``, :eq:`vb-expectations`."""
    d = params.means.shape[1]
    nu = params.degrees_of_freedom
    return digamma(0.5 * (nu[:, None] - np.arange(d))).sum(axis=1) + d * np.log(2) + _log_det_scale(params)


def log_rho(X, params: VBParams) -> np.ndarray:
    """``log rho_nk``, :eq:`vb-log-rho`: expected log weight plus expected log density.

    ``E[log pi_k] + E[log |Lambda_k|] / 2 - D log(2 pi) / 2
    - (D / kappa~_k + nu~_k (x_n - m~_k)^T Psi~_k^-1 (x_n - m~_k)) / 2``.

    Returns
    -------
    ndarray of shape (n_samples, n_components)
    """
    # log N(x | m~_k, Psi~_k / nu~_k) holds -D log(2 pi) / 2 and the Mahalanobis term
    # nu~_k (x - m~_k)^T Psi~_k^-1 (x - m~_k) / 2, computed by the mixture's kernel;
    # _log_rho_offsets replaces its log-determinant by E[log |Lambda_k|].
    return log_gaussian_density(X, params.means, params.covariances) + _log_rho_offsets(params)


def _log_rho_offsets(params: VBParams) -> np.ndarray:
    """``log rho_nk - log N(x_n | m~_k, Psi~_k / nu~_k)``: the same for every point."""
    d = params.means.shape[1]
    _, log_det_cov = np.linalg.slogdet(params.covariances)
    return expected_log_weights(params) + 0.5 * (expected_log_det_precision(params) + log_det_cov
                                                 - d / params.mean_precision)


def e_step(X, params: VBParams, previous=None, *, prior: VBPrior) -> tuple[np.ndarray, float]:
    """Update ``q(Z)``: responsibilities :eq:`vb-resp`, and the ELBO :eq:`vb-elbo` at them.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    elbo : float
        ``sum_n log sum_k rho_nk - KL(q(pi) || p(pi)) - sum_k KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k))``:
        at the optimal ``q(Z)`` its terms in ``Z`` collapse to the
        normalisers of the responsibilities.
    """
    # log rho_nk = log N(x_n | m~_k, Psi~_k / nu~_k) + c_k: the mixture's E-step with
    # "log weights" c_k (shifted by their largest, which is added back to the normaliser)
    offsets = _log_rho_offsets(params)
    shift = offsets.max()
    resp, log_norm = gmm_e_step(X, GMMParams(np.exp(offsets - shift), params.means, params.covariances))
    return resp, float(log_norm.sum() + len(X) * shift - kl_parameters(params, prior))


def m_step(X, resp, params: VBParams | None = None, *, prior: VBPrior, reg_covar: float = 1e-6) -> VBParams:
    """Update ``q(pi) q(mu, Lambda)`` given the responsibilities, :eq:`vb-m-step` (Bishop 10.58-10.63).

    ``alpha~_k = alpha + N_k``, ``kappa~_k = kappa + N_k``,
    ``m~_k = (kappa m_0 + N_k x_bar_k) / kappa~_k``, ``nu~_k = nu + N_k`` and
    ``Psi~_k = Psi + N_k S_k + kappa N_k / kappa~_k (x_bar_k - m_0)(x_bar_k - m_0)^T``,
    with ``S_k`` the weighted covariance plus ``reg_covar`` on its diagonal.
    """
    counts = resp.sum(axis=0) + 10 * np.finfo(float).eps  # as scikit-learn, so an empty component has a mean
    centres = resp.T @ X / counts[:, None]
    scatter = _covariances_full(X, resp, counts, centres, reg_covar, check=False)  # S_k + reg_covar I
    alpha = prior.weight_concentration + counts
    kappa = prior.mean_precision + counts
    means = (prior.mean_precision * prior.mean + counts[:, None] * centres) / kappa[:, None]
    nu = prior.degrees_of_freedom + counts
    offset = centres - prior.mean
    scale = (prior.covariance + counts[:, None, None] * scatter
             + (counts * prior.mean_precision / kappa)[:, None, None] * offset[:, :, None] * offset[:, None, :])
    return VBParams(alpha, kappa, means, nu, scale / nu[:, None, None])


def _log_wishart_norm(nu, log_det_scale, d):
    """Log of the Wishart normaliser ``B(W, nu)`` of Bishop (B.79), ``W`` the scale of the precision."""
    return (-0.5 * nu * log_det_scale - 0.5 * nu * d * np.log(2) - 0.25 * d * (d - 1) * np.log(np.pi)
            - gammaln(0.5 * (nu[:, None] - np.arange(d))).sum(axis=1))


def kl_parameters(params: VBParams, prior: VBPrior) -> float:
    """``KL(q(pi) || p(pi)) + sum_k KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k))`` (Bishop 10.73-10.77).

    The part of the ELBO :eq:`vb-elbo` that depends on the parameters'
    posterior alone.
    """
    k, d = params.means.shape
    alpha, alpha0 = params.weight_concentration, prior.weight_concentration
    log_pi = expected_log_weights(params)
    kl_weights = (gammaln(alpha.sum()) - gammaln(alpha).sum() - gammaln(k * alpha0) + k * gammaln(alpha0)
                  + np.sum((alpha - alpha0) * log_pi))
    beta, nu = params.mean_precision, params.degrees_of_freedom
    beta0, nu0 = prior.mean_precision, prior.degrees_of_freedom
    log_lambda = expected_log_det_precision(params)
    log_det_w = _log_det_scale(params)
    scale = np.linalg.inv(params.covariances) / nu[:, None, None]  # W_k
    offset = params.means - prior.mean
    quad = np.einsum("ki,kij,kj->k", offset, scale, offset)
    trace_prior = np.einsum("ij,kji->k", prior.covariance, scale)  # tr(W_0^-1 W_k)
    _, log_det_prior_cov = np.linalg.slogdet(prior.covariance)
    log_b0 = _log_wishart_norm(np.array([nu0]), -log_det_prior_cov, d)[0]
    log_b = _log_wishart_norm(nu, log_det_w, d)
    # E_q[log p(mu, Lambda)] (10.74) and E_q[log q(mu, Lambda)] (10.77), per component
    expected_log_prior = (0.5 * (d * np.log(beta0 / (2 * np.pi)) + log_lambda - d * beta0 / beta - beta0 * nu * quad)
                          + log_b0 + 0.5 * (nu0 - d - 1) * log_lambda - 0.5 * nu * trace_prior)
    entropy_wishart = -log_b - 0.5 * (nu - d - 1) * log_lambda + 0.5 * nu * d
    expected_log_q = 0.5 * log_lambda + 0.5 * d * np.log(beta / (2 * np.pi)) - 0.5 * d - entropy_wishart
    return float(kl_weights + np.sum(expected_log_q - expected_log_prior))


def elbo(X, params: VBParams, prior: VBPrior) -> float:
    """The ELBO :eq:`vb-elbo` with the optimal ``q(Z)`` for ``params`` (what :func:`e_step` returns)."""
    X = as_data_matrix(X)
    return e_step(X, params, prior=prior)[1]


def _check_prior(X, n_components, weight_concentration, mean_precision, mean, degrees_of_freedom,
                 covariance) -> VBPrior:
    n, d = X.shape
    default = _default_prior(X, 1.0 / n_components)
    values = {}
    for name, value, fallback in (("weight_concentration_prior", weight_concentration, default.weight_concentration),
                                  ("mean_precision_prior", mean_precision, default.mean_precision)):
        value = fallback if value is None else check_nonnegative(value, name)
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
        values[name] = value
    mean = default.mean if mean is None else check_shape(mean, (d,), "mean_prior")
    dof = default.degrees_of_freedom if degrees_of_freedom is None else check_nonnegative(
        degrees_of_freedom, "degrees_of_freedom_prior")
    if dof <= d - 1:
        raise ValueError(f"degrees_of_freedom_prior must be > n_features - 1 = {d - 1}, got {dof!r}")
    if covariance is None:
        covariance = default.covariance
        if n < 2 or not np.all(np.isfinite(covariance)) or np.linalg.eigvalsh(covariance)[0] <= 0:
            raise ValueError(
                "the default covariance_prior (the covariance of X) is not positive definite: X has fewer "
                "than 2 rows or collinear columns; give covariance_prior"
            )
    else:
        covariance = check_spd(covariance, d, "covariance_prior")
    return VBPrior(values["weight_concentration_prior"], values["mean_precision_prior"], mean, float(dof),
                   covariance)


def fit(
    X,
    n_components: int,
    *,
    weight_concentration_prior: float | None = None,
    mean_precision_prior: float | None = None,
    mean_prior=None,
    degrees_of_freedom_prior: float | None = None,
    covariance_prior=None,
    resp=None,
    n_init: int = 1,
    reg_covar: float = 1e-6,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
) -> VBResult:
    """Fit a variational Bayesian Gaussian mixture (full covariances) by coordinate ascent on the ELBO.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
        ``K``, an upper bound: components the data do not need are left with
        weights near their prior.
    weight_concentration_prior, mean_precision_prior, mean_prior, degrees_of_freedom_prior, covariance_prior
        The prior :eq:`vb-priors` (scikit-learn's names and defaults: ``1/K``,
        1, the mean of ``X``, ``n_features``, the covariance of ``X``).
    resp : array of shape (n_samples, n_components), optional
        Initial responsibilities (rows summing to 1), used in every restart;
        default: each point fully assigned to the nearest of ``K``
        k-means++ seeds (:func:`emtutor.gmm.kmeans_plusplus`).
    n_init : int, default 1
        Restarts; the one with the highest final ELBO is kept.
    reg_covar : float, default 1e-6
        Added to the diagonal of each component's weighted covariance
        ``S_k`` (scikit-learn's and :mod:`emtutor.gmm`'s meaning).
    tol : float, default 1e-4
        Stop when the ELBO *per sample* changes by less than ``tol``.
    max_iter : int, default 100
    random_state : int, numpy Generator or None
    record : bool, default False

    Returns
    -------
    VBResult
        ``result.params`` (:class:`VBParams`), ``result.resp``,
        ``result.objectives`` (the ELBO after every iteration), ``result.prior``.
    """
    X = as_data_matrix(X)
    n, d = X.shape
    k = check_positive_int(n_components, "n_components", 1, n)
    n_init = check_positive_int(n_init, "n_init", 1)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    prior = _check_prior(X, k, weight_concentration_prior, mean_precision_prior, mean_prior,
                         degrees_of_freedom_prior, covariance_prior)
    if resp is not None:
        resp = check_shape(resp, (n, k), "resp")
        if np.any(resp < 0) or not np.allclose(resp.sum(axis=1), 1.0):
            raise ValueError("resp must be non-negative with rows summing to 1")
    rng = as_rng(random_state)
    m_step_fn = partial(m_step, prior=prior, reg_covar=reg_covar)
    e_step_fn = partial(e_step, prior=prior)
    runs = []
    for _ in range(n_init):
        start = resp if resp is not None else _nearest_seed(X, k, rng)
        params = m_step_fn(X, start)
        runs.append(run_em(X, params, e_step=e_step_fn, m_step=m_step_fn, n_observations=n, tol=tol,
                           max_iter=max_iter, record=record, objective_name="ELBO"))
    best, summary = best_restart(runs, tol, n)
    return VBResult(**{f.name: getattr(best, f.name) for f in fields(EMResult)}, prior=prior, restarts=summary)


def _nearest_seed(X, k, rng) -> np.ndarray:
    """One-hot responsibilities: each point to the nearest of ``k`` k-means++ seeds."""
    seeds = _kmeans_plusplus(X, k, rng)
    distances = ((X[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2)
    return np.eye(k)[np.argmin(distances, axis=1)]
