"""Hidden Markov models fitted by Baum–Welch (EM), categorical and Gaussian emissions.

The model: a hidden state path ``z_1..z_T`` is a Markov chain with start
distribution ``startprob`` and transition matrix ``transmat``; each
observation ``x_t`` is drawn from the emission distribution of its state
(:eq:`hmm-joint`).  Two emission families share one forward–backward core
(:mod:`emtutor.hmm_core`), which only ever sees the frame log-likelihoods
``log p(x_t | z_t = k)`` computed by :func:`frame_log_likelihood`:

* categorical: ``emissionprob[k, m] = p(x_t = m | z_t = k)``;
* Gaussian: ``means[k]`` and ``covariances[k]``, full (shape
  ``(n_components, n_features, n_features)``) or diagonal (shape
  ``(n_components, n_features)``); the covariance type is read off the
  shape.

The E-step (:func:`e_step`) returns the expected counts of :eq:`hmm-gamma`
and :eq:`hmm-xi`; the M-step (:func:`m_step`) is :eq:`hmm-m-start`,
:eq:`hmm-m-transmat` and :eq:`hmm-m-emissionprob` or :eq:`hmm-m-means` and
:eq:`hmm-m-covariances`.  :func:`fit_categorical` and :func:`fit_gaussian`
run them with the generic driver :func:`emtutor.em.run_em` on one or many
sequences; :class:`CategoricalHMM` and :class:`GaussianHMM` wrap them in a
scikit-learn-style estimator.

Sequences are passed either as a list of arrays or as one concatenated
array with ``lengths`` (as in hmmlearn).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np

from . import hmm_core
from ._validation import (
    as_data_matrix,
    check_nonnegative,
    check_positive_int,
    check_probability_vector,
    check_shape,
    check_spd_stack,
    check_stochastic_matrix,
)
from .em import EMResult, NotFittedError, run_em
from .gmm import log_gaussian_density

__all__ = [
    "CategoricalHMMParams",
    "GaussianHMMParams",
    "HMMStats",
    "Sequences",
    "as_sequences",
    "frame_log_likelihood",
    "e_step",
    "m_step",
    "log_likelihood",
    "log_prior",
    "posteriors",
    "viterbi",
    "posterior_decode",
    "sample",
    "fit_categorical",
    "fit_gaussian",
    "CategoricalHMM",
    "GaussianHMM",
]

_LOG_2PI = np.log(2.0 * np.pi)
# a state (or a row of transmat) whose expected count is below this keeps its
# old parameters: any value maximises its (empty) part of the M-step objective
_MIN_COUNT = 1e-10


class CategoricalHMMParams(NamedTuple):
    """Parameters of an HMM with categorical emissions.

    Attributes
    ----------
    startprob : ndarray of shape (n_components,)
        ``p(z_1 = k)``.
    transmat : ndarray of shape (n_components, n_components)
        ``transmat[i, j] = p(z_{t+1} = j | z_t = i)``; rows sum to 1.
    emissionprob : ndarray of shape (n_components, n_symbols)
        ``emissionprob[k, m] = p(x_t = m | z_t = k)``; rows sum to 1.
    """

    startprob: np.ndarray
    transmat: np.ndarray
    emissionprob: np.ndarray


class GaussianHMMParams(NamedTuple):
    """Parameters of an HMM with Gaussian emissions.

    Attributes
    ----------
    startprob : ndarray of shape (n_components,)
    transmat : ndarray of shape (n_components, n_components)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray of shape (n_components, n_features, n_features) or (n_components, n_features)
        Full covariance matrices, or the diagonals of diagonal ones.
    """

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    @property
    def covariance_type(self) -> str:
        """``"full"`` or ``"diag"``, read off the shape of ``covariances``."""
        return "diag" if np.ndim(self.covariances) == 2 else "full"


class Sequences(NamedTuple):
    """One or more observation sequences, concatenated.

    Attributes
    ----------
    X : ndarray of shape (n_samples,) (int symbols) or (n_samples, n_features)
    lengths : ndarray of shape (n_sequences,)
        Positive, summing to ``n_samples``.
    """

    X: np.ndarray
    lengths: np.ndarray

    def split(self, array):
        """Split an array with one row per sample into one array per sequence."""
        return np.split(array, np.cumsum(self.lengths)[:-1])


class HMMStats(NamedTuple):
    """What the E-step returns: posteriors and expected counts.

    Attributes
    ----------
    gamma : ndarray of shape (n_samples, n_components)
        ``gamma[t, k] = p(z_t = k | x)`` (:eq:`hmm-gamma`), all sequences concatenated.
    xi_sum : ndarray of shape (n_components, n_components)
        Expected transition counts ``sum_t xi_t(i, j)`` (:eq:`hmm-xi`), summed over sequences.
    start_sum : ndarray of shape (n_components,)
        ``sum`` over sequences of ``gamma`` at their first step.
    params : CategoricalHMMParams or GaussianHMMParams
        The parameters the posteriors were computed with; the M-step keeps
        the parameters it is told not to learn (and those of states with
        no expected count) from here.
    """

    gamma: np.ndarray
    xi_sum: np.ndarray
    start_sum: np.ndarray
    params: NamedTuple


# --------------------------------------------------------------------- input


def as_sequences(X, lengths=None, *, kind: str, n_symbols: int | None = None) -> Sequences:
    """Validate observations and return them as :class:`Sequences`.

    Parameters
    ----------
    X : array or list of arrays
        One sequence, the concatenation of several (then give ``lengths``),
        or a list of sequences.  Categorical: integer symbols of shape
        ``(n_samples,)`` or ``(n_samples, 1)``; Gaussian: shape
        ``(n_samples, n_features)``.  A Python list whose items are 1-D
        (categorical) or 2-D (Gaussian) is read as a list of sequences, so
        pass one categorical sequence of shape ``(n_samples, 1)`` as an
        array, not as a nested list.
    lengths : array of int, optional
        Lengths of the concatenated sequences.
    kind : {"categorical", "gaussian"}
    n_symbols : int, optional
        Categorical only: symbols must lie in ``0..n_symbols-1``.

    Returns
    -------
    Sequences

    Raises
    ------
    ValueError
        For empty sequences, ``lengths`` that are not positive integers
        summing to the data length, non-integer or out-of-range symbols, or
        NaN/inf values.
    """
    sequence_ndim = 1 if kind == "categorical" else 2
    if isinstance(X, (list, tuple)) and len(X) > 0 and np.ndim(X[0]) >= sequence_ndim:
        if lengths is not None:
            raise ValueError("give either a list of sequences or lengths, not both")
        parts = [_as_observations(x, kind, f"sequence {i}") for i, x in enumerate(X)]
        lengths = np.array([len(p) for p in parts])
        X = np.concatenate(parts, axis=0)
    else:
        X = _as_observations(X, kind, "X")
        if lengths is None:
            lengths = np.array([len(X)])
    lengths = _check_lengths(lengths, len(X))
    if kind == "categorical" and n_symbols is not None:
        if X.min() < 0 or X.max() >= n_symbols:
            bad = X[(X < 0) | (X >= n_symbols)][0]
            raise ValueError(
                f"symbol {bad} is outside 0..{n_symbols - 1} (n_symbols={n_symbols}); "
                "recode the symbols as 0, 1, ..., n_symbols - 1"
            )
    return Sequences(X, lengths)


def _as_observations(x, kind, name):
    if kind == "categorical":
        x = np.asarray(x)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of integer symbols, got shape {x.shape}")
        if x.size == 0:
            raise ValueError(f"{name} is empty: every sequence needs at least one observation")
        if x.dtype.kind == "b" or x.dtype.kind not in "iuf":
            raise ValueError(f"{name} must contain integer symbols, got dtype {x.dtype}")
        if x.dtype.kind == "f":
            if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
                bad = x[~np.isfinite(x) | (x != np.round(x))][0]
                raise ValueError(f"{name} must contain integer symbols, got {bad!r}")
        return x.astype(np.intp)
    if kind == "gaussian":
        x = np.asarray(x, dtype=float) if not isinstance(x, np.ndarray) else x
        if np.ndim(x) == 2 and x.shape[0] == 0:
            raise ValueError(f"{name} is empty: every sequence needs at least one observation")
        return as_data_matrix(x, name)
    raise ValueError(f"kind must be 'categorical' or 'gaussian', got {kind!r}")


def _check_lengths(lengths, n_samples):
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths must be a non-empty 1-D array of integers, got {lengths!r}")
    if np.any(lengths <= 0):
        raise ValueError(
            f"lengths must be positive (sequence {int(np.argmin(lengths))} has length "
            f"{int(lengths.min())}): every sequence needs at least one observation"
        )
    if lengths.sum() != n_samples:
        raise ValueError(f"lengths sum to {int(lengths.sum())} but the data has {n_samples} samples")
    return lengths.astype(np.intp)


def _check_params(params, n_features_or_symbols: int | None = None):
    """Validate a parameter tuple; return it with float arrays."""
    startprob = np.asarray(params.startprob, dtype=float)
    k = startprob.shape[0] if startprob.ndim == 1 else -1
    if k < 1:
        raise ValueError(f"startprob must be a 1-D probability vector, got shape {startprob.shape}")
    startprob = check_probability_vector(startprob, k, "startprob")
    transmat = check_stochastic_matrix(params.transmat, (k, k), "transmat")
    if isinstance(params, CategoricalHMMParams):
        emissionprob = np.asarray(params.emissionprob, dtype=float)
        m = emissionprob.shape[1] if emissionprob.ndim == 2 else -1
        if n_features_or_symbols is not None and m != -1 and m < n_features_or_symbols:
            raise ValueError(
                f"emissionprob has {m} columns but the data has symbol {n_features_or_symbols - 1}"
            )
        emissionprob = check_stochastic_matrix(emissionprob, (k, max(m, 1)), "emissionprob")
        return CategoricalHMMParams(startprob, transmat, emissionprob)
    if isinstance(params, GaussianHMMParams):
        means = np.asarray(params.means, dtype=float)
        d = means.shape[1] if means.ndim == 2 else -1
        if n_features_or_symbols is not None and d != n_features_or_symbols:
            raise ValueError(f"means must have shape ({k}, {n_features_or_symbols}), got {means.shape}")
        means = check_shape(means, (k, max(d, 1)), "means")
        covariances = np.asarray(params.covariances, dtype=float)
        if covariances.ndim == 2:
            covariances = check_shape(covariances, (k, d), "covariances")
            if np.any(covariances <= 0):
                raise ValueError("diagonal covariances must be positive")
        else:
            covariances = check_spd_stack(covariances, (k, d, d), "covariances")
        return GaussianHMMParams(startprob, transmat, means, covariances)
    raise ValueError(f"params must be CategoricalHMMParams or GaussianHMMParams, got {type(params).__name__}")


# -------------------------------------------------------------- the E-step


def frame_log_likelihood(X, params) -> np.ndarray:
    """Emission log-likelihoods ``log p(x_t | z_t = k)`` for every step and state.

    Implements :eq:`hmm-emission-categorical` or :eq:`hmm-emission-gaussian`
    (the latter through :func:`emtutor.gmm.log_gaussian_density` for full
    covariances).

    Parameters
    ----------
    X : array of shape (n_samples,) (symbols) or (n_samples, n_features)
    params : CategoricalHMMParams or GaussianHMMParams

    Returns
    -------
    ndarray of shape (n_samples, n_components)
    """
    if isinstance(params, CategoricalHMMParams):
        with np.errstate(divide="ignore"):  # a zero emission probability is log 0 = -inf
            return np.log(params.emissionprob).T[X]
    if params.covariance_type == "diag":
        var = params.covariances
        z2 = ((X[:, None, :] - params.means[None]) ** 2 / var[None]).sum(axis=2)
        return -0.5 * (X.shape[1] * _LOG_2PI + np.sum(np.log(var), axis=1)[None] + z2)
    return log_gaussian_density(X, params.means, params.covariances)


def posteriors(data: Sequences, params, method: str = "chunked"):
    """Forward–backward on every sequence.

    Parameters
    ----------
    data : Sequences
    params : CategoricalHMMParams or GaussianHMMParams
    method : {"chunked", "scaled", "log"}
        Passed to :func:`emtutor.hmm_core.forward_backward`.

    Returns
    -------
    gamma : ndarray of shape (n_samples, n_components)
    xi_sum : ndarray of shape (n_components, n_components)
    start_sum : ndarray of shape (n_components,)
    log_likelihoods : ndarray of shape (n_sequences,)
    """
    frame = frame_log_likelihood(data.X, params)
    k = len(params.startprob)
    gamma = np.empty_like(frame)
    xi_sum = np.zeros((k, k))
    start_sum = np.zeros(k)
    log_likelihoods = np.empty(len(data.lengths))
    begin = 0
    for s, n in enumerate(data.lengths):
        end = begin + n
        try:
            g, xi, ll = hmm_core.forward_backward(frame[begin:end], params.startprob, params.transmat, method)
        except ValueError as exc:
            raise ValueError(f"sequence {s}: {exc}") from None
        gamma[begin:end] = g
        xi_sum += xi
        start_sum += g[0]
        log_likelihoods[s] = ll
        begin = end
    return gamma, xi_sum, start_sum, log_likelihoods


def log_prior(params, reg_covar: float = 0.0) -> float:
    """The covariance penalty :eq:`hmm-covariance-prior`, zero for categorical emissions.

    Parameters
    ----------
    params : CategoricalHMMParams or GaussianHMMParams
    reg_covar : float, default 0.0

    Returns
    -------
    float
        ``-reg_covar / 2 * sum_k trace(inv(covariances[k]))``.
    """
    if reg_covar == 0 or isinstance(params, CategoricalHMMParams):
        return 0.0
    if params.covariance_type == "diag":
        return float(-0.5 * reg_covar * np.sum(1.0 / params.covariances))
    return float(-0.5 * reg_covar * sum(np.trace(np.linalg.inv(c)) for c in params.covariances))


def e_step(data: Sequences, params, reg_covar: float = 0.0, method: str = "chunked"):
    """E-step of Baum–Welch: posteriors and expected counts.

    Runs the forward–backward passes (:eq:`hmm-forward`,
    :eq:`hmm-backward`) on every sequence and returns the posteriors
    :eq:`hmm-gamma` and the summed pair posteriors :eq:`hmm-xi`.  The log
    normaliser is the per-sequence log-likelihood :eq:`hmm-log-likelihood`;
    with ``reg_covar > 0`` (Gaussian emissions) one more entry, the
    penalty :eq:`hmm-covariance-prior`, is appended, so that
    ``np.sum(log_norm)`` is the penalised log-likelihood the regularised
    M-step exactly maximises.

    Parameters
    ----------
    data : Sequences
    params : CategoricalHMMParams or GaussianHMMParams
    reg_covar : float, default 0.0
    method : {"chunked", "scaled", "log"}, default "chunked"

    Returns
    -------
    stats : HMMStats
    log_norm : ndarray of shape (n_sequences,) or (n_sequences + 1,)
    """
    gamma, xi_sum, start_sum, log_likelihoods = posteriors(data, params, method)
    stats = HMMStats(gamma, xi_sum, start_sum, params)
    if reg_covar > 0 and isinstance(params, GaussianHMMParams):
        log_likelihoods = np.append(log_likelihoods, log_prior(params, reg_covar))
    return stats, log_likelihoods


# -------------------------------------------------------------- the M-step


def _normalise_rows(counts, old):
    """Rows of ``counts`` divided by their sums; rows without counts keep ``old``."""
    sums = counts.sum(axis=1, keepdims=True)
    empty = sums[:, 0] <= _MIN_COUNT
    new = counts / np.where(empty[:, None], 1.0, sums)
    new[empty] = old[empty]
    return new


def m_step(data: Sequences, stats: HMMStats, learn: str | None = None, reg_covar: float = 0.0):
    """M-step of Baum–Welch: the parameters maximising the expected complete-data log-likelihood.

    Implements :eq:`hmm-m-start`, :eq:`hmm-m-transmat` and either
    :eq:`hmm-m-emissionprob` (categorical) or :eq:`hmm-m-means` and
    :eq:`hmm-m-covariances` (Gaussian; with ``reg_covar > 0`` the
    covariance update is :eq:`hmm-m-covariances-reg`, the exact maximiser of
    the penalised objective).  Zero probabilities stay zero: every update
    is a ratio of expected counts, and a count of a forbidden transition or
    emission is zero.  A state (or a transition row) whose expected count
    is at most ``1e-10`` keeps its old parameters, which leaves its part of
    the objective unchanged, so the log-likelihood still cannot decrease.

    Parameters
    ----------
    data : Sequences
    stats : HMMStats
        From :func:`e_step`.
    learn : str, optional
        Letters of the parameters to update: ``"s"`` startprob, ``"t"``
        transmat, ``"e"`` emissionprob, ``"m"`` means, ``"c"`` covariances;
        default all.  The others are kept from ``stats.params``.
    reg_covar : float, default 0.0

    Returns
    -------
    CategoricalHMMParams or GaussianHMMParams
    """
    old = stats.params
    learn = _default_learn(old) if learn is None else learn
    startprob = stats.start_sum / stats.start_sum.sum() if "s" in learn else old.startprob
    transmat = _normalise_rows(stats.xi_sum, old.transmat) if "t" in learn else old.transmat
    gamma = stats.gamma
    counts = gamma.sum(axis=0)  # N_k
    empty = counts <= _MIN_COUNT

    if isinstance(old, CategoricalHMMParams):
        emissionprob = old.emissionprob
        if "e" in learn:
            n_symbols = old.emissionprob.shape[1]
            symbol_counts = np.stack(
                [np.bincount(data.X, weights=gamma[:, k], minlength=n_symbols) for k in range(len(counts))]
            )
            emissionprob = _normalise_rows(symbol_counts, old.emissionprob)
        return CategoricalHMMParams(startprob, transmat, emissionprob)

    X = data.X
    safe = np.where(empty, 1.0, counts)
    means = old.means
    if "m" in learn:
        means = (gamma.T @ X) / safe[:, None]
        means[empty] = old.means[empty]
    covariances = old.covariances
    if "c" in learn:
        covariances = np.empty_like(old.covariances)
        for k in range(len(counts)):
            if empty[k]:
                covariances[k] = old.covariances[k]
                continue
            centred = X - means[k]
            if old.covariance_type == "diag":
                covariances[k] = (gamma[:, k] @ centred**2 + reg_covar) / counts[k]
            else:
                cov = (gamma[:, k] * centred.T) @ centred
                cov.flat[:: X.shape[1] + 1] += reg_covar
                covariances[k] = cov / counts[k]
    return GaussianHMMParams(startprob, transmat, means, covariances)


def _default_learn(params) -> str:
    return "ste" if isinstance(params, CategoricalHMMParams) else "stmc"


# ------------------------------------------------------------ using a model


def log_likelihood(X, params, lengths=None) -> float:
    """Total log-likelihood :eq:`hmm-log-likelihood` of the sequences under ``params``.

    Parameters
    ----------
    X : array or list of arrays
        See :func:`as_sequences`.
    params : CategoricalHMMParams or GaussianHMMParams
    lengths : array of int, optional

    Returns
    -------
    float
        ``sum`` over sequences of ``log p(x_1..x_T)``.
    """
    data, params = _prepare(X, lengths, params)
    return float(np.sum(posteriors(data, params)[3]))


def viterbi(X, params, lengths=None):
    """Most probable state path of every sequence, :eq:`hmm-viterbi`.

    Parameters
    ----------
    X : array or list of arrays
    params : CategoricalHMMParams or GaussianHMMParams
    lengths : array of int, optional

    Returns
    -------
    log_prob : float
        ``sum`` over sequences of ``log p(x, path)``.
    path : ndarray of shape (n_samples,)
        The concatenated paths.
    """
    data, params = _prepare(X, lengths, params)
    frame = frame_log_likelihood(data.X, params)
    paths, total = [], 0.0
    for s, f in enumerate(data.split(frame)):
        try:
            path, log_prob = hmm_core.viterbi(f, params.startprob, params.transmat)
        except ValueError as exc:
            raise ValueError(f"sequence {s}: {exc}") from None
        paths.append(path)
        total += log_prob
    return total, np.concatenate(paths)


def posterior_decode(X, params, lengths=None) -> np.ndarray:
    """The most probable state at each step, ``argmax_k gamma[t, k]`` (:eq:`hmm-posterior-decoding`).

    Parameters
    ----------
    X : array or list of arrays
    params : CategoricalHMMParams or GaussianHMMParams
    lengths : array of int, optional

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    data, params = _prepare(X, lengths, params)
    return np.argmax(posteriors(data, params)[0], axis=1)


