"""A mixture of biased coins (a binomial mixture) fitted by EM.

Each of ``n_sets`` sets of tosses was made with one of ``n_components`` coins;
coin ``k`` shows heads with probability ``thetas[k]`` and is picked for a
set with probability ``weights[k]``.  Which coin made which set is hidden.
The E-step (:func:`e_step`) is Bayes' rule :eq:`coins-e-step`, computed in
log space; the M-step (:func:`m_step`) is the ratio of expected counts
:eq:`coins-m-step` and, when the weights are learned, :eq:`coins-m-weights`.
With the labels known, the fit is :func:`complete_data_mle`
(:eq:`coins-complete-mle`).  :func:`fit` runs EM with the generic driver
:func:`emtutor.em.run_em`.  :func:`monte_carlo_em` replaces the E-step's
expectation by an average over sampled coins (Monte Carlo EM; stochastic EM
with one draw), :eq:`sem-mc-e-step`.

The likelihood is that of the observed *sequences* of tosses,
:eq:`coins-log-likelihood`; the likelihood of the head *counts* differs from
it only by binomial coefficients, which do not depend on the parameters.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp, xlogy

from ._validation import as_rng, check_positive_int, check_probability_vector, check_shape
from .em import EMResult, run_em

__all__ = [
    "CoinData",
    "CoinParams",
    "as_coin_data",
    "log_joint",
    "e_step",
    "m_step",
    "log_likelihood",
    "complete_data_mle",
    "fit",
    "check_params",
    "MonteCarloRun",
    "monte_carlo_e_step",
    "monte_carlo_em",
]


class CoinData(NamedTuple):
    """Observed head counts.

    Attributes
    ----------
    heads : ndarray of shape (n_sets,)
        Number of heads in each set, ``0 <= heads[i] <= tosses[i]``.
    tosses : ndarray of shape (n_sets,)
        Number of tosses in each set, ``>= 1``.
    """

    heads: np.ndarray
    tosses: np.ndarray


class CoinParams(NamedTuple):
    """Parameters of a coin mixture.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        Probability of picking each coin for a set; non-negative, sum 1.
    thetas : ndarray of shape (n_components,)
        Probability of heads of each coin, in ``[0, 1]``.
    """

    weights: np.ndarray
    thetas: np.ndarray


def as_coin_data(heads, tosses) -> CoinData:
    """Validate head and toss counts and return them as :class:`CoinData`.

    Parameters
    ----------
    heads : array-like of shape (n_sets,)
    tosses : array-like of shape (n_sets,) or int
        An int means the same number of tosses in every set.

    Returns
    -------
    CoinData

    Raises
    ------
    ValueError
        If the counts are not whole numbers, are negative, if a set has no
        tosses, or if ``heads > tosses`` in some set.
    """
    heads = _as_counts(heads, "heads")
    if heads.ndim != 1 or heads.size == 0:
        raise ValueError(f"heads must be a non-empty 1-D array of counts, got shape {heads.shape}")
    tosses = _as_counts(tosses, "tosses")
    if tosses.ndim == 0:
        tosses = np.full(heads.shape, float(tosses))
    if tosses.shape != heads.shape:
        raise ValueError(f"tosses must have shape {heads.shape} like heads, got {tosses.shape}")
    if np.any(tosses < 1):
        i = int(np.argmax(tosses < 1))
        raise ValueError(f"every set needs at least one toss, but tosses[{i}] = {tosses[i]:g}")
    if np.any(heads > tosses):
        i = int(np.argmax(heads > tosses))
        raise ValueError(f"heads[{i}] = {heads[i]:g} is more than tosses[{i}] = {tosses[i]:g}")
    return CoinData(heads, tosses)


def log_joint(data: CoinData, params: CoinParams) -> np.ndarray:
    """Log of ``weights[k] * p(set i | coin k)`` for every set and coin.

    The numerator of :eq:`coins-e-step` in log space,
    ``log weights[k] + h_i log theta_k + (n_i - h_i) log(1 - theta_k)``,
    with ``0 log 0 = 0`` so that ``theta = 0`` or ``1`` is allowed.

    Parameters
    ----------
    data : CoinData
    params : CoinParams

    Returns
    -------
    ndarray of shape (n_sets, n_components)
    """
    heads, tosses = data.heads[:, None], data.tosses[:, None]
    thetas = params.thetas[None, :]
    with np.errstate(divide="ignore"):  # log 0 = -inf: a coin that cannot produce the set
        return np.log(params.weights) + xlogy(heads, thetas) + xlogy(tosses - heads, 1.0 - thetas)


def e_step(data: CoinData, params: CoinParams, previous=None) -> tuple[np.ndarray, np.ndarray]:
    """E-step: posterior probability of each coin for each set.

    Implements :eq:`coins-e-step` (Bayes' rule) in log space, normalised
    with :eq:`logsumexp`; the per-set normaliser is ``log p(set i)``, whose
    sum is the log-likelihood :eq:`coins-log-likelihood`.

    Parameters
    ----------
    data : CoinData
    params : CoinParams
    previous : ignored
        The previous responsibilities (the driver hands them to every
        E-step); the exact posterior does not depend on them.

    Returns
    -------
    resp : ndarray of shape (n_sets, n_components)
        Rows sum to 1.
    log_norm : ndarray of shape (n_sets,)
        ``log p(set i)`` under ``params``.
    """
    data = _check_data(data)
    params = check_params(params, np.size(params.thetas))
    log_weighted = log_joint(data, params)
    with np.errstate(invalid="ignore"):  # a set no coin can produce: reported below
        log_norm = logsumexp(log_weighted, axis=1)
    if not np.all(np.isfinite(log_norm)):
        i = int(np.flatnonzero(~np.isfinite(log_norm))[0])
        raise ValueError(f"set {i} has probability zero under every coin (thetas of 0 or 1, or zero weights)")
    resp = np.exp(log_weighted - log_norm[:, None])
    return resp, log_norm


def m_step(data: CoinData, resp, params: CoinParams | None = None, *, learn_weights: bool = True) -> CoinParams:
    """M-step: each coin's bias is its expected heads over expected tosses.

    Implements :eq:`coins-m-step` and, if ``learn_weights``,
    :eq:`coins-m-weights`; otherwise the weights of ``params`` are kept.
    The expected toss count of a coin gets a floor of ``10 * eps``, so a
    coin with no responsibility gets ``theta = 0`` rather than NaN.

    Parameters
    ----------
    data : CoinData
    resp : array of shape (n_sets, n_components)
    params : CoinParams, optional
        The current parameters; needed only to keep their weights when
        ``learn_weights`` is False.
    learn_weights : bool, default True
        Learn the mixing weights; False keeps ``params.weights``.

    Returns
    -------
    CoinParams
    """
    expected_heads = resp.T @ data.heads
    expected_tosses = resp.T @ data.tosses + 10 * np.finfo(float).eps
    thetas = np.clip(expected_heads / expected_tosses, 0.0, 1.0)
    if learn_weights:
        weights = resp.sum(axis=0) / len(data.heads)
    elif params is None:
        raise ValueError("m_step needs the current params to keep their weights when learn_weights=False")
    else:
        weights = params.weights
    return CoinParams(np.asarray(weights, dtype=float), thetas)


def log_likelihood(data: CoinData, params: CoinParams) -> float:
    """Total log-likelihood :eq:`coins-log-likelihood` of the tosses.

    Parameters
    ----------
    data : CoinData
    params : CoinParams

    Returns
    -------
    float
        ``sum_i log sum_k weights[k] theta_k^h_i (1 - theta_k)^(n_i - h_i)``.
    """
    data = as_coin_data(*data)
    params = check_params(params, len(params.thetas))
    return float(np.sum(e_step(data, params)[1]))


def complete_data_mle(heads, tosses, labels, n_components: int | None = None) -> CoinParams:
    """Maximum-likelihood fit when the coin of every set is known.

    Implements :eq:`coins-complete-mle`: each coin's bias is its heads over
    its tosses, each weight the fraction of sets made with that coin.

    Parameters
    ----------
    heads : array-like of shape (n_sets,)
    tosses : array-like of shape (n_sets,) or int
    labels : array-like of int, shape (n_sets,)
        ``labels[i]`` is the coin (``0 .. n_components - 1``) used for set ``i``.
    n_components : int, optional
        Number of coins; default ``max(labels) + 1``.

    Returns
    -------
    CoinParams

    Raises
    ------
    ValueError
        For invalid counts or labels, or a coin that made no set (its bias
        is then undefined).
    """
    data = as_coin_data(heads, tosses)
    labels = np.asarray(labels)
    if labels.shape != data.heads.shape or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape {data.heads.shape}, got {labels.dtype} {labels.shape}")
    if n_components is None:
        n_components = int(labels.max()) + 1
    n_components = check_positive_int(n_components, "n_components")
    if labels.min() < 0 or labels.max() >= n_components:
        raise ValueError(f"labels must be between 0 and n_components - 1 = {n_components - 1}")
    counts = np.bincount(labels, minlength=n_components)
    if np.any(counts == 0):
        raise ValueError(f"coin {int(np.argmin(counts))} made no set, so its bias is undefined")
    one_hot = np.eye(n_components)[labels]
    expected_heads = one_hot.T @ data.heads
    expected_tosses = one_hot.T @ data.tosses
    return CoinParams(counts / len(labels), expected_heads / expected_tosses)


def fit(
    heads,
    tosses,
    n_components: int | None = None,
    *,
    thetas=None,
    weights=None,
    learn_weights: bool = False,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
) -> EMResult:
    """Fit a mixture of biased coins by EM.

    Parameters
    ----------
    heads : array-like of shape (n_sets,)
        Heads in each set.
    tosses : array-like of shape (n_sets,) or int
        Tosses in each set (an int: the same for every set).
    n_components : int, optional
        Number of coins; default ``len(thetas)`` if ``thetas`` is given,
        else 2.
    thetas : array-like of shape (n_components,), optional
        Initial biases, strictly between 0 and 1; default drawn uniformly
        from ``[0.2, 0.8]`` with ``random_state``.
    weights : array-like of shape (n_components,), optional
        Mixing weights: fixed if ``learn_weights`` is False, else the
        initial guess.  Default uniform.
    learn_weights : bool, default False
        Learn the mixing weights with :eq:`coins-m-weights`.  The classic
        two-coin example keeps them fixed at 1/2.
    tol : float, default 1e-4
        Stop when the log-likelihood *per set* changes by less than ``tol``
        (see :func:`emtutor.em.run_em`).
    max_iter : int, default 100
    random_state : int, numpy Generator or None
        Seed for the default initial biases.
    record : bool, default False
        Keep every iteration's parameters and responsibilities.

    Returns
    -------
    EMResult
        ``result.thetas``, ``result.weights``, ``result.resp``,
        ``result.objectives`` (the log-likelihood after every iteration),
        ``result.n_iter``, ``result.converged``.

    Raises
    ------
    ValueError
        For invalid counts, initial biases outside (0, 1), weights that
        are negative or do not sum to 1, or inconsistent ``n_components``.

    Examples
    --------
    >>> from emtutor import coins
    >>> result = coins.fit([5, 9, 8, 4, 7], 10, thetas=[0.6, 0.5], tol=1e-8, max_iter=200)
    >>> [round(float(t), 2) for t in result.thetas]
    [0.8, 0.52]
    """
    data = as_coin_data(heads, tosses)
    if n_components is None:
        n_components = 2 if thetas is None else len(np.atleast_1d(thetas))
    k = check_positive_int(n_components, "n_components")
    if thetas is None:
        thetas = as_rng(random_state).uniform(0.2, 0.8, size=k)
    if weights is None:
        weights = np.full(k, 1.0 / k)
    params = check_params(CoinParams(weights, thetas), k, open_interval=True)
    return run_em(
        data,
        params,
        e_step=e_step,
        m_step=partial(m_step, learn_weights=bool(learn_weights)),
        n_observations=len(data.heads),
        tol=tol,
        max_iter=max_iter,
        record=record,
    )


def _check_data(data) -> CoinData:
    """``data`` validated as :func:`as_coin_data` does (cheap: one number per set)."""
    if not isinstance(data, CoinData):
        raise TypeError(f"data must be a CoinData (see as_coin_data), got {type(data).__name__}")
    return as_coin_data(data.heads, data.tosses)


def _as_counts(values, name: str) -> np.ndarray:
    try:
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric counts: {exc}") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or inf")
    if np.any(values < 0):
        raise ValueError(f"{name} must be non-negative counts, got {values}")
    if np.any(values != np.round(values)):
        raise ValueError(f"{name} must be whole numbers, got {values}")
    return values


def check_params(params, n_components: int, *, open_interval: bool = False) -> CoinParams:
    """Validate coin-mixture parameters; return them as a :class:`CoinParams` of float arrays.

    Parameters
    ----------
    params : CoinParams or tuple (weights, thetas)
    n_components : int
        The number of coins ``K``: ``weights`` and ``thetas`` must have shape ``(K,)``.
    open_interval : bool, default False
        Require ``0 < thetas < 1`` (a start for EM, or where the information
        exists) instead of ``0 <= thetas <= 1``.

    Raises
    ------
    ValueError
        Naming ``weights`` or ``thetas``.
    """
    if not isinstance(params, tuple) or len(params) != 2:
        raise TypeError(f"params must be CoinParams(weights, thetas), got {type(params).__name__}")
    params = CoinParams(*params)
    thetas = check_shape(params.thetas, (n_components,), "thetas")
    if open_interval and np.any((thetas <= 0) | (thetas >= 1)):
        raise ValueError(f"thetas must be strictly between 0 and 1, got {thetas}")
    if np.any((thetas < 0) | (thetas > 1)):
        raise ValueError(f"thetas must be between 0 and 1, got {thetas}")
    return CoinParams(check_probability_vector(params.weights, n_components, "weights"), thetas)


# ---------------------------------------------------------------------------
# Monte Carlo and stochastic EM.
# ---------------------------------------------------------------------------


class MonteCarloRun(NamedTuple):
    """What :func:`monte_carlo_em` returns.

    Attributes
    ----------
    params : list of CoinParams
        ``params[0]`` the start, ``params[t]`` after ``t`` iterations.
    log_likelihoods : ndarray of shape (n_iter + 1,)
        The exact log-likelihood :eq:`coins-log-likelihood` of every ``params[t]``.
    """

    params: list
    log_likelihoods: np.ndarray


def monte_carlo_e_step(data: CoinData, params: CoinParams, n_draws: int,
                       random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """A Monte Carlo E-step: the fraction of ``n_draws`` sampled coins, :eq:`sem-mc-e-step`.

    For every set, ``n_draws`` coins are drawn from its posterior (the
    responsibilities of :func:`e_step`) and the responsibility is replaced
    by the fraction of draws that picked each coin: an unbiased estimate of
    it, with variance ``r_ik (1 - r_ik) / n_draws``.  With ``n_draws = 1``
    every set is given to one coin: stochastic EM's "S-step".

    Parameters
    ----------
    data : CoinData
    params : CoinParams
    n_draws : int
        Number of sampled coins per set, ``>= 1``.
    random_state : int, numpy Generator or None

    Returns
    -------
    resp : ndarray of shape (n_sets, n_components)
        The sampled fractions; rows sum to 1.
    log_norm : ndarray of shape (n_sets,)
        The exact ``log p(set i)`` under ``params``, as :func:`e_step`'s.
    """
    n_draws = check_positive_int(n_draws, "n_draws", 1)
    rng = as_rng(random_state)
    resp, log_norm = e_step(data, params)
    resp = resp / resp.sum(axis=1, keepdims=True)  # exactly normalised for the sampler
    counts = rng.multinomial(n_draws, resp)
    return counts / n_draws, log_norm


def monte_carlo_em(data: CoinData, params: CoinParams, *, n_draws: int, n_iter: int,
                   learn_weights: bool = True, random_state=None) -> MonteCarloRun:
    """Monte Carlo EM (Wei and Tanner, 1990): :func:`monte_carlo_e_step`, then :func:`m_step`.

    With ``n_draws = 1`` this is stochastic EM (Celeux and Diebolt, 1985).
    The M-step maximises a *noisy* ``Q``, so the log-likelihood can go down:
    EM's guarantee :eq:`em-monotone` does not hold, and the run does not go
    through :func:`emtutor.em.run_em` (whose check would call each decrease a
    bug).  It runs exactly ``n_iter`` iterations; the iterates hover about
    EM's fixed point, with a spread that shrinks like ``1 / sqrt(n_draws)``.

    Parameters
    ----------
    data : CoinData
    params : CoinParams
        The start.
    n_draws : int
        Sampled coins per set in every E-step, ``>= 1``.
    n_iter : int
        Number of iterations, ``>= 1``.
    learn_weights : bool, default True
    random_state : int, numpy Generator or None

    Returns
    -------
    MonteCarloRun
    """
    data = _check_data(data)
    params = check_params(params, np.size(params.thetas), open_interval=False)
    n_draws = check_positive_int(n_draws, "n_draws", 1)
    n_iter = check_positive_int(n_iter, "n_iter", 1)
    rng = as_rng(random_state)
    history = [params]
    log_likelihoods = []
    for _ in range(n_iter):
        resp, log_norm = monte_carlo_e_step(data, params, n_draws, rng)
        log_likelihoods.append(float(np.sum(log_norm)))
        params = m_step(data, resp, params, learn_weights=learn_weights)
        history.append(params)
    log_likelihoods.append(log_likelihood(data, params))
    return MonteCarloRun(history, np.array(log_likelihoods))
