"""EM as map-reduce: the Gaussian mixture, the missing-data normal and LDA on Dask arrays.

Each E-step is a *map* over the row chunks of a Dask array: every chunk
runs the in-memory model's own E-step (:func:`emtutor.gmm.e_step`,
:func:`emtutor.missing.e_step`, :func:`emtutor.lda.e_step`) and returns the
sums the M-step needs over its rows, its sufficient statistics
(:eq:`mr-gmm-statistics`, :eq:`mr-missing-statistics`,
:eq:`mr-lda-statistics`), with its part of the objective.  A tree
*reduction* adds them (:eq:`mr-tree`), and the M-step runs on the client
from the sums alone (:eq:`mr-m-step`), through the models' own
``m_step_from_statistics``, the function their in-memory ``m_step`` ends
with.  The generic driver :func:`emtutor.em.run_em` alternates the two as
for in-memory data, so the iterations are the in-memory fit's up to the
order of the additions: the same parameters to about 1e-12, the same
number of iterations (``tests/test_mapreduce.py`` checks it).

Nothing is gathered on the client but the statistics (a few kilobytes
per chunk) and, for LDA, each document's variational parameters
``gamma``; the data are read chunk by chunk in every pass, so they may be
larger than memory (``benchmarks/out_of_core.py``).  Whatever scheduler is
active computes the graph: Dask's default threads, ``dask.config.set(
scheduler="synchronous")``, or a ``dask.distributed.Client``.

Dask is an optional dependency (``pip install emtutor[dask]``): this module
imports it only when called, and :mod:`emtutor` imports without it.

Chunking.  The data must be chunked along rows only; a Dask array with
several chunks along its columns is rechunked to one (a row's E-step needs
all of its features).  Empty chunks are skipped.

Initialisation.  Initial parameters not given are computed on the client
from passes over the data and from a reproducible sample: for the mixture,
the covariances from the exact covariance of all of ``X`` (one pass) and
the means by ``init`` (k-means++ or random distinct rows) on
``init_sample_size`` rows drawn uniformly without replacement with
``random_state`` (all rows if there are fewer); for the missing-data
normal, the observed means and variances of the columns (exact, two
passes); for LDA, the random topics of :func:`emtutor.lda.fit` (they depend
only on the vocabulary size and ``random_state``).  So a fit on data
smaller than ``init_sample_size`` starts exactly where the in-memory
:func:`emtutor.gmm.fit` with the same ``random_state`` starts.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from . import gmm, lda, missing
from ._validation import as_data_matrix, as_rng, check_flag, check_nonnegative, check_positive_int
from .em import EMResult, run_em

__all__ = [
    "is_dask_array",
    "chunk_tree_sum",
    "gmm_e_step_graph",
    "fit_gmm",
    "fit_missing",
    "fit_lda",
    "responsibilities",
    "LDAChunkedExpectations",
]

#: How many partial sums each node of the reduction tree adds (Dask's ``split_every``).
SPLIT_EVERY = 4

#: Rows drawn (reproducibly, with ``random_state``) to choose the initial means of a mixture.
INIT_SAMPLE_SIZE = 10_000


def is_dask_array(X) -> bool:
    """Whether ``X`` is a Dask array, decided without importing Dask.

    If ``dask.array`` has not been imported, nothing can be a Dask array.
    """
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


def _dask():
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError:  # pragma: no cover - the tests run with Dask installed
        raise ImportError("emtutor.mapreduce needs Dask: pip install 'emtutor[dask]'") from None
    return dask


def _row_chunks(X, name: str = "X"):
    """The Dask array ``X`` checked as data, and its non-empty row chunks as delayed objects.

    Checks what can be checked without reading the data (dimensions, dtype,
    known chunk sizes); the values are checked chunk by chunk in the first pass.
    """
    _dask()  # Dask itself, or an ImportError saying how to install it
    if not is_dask_array(X):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got {X.ndim}-D with shape {X.shape}"
        )
    kind = np.dtype(X.dtype).kind
    if kind == "c":
        raise ValueError(f"{name} must be a real array: Complex data not supported, got dtype {X.dtype}")
    if kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {X.dtype}")
    if any(np.isnan(size) for sizes in X.chunks for size in sizes):
        raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}; Found array with 0 sample(s) or feature(s)")
    if len(X.chunks[1]) > 1:  # a row's E-step needs all its features: one chunk of columns
        X = X.rechunk({1: -1})
    blocks = [block for block, rows in zip(X.to_delayed()[:, 0], X.chunks[0]) if rows > 0]
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]])
    offsets = [int(start) for start, rows in zip(starts, X.chunks[0]) if rows > 0]
    return X, blocks, offsets


def _as_chunk(block, offset: int, name: str, allow_nan: bool = False) -> np.ndarray:
    """A chunk validated as :func:`emtutor._validation.as_data_matrix` does, its rows named in the error."""
    try:
        return as_data_matrix(block, name, allow_nan=allow_nan)
    except ValueError as error:
        raise ValueError(f"{error} (in the chunk of rows from {offset})") from None


#: Fields of statistics that are the same in every chunk (the point moments are
#: taken about): kept, not added.
_SHARED_FIELDS = ("centre", "shift")


def _add(*parts):
    """Sum of statistics field by field (tuples, named or not, of arrays and numbers).

    A named tuple's :data:`_SHARED_FIELDS` are taken from the first part.
    """
    first = parts[0]
    if hasattr(first, "_fields"):
        return type(first)(*(getattr(first, name) if name in _SHARED_FIELDS else _add(*items)
                             for name, items in zip(first._fields, zip(*parts))))
    if isinstance(first, tuple):
        return tuple(_add(*items) for items in zip(*parts))
    return sum(parts[1:], first)


def chunk_tree_sum(parts: list, split_every: int = SPLIT_EVERY):
    """Add delayed partial results in a tree: ``split_every`` at a time, level by level (:eq:`mr-tree`).

    The statistics of disjoint chunks add up to those of their union
    (:eq:`mr-additive`), and addition is associative, so any tree gives the total.

    ``ceil(log_{split_every}(n_chunks))`` levels; each node runs on whichever
    worker holds its inputs, so only sums travel, never data.
    """
    dask = _dask()
    split_every = check_positive_int(split_every, "split_every", 2)
    while len(parts) > 1:
        parts = [dask.delayed(_add, pure=True)(*parts[i : i + split_every])
                 for i in range(0, len(parts), split_every)]
    return parts[0]


def _compute(*objects):
    return _dask().compute(*objects)


# --------------------------------------------------------------------------
# Gaussian mixtures


class _Summary(NamedTuple):
    """One pass's sums for the initial covariance and the fixed centre: about ``shift``."""

    n_samples: int
    sums: np.ndarray  # sum_n (x_n - shift)
    scatter: np.ndarray  # sum_n (x_n - shift)(x_n - shift)^T
    shift: np.ndarray