def sample(params, n_samples: int, random_state=None):
    """Draw one sequence of ``n_samples`` steps from the model :eq:`hmm-joint`.

    Parameters
    ----------
    params : CategoricalHMMParams or GaussianHMMParams
    n_samples : int
    random_state : int, numpy Generator or None

    Returns
    -------
    X : ndarray of shape (n_samples,) (symbols) or (n_samples, n_features)
    states : ndarray of shape (n_samples,)
    """
    params = _check_params(params)
    n_samples = check_positive_int(n_samples, "n_samples")
    rng = np.random.default_rng(random_state)
    k = len(params.startprob)
    # inverse-CDF sampling of the chain: one uniform per step
    cum_start, cum_trans = np.cumsum(params.startprob), np.cumsum(params.transmat, axis=1)
    u = rng.random(n_samples)
    states = np.empty(n_samples, dtype=np.intp)
    states[0] = min(np.searchsorted(cum_start, u[0], side="right"), k - 1)
    for t in range(1, n_samples):
        row = cum_trans[states[t - 1]]
        states[t] = min(np.searchsorted(row, u[t], side="right"), k - 1)
    if isinstance(params, CategoricalHMMParams):
        cum_emit = np.cumsum(params.emissionprob, axis=1)
        v = rng.random(n_samples)
        m = params.emissionprob.shape[1]
        # the same inverse CDF, all steps at once: the number of cumulative probabilities <= v
        X = np.minimum(np.sum(cum_emit[states] <= v[:, None], axis=1), m - 1)
        return X.astype(np.intp), states
    d = params.means.shape[1]
    z = rng.standard_normal((n_samples, d))
    if params.covariance_type == "diag":
        X = params.means[states] + z * np.sqrt(params.covariances[states])
    else:
        chol = np.linalg.cholesky(params.covariances)
        X = params.means[states] + np.einsum("tij,tj->ti", chol[states], z)
    return X, states


