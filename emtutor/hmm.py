"""Hidden Markov models fitted by Baum–Welch (EM), categorical and Gaussian emissions.

The model: a hidden state path ``z_1..z_T`` is a Markov chain with start
distribution ``startprob`` and transition matrix ``transmat``; each
observation ``x_t`` is drawn from the emission distribution of its state
(:eq:`hmm-joint`).  The module is the model's steps and fits; the other
jobs live elsewhere:

* inference: the forward–backward and Viterbi recursions, which only ever
  see the frame log-likelihoods ``log p(x_t | z_t = k)``, are
  :mod:`emtutor.hmm_core`;
* Gaussian emissions: densities, covariance estimates and initialisation
  are those of the Gaussian mixture (:mod:`emtutor.gmm`, its
  :data:`~emtutor.gmm.COVARIANCE_TYPES`: ``"full"``, ``"diag"``,
  ``"spherical"`` and ``"tied"``), because a state's emission M-step *is*
  the mixture's M-step with the state posteriors as responsibilities;
* the scikit-learn-style estimators :class:`~emtutor.estimators.CategoricalHMM`
  and :class:`~emtutor.estimators.GaussianHMM` are in :mod:`emtutor.estimators`.

Two emission families:

* categorical: ``emissionprob[k, m] = p(x_t = m | z_t = k)``;
* Gaussian: ``means[k]`` and ``covariances`` of the given
  ``covariance_type`` (default ``"diag"``, hmmlearn's default).

The E-step (:func:`e_step`) returns the expected counts of :eq:`hmm-gamma`
and :eq:`hmm-xi`; the M-step (:func:`m_step`) is :eq:`hmm-m-start`,
:eq:`hmm-m-transmat` and :eq:`hmm-m-emissionprob` or :eq:`hmm-m-means` and
:eq:`hmm-m-covariances`.  :func:`fit_categorical` and :func:`fit_gaussian`
run them with the generic driver :func:`emtutor.em.run_em` on one or many
sequences; the objective is the log-likelihood :eq:`hmm-log-likelihood`.

Sequences are passed either as a list of arrays or as one concatenated
array with ``lengths`` (as in hmmlearn).  The functions that take raw
observations (:func:`log_likelihood`, :func:`viterbi`, the fits, ...)
validate them; :func:`e_step` and :func:`m_step` trust what they are given.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np

from . import gmm, hmm_core
from ._validation import (
    as_data_matrix,
    as_rng,
    check_nonnegative,
    check_positive_int,
    check_probability_vector,
    check_shape,
    check_stochastic_matrix,
)
from .em import EMResult, run_em

__all__ = [
    "CategoricalHMMParams",
    "GaussianHMMParams",
    "HMMStats",
    "Sequences",
    "as_sequences",
    "check_params",
    "frame_log_likelihood",
    "posteriors",
    "e_step",
    "m_step",
    "log_likelihood",
    "viterbi",
    "posterior_decode",
    "sample",
    "initial_params",
    "fit_categorical",
    "fit_gaussian",
]

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
    covariances : ndarray
        Of the shape the ``covariance_type`` passed alongside asks for (see
        :data:`emtutor.gmm.COVARIANCE_TYPES`); the type is a setting, never
        read off the shape.
    """

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


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
    resp : ndarray of shape (n_samples, n_components)
        The state posteriors ``resp[t, k] = p(z_t = k | x)`` (:eq:`hmm-gamma`),
        the HMM's responsibilities, all sequences concatenated.
    xi_sum : ndarray of shape (n_components, n_components)
        Expected transition counts ``sum_t xi_t(i, j)`` (:eq:`hmm-xi`), summed over sequences.
    start_sum : ndarray of shape (n_components,)
        ``sum`` over sequences of ``resp`` at their first step.
    """

    resp: np.ndarray
    xi_sum: np.ndarray
    start_sum: np.ndarray


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
    if kind not in ("categorical", "gaussian"):
        raise ValueError(f"kind must be 'categorical' or 'gaussian', got {kind!r}")
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
                f"X has symbol {bad}, outside 0..{n_symbols - 1} (n_symbols={n_symbols}); "
                "recode the symbols as 0, 1, ..., n_symbols - 1"
            )
    return Sequences(X, lengths)


def _as_observations(x, kind, name):
    if kind == "gaussian":
        return as_data_matrix(x, name)
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
    if x.min() < 0 or x.max() >= _MAX_SYMBOLS:
        bad = x[(x < 0) | (x >= _MAX_SYMBOLS)][0]
        raise ValueError(
            f"{name} has symbol {bad:g}; symbols must be 0, 1, ..., n_symbols - 1 with n_symbols <= "
            f"2**24 (relabel them, e.g. with np.unique({name}, return_inverse=True))"
        )
    return x.astype(np.intp)


#: Most symbols a categorical HMM takes (its emission matrix has one column per symbol).
_MAX_SYMBOLS = 2**24


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


def _kind(params) -> str:
    if isinstance(params, CategoricalHMMParams):
        return "categorical"
    if isinstance(params, GaussianHMMParams):
        return "gaussian"
    raise ValueError(f"params must be CategoricalHMMParams or GaussianHMMParams, got {type(params).__name__}")


def check_params(params, n_features_or_symbols: int | None = None, *, covariance_type: str = "diag"):
    """Validate a parameter tuple; return it with float arrays.

    Parameters
    ----------
    params : CategoricalHMMParams or GaussianHMMParams
    n_features_or_symbols : int, optional
        Gaussian: the data's number of features; categorical: the number
        of symbols the data needs (the largest symbol plus one).
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.

    Returns
    -------
    CategoricalHMMParams or GaussianHMMParams
    """
    kind = _kind(params)
    startprob = np.asarray(params.startprob, dtype=float)
    k = startprob.shape[0] if startprob.ndim == 1 else -1
    if k < 1:
        raise ValueError(f"startprob must be a 1-D probability vector, got shape {startprob.shape}")
    startprob = check_probability_vector(startprob, k, "startprob")
    if np.shape(params.transmat) != (k, k):
        raise ValueError(
            f"transmat must have shape ({k}, {k}) to match startprob's {k} states, got {np.shape(params.transmat)}"
        )
    transmat = check_stochastic_matrix(params.transmat, (k, k), "transmat")
    if kind == "categorical":
        emissionprob = np.asarray(params.emissionprob, dtype=float)
        if emissionprob.ndim != 2 or emissionprob.shape[0] != k:
            raise ValueError(
                f"emissionprob must have shape (n_states, n_symbols) with n_states={k} (startprob's), "
                f"got {emissionprob.shape}"
            )
        m = emissionprob.shape[1]
        if n_features_or_symbols is not None and m != -1 and m < n_features_or_symbols:
            raise ValueError(
                f"emissionprob has {m} columns but the data has symbol {n_features_or_symbols - 1}"
            )
        emissionprob = check_stochastic_matrix(emissionprob, (k, max(m, 1)), "emissionprob")
        return CategoricalHMMParams(startprob, transmat, emissionprob)
    means = np.asarray(params.means, dtype=float)
    d = means.shape[1] if means.ndim == 2 else -1
    if n_features_or_symbols is not None and d != n_features_or_symbols:
        raise ValueError(f"means must have shape ({k}, {n_features_or_symbols}), got {means.shape}")
    means = check_shape(means, (k, max(d, 1)), "means")
    covariances = gmm.check_covariances(params.covariances, k, means.shape[1], covariance_type)
    return GaussianHMMParams(startprob, transmat, means, covariances)


def _prepare(X, lengths, params, covariance_type):
    """Validate observations and parameters together (the public functions' boundary)."""
    kind = _kind(params)
    n = np.shape(params.emissionprob)[1] if kind == "categorical" else None
    data = as_sequences(X, lengths, kind=kind, n_symbols=n)
    d = None if kind == "categorical" else data.X.shape[1]
    return data, check_params(params, d, covariance_type=covariance_type)


# -------------------------------------------------------------- the E-step


def frame_log_likelihood(X, params, *, covariance_type: str = "diag") -> np.ndarray:
    """Emission log-likelihoods ``log p(x_t | z_t = k)`` for every step and state.

    Implements :eq:`hmm-emission-categorical` or :eq:`hmm-emission-gaussian`
    (the latter is :func:`emtutor.gmm.log_gaussian_density`, for every
    covariance type).

    Parameters
    ----------
    X : array of shape (n_samples,) (symbols) or (n_samples, n_features)
    params : CategoricalHMMParams or GaussianHMMParams
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.

    Returns
    -------
    ndarray of shape (n_samples, n_components)
    """
    if isinstance(params, CategoricalHMMParams):
        with np.errstate(divide="ignore"):  # a zero emission probability is log 0 = -inf
            return np.take(np.ascontiguousarray(np.log(params.emissionprob).T), X, axis=0)
    try:
        return gmm.log_gaussian_density(X, params.means, params.covariances, covariance_type)
    except gmm.CollapsedComponentError as exc:
        raise _state_collapsed(exc, exc.component) from None


def _scaled_symbol_likelihoods(X, params: CategoricalHMMParams):
    """A categorical model's scaled likelihoods for :func:`emtutor.hmm_core.forward_backward_sequences`.

    ``emissionprob[k, x_t] / max_j emissionprob[j, x_t]`` and the log of that
    maximum, each one lookup per step; None when some symbol has probability
    zero in every state (the log-likelihood path then names the step).
    """
    top = params.emissionprob.max(axis=0)
    if not np.all(top > 0):
        return None
    table = np.ascontiguousarray((params.emissionprob / top).T)
    lik = np.take(table, X, axis=0, out=hmm_core._scratch("lik", (len(X), len(table[0]))))
    return lik, np.take(np.log(top), X)


def _state_collapsed(exc, state) -> gmm.CollapsedComponentError:
    """The mixture's "component collapsed" error, naming the state."""
    return gmm.CollapsedComponentError(int(state), exc.what, exc.problem, unit="state")


def posteriors(data: Sequences, params, *, covariance_type: str = "diag", method: str = "chunked"):
    """Forward–backward on every sequence.

    Parameters
    ----------
    data : Sequences
    params : CategoricalHMMParams or GaussianHMMParams
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.
    method : {"chunked", "scaled", "log"}
        Passed to :func:`emtutor.hmm_core.forward_backward`.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
        State posteriors (:eq:`hmm-gamma`).
    xi_sum : ndarray of shape (n_components, n_components)
    start_sum : ndarray of shape (n_components,)
    log_likelihoods : ndarray of shape (n_sequences,)
    """
    k = len(params.startprob)
    if method == "chunked":  # all sequences at once
        scaled = _scaled_symbol_likelihoods(data.X, params) if isinstance(params, CategoricalHMMParams) else None
        frame = None if scaled else frame_log_likelihood(data.X, params, covariance_type=covariance_type)
        resp, xi_sum, log_likelihoods = hmm_core.forward_backward_sequences(
            frame, data.lengths, params.startprob, params.transmat, scaled=scaled)
        start_sum = resp[np.cumsum(data.lengths) - data.lengths].sum(axis=0)
        return resp, xi_sum, start_sum, log_likelihoods
    frame = frame_log_likelihood(data.X, params, covariance_type=covariance_type)
    resp = np.empty_like(frame)
    xi_sum = np.zeros((k, k))
    start_sum = np.zeros(k)
    log_likelihoods = np.empty(len(data.lengths))
    begin = 0
    for s, n in enumerate(data.lengths):
        end = begin + n
        try:
            r, xi, ll = hmm_core.forward_backward(frame[begin:end], params.startprob, params.transmat, method)
        except ValueError as exc:
            raise ValueError(f"sequence {s}: {exc}") from None
        resp[begin:end] = r
        xi_sum += xi
        start_sum += r[0]
        log_likelihoods[s] = ll
        begin = end
    return resp, xi_sum, start_sum, log_likelihoods


def e_step(data: Sequences, params, previous=None, *, covariance_type: str = "diag", method: str = "chunked"):
    """E-step of Baum–Welch: posteriors and expected counts.

    Runs the forward–backward passes (:eq:`hmm-forward`,
    :eq:`hmm-backward`) on every sequence and returns the posteriors
    :eq:`hmm-gamma` and the summed pair posteriors :eq:`hmm-xi`.  The log
    normaliser of each sequence is its log-likelihood
    :eq:`hmm-log-likelihood`, so their sum is the objective EM climbs.

    Parameters
    ----------
    data : Sequences
    params : CategoricalHMMParams or GaussianHMMParams
    previous : ignored
        The previous statistics (the driver hands them to every E-step);
        the exact posterior does not depend on them.
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.
    method : {"chunked", "scaled", "log"}, default "chunked"

    Returns
    -------
    stats : HMMStats
    log_likelihoods : ndarray of shape (n_sequences,)
    """
    resp, xi_sum, start_sum, log_likelihoods = posteriors(
        data, params, covariance_type=covariance_type, method=method
    )
    return HMMStats(resp, xi_sum, start_sum), log_likelihoods


# -------------------------------------------------------------- the M-step


def _normalise_rows(counts, old):
    """Rows of ``counts`` divided by their sums; rows without counts keep ``old``."""
    sums = counts.sum(axis=1, keepdims=True)
    empty = sums[:, 0] <= _MIN_COUNT
    new = counts / np.where(empty[:, None], 1.0, sums)
    new[empty] = old[empty]
    return new


def m_step(data: Sequences, stats: HMMStats, params, *, learn: str | None = None, reg_covar: float = 0.0,
           covariance_type: str = "diag"):
    """M-step of Baum–Welch: the parameters maximising the expected complete-data log-likelihood.

    Implements :eq:`hmm-m-start`, :eq:`hmm-m-transmat` and either
    :eq:`hmm-m-emissionprob` (categorical) or :eq:`hmm-m-means` and
    :eq:`hmm-m-covariances` (Gaussian): the Gaussian mixture's M-step
    (:func:`emtutor.gmm.m_step`'s covariance estimates, for every
    covariance type) with the state posteriors as responsibilities, and
    ``reg_covar`` added to the diagonal as there,
    :eq:`hmm-m-covariances-reg`.  Zero probabilities stay zero: every
    update is a ratio of expected counts, and a count of a forbidden
    transition or emission is zero.  A state (or a transition row) whose
    expected count is at most ``1e-10`` keeps its current parameters, which
    leaves its part of the objective unchanged.

    Parameters
    ----------
    data : Sequences
    stats : HMMStats
        From :func:`e_step`.
    params : CategoricalHMMParams or GaussianHMMParams
        The current parameters: those not learned, and those of states with
        no expected count, are kept.
    learn : str, optional
        Letters of the parameters to update: ``"s"`` startprob, ``"t"``
        transmat, ``"e"`` emissionprob, ``"m"`` means, ``"c"`` covariances;
        default all.
    reg_covar : float, default 0.0
        ``epsilon`` in ``Sigma_k = S_k / N_k + epsilon I``, as for mixtures.
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.

    Returns
    -------
    CategoricalHMMParams or GaussianHMMParams
    """
    old = params
    categorical = isinstance(old, CategoricalHMMParams)
    learn = ("ste" if categorical else "stmc") if learn is None else learn
    startprob = stats.start_sum / stats.start_sum.sum() if "s" in learn else old.startprob
    transmat = _normalise_rows(stats.xi_sum, old.transmat) if "t" in learn else old.transmat
    resp = stats.resp

    if categorical:
        emissionprob = old.emissionprob
        if "e" in learn:
            n_symbols = old.emissionprob.shape[1]
            symbol_counts = np.stack(
                [np.bincount(data.X, weights=resp[:, k], minlength=n_symbols) for k in range(resp.shape[1])]
            )
            emissionprob = _normalise_rows(symbol_counts, old.emissionprob)
        return CategoricalHMMParams(startprob, transmat, emissionprob)
    means, covariances = _gaussian_m_step(data.X, resp, old, learn, reg_covar, covariance_type)
    return GaussianHMMParams(startprob, transmat, means, covariances)


def _gaussian_m_step(X, resp, old, learn, reg_covar, covariance_type):
    """Means and covariances: :func:`emtutor.gmm.m_step` on the states with expected counts."""
    counts = gmm._column_sums(resp)  # N_k
    used = counts > _MIN_COUNT
    if not ("m" in learn or "c" in learn) or not np.any(used):
        return old.means, old.covariances
    try:
        fitted = gmm.m_step(X, resp[:, used], reg_covar=reg_covar, covariance_type=covariance_type)
    except gmm.CollapsedComponentError as exc:
        raise _state_collapsed(exc, np.flatnonzero(used)[exc.component]) from None
    means = old.means.copy()
    if "m" in learn:
        means[used] = fitted.means
    covariances = old.covariances
    if "c" in learn:
        estimate = fitted.covariances
        if "m" not in learn:  # the scatter about the fixed means, not about the weighted means
            estimate = estimate + _mean_shift_scatter(fitted.means - old.means[used], counts[used], len(X),
                                                      covariance_type)
        if covariance_type == "tied":
            covariances = estimate
        else:
            covariances = old.covariances.copy()
            covariances[used] = estimate
    return means, covariances


def _mean_shift_scatter(shift, counts, n_samples, covariance_type):
    """What scatter about ``mean + shift`` adds to scatter about ``mean``: ``shift shift^T`` per state."""
    if covariance_type == "full":
        return shift[:, :, None] * shift[:, None, :]
    if covariance_type == "diag":
        return shift**2
    if covariance_type == "spherical":
        return np.mean(shift**2, axis=1)
    return (counts[:, None] * shift).T @ shift / n_samples  # tied: weighted by N_k / N


def _regularisation_slack(data, stats, old_params, new_params, *, reg_covar, covariance_type):
    """:func:`emtutor.gmm.regularisation_slack` with the state posteriors as responsibilities."""
    return gmm.regularisation_slack(data.X, stats.resp, old_params, new_params, reg_covar=reg_covar,
                                    covariance_type=covariance_type)


# ------------------------------------------------------------ using a model


def log_likelihood(X, params, lengths=None, *, covariance_type: str = "diag") -> float:
    """Total log-likelihood :eq:`hmm-log-likelihood` of the sequences under ``params``.

    Parameters
    ----------
    X : array or list of arrays
        See :func:`as_sequences`.
    params : CategoricalHMMParams or GaussianHMMParams
    lengths : array of int, optional
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.

    Returns
    -------
    float
        ``sum`` over sequences of ``log p(x_1..x_T)``.
    """
    data, params = _prepare(X, lengths, params, covariance_type)
    return float(np.sum(posteriors(data, params, covariance_type=covariance_type)[3]))


def viterbi(X, params, lengths=None, *, covariance_type: str = "diag"):
    """Most probable state path of every sequence, :eq:`hmm-viterbi`.

    Parameters
    ----------
    X : array or list of arrays
    params : CategoricalHMMParams or GaussianHMMParams
    lengths : array of int, optional
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.

    Returns
    -------
    log_prob : float
        ``sum`` over sequences of ``log p(x, path)``.
    path : ndarray of shape (n_samples,)
        The concatenated paths.
    """
    data, params = _prepare(X, lengths, params, covariance_type)
    frame = frame_log_likelihood(data.X, params, covariance_type=covariance_type)
    paths, total = [], 0.0
    for s, f in enumerate(data.split(frame)):
        try:
            log_prob, path = hmm_core.viterbi(f, params.startprob, params.transmat)
        except ValueError as exc:
            raise ValueError(f"sequence {s}: {exc}") from None
        paths.append(path)
        total += log_prob
    return total, np.concatenate(paths)


def posterior_decode(X, params, lengths=None, *, covariance_type: str = "diag") -> np.ndarray:
    """The most probable state at each step, ``argmax_k resp[t, k]`` (:eq:`hmm-posterior-decoding`).

    Parameters
    ----------
    X : array or list of arrays
    params : CategoricalHMMParams or GaussianHMMParams
    lengths : array of int, optional
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    data, params = _prepare(X, lengths, params, covariance_type)
    return np.argmax(posteriors(data, params, covariance_type=covariance_type)[0], axis=1)


def sample(params, n_samples: int, random_state=None, *, covariance_type: str = "diag"):
    """Draw one sequence of ``n_samples`` steps from the model :eq:`hmm-joint`.

    Parameters
    ----------
    params : CategoricalHMMParams or GaussianHMMParams
    n_samples : int
    random_state : int, numpy Generator or None
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        Gaussian only.

    Returns
    -------
    X : ndarray of shape (n_samples,) (symbols) or (n_samples, n_features)
    states : ndarray of shape (n_samples,)
    """
    params = check_params(params, covariance_type=covariance_type)
    n_samples = check_positive_int(n_samples, "n_samples")
    return _sample(params, n_samples, as_rng(random_state), covariance_type)


def _sample(params, n_samples, rng, covariance_type):
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
    chol = np.linalg.cholesky(gmm.full_covariances(params.covariances, k, d, covariance_type))
    X = params.means[states] + np.einsum("tij,tj->ti", chol[states], z)
    return X, states


# --------------------------------------------------------------- fitting


def _check_learn(learn, allowed):
    if not isinstance(learn, str) or set(learn) - set(allowed):
        raise ValueError(f"learn must be a string of letters from {allowed!r}, got {learn!r}")
    return learn


def _random_stochastic(rng, shape):
    return rng.dirichlet(np.ones(shape[-1]), size=shape[0]) if len(shape) == 2 else rng.dirichlet(np.ones(shape[0]))


def initial_params(
    X,
    n_components: int,
    lengths=None,
    *,
    kind: str,
    n_symbols: int | None = None,
    covariance_type: str = "diag",
    init: str = "k-means++",
    reg_covar: float = 1e-6,
    random_state=None,
    startprob=None,
    transmat=None,
    emissionprob=None,
    means=None,
    covariances=None,
):
    """Initial parameters: explicit ones as given, the rest drawn with ``random_state``.

    ``startprob`` uniform; rows of ``transmat`` (and, categorical, of
    ``emissionprob``) from a flat Dirichlet; Gaussian ``means`` and
    ``covariances`` as a Gaussian mixture starts them
    (:func:`emtutor.gmm.initial_params`: means by ``init``, covariances the
    data's plus ``reg_covar``).

    Parameters
    ----------
    X : array or list of arrays
    n_components : int
    lengths : array of int, optional
    kind : {"categorical", "gaussian"}
    n_symbols : int, optional
        Categorical: default ``max(X) + 1`` (or the width of ``emissionprob``).
    covariance_type, init, reg_covar, random_state
        Gaussian settings, as in :func:`fit_gaussian`.
    startprob, transmat, emissionprob, means, covariances : arrays, optional

    Returns
    -------
    CategoricalHMMParams or GaussianHMMParams
    """
    data = as_sequences(X, lengths, kind=kind)
    return _initial_params(data, n_components, kind=kind, n_symbols=n_symbols, covariance_type=covariance_type,
                           init=init, reg_covar=reg_covar, random_state=random_state, startprob=startprob,
                           transmat=transmat, emissionprob=emissionprob, means=means,
                           covariances=covariances)[1]


def _initial_params(data, n_components, *, kind, n_symbols=None, covariance_type="diag", init="k-means++",
                    reg_covar=1e-6, random_state=None, startprob=None, transmat=None, emissionprob=None,
                    means=None, covariances=None):
    """Validated settings, data and initial parameters for validated sequences."""
    k = check_positive_int(n_components, "n_components")
    for name, value, shape in (("startprob", startprob, (k,)), ("transmat", transmat, (k, k))):
        if value is not None and np.shape(value) != shape:
            raise ValueError(f"{name} must have shape {shape} for n_components={k}, got {np.shape(value)}")
    if kind == "categorical" and emissionprob is not None and (np.ndim(emissionprob) != 2
                                                               or np.shape(emissionprob)[0] != k):
        raise ValueError(
            f"emissionprob must have shape (n_components, n_symbols) = ({k}, n_symbols), "
            f"got {np.shape(emissionprob)}"
        )
    rng = as_rng(random_state)
    if startprob is None:
        startprob = np.full(k, 1.0 / k)
    if transmat is None:
        transmat = _random_stochastic(rng, (k, k))
    if kind == "categorical":
        if n_symbols is None:
            n_symbols = np.shape(emissionprob)[1] if emissionprob is not None else int(data.X.max()) + 1
        n_symbols = check_positive_int(n_symbols, "n_symbols")
        data = as_sequences(data.X, data.lengths, kind=kind, n_symbols=n_symbols)
        if emissionprob is None:
            emissionprob = _random_stochastic(rng, (k, n_symbols))
        params = CategoricalHMMParams(startprob, transmat, emissionprob)
        return data, check_params(params, n_symbols)
    gmm._covariance_type(covariance_type)
    gmm.check_init(init)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    if means is None:
        check_positive_int(k, "n_components", 1, len(data.X))
        gmm._check_enough_distinct(data.X, k)
    emissions = gmm._initial_params(data.X, k, covariance_type, init, reg_covar, rng, None, means, covariances)
    params = GaussianHMMParams(startprob, transmat, emissions.means, emissions.covariances)
    return data, check_params(params, data.X.shape[1], covariance_type=covariance_type)


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
        Initial parameters; missing ones are drawn with ``random_state``
        (see :func:`initial_params`).
    learn : str, default "ste"
        Which parameters to update (see :func:`m_step`).
    tol : float, default 1e-4
        Stop when the log-likelihood per observation (time step, over all
        sequences) changes by less than ``tol`` (see :func:`emtutor.em.run_em`).
    max_iter : int, default 100
    random_state : int, numpy Generator or None
    record : bool, default False
        Keep every iteration's parameters and statistics.
    method : {"chunked", "scaled", "log"}, default "chunked"
        Forward–backward implementation (all give the same numbers).

    Returns
    -------
    EMResult
        ``result.startprob``, ``result.transmat``, ``result.emissionprob``,
        ``result.objectives`` (the log-likelihood after every iteration),
        ``result.expectations`` (an :class:`HMMStats`).

    Raises
    ------
    ValueError
        For bad observations, lengths or parameters (see :func:`as_sequences`).
    """
    data = as_sequences(X, lengths, kind="categorical")
    return _fit(data, n_components, kind="categorical", n_symbols=n_symbols, startprob=startprob,
                transmat=transmat, emissionprob=emissionprob, learn=learn, tol=tol, max_iter=max_iter,
                random_state=random_state, record=record, method=method)


def fit_gaussian(
    X,
    n_components: int,
    lengths=None,
    *,
    covariance_type: str = "diag",
    init: str = "k-means++",
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

    ``reg_covar`` has the Gaussian mixture's meaning (scikit-learn's):
    ``Sigma_k = S_k / N_k + reg_covar I`` (:eq:`hmm-m-covariances-reg`).
    That M-step is not the exact maximiser, so, as for mixtures, each
    iteration is checked against the bound :eq:`gmm-reg-bound` rather than
    for a strict rise of the log-likelihood.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or list of them
    n_components : int
    lengths : array of int, optional
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        See :data:`emtutor.gmm.COVARIANCE_TYPES`.
    init : {"k-means++", "random_from_data"}, default "k-means++"
        How the initial means are chosen when ``means`` is not given.
    startprob, transmat, means, covariances : arrays, optional
        Initial parameters; missing ones as :func:`initial_params` draws them.
    learn : str, default "stmc"
        Which parameters to update (see :func:`m_step`).
    reg_covar : float, default 1e-6
    tol : float, default 1e-4
        Stop when the log-likelihood per observation changes by less than ``tol``.
    max_iter : int, default 100
    random_state : int, numpy Generator or None
    record : bool, default False
    method : {"chunked", "scaled", "log"}, default "chunked"

    Returns
    -------
    EMResult
        ``result.startprob``, ``result.transmat``, ``result.means``,
        ``result.covariances``, ``result.objectives`` (the log-likelihood
        after every iteration).

    Raises
    ------
    ValueError
        For bad data, lengths or parameters, or a covariance that becomes
        singular (increase ``reg_covar``).
    """
    data = as_sequences(X, lengths, kind="gaussian")
    return _fit(data, n_components, kind="gaussian", covariance_type=covariance_type, init=init,
                startprob=startprob, transmat=transmat, means=means, covariances=covariances, learn=learn,
                reg_covar=reg_covar, tol=tol, max_iter=max_iter, random_state=random_state, record=record,
                method=method)


def _fit(data: Sequences, n_components, *, kind, learn, tol, max_iter, record, method, reg_covar=0.0,
         covariance_type="diag", **initial) -> EMResult:
    """Baum–Welch on validated sequences (what the fit functions and the estimators share)."""
    learn = _check_learn(learn, "ste" if kind == "categorical" else "stmc")
    if method not in ("chunked", "scaled", "log"):
        raise ValueError(f"method must be 'chunked', 'scaled' or 'log', got {method!r}")
    data, params = _initial_params(data, n_components, kind=kind, covariance_type=covariance_type,
                                   reg_covar=reg_covar, **initial)
    slack = None
    if kind == "gaussian" and reg_covar > 0:
        slack = partial(_regularisation_slack, reg_covar=reg_covar, covariance_type=covariance_type)
    return run_em(
        data,
        params,
        e_step=partial(e_step, covariance_type=covariance_type, method=method),
        m_step=partial(m_step, learn=learn, reg_covar=reg_covar, covariance_type=covariance_type),
        m_step_slack=slack,
        n_observations=len(data.X),
        tol=tol,
        max_iter=max_iter,
        record=record,
    )
