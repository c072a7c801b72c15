"""Standard errors after EM: the observed information, Louis' method, SEM and the bootstrap.

EM returns the maximum-likelihood estimate ``theta_hat`` but not the
curvature of the observed-data log-likelihood ``l(theta)`` at it, the
observed information ``I_obs = -Hessian of l`` whose inverse estimates the
covariance of ``theta_hat`` (:eq:`se-asymptotic`).  Three ways to get it
from the pieces EM already has (chapter "Standard errors after EM"):

* **Louis' method** (:func:`louis_information`): the missing-information
  principle :eq:`se-missing-information` with the complete-data information
  ``I_com`` (:func:`complete_information`) and the missing information
  ``I_mis``, the conditional variance of the complete-data score
  (:func:`missing_information`, :eq:`se-louis`);
* **SEM** (:func:`sem_rate_matrix`, :func:`sem_information`): the Jacobian
  ``DM`` of one EM iteration, computed by differentiating the model's own
  ``e_step`` and ``m_step`` numerically, gives ``I_obs = I_com (I - DM)``
  (:eq:`se-dm`, :eq:`se-sem-variance`);
* **the bootstrap** (:func:`bootstrap_standard_errors`): EM rerun on
  resamples of the observations, with the Monte Carlo error of the result
  (:eq:`se-bootstrap`, :eq:`se-bootstrap-mc`).

Every function takes a *model*, one row of a small dispatch table
(:class:`EMModel`), which says how the model's parameters are laid out as a
vector ``theta`` (the parameterisation the information matrices refer to) and
supplies its E-step, M-step and complete-data derivatives:

==========================  ===================================================
model                       parameter vector, in this order
==========================  ===================================================
:data:`MISSING_NORMAL`      ``mean[j]`` for every ``j``, then the covariance's
                            lower triangle ``covariance[i, j]``, ``i >= j``,
                            row by row (``numpy.tril_indices``)
:data:`GAUSSIAN_MIXTURE`    ``weights[k]`` for ``k < K - 1`` (the last weight
                            is ``1 -`` the others), then ``means[k, j]``, then
                            each component's lower triangle
                            ``covariances[k, i, j]``, ``i >= j``; full
                            covariances, no ``reg_covar``
:data:`COINS`               ``thetas[k]`` (the weights are fixed, as in the
                            classic two-coin example)
:data:`COINS_WEIGHTS`       ``weights[k]`` for ``k < K - 1``, then
                            ``thetas[k]``
==========================  ===================================================

These are the vectors of :func:`emtutor.accelerate.parameter_map` (one
layout for the whole package: rows of probabilities without their last
entry, symmetric matrices as their lower triangles), and one EM iteration as
a map of them is :func:`emtutor.accelerate.em_map`, differentiated by
:func:`emtutor.accelerate.rate_matrix`.  Standard errors of these named
parameters do not depend on the parameterisation (the delta method is exact
for the inverse information at a maximum); the names are in
``Information.names``.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

import numpy as np

from . import accelerate, coins, gmm, missing
from ._validation import as_data_matrix, check_positive_int
from .em import run_em

__all__ = [
    "EMModel",
    "Information",
    "BootstrapResult",
    "MISSING_NORMAL",
    "GAUSSIAN_MIXTURE",
    "COINS",
    "COINS_WEIGHTS",
    "gaussian_score",
    "gaussian_information",
    "observation_scores",
    "sandwich_covariance",
    "em_map",
    "complete_information",
    "missing_information",
    "louis_information",
    "sem_rate_matrix",
    "sem_information",
    "bootstrap_standard_errors",
]


class EMModel(NamedTuple):
    """One model's entry in the dispatch table of this module.

    Each field is a plain function; the module's constants
    (:data:`MISSING_NORMAL`, :data:`GAUSSIAN_MIXTURE`, :data:`COINS`,
    :data:`COINS_WEIGHTS`) are the models there are.

    Attributes
    ----------
    name : str
    prepare : callable
        ``prepare(data) -> data``: validates the data once.
    check_params : callable
        ``check_params(data, params) -> params``: validates the parameters
        (strictly inside the parameter space, where the information exists).
    e_step, m_step : callable
        The model's steps with the driver's contract (:mod:`emtutor.em`);
        the M-step is the exact maximiser, so EM's fixed point is the
        maximum-likelihood estimate.
    log_likelihood : callable
        ``log_likelihood(data, params) -> float``, the observed-data
        log-likelihood ``l``.
    n_observations : callable
        ``n_observations(data) -> int``: the independent units the bootstrap
        resamples (rows, sets of tosses).
    resample : callable
        ``resample(data, rows) -> data``: the data of the units ``rows``.
    parameter_map : callable
        ``parameter_map(params) -> accelerate.ParameterMap``: the layout of
        the parameter vector (:meth:`to_vector`, :meth:`from_vector`,
        :meth:`names` use it).
    scale : callable
        ``scale(params) -> array``: a natural size of each parameter (a
        standard deviation for a mean, a variance for a variance), which
        sets the steps of numerical derivatives.
    complete_information : callable
        ``complete_information(data, params) -> (I_com, score)``: the
        expected complete-data information :eq:`se-complete-information` and
        the observed-data score, both summed over the observations.
    missing_information : callable
        ``missing_information(data, params) -> I_mis``: the summed
        conditional covariance of the complete-data scores :eq:`se-louis`.
    observation_scores : callable
        ``observation_scores(data, params) -> array of shape (n_observations,
        n_parameters)``: each observation's observed-data score, the
        conditional mean of its complete-data score :eq:`se-fisher-identity`.
    """

    name: str
    prepare: Callable
    check_params: Callable
    e_step: Callable
    m_step: Callable
    log_likelihood: Callable
    n_observations: Callable
    resample: Callable
    parameter_map: Callable
    scale: Callable
    complete_information: Callable
    missing_information: Callable
    observation_scores: Callable

    def to_vector(self, params) -> np.ndarray:
        """The parameter vector ``theta`` of ``params``."""
        return self.parameter_map(params).pack(params)

    def from_vector(self, theta, params):
        """The parameters of the vector ``theta``; ``params`` supplies what it does not hold (fixed weights)."""
        return self.parameter_map(params).unpack(theta)

    def names(self, params) -> tuple:
        """The name of each entry of the parameter vector, such as ``"covariance[1, 0]"``."""
        return self.parameter_map(params).names()


class Information(NamedTuple):
    """Information matrices at one parameter value, in the model's parameterisation.

    Attributes
    ----------
    observed : ndarray of shape (n_parameters, n_parameters)
        ``I_obs``, minus the Hessian of the observed-data log-likelihood.
    complete : ndarray of shape (n_parameters, n_parameters)
        ``I_com``, the expected complete-data information
        :eq:`se-complete-information`.
    missing : ndarray of shape (n_parameters, n_parameters)
        ``I_mis = I_com - I_obs`` (:eq:`se-missing-information`).
    names : tuple of str
        The name of each parameter (see the module's table).
    score : ndarray of shape (n_parameters,)
        The observed-data score, the gradient of the log-likelihood; zero at
        the maximum-likelihood estimate.
    """

    observed: np.ndarray
    complete: np.ndarray
    missing: np.ndarray
    names: tuple
    score: np.ndarray

    @property
    def covariance(self) -> np.ndarray:
        """``inv(I_obs)``, the estimated covariance of the estimate :eq:`se-asymptotic`.

        Raises ``ValueError`` if ``I_obs`` is not positive definite (the
        parameters are not a maximum of the log-likelihood).
        """
        return _inverse_spd(self.observed, "the observed information I_obs")

    @property
    def standard_errors(self) -> np.ndarray:
        """Square roots of the diagonal of :attr:`covariance`, one per name."""
        return np.sqrt(np.diag(self.covariance))

    @property
    def complete_standard_errors(self) -> np.ndarray:
        """The standard errors if nothing were missing, from ``inv(I_com)``, one per name."""
        return np.sqrt(np.diag(_inverse_spd(self.complete, "the complete-data information I_com")))

    @property
    def rate_matrix(self) -> np.ndarray:
        """``DM = inv(I_com) I_mis`` (:eq:`se-dm`), the fraction of missing information."""
        return np.linalg.solve(self.complete, self.missing)

    @property
    def fmi(self) -> np.ndarray:
        """Fraction of missing information about each parameter, ``1 - var_com / var_obs``, one per name."""
        return 1.0 - self.complete_standard_errors**2 / self.standard_errors**2


class BootstrapResult(NamedTuple):
    """What :func:`bootstrap_standard_errors` returns.

    Attributes
    ----------
    standard_errors : ndarray of shape (n_parameters,)
        Standard deviation of the replicates (divisor ``n_boot - 1``),
        :eq:`se-bootstrap`.
    monte_carlo_errors : ndarray of shape (n_parameters,)
        Approximate standard error of each bootstrap standard error due to
        the finite ``n_boot``, :eq:`se-bootstrap-mc`.
    replicates : ndarray of shape (n_boot, n_parameters)
        The EM estimate on every resample, as parameter vectors.
    names : tuple of str
    """

    standard_errors: np.ndarray
    monte_carlo_errors: np.ndarray
    replicates: np.ndarray
    names: tuple


# ---------------------------------------------------------------------------
# The multivariate normal's complete-data derivatives in (mean, vech covariance).
# ---------------------------------------------------------------------------


def _duplication(d: int) -> np.ndarray:
    """``dup[p, q, v]``: 1 where entry (p, q) of a symmetric matrix is its
    ``v``-th lower-triangle entry (``numpy.tril_indices`` order)."""
    rows, cols = np.tril_indices(d)
    dup = np.zeros((d, d, len(rows)))
    dup[rows, cols, np.arange(len(rows))] = 1.0
    dup[cols, rows, np.arange(len(rows))] = 1.0
    return dup


def _precision_of(covariance, name: str = "covariance") -> np.ndarray:
    try:
        chol = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite") from None
    chol_inv = np.linalg.inv(chol)
    precision = chol_inv.T @ chol_inv
    return 0.5 * (precision + precision.T)


def gaussian_score(X, mean, covariance) -> np.ndarray:
    """Score of ``log N(x | mean, covariance)`` in ``(mean, vech covariance)``, per row.

    Implements :eq:`se-normal-score`: with ``a = inv(Sigma) (x - mu)``, the
    gradient is ``a`` for the mean and ``(a a' - inv(Sigma)) / 2`` with the
    off-diagonal entries doubled for the lower triangle of the covariance
    (each appears twice in the symmetric matrix).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    mean : array of shape (n_features,)
    covariance : array of shape (n_features, n_features)

    Returns
    -------
    ndarray of shape (n_samples, n_features + n_features (n_features + 1) / 2)
    """
    X = as_data_matrix(X)
    d = X.shape[1]
    mean = missing.check_params((mean, covariance), d).mean
    precision = _precision_of(covariance)
    a = (X - mean) @ precision
    g = a[:, :, None] * a[:, None, :] - precision
    return np.hstack([a, 0.5 * np.einsum("npq,pqv->nv", g, _duplication(d))])


def _gaussian_information_from_moments(precision, count, sum_a, sum_aa) -> np.ndarray:
    """``-sum_n E[Hessian of log N(x_n)]`` from ``sum_n E[a_n]`` and
    ``sum_n E[a_n a_n']`` (:eq:`se-normal-information`): the Hessian is
    linear in ``a`` and ``a a'``, so these sums are all it needs."""
    d = len(precision)
    dup = _duplication(d)
    lam = precision
    mean_mean = count * lam
    # d a / d Sigma_pq = -Lambda[:, p] a_q
    mean_cov = np.einsum("tp,q,pqv->tv", lam, sum_a, dup)
    # -Hessian in Sigma: (1/2)(A_ps L_qr + A_rq L_sp) - (count/2) L_sp L_qr
    h = 0.5 * (np.einsum("ps,qr->pqrs", sum_aa, lam) + np.einsum("rq,sp->pqrs", sum_aa, lam)) \
        - 0.5 * count * np.einsum("sp,qr->pqrs", lam, lam)
    cov_cov = np.einsum("pqv,pqrs,rsw->vw", dup, h, dup)
    info = np.block([[mean_mean, mean_cov], [mean_cov.T, cov_cov]])
    return 0.5 * (info + info.T)


def gaussian_information(X, mean, covariance) -> np.ndarray:
    """Minus the Hessian of ``sum_n log N(x_n | mean, covariance)`` in ``(mean, vech covariance)``.

    Implements :eq:`se-normal-information`; at the sample mean and the
    (divide-by-``n``) sample covariance it is the Fisher information of
    ``n`` observations.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    mean : array of shape (n_features,)
    covariance : array of shape (n_features, n_features)

    Returns
    -------
    ndarray of shape (n_par, n_par), ``n_par = n_features + n_features (n_features + 1) / 2``
    """
    X = as_data_matrix(X)
    params = missing.check_params((mean, covariance), X.shape[1])
    precision = _precision_of(params.covariance)
    a = (X - params.mean) @ precision
    return _gaussian_information_from_moments(precision, len(X), a.sum(axis=0), a.T @ a)


# ---------------------------------------------------------------------------
# The normal with missing values.
# ---------------------------------------------------------------------------


def _normal_scale(params) -> np.ndarray:
    sd = np.sqrt(np.diag(params.covariance))
    rows, cols = np.tril_indices(len(sd))
    return np.r_[sd, sd[rows] * sd[cols]]


def _normal_check_params(data, params):
    params = _named(params, missing.MissingNormalParams)
    return missing.check_params(params, data.shape[1])


def _normal_conditional(data, params):
    """Per row: ``a_hat = Lambda (x_hat - mu)``; per pattern: its rows and
    ``Omega = Lambda C Lambda``, the covariance of ``a`` given the row's
    observed values."""
    precision = _precision_of(params.covariance)
    expectations, _ = missing.e_step(data, params)
    used = data.used
    a_hat = (expectations.X_hat[used] - params.mean) @ precision
    patterns, pattern_of_row = np.unique(data.missing[used], axis=0, return_inverse=True)
    pattern_of_row = pattern_of_row.reshape(-1)
    omegas = []
    for pattern in patterns:
        omega = np.zeros_like(precision)
        if pattern.any():
            lam_m = precision[:, pattern]
            cond_cov = np.linalg.inv(precision[np.ix_(pattern, pattern)])  # C_mm = inv(Lambda_mm)
            omega = lam_m @ cond_cov @ lam_m.T
        omegas.append(0.5 * (omega + omega.T))
    return precision, expectations, a_hat, np.array(omegas), pattern_of_row


def _normal_complete_information(data, params):
    precision, expectations, a_hat, omegas, pattern_of_row = _normal_conditional(data, params)
    counts = np.bincount(pattern_of_row, minlength=len(omegas))
    count = len(a_hat)
    sum_a = a_hat.sum(axis=0)
    sum_aa = a_hat.T @ a_hat + np.einsum("g,gpq->pq", counts, omegas)  # E[a a'] = a_hat a_hat' + Omega
    info = _gaussian_information_from_moments(precision, count, sum_a, sum_aa)
    g = sum_aa - count * precision
    score = np.r_[sum_a, 0.5 * np.einsum("pq,pqv->v", g, _duplication(len(precision)))]
    return info, score


def _normal_missing_information(data, params):
    precision, _, a_hat, omegas, pattern_of_row = _normal_conditional(data, params)
    d = len(precision)
    dup = _duplication(d)
    n_patterns = len(omegas)
    # sums over the rows of each pattern of a_hat and a_hat a_hat'
    sum_a = np.zeros((n_patterns, d))
    np.add.at(sum_a, pattern_of_row, a_hat)
    sum_aa = np.zeros((n_patterns, d, d))
    np.add.at(sum_aa, pattern_of_row, a_hat[:, :, None] * a_hat[:, None, :])
    counts = np.bincount(pattern_of_row, minlength=n_patterns)
    # score = (a, (1/2) dup' vec(a a') - const), a = a_hat + v, v ~ N(0, Omega):
    # Var(a) = Omega; Cov(a_t, a_r a_s) = a_hat_r Omega_ts + a_hat_s Omega_tr;
    # Var(a a') contracted with dup on both sides: 4 a_hat_p a_hat_r Omega_qs + 2 Omega_pr Omega_qs.
    mean_mean = np.einsum("g,gpq->pq", counts, omegas)
    mean_cov = np.einsum("gr,gts,rsv->tv", sum_a, omegas, dup)  # (1/2) * 2 terms after symmetrisation
    quad = np.einsum("gpr,gqs->pqrs", sum_aa, omegas) \
        + 0.5 * np.einsum("g,gpr,gqs->pqrs", counts, omegas, omegas)
    cov_cov = np.einsum("pqv,pqrs,rsw->vw", dup, quad, dup)
    info = np.block([[mean_mean, mean_cov], [mean_cov.T, cov_cov]])
    return 0.5 * (info + info.T)


def _normal_observation_scores(data, params):
    precision, _, a_hat, omegas, pattern_of_row = _normal_conditional(data, params)
    # E[a a' | observed] = a_hat a_hat' + Omega; a row with nothing observed scores 0
    g = a_hat[:, :, None] * a_hat[:, None, :] + omegas[pattern_of_row] - precision
    scores = np.zeros((data.shape[0], accelerate.parameter_map(params).size))
    scores[data.used] = np.hstack([a_hat, 0.5 * np.einsum("npq,pqv->nv", g, _duplication(len(precision)))])
    return scores


MISSING_NORMAL = EMModel(
    name="missing_normal",
    prepare=missing.group_patterns,
    check_params=_normal_check_params,
    e_step=missing.e_step,
    m_step=missing.m_step,
    log_likelihood=missing.log_likelihood,
    n_observations=lambda data: data.shape[0],
    resample=lambda data, rows: missing.group_patterns(data.X[rows]),
    parameter_map=accelerate.parameter_map,
    scale=_normal_scale,
    complete_information=_normal_complete_information,
    missing_information=_normal_missing_information,
    observation_scores=_normal_observation_scores,
)
"""The multivariate normal with values missing at random (:mod:`emtutor.missing`),
parameters ``(mean, vech covariance)`` and data ``X`` with NaN where missing.

:meta hide-value:
"""


# ---------------------------------------------------------------------------
# Discrete latent variables: mixtures and coins.
# ---------------------------------------------------------------------------


def _weight_scores(weights) -> np.ndarray:
    """``d log weights[k] / d weights[j]`` for the free weights ``j < K - 1``: shape (K, K - 1)."""
    k = len(weights)
    scores = np.zeros((k, k - 1))
    scores[np.arange(k - 1), np.arange(k - 1)] = 1.0 / weights[:-1]
    scores[k - 1, :] = -1.0 / weights[-1]
    return scores


def _weight_information(weights, counts) -> np.ndarray:
    """``-sum_n E[Hessian of log weights[z_n]]`` in the free weights: ``diag(N_j / pi_j^2) + N_K / pi_K^2``."""
    return np.diag(counts[:-1] / weights[:-1] ** 2) + counts[-1] / weights[-1] ** 2


def _discrete_missing_information(resp, scores) -> np.ndarray:
    """``sum_n Var(score | x_n)`` for a latent class ``z_n`` with posterior
    ``resp[n]``; ``scores[n, k]`` is the complete-data score if ``z_n = k``."""
    mean = np.einsum("nk,nkp->np", resp, scores)
    second = np.einsum("nk,nkp,nkq->pq", resp, scores, scores)
    info = second - mean.T @ mean
    return 0.5 * (info + info.T)


def _mixture_scale(params) -> np.ndarray:
    sd = np.sqrt(np.diagonal(params.covariances, axis1=1, axis2=2))  # (K, D)
    rows, cols = np.tril_indices(params.means.shape[1])
    return np.r_[np.ones(len(params.weights) - 1), sd.ravel(), (sd[:, rows] * sd[:, cols]).ravel()]


def _mixture_check_params(X, params):
    params = _named(params, gmm.GMMParams)
    k = len(np.atleast_1d(params.weights))
    params = gmm.check_params(params, k, X.shape[1], "full")
    if np.any(params.weights <= 0):
        raise ValueError(f"weights must be positive for the information to exist, got {params.weights}")
    return params


def _mixture_component_scores(X, params) -> np.ndarray:
    """``scores[n, k]``: the complete-data score if ``z_n = k``, in the mixture's vector layout."""
    k, d = params.means.shape
    q = d + d * (d + 1) // 2
    scores = np.zeros((len(X), k, k - 1 + k * q))
    scores[:, :, : k - 1] = _weight_scores(params.weights)
    for c in range(k):
        g = gaussian_score(X, params.means[c], params.covariances[c])
        scores[:, c, k - 1 + c * d: k - 1 + (c + 1) * d] = g[:, :d]
        start = k - 1 + k * d + c * (q - d)
        scores[:, c, start: start + q - d] = g[:, d:]
    return scores


def _mixture_complete_information(X, params):
    k, d = params.means.shape
    q = d * (d + 1) // 2
    resp, _ = gmm.e_step(X, params)
    counts = resp.sum(axis=0)
    n_par = k - 1 + k * (d + q)
    info = np.zeros((n_par, n_par))
    info[: k - 1, : k - 1] = _weight_information(params.weights, counts)
    for c in range(k):
        precision = _precision_of(params.covariances[c], f"covariances[{c}]")
        a = (X - params.means[c]) @ precision
        block = _gaussian_information_from_moments(precision, counts[c], resp[:, c] @ a, (a * resp[:, c:c + 1]).T @ a)
        idx = np.r_[np.arange(k - 1 + c * d, k - 1 + (c + 1) * d), np.arange(k - 1 + k * d + c * q, k - 1 + k * d + (c + 1) * q)]
        info[np.ix_(idx, idx)] = block
    score = np.einsum("nk,nkp->p", resp, _mixture_component_scores(X, params))
    return info, score


def _mixture_missing_information(X, params):
    resp, _ = gmm.e_step(X, params)
    return _discrete_missing_information(resp, _mixture_component_scores(X, params))


def _mixture_observation_scores(X, params):
    resp, _ = gmm.e_step(X, params)
    return np.einsum("nk,nkp->np", resp, _mixture_component_scores(X, params))


GAUSSIAN_MIXTURE = EMModel(
    name="gaussian_mixture",
    prepare=as_data_matrix,
    check_params=_mixture_check_params,
    e_step=gmm.e_step,
    m_step=partial(gmm.m_step, reg_covar=0.0, covariance_type="full"),
    log_likelihood=gmm.log_likelihood,
    n_observations=len,
    resample=lambda X, rows: X[rows],
    parameter_map=partial(accelerate.parameter_map, covariance_type="full"),
    scale=_mixture_scale,
    complete_information=_mixture_complete_information,
    missing_information=_mixture_missing_information,
    observation_scores=_mixture_observation_scores,
)
"""Gaussian mixtures with full covariances (:mod:`emtutor.gmm`) and an M-step without
``reg_covar``, parameters ``(weights[:-1], means, vech covariances)`` and data ``X``.

:meta hide-value:
"""


def _coin_scale(learn_weights, params) -> np.ndarray:
    k = len(params.thetas)
    return np.ones(2 * k - 1 if learn_weights else k)


def _coin_prepare(data) -> coins.CoinData:
    if not isinstance(data, tuple) or len(data) != 2:
        raise TypeError(f"data must be coins.CoinData(heads, tosses) (see coins.as_coin_data), got {type(data).__name__}")
    return coins.as_coin_data(*data)


def _coin_check_params(data, params):
    params = _named(params, coins.CoinParams)
    k = len(np.atleast_1d(params.thetas))
    params = coins.check_params(params, k, open_interval=True)
    if np.any(params.weights <= 0):
        raise ValueError(f"weights must be positive for the information to exist, got {params.weights}")
    return params


def _coin_scores(learn_weights, data, params) -> np.ndarray:
    k = len(params.thetas)
    h, t = data.heads[:, None], data.tosses[:, None]
    theta_scores = h / params.thetas - (t - h) / (1.0 - params.thetas)  # (n, K)
    scores = np.zeros((len(data.heads), k, k))
    scores[:, np.arange(k), np.arange(k)] = theta_scores
    if learn_weights:
        weight_scores = np.broadcast_to(_weight_scores(params.weights), (len(data.heads), k, k - 1))
        scores = np.concatenate([weight_scores, scores], axis=2)
    return scores


def _coin_complete_information(learn_weights, data, params):
    resp, _ = coins.e_step(data, params)
    h, t = data.heads[:, None], data.tosses[:, None]
    theta_info = np.diag(np.sum(resp * (h / params.thetas**2 + (t - h) / (1.0 - params.thetas) ** 2), axis=0))
    if learn_weights:
        k = len(params.thetas)
        info = np.zeros((2 * k - 1, 2 * k - 1))
        info[: k - 1, : k - 1] = _weight_information(params.weights, resp.sum(axis=0))
        info[k - 1:, k - 1:] = theta_info
    else:
        info = theta_info
    score = np.einsum("nk,nkp->p", resp, _coin_scores(learn_weights, data, params))
    return info, score


def _coin_missing_information(learn_weights, data, params):
    resp, _ = coins.e_step(data, params)
    return _discrete_missing_information(resp, _coin_scores(learn_weights, data, params))


def _coin_observation_scores(learn_weights, data, params):
    resp, _ = coins.e_step(data, params)
    return np.einsum("nk,nkp->np", resp, _coin_scores(learn_weights, data, params))


def _coin_model(learn_weights: bool) -> EMModel:
    return EMModel(
        name="coins_weights" if learn_weights else "coins",
        prepare=_coin_prepare,
        check_params=_coin_check_params,
        e_step=coins.e_step,
        m_step=partial(coins.m_step, learn_weights=learn_weights),
        log_likelihood=coins.log_likelihood,
        n_observations=lambda data: len(data.heads),
        resample=lambda data, rows: coins.CoinData(data.heads[rows], data.tosses[rows]),
        parameter_map=partial(accelerate.parameter_map, fixed=() if learn_weights else ("weights",)),
        scale=partial(_coin_scale, learn_weights),
        complete_information=partial(_coin_complete_information, learn_weights),
        missing_information=partial(_coin_missing_information, learn_weights),
        observation_scores=partial(_coin_observation_scores, learn_weights),
    )


COINS = _coin_model(False)
"""The coin mixture (:mod:`emtutor.coins`) with fixed weights, parameters ``thetas``
and data ``coins.CoinData(heads, tosses)``.

:meta hide-value:
"""

COINS_WEIGHTS = _coin_model(True)
"""The coin mixture with learned weights, parameters ``(weights[:-1], thetas)``.

:meta hide-value:
"""


# ---------------------------------------------------------------------------
# The public functions.
# ---------------------------------------------------------------------------


def _named(params, kind):
    """``params`` as the model's named tuple; a plain tuple of the right length is accepted."""
    if isinstance(params, kind):
        return params
    if isinstance(params, tuple) and not hasattr(params, "_fields") and len(params) == len(kind._fields):
        return kind(*params)
    raise TypeError(f"params must be {kind.__module__}.{kind.__name__}{kind._fields}, got {type(params).__name__}")


def _check(model, data, params):
    if not isinstance(model, EMModel):
        raise TypeError(
            "model must be one of emtutor.information.MISSING_NORMAL, GAUSSIAN_MIXTURE, COINS, "
            f"COINS_WEIGHTS, got {type(model).__name__}"
        )
    data = model.prepare(data)
    return data, model.check_params(data, params)


def _inverse_spd(matrix, what: str) -> np.ndarray:
    try:
        chol = np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{what} is not positive definite: the parameters are not a maximum of the "
            "log-likelihood (run EM to convergence, with a small tol) or the model is not "
            "identified there"
        ) from None
    chol_inv = np.linalg.inv(chol)
    inverse = chol_inv.T @ chol_inv
    return 0.5 * (inverse + inverse.T)


def complete_information(model: EMModel, data, params) -> np.ndarray:
    """Expected complete-data information ``I_com`` :eq:`se-complete-information`.

    ``E[-Hessian of log p(X, z | theta) | X, theta]`` summed over the
    observations: minus the Hessian of ``Q(theta, theta_old)`` in its first
    argument at ``theta = theta_old = params``.

    Parameters
    ----------
    model : EMModel
        :data:`MISSING_NORMAL`, :data:`GAUSSIAN_MIXTURE`, :data:`COINS` or
        :data:`COINS_WEIGHTS`.
    data : array or CoinData
        What the model's ``fit`` takes: ``X`` (NaN where missing) or
        ``coins.CoinData(heads, tosses)``.
    params : the model's parameters (named tuple)

    Returns
    -------
    ndarray of shape (n_parameters, n_parameters)
    """
    data, params = _check(model, data, params)
    return model.complete_information(data, params)[0]


def missing_information(model: EMModel, data, params) -> np.ndarray:
    """Missing information ``I_mis``: the conditional covariance of the complete-data score.

    ``sum_n Var(grad log p(x_n, z_n | theta) | x_n, theta)``, the term
    Louis' formula :eq:`se-louis` subtracts.  Arguments as for
    :func:`complete_information`.

    Returns
    -------
    ndarray of shape (n_parameters, n_parameters)
    """
    data, params = _check(model, data, params)
    return model.missing_information(data, params)


def louis_information(model: EMModel, data, params) -> Information:
    """Observed information by Louis' method, :eq:`se-louis`.

    ``I_obs = I_com - I_mis`` (:eq:`se-missing-information`), both computed
    in closed form from the model's complete-data derivatives
    (:eq:`se-normal-score`, :eq:`se-normal-information`,
    :eq:`se-discrete-scores`).  The identity holds at every ``params``, not
    only at the maximum, because the observations are independent and each
    one's conditional score variance is subtracted.

    Parameters
    ----------
    model : EMModel
    data : array or CoinData
    params : the model's parameters (named tuple)

    Returns
    -------
    Information
        ``observed``, ``complete``, ``missing``, ``names``, ``score``; its
        ``standard_errors`` are the standard errors of the named parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from emtutor import coins, information
    >>> data = coins.as_coin_data([5, 9, 8, 4, 7], 10)
    >>> fit = coins.fit(*data, thetas=[0.6, 0.5], tol=1e-12, max_iter=1000)
    >>> info = information.louis_information(information.COINS, data, fit.params)
    >>> info.names
    ('thetas[0]', 'thetas[1]')
    >>> np.round(info.standard_errors, 2)
    array([0.1 , 0.13])
    """
    data, params = _check(model, data, params)
    complete, score = model.complete_information(data, params)
    mis = model.missing_information(data, params)
    return Information(complete - mis, complete, mis, model.names(params), score)


def observation_scores(model: EMModel, data, params) -> np.ndarray:
    """Each observation's observed-data score, by Fisher's identity :eq:`se-fisher-identity`.

    The gradient of observation ``n``'s term of the log-likelihood is the
    conditional mean of its complete-data score given what was observed.
    Their sum is ``Information.score``.

    Parameters
    ----------
    model : EMModel
    data : array or CoinData
    params : the model's parameters

    Returns
    -------
    ndarray of shape (n_observations, n_parameters)
    """
    data, params = _check(model, data, params)
    return model.observation_scores(data, params)


def sandwich_covariance(model: EMModel, data, params) -> np.ndarray:
    """The sandwich (robust) covariance ``inv(I_obs) J inv(I_obs)``, :eq:`se-sandwich`.

    ``I_obs`` by Louis' method and ``J = sum_n s_n s_n'`` from the
    per-observation scores (:func:`observation_scores`).  If the model is
    right, ``J`` and ``I_obs`` estimate the same matrix and the sandwich is
    close to ``inv(I_obs)``; if it is wrong, the sandwich still estimates the
    sampling covariance of the estimate, as the bootstrap does.

    Parameters
    ----------
    model : EMModel
    data : array or CoinData
    params : the model's parameters
        The maximum-likelihood estimate.

    Returns
    -------
    ndarray of shape (n_parameters, n_parameters)
    """
    data, params = _check(model, data, params)
    info = louis_information(model, data, params)
    scores = model.observation_scores(data, params)
    bread = info.covariance
    sandwich = bread @ (scores.T @ scores) @ bread
    return 0.5 * (sandwich + sandwich.T)


def em_map(model: EMModel, data, theta, params) -> np.ndarray:
    """One EM iteration as a map of parameter vectors, ``theta -> M(theta)`` (:eq:`se-em-map`).

    The model's own ``e_step`` then ``m_step`` (the driver's steps), in the
    vector layout of the module's table.

    Parameters
    ----------
    model : EMModel
    data : array or CoinData
    theta : array of shape (n_parameters,)
    params : the model's parameters
        Supplies what ``theta`` does not hold (fixed weights of the coins).

    Returns
    -------
    ndarray of shape (n_parameters,)
    """
    data, params = _check(model, data, params)
    return _em_map(model, data, params)(np.asarray(theta, dtype=float))


def _em_map(model, data, params) -> Callable[[np.ndarray], np.ndarray]:
    """The model's own ``e_step`` then ``m_step`` as a map of its parameter vectors."""
    return accelerate.em_map(data, params, e_step=model.e_step, m_step=model.m_step,
                             parameter_map=model.parameter_map(params))


def sem_rate_matrix(model: EMModel, data, params, *, rel_step: float = 1e-4,
                    fixed_point_tol: float = 1e-6) -> np.ndarray:
    """``DM``, the Jacobian of one EM iteration at its fixed point, by numerical differences.

    The supplemented EM (SEM) of Meng and Rubin (1991): at the
    maximum-likelihood estimate, the derivative of the EM map
    :eq:`se-em-map` is ``DM = inv(I_com) I_mis`` (:eq:`se-dm`).  Column
    ``i`` is the central difference of :func:`em_map` in parameter ``i``
    with step ``h = rel_step * scale[i]`` and ``h / 2``, combined by one
    Richardson extrapolation (error of order ``h^4``): this is
    :func:`emtutor.accelerate.rate_matrix` with steps scaled to each
    parameter, at a fixed point that this function checks first.  Meng and Rubin
    differentiate along the EM sequence instead; at the fixed point the two
    agree.

    Parameters
    ----------
    model : EMModel
    data : array or CoinData
    params : the model's parameters
        The maximum-likelihood estimate: a fixed point of EM.
    rel_step : float, default 1e-4
        Step relative to each parameter's natural scale (a standard
        deviation, a variance, 1 for a probability).
    fixed_point_tol : float, default 1e-6
        ``params`` must be a fixed point: one EM iteration may move no
        parameter by more than ``fixed_point_tol`` times its scale.

    Returns
    -------
    ndarray of shape (n_parameters, n_parameters)
        ``DM[:, i]`` is the derivative of ``M(theta)`` in ``theta[i]``
        (column convention; Meng and Rubin's ``DM`` is its transpose).

    Raises
    ------
    ValueError
        For bad input, or ``params`` that is not a fixed point of EM.
    """
    data, params = _check(model, data, params)
    rel_step = _check_fraction(rel_step, "rel_step")
    fixed_point_tol = _check_fraction(fixed_point_tol, "fixed_point_tol")
    theta = model.to_vector(params)
    scale = model.scale(params)
    moved = np.max(np.abs(_em_map(model, data, params)(theta) - theta) / scale)
    if moved > fixed_point_tol:
        raise ValueError(
            f"params is not a fixed point of EM: one iteration moves a parameter by {moved:.2e} "
            f"of its scale (fixed_point_tol={fixed_point_tol:g}); run EM to convergence with a "
            "smaller tol (and, for mixtures, reg_covar=0) first"
        )
    return accelerate.rate_matrix(data, params, e_step=model.e_step, m_step=model.m_step,
                                  parameter_map=model.parameter_map(params), step=rel_step * scale)


def sem_information(model: EMModel, data, params, *, rel_step: float = 1e-4,
                    fixed_point_tol: float = 1e-6) -> Information:
    """Observed information by SEM: ``I_obs = I_com (I - DM)``, :eq:`se-sem-variance`.

    ``I_com`` in closed form (:func:`complete_information`), ``DM``
    numerically (:func:`sem_rate_matrix`); ``I_mis = I_com DM``.  Both
    ``missing`` and ``observed`` are symmetrised (their asymmetry is the
    numerical error of ``DM``).  Arguments as for :func:`sem_rate_matrix`.

    Returns
    -------
    Information
    """
    data, params = _check(model, data, params)
    complete, score = model.complete_information(data, params)
    dm = sem_rate_matrix(model, data, params, rel_step=rel_step, fixed_point_tol=fixed_point_tol)
    mis = complete @ dm
    mis = 0.5 * (mis + mis.T)
    return Information(complete - mis, complete, mis, model.names(params), score)


def bootstrap_standard_errors(model: EMModel, data, params, *, n_boot: int = 200, random_state=None,
                              tol: float = 1e-10, max_iter: int = 10000) -> BootstrapResult:
    """Nonparametric bootstrap standard errors of the EM estimate, :eq:`se-bootstrap`.

    Draws ``n_boot`` resamples of the observations (rows of ``X``, sets of
    tosses) with replacement, runs EM (:func:`emtutor.em.run_em` with the
    model's steps) on each from ``params`` (the estimate on the full data,
    which keeps a mixture's components in the same order), and returns the
    standard deviation of the estimates with its Monte Carlo error
    :eq:`se-bootstrap-mc`.

    Parameters
    ----------
    model : EMModel
    data : array or CoinData
    params : the model's parameters
        The estimate on the full data.
    n_boot : int, default 200
        Number of resamples, at least 2.
    random_state : int, numpy Generator or None
        Seed of the resampling.
    tol : float, default 1e-10
        EM's stopping tolerance per observation on each resample.
    max_iter : int, default 10000

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ValueError
        For bad input, or a resample on which the model cannot be fitted
        (such as a column of ``X`` with no observed value).
    """
    data, params = _check(model, data, params)
    n_boot = check_positive_int(n_boot, "n_boot", 2)
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"random_state must be an int, a numpy Generator or None: {exc}") from None
    n = model.n_observations(data)
    replicates = np.empty((n_boot, len(model.to_vector(params))))
    for b in range(n_boot):
        rows = rng.integers(0, n, size=n)
        try:
            resample = model.resample(data, rows)
            fit = run_em(resample, params, e_step=model.e_step, m_step=model.m_step, n_observations=n,
                         tol=tol, max_iter=max_iter)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise ValueError(f"bootstrap resample {b} cannot be fitted: {exc}") from exc
        replicates[b] = model.to_vector(fit.params)
    centred = replicates - replicates.mean(axis=0)
    variance = np.sum(centred**2, axis=0) / (n_boot - 1)
    standard_errors = np.sqrt(variance)
    # Monte Carlo error of a standard deviation (delta method): Var(s) ~ sigma^2 (kurt + 2) / (4 B)
    with np.errstate(invalid="ignore", divide="ignore"):
        kurtosis = np.mean(centred**4, axis=0) / np.mean(centred**2, axis=0) ** 2 - 3.0
    kurtosis = np.where(np.isfinite(kurtosis), kurtosis, 0.0)
    monte_carlo = standard_errors * np.sqrt(np.maximum(kurtosis + 2.0, 0.0) / (4.0 * n_boot))
    return BootstrapResult(standard_errors, monte_carlo, replicates, model.names(params))


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(value) and 0 < value < 1):
        raise ValueError(f"{name} must be a number between 0 and 1 (exclusive), got {value!r}")
    return float(value)