def _prepare(X, lengths, params):
    kind = "categorical" if isinstance(params, CategoricalHMMParams) else "gaussian"
    n = np.shape(params.emissionprob)[1] if kind == "categorical" else None
    data = as_sequences(X, lengths, kind=kind, n_symbols=n)
    params = _check_params(params, None if kind == "categorical" else data.X.shape[1])
    return data, params


# --------------------------------------------------------------- fitting


def _check_learn(learn, allowed):
    if not isinstance(learn, str) or set(learn) - set(allowed):
        raise ValueError(f"learn must be a string of letters from {allowed!r}, got {learn!r}")
    return learn


def _random_stochastic(rng, shape):
    return rng.dirichlet(np.ones(shape[-1]), size=shape[0]) if len(shape) == 2 else rng.dirichlet(np.ones(shape[0]))


def fit_categorical(
    X,
    n_components: int,
    lengths=None,
    *,
    n_symbols: int | None = None,
    startprob=None,
    transmat=None,
    emissionprob=None,
    learn: str = "ste",
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
    method: str = "chunked",
) -> EMResult:
    """Fit a categorical HMM by Baum–Welch.

    Parameters
    ----------
    X : array of int symbols, or list of them
        See :func:`as_sequences`.
    n_components : int
        Number of hidden states.
    lengths : array of int, optional
    n_symbols : int, optional
        Default ``max(X) + 1`` (or the width of ``emissionprob``).
    startprob, transmat, emissionprob : arrays, optional
        Initial parameters; missing ones are drawn with ``random_state``:
        startprob uniform, rows of transmat and emissionprob from a flat
        Dirichlet.
    learn : str, default "ste"
        Which parameters to update (see :func:`m_step`).
    tol, max_iter, record
        Passed to :func:`emtutor.em.run_em`.
    random_state : int, numpy Generator or None
    method : {"chunked", "scaled", "log"}, default "chunked"
        Forward–backward implementation (all give the same numbers).

    Returns
    -------
    EMResult
        ``result.startprob``, ``result.transmat``, ``result.emissionprob``,
        ``result.log_likelihoods``, ``result.expectations`` (an :class:`HMMStats`).

    Raises
    ------
    ValueError
        For bad observations, lengths or parameters (see :func:`as_sequences`).
    """
    k = check_positive_int(n_components, "n_components")
    learn = _check_learn(learn, "ste")
    data = as_sequences(X, lengths, kind="categorical")
    if n_symbols is None:
        n_symbols = np.shape(emissionprob)[1] if emissionprob is not None else int(data.X.max()) + 1
    n_symbols = check_positive_int(n_symbols, "n_symbols")
    data = as_sequences(data.X, data.lengths, kind="categorical", n_symbols=n_symbols)
    rng = np.random.default_rng(random_state)
    params = CategoricalHMMParams(
        np.full(k, 1.0 / k) if startprob is None else startprob,
        _random_stochastic(rng, (k, k)) if transmat is None else transmat,
        _random_stochastic(rng, (k, n_symbols)) if emissionprob is None else emissionprob,
    )
    params = _check_params(params, n_symbols)
    return run_em(
        data,
        params,
        e_step=partial(e_step, method=method),
        m_step=partial(m_step, learn=learn),
        tol=tol,
        max_iter=max_iter,
        record=record,
    )