def _summary_chunk(block, offset, shift, name) -> _Summary:
    X = _as_chunk(block, offset, name)
    centred = X - shift
    return _Summary(len(X), centred.sum(axis=0), centred.T @ centred, shift)


def _data_moments(X, blocks, offsets, name):
    """Validate every chunk and return the data mean and (biased) covariance, in one pass."""
    shift = _as_chunk(X[:1].compute(), 0, name)[0]
    parts = [_dask().delayed(_summary_chunk, pure=True)(block, offset, shift, name)
             for block, offset in zip(blocks, offsets)]
    (summary,) = _compute(chunk_tree_sum(parts))
    n = summary.n_samples
    offset = summary.sums / n
    mean = shift + offset
    covariance = summary.scatter / n - np.outer(offset, offset)
    return n, mean, covariance


def _gmm_chunk(block, params, covariance_type, centre):
    """The map step of a mixture: one chunk's E-step, its statistics and log-likelihood."""
    X = np.asarray(block, dtype=float)
    resp, log_norm = gmm.e_step(X, params, covariance_type=covariance_type)
    return gmm.statistics(X, resp, covariance_type=covariance_type, centre=centre), float(np.sum(log_norm))


def gmm_e_step_graph(blocks, params, *, covariance_type: str = "full", centre, split_every: int = SPLIT_EVERY):
    """The delayed ``(GMMStatistics, log-likelihood)`` of one E-step: maps over ``blocks``, then the tree sum.

    Each chunk's task is the E-step of its rows alone (:eq:`mr-e-step-local`)
    and their statistics (:eq:`mr-gmm-statistics`).  ``blocks`` are the row
    chunks of the data as delayed objects (``X.to_delayed()[:, 0]``).  Computing it is one E-step; its graph is
    the figure of the chapter "EM as map-reduce".
    """
    dask = _dask()
    chunk = dask.delayed(_gmm_chunk, pure=True)
    return chunk_tree_sum([chunk(block, params, covariance_type, centre) for block in blocks], split_every)


