r"""A mixture of multivariate Bernoulli distributions fitted by EM.

Each row of a binary matrix ``X`` (``n_samples`` by ``n_features``, entries 0
or 1: a binarised image, a bag of words reduced to presence) is drawn from
one of ``n_components`` components; component ``k`` is picked with
probability ``weights[k]`` and then switches on feature ``i`` independently
with probability ``means[k, i]`` (:eq:`bern-density`).  The E-step
(:func:`e_step`) is Bayes' rule :eq:`bern-e-step` in log space; the M-step
(:func:`m_step`) sets each component's mean to the responsibility-weighted
average of the rows, :eq:`bern-m-means`, and its weight to its share of the
responsibility, :eq:`bern-m-weights`.  :func:`fit` runs EM with the generic
driver :func:`emtutor.em.run_em`; the objective is the log-likelihood
:eq:`bern-log-likelihood`.

Unlike a Gaussian mixture the likelihood is bounded (every factor is a
probability), so there are no singularities and no ``reg_covar``.  A mean
can reach exactly 0 or 1 (a feature that is off, or on, in every row a
component is responsible for); the log-densities treat ``0 log 0`` as 0 and
give ``-inf`` to a row that such a component cannot produce, and the M-step
never makes a training row impossible under every component (see
:func:`m_step`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

from ._validation import as_float_2d, as_rng, check_not_empty, check_positive_int, check_probability_vector, \
    check_shape
from .em import EMResult, run_em
from .gmm import RestartSummary, best_restart

__all__ = [
    "BernoulliParams",
    "BernoulliResult",
    "as_binary_matrix",
    "log_bernoulli",
    "e_step",
    "m_step",
    "log_likelihood",
    "n_parameters",
    "initial_params",
    "fit",
]


class BernoulliParams(NamedTuple):
    """Parameters of a mixture of multivariate Bernoulli distributions.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights ``pi_k``: non-negative, sum 1.
    means : ndarray of shape (n_components, n_features)
        ``mu_ki``, the probability that component ``k`` switches feature
        ``i`` on; in ``[0, 1]``.
    """

    weights: np.ndarray
    means: np.ndarray


@dataclass
class BernoulliResult(EMResult):
    """:class:`~emtutor.em.EMResult` of the kept restart, plus the restarts' summary.

    Attributes
    ----------
    restarts : emtutor.gmm.RestartSummary
        Final log-likelihood of every restart and how often each distinct
        optimum was reached (the same rule as :func:`emtutor.gmm.fit`).
    """

    restarts: RestartSummary | None = None


def as_binary_matrix(X, name: str = "X") -> np.ndarray:
    """``X`` as a float array of shape (n_samples, n_features) holding only 0 and 1.

    Booleans and integers 0/1 are accepted.

    Raises
    ------
    TypeError
        For input NumPy cannot turn into numbers.
    ValueError
        If ``X`` is not 2-D, is empty, or holds anything but 0 and 1
        (binarise first, e.g. ``X > threshold``).
    """
    X = as_float_2d(X, name)
    check_not_empty(X.shape, name)
    bad = (X != 0) & (X != 1)
    if np.any(bad):
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} must hold only 0 and 1 (a Bernoulli mixture models binary data), but "
            f"{name}[{row}, {column}] = {X[row, column]:g}; binarise it first, e.g. with "
            f"({name} > threshold)"
        )
    return X


def log_bernoulli(X, means) -> np.ndarray:
    """``log p(x_n | mu_k)`` for every row and component, :eq:`bern-density`.

    ``sum_i x_ni log mu_ki + (1 - x_ni) log(1 - mu_ki)``, computed as one
    matrix product, ``X @ (log mu - log(1 - mu)).T + sum_i log(1 - mu_ki)``.
    A mean of exactly 0 or 1 contributes ``0 log 0 = 0`` for the rows it
    agrees with and makes the rows it disagrees with impossible
    (``-inf``).

    Parameters
    ----------
    X : array of shape (n_samples, n_features), entries 0 or 1
    means : array of shape (n_components, n_features), entries in [0, 1]

    Returns
    -------
    ndarray of shape (n_samples, n_components)
    """
    means = np.asarray(means, dtype=float)
    with np.errstate(divide="ignore"):
        log_on = np.where(means > 0, np.log(means), 0.0)
        log_off = np.where(means < 1, np.log1p(-means), 0.0)
    log_density = X @ (log_on - log_off).T + log_off.sum(axis=1)
    if np.any(means == 0) or np.any(means == 1):
        never_on, always_on = (means == 0).astype(float), (means == 1).astype(float)
        # number of features on where the mean is 0, plus off where it is 1
        clashes = X @ (never_on - always_on).T + always_on.sum(axis=1)
        log_density[clashes > 0.5] = -np.inf
    return log_density


def e_step(X, params: BernoulliParams, previous=None) -> tuple[np.ndarray, np.ndarray]:
    """E-step: the responsibility of each component for each row, :eq:`bern-e-step`.

    Bayes' rule in log space, normalised with :eq:`logsumexp`; the per-row
    normaliser is ``log p(x_n)``, whose sum is the log-likelihood
    :eq:`bern-log-likelihood`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), entries 0 or 1
    params : BernoulliParams
    previous : ignored
        The previous responsibilities (the driver hands them to every
        E-step); the exact posterior does not depend on them.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
        Rows sum to 1.
    log_norm : ndarray of shape (n_samples,)
        ``log p(x_n)`` under ``params``.

    Raises
    ------
    ValueError
        If a row has probability zero under every component (a feature is
        on where every component's mean is 0, or off where every one's is 1).
    """
    with np.errstate(divide="ignore"):  # a zero weight: log 0 = -inf, that component is never picked
        log_weighted = log_bernoulli(X, params.means) + np.log(params.weights)
    with np.errstate(invalid="ignore"):  # rows no component can produce: reported below
        log_norm = logsumexp(log_weighted, axis=1)
    if not np.all(np.isfinite(log_norm)):
        n = int(np.flatnonzero(~np.isfinite(log_norm))[0])
        raise ValueError(
            f"row {n} of X has probability zero under every component: each component with a "
            f"non-zero weight has a mean of exactly 0 where the row has a 1, or of exactly 1 where it has a 0"
        )
    resp = np.exp(log_weighted - log_norm[:, None])
    return resp, log_norm


def m_step(X, resp, params: BernoulliParams | None = None) -> BernoulliParams:
    """M-step: responsibility-weighted means :eq:`bern-m-means` and weights :eq:`bern-m-weights`.

    ``mu_k = sum_n r_nk x_n / N_k`` and ``pi_k = N_k / N`` with
    ``N_k = sum_n r_nk``; the exact maximiser of the expected complete-data
    log-likelihood.  A component with no responsibility at all
    (``N_k = 0``) keeps its means from ``params`` (weight 0); without
    ``params`` that is an error.

    A mean is 0 only if every row the component is responsible for has the
    feature off (and 1 only if on), so each row stays possible under every
    component with ``r_nk > 0``: the next E-step never meets a training row
    of probability zero.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), entries 0 or 1
    resp : array of shape (n_samples, n_components)
    params : BernoulliParams, optional
        The current parameters; only used for empty components.

    Returns
    -------
    BernoulliParams
    """
    counts = resp.sum(axis=0)
    empty = counts <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (resp.T @ X) / counts[:, None]
    if np.any(empty):
        if params is None:
            raise ValueError(
                f"component {int(np.argmax(empty))} has no responsibility; m_step needs the current "
                "params to keep its means"
            )
        means[empty] = np.asarray(params.means, dtype=float)[empty]
    return BernoulliParams(counts / len(X), np.clip(means, 0.0, 1.0))


def log_likelihood(X, params: BernoulliParams) -> float:
    """Total log-likelihood :eq:`bern-log-likelihood` of the rows of ``X``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), entries 0 or 1
    params : BernoulliParams

    Returns
    -------
    float
    """
    X = as_binary_matrix(X)
    params = check_params(params, len(np.atleast_1d(params.weights)), X.shape[1])
    return float(np.sum(e_step(X, params)[1]))


def n_parameters(n_components: int, n_features: int) -> int:
    """Free parameters: ``n_components * n_features`` means and ``n_components - 1`` weights."""
    return n_components * n_features + n_components - 1


def check_params(params: BernoulliParams, k: int, d: int) -> BernoulliParams:
    """``params`` validated: weights a probability vector, means in [0, 1], shapes (k,) and (k, d).

    Raises
    ------
    ValueError
        Naming ``weights`` or ``means``.
    """
    if not isinstance(params, BernoulliParams):
        raise TypeError(f"params must be a BernoulliParams, got {type(params).__name__}")
    weights = check_probability_vector(params.weights, k, "weights")
    means = check_shape(params.means, (k, d), "means")
    if np.any((means < 0) | (means > 1)):
        raise ValueError(f"means must be between 0 and 1, got values from {means.min():g} to {means.max():g}")
    return BernoulliParams(weights, means)


def initial_params(X, n_components: int, random_state=None) -> BernoulliParams:
    """Bishop's start (PRML §9.3.3): uniform weights, means drawn uniformly from (0.25, 0.75).

    Parameters
    ----------
    X : array of shape (n_samples, n_features), entries 0 or 1
        Only its number of features is used.
    n_components : int
    random_state : int, numpy Generator or None

    Returns
    -------
    BernoulliParams
    """
    X = as_binary_matrix(X)
    k = check_positive_int(n_components, "n_components")
    return _initial_params(X.shape[1], k, as_rng(random_state))


def _initial_params(n_features: int, k: int, rng: np.random.Generator) -> BernoulliParams:
    return BernoulliParams(np.full(k, 1.0 / k), rng.uniform(0.25, 0.75, size=(k, n_features)))


def fit(
    X,
    n_components: int,
    *,
    n_init: int = 1,
    weights=None,
    means=None,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
) -> BernoulliResult:
    """Fit a mixture of multivariate Bernoullis to the binary rows of ``X`` by EM.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), entries 0 or 1
    n_components : int
        Number of components, ``1 <= n_components <= n_samples``.
    n_init : int, default 1
        Number of restarts, each from its own random means; the one with
        the highest final log-likelihood is kept (ties within
        ``max(100 * tol * n_samples, 1e-6 |log-likelihood|)`` go to the
        earliest, as in :func:`emtutor.gmm.fit`).
    weights : array of shape (n_components,), optional
        Initial mixing weights; default uniform.
    means : array of shape (n_components, n_features), optional
        Initial means (used in every restart); default drawn by
        :func:`initial_params` with ``random_state``.
    tol : float, default 1e-4
        Stop when the log-likelihood *per sample* changes by less than
        ``tol`` (see :func:`emtutor.em.run_em`).
    max_iter : int, default 100
    random_state : int, numpy Generator or None
        Seed for the initial means.
    record : bool, default False
        Keep every iteration's parameters and responsibilities.

    Returns
    -------
    BernoulliResult
        ``result.weights``, ``result.means``, ``result.resp``,
        ``result.objectives`` (log-likelihood after every iteration),
        ``result.n_iter``, ``result.converged``, ``result.restarts``.

    Raises
    ------
    ValueError
        For ``X`` that is not a binary matrix, ``n_components`` out of
        range, ``n_init < 1``, or initial parameters of the wrong shape or
        range.

    Examples
    --------
    >>> import numpy as np
    >>> from emtutor import bernoulli
    >>> X = np.array([[1, 1, 0, 0]] * 5 + [[0, 0, 1, 1]] * 5)
    >>> result = bernoulli.fit(X, 2, random_state=0)
    >>> np.round(result.means, 2).tolist()
    [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]
    """
    X = as_binary_matrix(X)
    return _fit(X, n_components, n_init=n_init, weights=weights, means=means, tol=tol, max_iter=max_iter,
                random_state=random_state, record=record)


def _fit(X, n_components, *, n_init, weights, means, tol, max_iter, random_state, record) -> BernoulliResult:
    """:func:`fit` for an ``X`` already validated by :func:`as_binary_matrix`."""
    n_samples, n_features = X.shape
    k = check_positive_int(n_components, "n_components", 1, n_samples)
    n_init = check_positive_int(n_init, "n_init", 1)
    rng = as_rng(random_state)
    runs = []
    for _ in range(n_init):
        start = _initial_params(n_features, k, rng)
        params = BernoulliParams(
            start.weights if weights is None else weights,
            start.means if means is None else means,
        )
        params = check_params(params, k, n_features)
        runs.append(run_em(X, params, e_step=e_step, m_step=m_step, n_observations=n_samples, tol=tol,
                           max_iter=max_iter, record=record))
    best, summary = best_restart(runs, tol, n_samples)
    return BernoulliResult(**{f.name: getattr(best, f.name) for f in fields(EMResult)}, restarts=summary)