def fit_gaussian(
    X,
    n_components: int,
    lengths=None,
    *,
    covariance_type: str = "diag",
    startprob=None,
    transmat=None,
    means=None,
    covariances=None,
    learn: str = "stmc",
    reg_covar: float = 1e-6,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
    method: str = "chunked",
) -> EMResult:
    """Fit a Gaussian HMM by Baum–Welch.

    With ``reg_covar > 0`` EM maximises the penalised log-likelihood
    ``log p(X) + log_prior`` (:eq:`hmm-covariance-prior`), whose exact
    M-step is :eq:`hmm-m-covariances-reg`, so the monotonicity check of
    :func:`emtutor.em.run_em` applies unchanged; ``result.log_likelihoods``
    are then penalised values (use :func:`log_likelihood` for the plain
    one).  With ``reg_covar=0`` it is plain maximum likelihood.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or list of them
    n_components : int
    lengths : array of int, optional
    covariance_type : {"diag", "full"}, default "diag"
        Only used when ``covariances`` is not given.
    startprob, transmat, means, covariances : arrays, optional
        Initial parameters; missing ones: startprob uniform, transmat rows
        from a flat Dirichlet, means ``n_components`` distinct data rows,
        covariances the data's (co)variance plus ``reg_covar``.
    learn : str, default "stmc"
        Which parameters to update (see :func:`m_step`).
    reg_covar : float, default 1e-6
    tol, max_iter, record
        Passed to :func:`emtutor.em.run_em`.
    random_state : int, numpy Generator or None
    method : {"chunked", "scaled", "log"}, default "chunked"

    Returns
    -------
    EMResult
        ``result.startprob``, ``result.transmat``, ``result.means``,
        ``result.covariances``, ``result.log_likelihoods``.

    Raises
    ------
    ValueError
        For bad data, lengths or parameters, or a covariance that becomes
        singular (increase ``reg_covar``).
    """
    k = check_positive_int(n_components, "n_components")
    learn = _check_learn(learn, "stmc")
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    if covariance_type not in ("diag", "full"):
        raise ValueError(f"covariance_type must be 'diag' or 'full', got {covariance_type!r}")
    data = as_sequences(X, lengths, kind="gaussian")
    d = data.X.shape[1]
    rng = np.random.default_rng(random_state)
    if transmat is None:
        transmat = _random_stochastic(rng, (k, k))
    if means is None:
        distinct = np.unique(data.X, axis=0)
        if len(distinct) < k:
            raise ValueError(f"X has only {len(distinct)} distinct points, fewer than n_components={k}")
        means = distinct[rng.choice(len(distinct), size=k, replace=False)]
    if covariances is None:
        if covariance_type == "diag":
            covariances = np.tile(data.X.var(axis=0) + reg_covar, (k, 1))
        else:
            cov = np.atleast_2d(np.cov(data.X, rowvar=False, bias=True))
            cov.flat[:: d + 1] += reg_covar
            covariances = np.repeat(cov[None], k, axis=0)
    params = GaussianHMMParams(np.full(k, 1.0 / k) if startprob is None else startprob, transmat, means, covariances)
    params = _check_params(params, d)
    return run_em(
        data,
        params,
        e_step=partial(e_step, reg_covar=reg_covar, method=method),
        m_step=partial(m_step, learn=learn, reg_covar=reg_covar),
        tol=tol,
        max_iter=max_iter,
        record=record,
    )