def _gmm_e_step(blocks, params, previous, *, covariance_type, centre, split_every):
    stats, log_likelihood = _compute(gmm_e_step_graph(blocks, params, covariance_type=covariance_type,
                                                      centre=centre, split_every=split_every))[0]
    return stats, log_likelihood


def _far_chunk(block, params, covariance_type, far, far_means, diagonal):
    X = np.asarray(block, dtype=float)
    resp = gmm.e_step(X, params, covariance_type=covariance_type)[0]
    return gmm._far_scatter(X, resp, far, far_means, diagonal)


def _far_scatter(blocks, params, covariance_type, split_every, far, far_means, diagonal=False):
    """The second pass of the M-step for far components (see :func:`emtutor.gmm.m_step_from_statistics`)."""
    chunk = _dask().delayed(_far_chunk, pure=True)
    parts = [chunk(block, params, covariance_type, far, far_means, diagonal) for block in blocks]
    return _compute(chunk_tree_sum(parts, split_every))[0]


def _gmm_m_step(blocks, stats, params, *, reg_covar, covariance_type, split_every):
    return gmm.m_step_from_statistics(
        stats, reg_covar=reg_covar, covariance_type=covariance_type,
        far_scatter=partial(_far_scatter, blocks, params, covariance_type, split_every))


def _gmm_slack(blocks, stats, old_params, new_params, *, reg_covar, covariance_type):
    return gmm.slack_from_counts(stats.counts, old_params, new_params, reg_covar=reg_covar,
                                 covariance_type=covariance_type)


def _init_sample(X, size, rng):
    """``size`` rows of ``X`` drawn uniformly without replacement (all of them if fewer), in row order."""
    n_samples = X.shape[0]
    if n_samples <= size:
        return np.asarray(X.compute(), dtype=float)
    rows = np.sort(rng.choice(n_samples, size=size, replace=False))
    return np.asarray(X[rows].compute(), dtype=float)