# -------------------------------------------------------------- estimators


class _BaseHMM:
    """Shared estimator methods; subclasses define ``_kind``, ``_fit`` and ``_params``."""

    _kind = ""

    def _params(self):
        raise NotImplementedError

    def _check_fitted(self):
        if not hasattr(self, "transmat_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _data(self, X, lengths):
        self._check_fitted()
        data, _ = _prepare(X, lengths, self._params())
        return data

    def _store(self, result: EMResult):
        for name in result.params._fields:
            setattr(self, name + "_", getattr(result.params, name))
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.log_likelihoods_ = result.log_likelihoods
        self.history_ = result.history
        return self

    def score(self, X, lengths=None) -> float:
        """Total log-likelihood of the sequences, :eq:`hmm-log-likelihood`."""
        self._check_fitted()
        return log_likelihood(X, self._params(), lengths)

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Posterior state probabilities ``gamma``, shape (n_samples, n_components)."""
        return posteriors(self._data(X, lengths), self._params())[0]

    def predict(self, X, lengths=None) -> np.ndarray:
        """The Viterbi path (concatenated over sequences), shape (n_samples,)."""
        return self.decode(X, lengths)[1]

    def decode(self, X, lengths=None, algorithm: str = "viterbi"):
        """Decode the hidden states.

        Parameters
        ----------
        X : array or list of arrays
        lengths : array of int, optional
        algorithm : {"viterbi", "map"}
            ``"viterbi"``: the most probable path :eq:`hmm-viterbi`;
            ``"map"``: the most probable state at each step
            :eq:`hmm-posterior-decoding`.

        Returns
        -------
        log_prob : float
            ``log p(X, path)`` for Viterbi, ``log p(X)`` for ``"map"``.
        states : ndarray of shape (n_samples,)
        """
        self._check_fitted()
        if algorithm == "viterbi":
            return viterbi(X, self._params(), lengths)
        if algorithm == "map":
            gamma, _, _, lls = posteriors(self._data(X, lengths), self._params())
            return float(np.sum(lls)), np.argmax(gamma, axis=1)
        raise ValueError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")

    def sample(self, n_samples: int = 1, random_state=None):
        """Draw ``(X, states)`` from the fitted model."""
        self._check_fitted()
        return sample(self._params(), n_samples, random_state)


class CategoricalHMM(_BaseHMM):
    """Hidden Markov model with categorical emissions, fitted by Baum–Welch.

    Parameters
    ----------
    n_components : int
        Number of hidden states.
    n_symbols : int, optional
        Size of the alphabet; default ``max(X) + 1``.
    startprob, transmat, emissionprob : arrays, optional
        Initial parameters (random with ``random_state`` when missing).
    learn : str, default "ste"
        Parameters to learn: ``s`` startprob, ``t`` transmat, ``e`` emissionprob.
    tol : float, default 1e-4
    max_iter : int, default 100
    random_state : int, numpy Generator or None

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    emissionprob_ : ndarray of shape (n_components, n_symbols)
    log_likelihoods_ : ndarray of shape (n_iter_,)
    n_iter_ : int
    converged_ : bool
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        n_symbols=None,
        startprob=None,
        transmat=None,
        emissionprob=None,
        learn: str = "ste",
        tol: float = 1e-4,
        max_iter: int = 100,
        random_state=None,
    ):
        self.n_components = n_components
        self.n_symbols = n_symbols
        self.startprob = startprob
        self.transmat = transmat
        self.emissionprob = emissionprob
        self.learn = learn
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def _params(self):
        return CategoricalHMMParams(self.startprob_, self.transmat_, self.emissionprob_)

    def fit(self, X, lengths=None, record: bool = False):
        """Fit by Baum–Welch (:func:`fit_categorical`); returns ``self``."""
        result = fit_categorical(
            X,
            self.n_components,
            lengths,
            n_symbols=self.n_symbols,
            startprob=self.startprob,
            transmat=self.transmat,
            emissionprob=self.emissionprob,
            learn=self.learn,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
            record=record,
        )
        return self._store(result)