def fit_gmm(
    X,
    n_components: int,
    *,
    covariance_type: str = "full",
    init: str = "k-means++",
    n_init: int = 1,
    weights=None,
    means=None,
    covariances=None,
    reg_covar: float = 1e-6,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
    init_sample_size: int = INIT_SAMPLE_SIZE,
    split_every: int = SPLIT_EVERY,
) -> gmm.GMMResult:
    """Fit a Gaussian mixture to the Dask array ``X`` by map-reduce EM.

    The settings mean what they mean in :func:`emtutor.gmm.fit`; the
    iterations are that function's (same parameters to rounding, same
    number of iterations) when both start from the same parameters.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows (chunks along columns are merged).
    n_components, covariance_type, init, n_init, weights, means, covariances, reg_covar, tol, max_iter, random_state, record
        As :func:`emtutor.gmm.fit`.
    init_sample_size : int, default 10000
        Rows drawn with ``random_state`` for choosing the initial means by
        ``init`` (see the module's notes).
    split_every : int, default 4
        Partial sums added by each node of the reduction tree.

    Returns
    -------
    GMMResult
        As :func:`emtutor.gmm.fit`, except that ``result.expectations`` is
        the summed :class:`~emtutor.gmm.GMMStatistics` of the last E-step
        (the responsibilities are never gathered; :func:`responsibilities`
        computes them as a Dask array).

    Raises
    ------
    TypeError
        If ``X`` is not a Dask array or not numeric.
    ValueError
        As :func:`emtutor.gmm.fit` (for values, when the first pass reads
        the chunk that holds them).
    """
    X, blocks, offsets = _row_chunks(X)
    n_samples, n_features = X.shape
    k = check_positive_int(n_components, "n_components", 1, n_samples)
    gmm._covariance_type(covariance_type)
    gmm.check_init(init)
    n_init = check_positive_int(n_init, "n_init", 1)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    init_sample_size = check_positive_int(init_sample_size, "init_sample_size", 1)
    split_every = check_positive_int(split_every, "split_every", 2)
    n_samples, centre, data_cov = _data_moments(X, blocks, offsets, "X")

    rng = as_rng(random_state)
    sample = _init_sample(X, max(init_sample_size, k), rng) if means is None else None
    if sample is not None:
        gmm._check_enough_distinct(sample, k)
    e_step = partial(_gmm_e_step, covariance_type=covariance_type, centre=centre, split_every=split_every)
    m_step = partial(_gmm_m_step, reg_covar=reg_covar, covariance_type=covariance_type, split_every=split_every)
    slack = partial(_gmm_slack, reg_covar=reg_covar, covariance_type=covariance_type) if reg_covar > 0 else None
    runs = []
    for _ in range(n_init):
        params = gmm._initial_params(sample, k, covariance_type, init, reg_covar, rng, weights, means,
                                     covariances, data_cov=data_cov)
        params = gmm.check_params(params, k, n_features, covariance_type)
        runs.append(run_em(blocks, params, e_step=e_step, m_step=m_step, m_step_slack=slack,
                           n_observations=n_samples, tol=tol, max_iter=max_iter, record=record))
    best, summary = gmm.best_restart(runs, tol, n_samples)
    return gmm.GMMResult(**{f.name: getattr(best, f.name) for f in fields(EMResult)},
                         covariance_type=covariance_type, restarts=summary)


def _resp_chunk(block, params, covariance_type):
    return gmm.e_step(np.asarray(block, dtype=float), params, covariance_type=covariance_type)[0]


def responsibilities(X, params: gmm.GMMParams, *, covariance_type: str = "full"):
    """The responsibilities of the Dask array ``X`` as a Dask array of shape (n_samples, n_components).

    Each chunk is :func:`emtutor.gmm.e_step` of its rows; nothing is computed until asked.
    """
    X, _, _ = _row_chunks(X)
    k = len(params.weights)
    params = gmm.check_params(params, k, X.shape[1], covariance_type)
    return X.map_blocks(_resp_chunk, params, covariance_type, dtype=float, chunks=(X.chunks[0], (k,)))


# --------------------------------------------------------------------------
# The normal with missing values


class _MissingSummary(NamedTuple):
    n_samples: int
    n_used: int
    n_observed: np.ndarray  # observed values per column
    sums: np.ndarray  # sum of the observed values per column
    low: np.ndarray  # smallest observed value per column (inf if none)
    high: np.ndarray  # largest
    patterns: frozenset  # the distinct missingness patterns, packed to bytes


class _MissingStatistics(NamedTuple):
    n_used: int
    sums: np.ndarray  # sum over used rows of (x_hat - centre)
    scatter: np.ndarray  # sum over used rows of (x_hat - centre)(x_hat - centre)^T
    cov_correction: np.ndarray  # sum of the conditional covariances C_n