class GaussianHMM(_BaseHMM):
    """Hidden Markov model with Gaussian emissions, fitted by Baum–Welch.

    Parameters
    ----------
    n_components : int
    covariance_type : {"diag", "full"}, default "diag"
    startprob, transmat, means, covariances : arrays, optional
        Initial parameters (see :func:`fit_gaussian`).
    learn : str, default "stmc"
    reg_covar : float, default 1e-6
        Strength of the covariance penalty :eq:`hmm-covariance-prior`.
    tol : float, default 1e-4
    max_iter : int, default 100
    random_state : int, numpy Generator or None

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray of shape (n_components, n_features, n_features) or (n_components, n_features)
    log_likelihoods_ : ndarray of shape (n_iter_,)
        Penalised when ``reg_covar > 0``.
    n_iter_ : int
    converged_ : bool
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "diag",
        startprob=None,
        transmat=None,
        means=None,
        covariances=None,
        learn: str = "stmc",
        reg_covar: float = 1e-6,
        tol: float = 1e-4,
        max_iter: int = 100,
        random_state=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.startprob = startprob
        self.transmat = transmat
        self.means = means
        self.covariances = covariances
        self.learn = learn
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def _params(self):
        return GaussianHMMParams(self.startprob_, self.transmat_, self.means_, self.covariances_)

    def fit(self, X, lengths=None, record: bool = False):
        """Fit by Baum–Welch (:func:`fit_gaussian`); returns ``self``."""
        result = fit_gaussian(
            X,
            self.n_components,
            lengths,
            covariance_type=self.covariance_type,
            startprob=self.startprob,
            transmat=self.transmat,
            means=self.means,
            covariances=self.covariances,
            learn=self.learn,
            reg_covar=self.reg_covar,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
            record=record,
        )
        return self._store(result)