def _add_summaries(*parts):
    return _MissingSummary(
        sum(p.n_samples for p in parts), sum(p.n_used for p in parts), sum(p.n_observed for p in parts),
        sum(p.sums for p in parts), np.min([p.low for p in parts], axis=0), np.max([p.high for p in parts], axis=0),
        frozenset().union(*(p.patterns for p in parts)))


def _missing_summary_chunk(block, offset, name) -> _MissingSummary:
    X = _as_chunk(block, offset, name, allow_nan=True)
    observed = ~np.isnan(X)
    with np.errstate(invalid="ignore"):
        low = np.where(observed, X, np.inf).min(axis=0)
        high = np.where(observed, X, -np.inf).max(axis=0)
    patterns = frozenset(row.tobytes() for row in np.unique(np.packbits(~observed, axis=1), axis=0))
    return _MissingSummary(len(X), int(np.count_nonzero(observed.any(axis=1))), observed.sum(axis=0),
                           np.where(observed, X, 0.0).sum(axis=0), low, high, patterns)


def _missing_scatter_chunk(block, mean):
    centred = np.asarray(block, dtype=float) - mean
    return np.nansum(centred * centred, axis=0)


def _missing_chunk(block, params, centre):
    """The map step of the missing-data normal: one chunk's E-step and statistics."""
    data = missing._group_for_params(np.asarray(block, dtype=float))
    expectations, log_norm = missing.e_step(data, params)
    X_hat = expectations.X_hat[data.used] - centre
    return _MissingStatistics(len(X_hat), X_hat.sum(axis=0), X_hat.T @ X_hat,
                              expectations.cov_correction), float(np.sum(log_norm))


def _missing_e_step(blocks, params, previous, *, centre, split_every):
    chunk = _dask().delayed(_missing_chunk, pure=True)
    return _compute(chunk_tree_sum([chunk(block, params, centre) for block in blocks], split_every))[0]


def _rows_observing_chunk(block, columns):
    return int(np.count_nonzero(np.all(~np.isnan(np.asarray(block, dtype=float)[:, columns]), axis=1)))


def _rows_observing(blocks, columns) -> int:
    chunk = _dask().delayed(_rows_observing_chunk, pure=True)
    return int(_compute(chunk_tree_sum([chunk(block, columns) for block in blocks]))[0])


def _missing_m_step(blocks, stats, params, *, centre, reg_covar):
    n = stats.n_used
    offset = stats.sums / n
    scatter = stats.scatter - n * np.outer(offset, offset)  # about the mean (:eq:`gmm-shifted-scatter`)
    return missing.m_step_from_statistics(n, centre + offset, scatter, stats.cov_correction, reg_covar=reg_covar,
                                          rows_observing=partial(_rows_observing, blocks))


def _missing_slack(blocks, stats, old_params, new_params, *, reg_covar):
    return missing._slack(stats.n_used, old_params, new_params, reg_covar)


def fit_missing(X, *, mean=None, covariance=None, reg_covar: float = 0.0, tol: float = 1e-4,
                max_iter: int = 1000, record: bool = False, split_every: int = SPLIT_EVERY) -> EMResult:
    """Fit the normal with missing values (NaN) to the Dask array ``X`` by map-reduce EM.

    The settings mean what they mean in :func:`emtutor.missing.fit`, and the
    checks of ``X`` are its checks (made from two passes over the chunks).
    Each chunk's statistics are :eq:`mr-missing-statistics`.
    ``result.expectations`` is the summed statistics of the last E-step
    (the filled-in data are never gathered); ``result.n_patterns`` is added,
    the number of distinct missingness patterns.
    """
    X, blocks, offsets = _row_chunks(X)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    split_every = check_positive_int(split_every, "split_every", 2)
    dask = _dask()
    parts = [dask.delayed(_missing_summary_chunk, pure=True)(block, offset, "X")
             for block, offset in zip(blocks, offsets)]
    while len(parts) > 1:  # a tree of summaries (the union of patterns is not a plain sum)
        parts = [dask.delayed(_add_summaries, pure=True)(*parts[i : i + split_every])
                 for i in range(0, len(parts), split_every)]
    (summary,) = _compute(parts[0])
    n_features = X.shape[1]
    missing._check_estimable(X.shape, summary.n_observed, summary.high > summary.low, summary.n_used)
    observed_mean = summary.sums / summary.n_observed
    chunk = dask.delayed(_missing_scatter_chunk, pure=True)
    (scatter,) = _compute(chunk_tree_sum([chunk(block, observed_mean) for block in blocks], split_every))
    default = missing.MissingNormalParams(observed_mean, np.diag(scatter / summary.n_observed))
    if covariance is None and not np.all(np.diag(default.covariance) > missing._MIN_VARIANCE):
        j = int(np.flatnonzero(~(np.diag(default.covariance) > missing._MIN_VARIANCE))[0])
        raise ValueError(
            f"the observed values of column {j} of X have variance {default.covariance[j, j]:.3g}, "
            f"below {missing._MIN_VARIANCE:g}: rescale X"
        )
    params = missing.check_params(missing.MissingNormalParams(
        default.mean if mean is None else mean, default.covariance if covariance is None else covariance),
        n_features)
    centre = observed_mean
    result = run_em(blocks, params, e_step=partial(_missing_e_step, centre=centre, split_every=split_every),
                    m_step=partial(_missing_m_step, centre=centre, reg_covar=reg_covar),
                    m_step_slack=partial(_missing_slack, reg_covar=reg_covar) if reg_covar > 0 else None,
                    n_observations=X.shape[0], tol=tol, max_iter=max_iter, record=record)
    result.n_patterns = len(summary.patterns)
    return result


# --------------------------------------------------------------------------
# Latent Dirichlet allocation


class _LDAStatistics(NamedTuple):
    topic_word_counts: np.ndarray
    log_theta_sum: np.ndarray  # sum over documents with words of E log theta[d]
    n_used: int
    doc_elbo: float


class LDAChunkedExpectations(NamedTuple):
    """What the map-reduce E-step of LDA keeps: the summed statistics and every chunk's ``gamma``.

    Attributes
    ----------
    statistics : tuple
        ``topic_word_counts``, ``log_theta_sum`` (over the documents with
        words), ``n_used`` and the documents' ELBO, each summed over chunks.
    gamma : list of ndarray
        The variational Dirichlet parameters of each chunk's documents,
        the next E-step's ``previous`` (:eq:`lda-e-step-guard`).
    """

    statistics: Any
    gamma: list


def _lda_tokens_chunk(block, offset, name):
    try:
        counts = lda.as_count_matrix(block, name)
    except ValueError as error:
        raise ValueError(f"{error} (in the chunk of rows from {offset})") from None
    return float(counts.data.sum())


def _lda_chunk(block, params, previous_gamma, tol, max_iter, warm_start):
    """The map step of LDA: one chunk's E-step from its previous ``gamma``, its statistics and ``gamma``."""
    X = lda.as_count_matrix(block)
    previous = None if previous_gamma is None else lda.LDAExpectations(previous_gamma, None, None)
    expectations, _ = lda.e_step(X, params, previous, tol=tol, max_iter=max_iter, warm_start=warm_start)
    used = np.diff(X.indptr) > 0
    log_theta_sum = lda._log_theta_sum(expectations.gamma[used]) if np.any(used) else 0.0
    return _LDAStatistics(expectations.topic_word_counts, log_theta_sum, int(used.sum()),
                          float(expectations.doc_elbo.sum())), expectations.gamma


def _first(pair):
    return pair[0]


def _second(pair):
    return pair[1]


def _lda_e_step(blocks, params, previous, *, tol, max_iter, warm_start, split_every):
    dask = _dask()
    gammas = [None] * len(blocks) if previous is None else previous.gamma
    pairs = [dask.delayed(_lda_chunk, pure=True)(block, params, gamma, tol, max_iter, warm_start)
             for block, gamma in zip(blocks, gammas)]
    stats = chunk_tree_sum([dask.delayed(_first, pure=True)(pair) for pair in pairs], split_every)
    gammas = [dask.delayed(_second, pure=True)(pair) for pair in pairs]
    stats, *gammas = _compute(stats, *gammas)
    elbo = stats.doc_elbo + lda._topic_elbo(params, lda.expected_log_beta(params))
    return LDAChunkedExpectations(stats, list(gammas)), elbo


def _lda_m_step(blocks, expectations, params, *, fit_alpha):
    stats = expectations.statistics
    return lda.m_step_from_statistics(stats.topic_word_counts, stats.log_theta_sum, stats.n_used, params,
                                      fit_alpha=fit_alpha)


def fit_lda(X, n_components: int, *, alpha=None, eta=None, fit_alpha: bool = False, topic_word=None,
            tol: float = 1e-5, max_iter: int = 100, e_step_tol: float = 1e-3, max_e_step_iter: int = 100,
            warm_start: bool = False, n_init: int | None = None, init_max_iter: int | None = 20,
            search: bool = True, random_state=None, record: bool = False,
            split_every: int = SPLIT_EVERY) -> EMResult:
    """Fit LDA to the Dask array ``X`` of word counts (n_docs, n_words) by map-reduce EM.

    The settings mean what they mean in :func:`emtutor.lda.fit`, the starts
    (``n_init``, ``init_max_iter``) and the ``search`` with fresh E-steps
    included: each start and phase is a map-reduce run, and the best start
    continues.  Each chunk of documents is turned into a
    sparse count matrix and checked by :func:`emtutor.lda.as_count_matrix`;
    its statistics are :eq:`mr-lda-statistics`, and its documents' ``gamma``
    come back with them.  ``result.expectations`` is an
    :class:`LDAChunkedExpectations`; ``result.gamma`` (added) is all the
    documents' ``gamma`` in row order; ``result.restarts`` and
    ``result.n_search_iter`` as in :class:`emtutor.lda.LDAResult`.
    """
    X, blocks, offsets = _row_chunks(X)
    n_components = check_positive_int(n_components, "n_components")
    e_step_tol = check_nonnegative(e_step_tol, "e_step_tol")
    max_e_step_iter = check_positive_int(max_e_step_iter, "max_e_step_iter")
    split_every = check_positive_int(split_every, "split_every", 2)
    n_init, init_max_iter = lda.check_restarts(n_init, init_max_iter, topic_word)
    search = check_flag(search, "search")
    chunk = _dask().delayed(_lda_tokens_chunk, pure=True)
    (n_tokens,) = _compute(chunk_tree_sum([chunk(block, offset, "X") for block, offset in zip(blocks, offsets)],
                                          split_every))
    if n_tokens <= 0:
        raise ValueError("X has no words at all; LDA needs at least one token to fit")
    shape_only = sp.csr_matrix((1, X.shape[1]))
    rng = as_rng(random_state)

    step = partial(_lda_e_step, tol=e_step_tol, max_iter=max_e_step_iter, warm_start=bool(warm_start),
                   split_every=split_every)

    def run(params, iterations, previous=None, fresh=False):
        return run_em(
            blocks, params, e_step=lda.fresh_e_step(step) if fresh else step,
            m_step=partial(_lda_m_step, fit_alpha=bool(fit_alpha)),
            n_observations=n_tokens, tol=tol, max_iter=iterations, record=record, objective_name="ELBO",
            previous_expectations=previous, monotone=not fresh)

    result, summary, n_search = lda.best_of_starts(
        lambda: lda._initial_params(shape_only, n_components, alpha, eta, topic_word, rng), run,
        n_init=n_init, init_max_iter=init_max_iter, tol=tol, max_iter=max_iter, n_tokens=n_tokens,
        search=search)
    result.restarts = summary
    result.n_search_iter = n_search
    result.gamma = np.concatenate(result.expectations.gamma)
    return result
