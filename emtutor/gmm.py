"""Gaussian mixture models fitted by EM, computed in log space.

The model: ``p(x) = sum_k weights[k] N(x | means[k], covariances[k])``
(:eq:`gmm-density`).  The E-step (:func:`e_step`) computes the
responsibilities ``resp[n, k]`` of :eq:`gmm-e-step` from log densities and
log weights normalised with log-sum-exp (:eq:`logsumexp`), so points far
from every component still get finite responsibilities.  The M-step
(:func:`m_step`) is :eq:`gmm-m-weights`, :eq:`gmm-m-means` and
:eq:`gmm-m-covariances`.  :func:`fit` runs them with the generic driver
:func:`emtutor.em.run_em`.

Four covariance types share that code; what differs between them is kept
in one small dispatch table, :data:`COVARIANCE_TYPES`:

===============  ==========================================  =====================
type             ``covariances`` of shape                    meaning
===============  ==========================================  =====================
``"full"``       (n_components, n_features, n_features)      one matrix each
``"diag"``       (n_components, n_features)                  diagonal matrices
``"spherical"``  (n_components,)                             ``variance * I`` each
``"tied"``       (n_features, n_features)                    one matrix shared
===============  ==========================================  =====================

Speed.  Both steps go through the rows of ``X`` in blocks of a few hundred
to a few thousand rows, so every temporary array stays in the processor's
cache, and the blocks are shared out among as many threads as numpy's BLAS
may use (each thread then runs BLAS single-threaded; numpy releases the
interpreter lock in its array operations).  For full covariances the
E-step of a block is one matrix product against all the components'
precision Cholesky factors at once (:eq:`gmm-blocked-mahalanobis`); the
M-step accumulates each block's centred second moments, all components'
at once, as one more matrix product (:eq:`gmm-shifted-scatter`).
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import cache, partial, reduce
from typing import Callable, NamedTuple

import numpy as np

from ._validation import (
    as_data_matrix,
    as_rng,
    check_nonnegative,
    check_positive_int,
    check_probability_vector,
    check_shape,
    check_spd,
    check_spd_stack,
)
from .em import EMResult, run_em

__all__ = [
    "COVARIANCE_TYPES",
    "INIT_METHODS",
    "GMMParams",
    "GMMResult",
    "RestartSummary",
    "best_restart",
    "log_gaussian_density",
    "e_step",
    "m_step",
    "GMMStatistics",
    "statistics",
    "m_step_from_statistics",
    "log_likelihood",
    "regularisation_slack",
    "initial_params",
    "kmeans_plusplus",
    "n_parameters",
    "full_covariances",
    "check_params",
    "fit",
]

_LOG_2PI = np.log(2.0 * np.pi)

#: Floats per temporary array of a block (1 MiB): small enough for the cache,
#: large enough that numpy's per-call overhead is small.  That overhead holds
#: the GIL, so it also limits how well blocks run in parallel: at n=1e6, d=16,
#: k=8 (full) an iteration on 2 threads took 581 ms with 2**16 floats (slower
#: than 1 thread's 533 ms) and 399 ms with 2**17 (1 thread 561 ms; medians of
#: 5, benchmarks/gmm_vs_sklearn.py's problem).  The size must not depend on
#: the number of threads: the blocks fix the order of the sums.
_BLOCK_FLOATS = 2**17


class CollapsedComponentError(ValueError):
    """A component's covariance became singular: it has collapsed onto too few
    points, where the likelihood grows without bound.  ``component`` is its index;
    the message suggests ``reg_covar``.  The hidden Markov models re-raise it
    naming the state."""

    def __init__(self, component: int, what: str, problem: str, unit: str = "component"):
        self.component, self.what, self.problem = component, what, problem
        super().__init__(
            f"the {what} of {unit} {component} {problem} (the {unit} has collapsed onto "
            f"too few points); increase reg_covar, use fewer {unit}s, or start from other "
            "initial parameters"
        )


class GMMParams(NamedTuple):
    """Parameters of a Gaussian mixture.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights, non-negative, summing to 1.
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        Shape depends on the covariance type (see :data:`COVARIANCE_TYPES`):
        (n_components, n_features, n_features) for ``"full"``, the default.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


def _block_rows(row_width: int) -> int:
    """Rows per block so that a (rows, row_width) temporary fits the cache."""
    return int(np.clip(_BLOCK_FLOATS // row_width, 256, 4096))


def _column_sums(array: np.ndarray) -> np.ndarray:
    """``array.sum(axis=0)`` for a tall array with few columns, one column at a time.

    NumPy sums a C-ordered ``(n, k)`` array over its rows ``k`` numbers at a
    time, about ten times slower than summing each strided column (and
    without pairwise summation's accuracy); ``ones @ array`` would be faster
    still, but its rounding would depend on BLAS's threads.
    """
    return np.array([array[:, j].sum() for j in range(array.shape[1])])


def _blocks(n_samples: int, rows: int):
    for start in range(0, n_samples, rows):
        yield slice(start, min(start + rows, n_samples))


#: The blocks are handed out in at most this many runs of consecutive blocks.
_MAX_RUNS = 64

#: A thread is used only if there are at least this many blocks per thread:
#: handing work to a thread costs about as much as a few small blocks.
_MIN_BLOCKS_PER_THREAD = 8


@cache
def _blas():
    """threadpoolctl's controller of the BLAS libraries loaded (found once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


_pool: tuple[int, int, ThreadPoolExecutor] | None = None


def _thread_pool(n_threads: int) -> ThreadPoolExecutor:
    """A pool of ``n_threads`` worker threads, kept for the next call (a forked child makes its own)."""
    global _pool
    if _pool is None or _pool[:2] != (os.getpid(), n_threads):
        if _pool is not None and _pool[0] == os.getpid():
            _pool[2].shutdown(wait=False)
        _pool = (os.getpid(), n_threads, ThreadPoolExecutor(n_threads, thread_name_prefix="emtutor-gmm"))
    return _pool[2]


def _map_blocks(work: Callable, n_samples: int, rows: int) -> list:
    """``[work(run) for run in runs]``, the runs computed in parallel.

    The blocks of ``rows`` rows are grouped into at most :data:`_MAX_RUNS`
    runs of consecutive blocks, and ``work`` is called on each run (the list
    of its blocks' slices); it must write only to the rows of its blocks.
    The runs go to as many threads as BLAS may use (its thread setting, by
    default the number of cores, is how a user says how many cores numpy may
    use, e.g. with ``threadpoolctl.threadpool_limits``), each thread taking
    the next run when it is done with one, so a thread that the system
    holds up delays the others by one run at most.  While they run, BLAS is
    limited to one thread: the products of a block are too small to share
    out, and BLAS threads waiting for a core that another thread (or another
    process) holds only slow them down.  The runs, and so the results in
    their order, do not depend on the number of threads: sums of them are
    the same to the last bit however many cores computed them.
    """
    slices = list(_blocks(n_samples, rows))
    per_run = -(-len(slices) // _MAX_RUNS)
    runs = [slices[i : i + per_run] for i in range(0, len(slices), per_run)]
    blas = _blas()
    blas_threads = [lib.num_threads for lib in blas.lib_controllers]
    if all(n == 1 for n in blas_threads):
        return [work(run) for run in runs]
    n_threads = max(1, min(min(blas_threads), len(slices) // _MIN_BLOCKS_PER_THREAD, len(runs)))
    with blas.limit(limits=1):
        if n_threads == 1:
            return [work(run) for run in runs]
        results = [None] * len(runs)
        queue = iter(range(len(runs)))
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    i = next(queue, None)
                if i is None:
                    return
                results[i] = work(runs[i])

        for done in [_thread_pool(n_threads).submit(worker) for _ in range(n_threads)]:
            done.result()  # re-raises a worker's exception
        return results


# ---------------------------------------------------------------------------
# Full covariances: the general case.
# ---------------------------------------------------------------------------


def _precision_cholesky_full(covariances) -> np.ndarray:
    """Upper-triangular ``P[k]`` with ``inv(covariances[k]) = P[k] @ P[k].T``.

    ``P[k]`` is the transposed inverse of the Cholesky factor ``L[k]`` of
    ``covariances[k] = L[k] @ L[k].T``.  (numpy's batched inverse is used
    rather than a triangular solve per component: for small matrices it is
    much cheaper per call.)
    """
    try:
        chol = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        k = next(k for k, cov in enumerate(covariances) if not _is_positive_definite(cov))
        raise CollapsedComponentError(k, "covariance", "is not positive definite") from None
    return np.tril(np.linalg.inv(chol)).transpose(0, 2, 1)


def _is_positive_definite(matrix) -> bool:
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def _prepare_full(means, covariances):
    """Everything the E-step of a block needs, computed once per E-step.

    The centre (the average of the means) is subtracted from the data and
    the means before the product, so data far from the origin lose no
    digits.  For every component ``k`` the rows of ``[-P_k^T (mu_k - c),
    P_k^T]``, times a column ``(1, x - c)``, give ``(x - mu_k) P_k``.  As
    ``P_k`` is upper triangular, entry ``j`` of that needs only the first
    ``j + 1`` features: the entries are computed in two halves, the first
    half's factors cut to the first half of the features.
    """
    n_components, n_features = means.shape
    prec_chol = _precision_cholesky_full(covariances)
    centre = means.mean(axis=0)
    rows = np.empty((n_components, n_features, n_features + 1))
    rows[:, :, 0] = -np.einsum("ki,kij->kj", means - centre, prec_chol)
    rows[:, :, 1:] = prec_chol.transpose(0, 2, 1)
    halves = [(0, n_features // 2), (n_features // 2, n_features)] if n_features > 1 else [(0, 1)]
    # for the entries a <= j < b: (K * (b - a), b + 1), rows (k, j), columns (1, features 0..b-1)
    factors = [np.ascontiguousarray(rows[:, a:b, : b + 1]).reshape(-1, b + 1) for a, b in halves]
    log_det = np.sum(np.log(np.diagonal(prec_chol, axis1=1, axis2=2)), axis=1)  # log|P_k|
    constants = log_det - 0.5 * n_features * _LOG_2PI
    # A component whose mean is far from the centre in its own units (a
    # narrow or collapsing one): near its mean the product's terms
    # (x - c) P_k and (mu_k - c) P_k are huge and cancel, and the rounding of
    # the product's sums would swamp the result (at sigma = 1e-50 a point on
    # the mean got a density of 0 instead of 1e100).  Those get the direct
    # form ||(x - mu_k) P_k||^2, as diagonal covariances do (_DIAG_OFFSET_LIMIT).
    offsets = np.sum(rows[:, :, 0] ** 2, axis=1)
    direct = np.flatnonzero(~(offsets <= _DIAG_OFFSET_LIMIT))
    far = (direct, means[direct], prec_chol[direct], constants[direct])
    return centre, halves, factors, constants, far


def _log_density_full_block(X_block, prepared) -> np.ndarray:
    centre, halves, factors, constants, (direct, far_means, far_chol, far_constants) = prepared
    n_components, (n_rows, n_features) = len(constants), X_block.shape
    # The block transposed, minus the centre, below a row of ones: one column
    # (1, x_n - c) per point, so that a product gives for every n and k
    # (x_n - c) P_k - (mu_k - c) P_k = (x_n - mu_k) P_k, row (k, j), column n.
    centred = np.empty((n_features + 1, n_rows))
    centred[0] = 1.0
    np.subtract(X_block.T, centre[:, None], out=centred[1:])
    mahalanobis = np.zeros((n_components, n_rows))
    for (a, b), factor in zip(halves, factors):
        projected = factor @ centred[: b + 1]
        projected *= projected
        mahalanobis += np.add.reduce(projected.reshape(n_components, b - a, n_rows), axis=1)
    mahalanobis *= -0.5
    mahalanobis += constants[:, None]
    for k, mean, chol, constant in zip(direct, far_means, far_chol, far_constants):
        z = (X_block - mean) @ chol
        mahalanobis[k] = constant - 0.5 * np.einsum("ni,ni->n", z, z)
    # (B, K), stored column by column: the E-step works on its K columns
    return mahalanobis.T


def _product_groups(n_features: int) -> list[tuple[int, int]]:
    """Rows ``[a, b)`` whose products with the rows ``a:`` make up the upper triangle.

    All the products ``x_i x_j`` with ``i <= j`` of a block are computed in
    these few numpy calls (a few products below the diagonal come along and
    are not used); about four groups, so that numpy's cost per call stays
    small next to the work.
    """
    size = -(-n_features // 4)
    return [(a, min(a + size, n_features)) for a in range(0, n_features, size)]


def _covariances_full(X, resp, counts, means, reg_covar, check: bool = True) -> np.ndarray:
    """:eq:`gmm-m-covariances` from second moments accumulated block by block.

    The moments are taken about the data mean ``c`` (:eq:`gmm-shifted-scatter`):
    ``Sigma_k = sum_n r_nk (x_n - c)(x_n - c)^T / N_k - (mu_k - c)(mu_k - c)^T``;
    the sums are :func:`_scatter_full`'s, the rest is
    :func:`_covariances_from_scatter`.  For a component whose mean is far from ``c``
    compared with its spread (more
    than about ``sqrt(_DIAG_OFFSET_LIMIT)`` standard deviations along a
    coordinate) that difference cancels, so its scatter is recomputed
    about its own mean.
    """
    centre = counts @ means / counts.sum()  # the data mean
    return _covariances_from_scatter(_scatter_full(X, resp, centre), counts, means, centre, reg_covar,
                                     partial(_far_scatter, X, resp), check)


def _scatter_full(X, resp, centre) -> np.ndarray:
    """``sum_n r_nk (x_n - c)(x_n - c)^T`` for every component, shape (n_components, n_features, n_features).

    For a block, the products ``(x_n - c)_i (x_n - c)_j`` with ``i <= j`` are
    formed once, and one matrix product with the responsibilities sums them
    for all components (:eq:`gmm-shifted-scatter`).
    """
    n_components, n_features = resp.shape[1], X.shape[1]
    groups = _product_groups(n_features)
    # where the product of features i <= j lands among a block's products
    column, start = np.zeros((n_features, n_features), dtype=np.intp), 0
    for a, b in groups:
        column[a:b, a:] = start + np.arange((b - a) * (n_features - a)).reshape(b - a, n_features - a)
        start += (b - a) * (n_features - a)
    n_products = start

    def work(slices):
        moments = np.zeros((n_components, n_products))
        for rows in slices:
            n_rows = rows.stop - rows.start
            centred = np.subtract(X[rows].T, centre[:, None], order="C")  # (D, B): rows contiguous
            products = np.empty((n_products, n_rows))
            start = 0
            for a, b in groups:
                size = (b - a) * (n_features - a)
                np.multiply(centred[a:b, None], centred[None, a:],
                            out=products[start : start + size].reshape(b - a, n_features - a, n_rows))
                start += size
            moments += resp[rows].T @ products.T
        return moments

    moments = sum(_map_blocks(work, len(X), _block_rows(n_products)))
    upper_i, upper_j = np.triu_indices(n_features)
    second_moments = np.empty((n_components, n_features, n_features))
    second_moments[:, upper_i, upper_j] = moments[:, column[upper_i, upper_j]]
    second_moments[:, upper_j, upper_i] = second_moments[:, upper_i, upper_j]
    return second_moments


def _far_scatter(X, resp, far, far_means, diagonal: bool = False) -> np.ndarray:
    """``sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T`` about each listed component's own mean.

    ``far`` are component indices, ``far_means`` their means; with
    ``diagonal`` only the diagonal, shape (len(far), n_features), else
    (len(far), n_features, n_features).  The second pass the M-step makes
    for components whose mean is far from the centre of the moments.
    """
    n_features = X.shape[1]
    if diagonal:
        exact = np.zeros((len(far), n_features))
        for rows in _blocks(len(X), _block_rows(len(far) * n_features)):
            diff = X[rows, None, :] - far_means
            exact += np.einsum("nk,nki->ki", resp[rows][:, far], diff * diff)
        return exact
    exact = np.zeros((len(far), n_features, n_features))
    for rows in _blocks(len(X), _block_rows(len(far) * n_features * n_features)):
        diff = X[rows, None, :] - far_means  # (B, F, d)
        weighted = resp[rows][:, far, None] * diff
        exact += np.einsum("nfi,nfj->fij", weighted, diff)
    return exact


def _covariances_from_scatter(scatter, counts, means, centre, reg_covar, far_scatter, check: bool = True) -> np.ndarray:
    """:eq:`gmm-m-covariances` from the summed scatter about ``centre`` (:eq:`gmm-shifted-scatter`).

    ``far_scatter(far, far_means)`` is asked, only for components whose mean
    is far from ``centre`` compared with their spread, for their scatter
    about their own means (a second pass over the data; see :func:`_far_scatter`).
    """
    n_components, n_features = means.shape
    second_moments = scatter / counts[:, None, None]
    shifted = means - centre
    covariances = second_moments - shifted[:, :, None] * shifted[:, None, :]
    variances = np.diagonal(covariances, axis1=1, axis2=2)
    far = np.flatnonzero(np.any(~(shifted**2 <= _DIAG_OFFSET_LIMIT * variances), axis=1))
    # Rounding of the moments about a point a: eps times their size M, plus
    # eps |a| sqrt(M) from the rounding of x - a itself (data far from the
    # origin are known to eps |x| only).
    size = np.max(np.diagonal(second_moments, axis1=1, axis2=2), axis=1)
    about = np.full(n_components, np.max(np.abs(centre)))
    exact = far_scatter(far, means[far]) if len(far) else None
    if exact is not None:  # None: no second pass (a one-pass method); the moments about the centre stand
        covariances[far] = exact / counts[far, None, None]
        size[far] = np.max(np.diagonal(covariances[far], axis1=1, axis2=2), axis=1)
        about[far] = np.max(np.abs(means[far]), axis=1)
    noise = 100 * n_features * np.finfo(float).eps * (size + about * np.sqrt(size))
    covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
    if check:  # with reg_covar too small for the data's scale, it can still collapse
        _check_not_collapsed(covariances, noise)
    return covariances


def _check_not_collapsed(covariances, noise) -> None:
    """Raise if a covariance is singular up to the rounding of its computation.

    ``Sigma_k`` is a difference of second moments of size up to
    ``max diag(second_moments[k])``, so eigenvalues below a few hundred
    ``eps`` of that (``noise[k]``) are rounding noise: the component has
    collapsed onto fewer than ``n_features + 1`` points (or onto a
    subspace), and its likelihood is unbounded.
    """
    smallest = np.linalg.eigvalsh(covariances)[:, 0]
    for k in np.flatnonzero(~(smallest > noise)):
        raise CollapsedComponentError(int(k), "covariance", "is not positive definite")


# ---------------------------------------------------------------------------
# Diagonal covariances (spherical ones are diagonal with equal entries).
# ---------------------------------------------------------------------------


#: A component whose mean is more than about sqrt(_DIAG_OFFSET_LIMIT) of its
#: standard deviations from the centre ``c`` gets its log density computed
#: directly: in the expanded form :eq:`gmm-diag-log-density` the terms
#: ``(mu - c)^2 / sigma^2`` would be that large and cancel, losing that many
#: digits (eps * 1e3 is about 2e-13 at the limit).
_DIAG_OFFSET_LIMIT = 1e3


def _prepare_diag(means, variances):
    """Precompute :eq:`gmm-diag-log-density` for the E-step of each block.

    Components whose means lie far from the centre, measured in their own
    standard deviations, are set apart for the direct form
    ``-1/2 sum_i ((x_i - mu_ki) / sigma_ki)^2`` (see ``_DIAG_OFFSET_LIMIT``).
    """
    n_components, n_features = means.shape
    if np.any(~(variances > 1.0 / np.finfo(float).max)):  # 1 / variance must not overflow
        k = int(np.argwhere(~(variances > 1.0 / np.finfo(float).max))[0][0])
        raise CollapsedComponentError(k, "variances", "are not all positive")
    precisions = 1.0 / variances
    centre = means.mean(axis=0)
    shifted = means - centre
    offsets = np.sum(shifted**2 * precisions, axis=1)
    direct = np.flatnonzero(~(offsets <= _DIAG_OFFSET_LIMIT))
    log_dets = np.sum(np.log(variances), axis=1)
    constants = -0.5 * (n_features * _LOG_2PI + log_dets + offsets)
    linear, quadratic = (shifted * precisions).T, -0.5 * precisions.T
    linear[:, direct] = 0.0  # those columns are overwritten by the direct form
    quadratic[:, direct] = 0.0
    far = (direct, means[direct], np.sqrt(precisions[direct]), -0.5 * (n_features * _LOG_2PI + log_dets[direct]))
    return centre, linear, quadratic, np.where(offsets <= _DIAG_OFFSET_LIMIT, constants, 0.0), far


def _far_log_densities(X_block, far):
    """The direct form for the components set apart by :func:`_prepare_diag`: (rows, (n_far, rows)) pairs."""
    direct, far_means, far_scales, far_constants = far
    step = max(1, _BLOCK_FLOATS // far_means.size)
    for rows in _blocks(len(X_block), step):
        z = (X_block[rows, None, :] - far_means) * far_scales  # (rows, n_far, d)
        yield rows, (far_constants - 0.5 * np.einsum("nki,nki->nk", z, z)).T


def _log_density_diag_block(X_block, prepared) -> np.ndarray:
    centre, linear, quadratic, constants, far = prepared
    centred = X_block - centre
    log_dens = constants + centred @ linear + (centred * centred) @ quadratic
    for rows, values in _far_log_densities(X_block, far) if len(far[0]) else ():
        log_dens[rows, far[0]] = values.T
    return log_dens


def _log_density_diag_block_t(X_block, prepared, scratch=None) -> np.ndarray:
    """:func:`_log_density_diag_block` transposed, shape (k, B), computed that way.

    The E-step works on the (k, B) layout; products into it
    (``linear^T centred^T``) spare the transposing copy of a (B, k) result,
    about a quarter of the E-step for diagonal covariances.  ``scratch``, an
    array of at least B rows and X's columns, holds the centred block (the
    E-step reuses one for all its blocks: a fresh block-sized array costs
    page faults on every block).
    """
    centre, linear, quadratic, constants, far = prepared
    centred = np.subtract(X_block, centre, out=None if scratch is None else scratch[: len(X_block)])
    log_dens = linear.T @ centred.T
    centred *= centred
    log_dens += quadratic.T @ centred.T
    log_dens += constants[:, None]
    for rows, values in _far_log_densities(X_block, far) if len(far[0]) else ():
        log_dens[far[0], rows] = values
    return log_dens


def _diag_moments(X, resp, counts, means) -> tuple:
    """Per-feature variances of each component about its own mean, and their rounding noise.

    Second moments are accumulated about the data mean ``c``, then
    ``var = sum_n r_nk (x_n - c)^2 / N_k - (mu_k - c)^2`` (the diagonal of
    :eq:`gmm-shifted-scatter`).  For a component whose mean is far from
    ``c`` compared with its spread that difference cancels, so its
    variances are recomputed about its own mean,
    ``sum_n r_nk (x_n - mu_k)^2 / N_k``.  The noise is the level below
    which such a variance is not resolved: the points are known to
    ``eps |x|`` only, so a standard deviation below ``100 eps |x|`` (for the
    size ``|x|`` of the component's points) is off by more than 1% of itself,
    and the log densities computed from it are rounding noise.
    """
    centre = counts @ means / counts.sum()  # the data mean
    return _diag_from_scatter(_scatter_diag(X, resp, centre), counts, means, centre,
                              partial(_far_scatter, X, resp, diagonal=True))


def _scatter_diag(X, resp, centre) -> np.ndarray:
    """``sum_n r_nk (x_n - c)^2`` per feature for every component, shape (n_components, n_features)."""
    n_components, n_features = resp.shape[1], X.shape[1]

    def work(slices):
        second = np.zeros((n_components, n_features))
        for rows in slices:
            centred = X[rows] - centre
            second += resp[rows].T @ (centred * centred)
        return second

    return sum(_map_blocks(work, len(X), _block_rows(max(n_components, n_features))))


def _diag_from_scatter(scatter, counts, means, centre, far_scatter) -> tuple:
    """Variances and their rounding noise (see :func:`_diag_moments`) from the summed scatter about ``centre``."""
    n_features = means.shape[1]
    second = scatter / counts[:, None]
    shift2 = (means - centre) ** 2
    variances = second - shift2
    far = np.flatnonzero(np.any(~(shift2 <= _DIAG_OFFSET_LIMIT * variances), axis=1))
    exact = far_scatter(far, means[far]) if len(far) else None
    if exact is not None:
        variances[far] = exact / counts[far, None]
    noise = (100 * np.finfo(float).eps * (np.abs(centre) + np.sqrt(second))) ** 2
    if len(far) and exact is None:
        # no second pass: the variance stands as a difference of moments of size second,
        # so it is known to eps * second only (the full covariances' size term)
        noise[far] = np.maximum(noise[far], 100 * np.finfo(float).eps * second[far])
    return variances, noise


def _variances_diag(scatter, counts, means, centre, n_samples, reg_covar, far_scatter) -> np.ndarray:
    """Per-feature variances of each component: the diagonal of :eq:`gmm-m-covariances`.

    A variance (with ``reg_covar`` added) at its rounding level means the
    component has collapsed (its likelihood is unbounded, or ``reg_covar``
    is too small for the scale of the data): that raises, as for full
    covariances.
    """
    variances, noise = _diag_from_scatter(scatter, counts, means, centre, partial(far_scatter, diagonal=True))
    variances += reg_covar
    _check_variances(variances, noise)
    return variances


def _check_variances(variances, noise) -> None:
    for k in np.flatnonzero(np.any(~(variances > noise), axis=-1) if variances.ndim > 1 else ~(variances > noise)):
        raise CollapsedComponentError(int(k), "variances", "are not all positive")


# ---------------------------------------------------------------------------
# The dispatch table.
# ---------------------------------------------------------------------------


class _CovarianceType(NamedTuple):
    shape: Callable  # (k, d) -> shape of the covariances array
    prepare: Callable  # (means, covariances) -> what the E-step of a block needs
    log_density_block: Callable  # (X_block, prepared) -> (B, k) log densities
    scatter: Callable  # (X, resp, centre) -> the sums the covariances need (GMMStatistics.scatter)
    # (scatter, counts, means, centre, n_samples, reg_covar, far_scatter) -> covariances
    estimate: Callable
    n_parameters: Callable  # (k, d) -> free parameters of the covariances
    to_full: Callable  # (covariances, k, d) -> (k, d, d)
    from_full: Callable  # (one (d, d) matrix, k) -> covariances of this type
    precision_trace: Callable  # (covariances, k, d) -> tr(inv(Sigma_k)) for each k
    row_width: Callable  # (k, d) -> floats per row of the E-step's widest temporary
    # (X_block, prepared) -> (k, B) log densities, when computing them transposed is cheaper
    log_density_block_t: Callable | None = None


def _spherical_estimate(scatter, counts, means, centre, n_samples, reg_covar, far_scatter):
    variances, noise = _diag_from_scatter(scatter, counts, means, centre, partial(far_scatter, diagonal=True))
    variances, noise = variances.mean(axis=1) + reg_covar, noise.mean(axis=1)
    _check_variances(variances, noise)
    return variances


def _tied_estimate(scatter, counts, means, centre, n_samples, reg_covar, far_scatter):
    # one component on a single point is fine here: only the shared matrix must be regular
    within = _covariances_from_scatter(scatter, counts, means, centre, 0.0, far_scatter, check=False)
    tied = np.einsum("k,kij->ij", counts, within) / n_samples
    noise = 100 * len(tied) * np.finfo(float).eps * np.max(np.abs(tied))
    tied.flat[:: len(tied) + 1] += reg_covar
    if not np.linalg.eigvalsh(tied)[0] > noise:
        raise ValueError(
            "the tied covariance is not positive definite (the points are collinear within "
            "their components up to rounding); increase reg_covar or use fewer features"
        )
    return tied


def _covariances_from_scatter_checked(scatter, counts, means, centre, n_samples, reg_covar, far_scatter):
    return _covariances_from_scatter(scatter, counts, means, centre, reg_covar, far_scatter)


def _expand(covariances, k, d):
    return np.broadcast_to(covariances, (k, d, d))


COVARIANCE_TYPES: dict[str, _CovarianceType] = {
    "full": _CovarianceType(
        shape=lambda k, d: (k, d, d),
        prepare=_prepare_full,
        log_density_block=_log_density_full_block,
        scatter=_scatter_full,
        estimate=_covariances_from_scatter_checked,
        n_parameters=lambda k, d: k * d * (d + 1) // 2,
        to_full=lambda c, k, d: c,
        from_full=lambda c, k: np.repeat(c[None], k, axis=0),
        precision_trace=lambda c, k, d: np.trace(np.linalg.inv(c), axis1=1, axis2=2),
        row_width=lambda k, d: k * d,
    ),
    "diag": _CovarianceType(
        shape=lambda k, d: (k, d),
        prepare=_prepare_diag,
        log_density_block=_log_density_diag_block,
        scatter=_scatter_diag,
        estimate=_variances_diag,
        n_parameters=lambda k, d: k * d,
        to_full=lambda c, k, d: c[:, :, None] * np.eye(d),
        from_full=lambda c, k: np.repeat(np.diag(c)[None], k, axis=0),
        precision_trace=lambda c, k, d: np.sum(1.0 / c, axis=1),
        row_width=lambda k, d: max(k, d),
        log_density_block_t=_log_density_diag_block_t,
    ),
    "spherical": _CovarianceType(
        shape=lambda k, d: (k,),
        prepare=lambda means, c: _prepare_diag(means, np.repeat(c[:, None], means.shape[1], axis=1)),
        log_density_block=_log_density_diag_block,
        scatter=_scatter_diag,
        estimate=_spherical_estimate,
        n_parameters=lambda k, d: k,
        to_full=lambda c, k, d: c[:, None, None] * np.eye(d),
        from_full=lambda c, k: np.full(k, np.trace(c) / len(c)),
        precision_trace=lambda c, k, d: d / c,
        row_width=lambda k, d: max(k, d),
        log_density_block_t=_log_density_diag_block_t,
    ),
    "tied": _CovarianceType(
        shape=lambda k, d: (d, d),
        prepare=lambda means, c: _prepare_full(means, _expand(c, *means.shape)),
        log_density_block=_log_density_full_block,
        scatter=_scatter_full,
        estimate=_tied_estimate,
        n_parameters=lambda k, d: d * (d + 1) // 2,
        to_full=_expand,
        from_full=lambda c, k: c.copy(),
        precision_trace=lambda c, k, d: np.full(k, np.trace(np.linalg.inv(c))),
        row_width=lambda k, d: k * d,
    ),
}
"""Covariance types by name (``"full"``, ``"diag"``, ``"spherical"``, ``"tied"``); each entry
holds the few functions that differ between them.

:meta hide-value:
"""


def _covariance_type(name) -> _CovarianceType:
    if not isinstance(name, str) or name not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {sorted(COVARIANCE_TYPES)}, got {name!r}")
    return COVARIANCE_TYPES[name]


def _precision_trace(params: GMMParams, covariance_type: str) -> np.ndarray:
    """``tr(inv(Sigma_k))`` for every component."""
    n_components, n_features = params.means.shape
    return COVARIANCE_TYPES[covariance_type].precision_trace(params.covariances, n_components, n_features)


def full_covariances(covariances, n_components: int, n_features: int, covariance_type: str = "full"):
    """Covariances of any type as an array of shape (n_components, n_features, n_features)."""
    return np.array(_covariance_type(covariance_type).to_full(np.asarray(covariances, float), n_components, n_features))


def n_parameters(n_components: int, n_features: int, covariance_type: str = "full") -> int:
    """Number of free parameters of the mixture (for BIC and AIC)."""
    cov = _covariance_type(covariance_type).n_parameters(n_components, n_features)
    return int(cov + n_components * n_features + n_components - 1)


# ---------------------------------------------------------------------------
# The steps.
# ---------------------------------------------------------------------------


def log_gaussian_density(X, means, covariances, covariance_type: str = "full") -> np.ndarray:
    """Log density of every point under every component.

    Implements :eq:`gaussian-log-density` through the upper-triangular
    precision Cholesky factor ``P_k`` (``inv(Sigma_k) = P_k P_k^T``): the
    log-determinant is ``-2 sum(log diag P_k)`` and the Mahalanobis term
    is ``|(x - mu_k) P_k|^2`` (:eq:`gmm-blocked-mahalanobis`); for diagonal
    and spherical covariances it is :eq:`gmm-diag-log-density`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    means : array of shape (n_components, n_features)
    covariances : array
        Of the shape that ``covariance_type`` asks for.
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"

    Returns
    -------
    log_dens : ndarray of shape (n_samples, n_components)
        ``log_dens[n, k] = log N(X[n] | means[k], covariances[k])``.

    Raises
    ------
    ValueError
        If a covariance is not positive definite (a collapsed component).
    """
    kind = _covariance_type(covariance_type)
    prepared = kind.prepare(means, covariances)
    log_dens = np.empty((len(X), len(means)))

    def work(slices):
        for rows in slices:
            log_dens[rows] = kind.log_density_block(X[rows], prepared)

    _map_blocks(work, len(X), _block_rows(kind.row_width(*means.shape)))
    return log_dens


def e_step(X, params: GMMParams, previous=None, *, covariance_type: str = "full") -> tuple[np.ndarray, np.ndarray]:
    """E-step: responsibilities of each component for each point.

    Implements :eq:`gmm-e-step` in log space: ``log weights[k] + log N(x_n
    | mu_k, Sigma_k)`` normalised over ``k`` with :eq:`logsumexp`.  The
    per-point normaliser is ``log p(x_n)``, whose sum is the log-likelihood
    :eq:`gmm-log-likelihood`.  Rows are processed in cache-sized blocks.
    ``X`` and ``params`` are trusted (validated by :func:`fit`; use
    :func:`log_likelihood` for a checked evaluation).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : GMMParams
    previous : ignored
        The previous responsibilities, which :func:`emtutor.em.run_em` hands
        every E-step; the exact posterior does not depend on them.
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
        Rows sum to 1.
    log_norm : ndarray of shape (n_samples,)
        ``log p(X[n])`` under ``params``.
    """
    kind = _covariance_type(covariance_type)
    weights, means, covariances = params
    prepared = kind.prepare(means, covariances)
    with np.errstate(divide="ignore"):  # a zero weight is log 0 = -inf: allowed
        log_weights = np.log(weights)
    transposed = kind.log_density_block_t is not None
    # With the (k, B) density blocks the responsibilities are stored (k, n) too
    # and returned as their (n, k) transpose: writing a (k, B) block into a
    # C-ordered (n, k) array is a strided copy that costs as much as the exp.
    resp = np.empty((len(weights), len(X))).T if transposed else np.empty((len(X), len(weights)))
    log_norm = np.empty(len(X))
    log_weights = log_weights[:, None]
    block_rows = _block_rows(kind.row_width(*means.shape))
    scratches = queue.SimpleQueue()  # one centred-block buffer per thread, reused across its blocks

    def work(slices):
        scratch = None
        if transposed:
            try:
                scratch = scratches.get_nowait()
            except queue.Empty:
                scratch = np.empty((block_rows, X.shape[1]))
        for rows in slices:
            # Transposed, (K, B): a row of the block has only K entries, and numpy
            # reduces many short rows slowly; the m of (logsumexp) and the sum over
            # components are then element-wise operations on K long rows.
            with np.errstate(over="ignore", invalid="ignore"):  # non-finite rows are reported below
                if transposed:
                    log_weighted = kind.log_density_block_t(X[rows], prepared, scratch)
                else:
                    log_weighted = np.ascontiguousarray(kind.log_density_block(X[rows], prepared).T)
            log_weighted += log_weights
            largest = np.maximum.reduce(log_weighted, axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):  # rows with no finite entry: reported below
                log_weighted -= largest
                weighted = np.exp(log_weighted, out=log_weighted)
                total = np.add.reduce(weighted, axis=0)
                np.divide(weighted, total, out=resp[rows].T)
                log_norm[rows] = largest + np.log(total)
        if scratch is not None:
            scratches.put(scratch)

    _map_blocks(work, len(X), block_rows)
    if not np.all(np.isfinite(log_norm)):
        n = int(np.flatnonzero(~np.isfinite(log_norm))[0])
        _check_finite(X[n], f"X[{n}]")
        for name, value in zip(GMMParams._fields, params):
            _check_finite(value, f"params.{name}")
        raise ValueError(
            f"row {n} of X has a log-density that float64 cannot represent under every "
            "component (it lies too far from all of them, measured in their standard "
            "deviations, or their weights are zero); rescale X or check the parameters"
        )
    return resp, log_norm


def m_step(X, resp, params: GMMParams | None = None, *, reg_covar: float = 0.0,
           covariance_type: str = "full") -> GMMParams:
    """M-step: weights, means and covariances from the responsibilities.

    Implements :eq:`gmm-m-weights`, :eq:`gmm-m-means` and
    :eq:`gmm-m-covariances` (restricted to the covariance type), then adds
    ``reg_covar`` to every covariance's diagonal.  The second moments are
    accumulated block by block about the data mean (:eq:`gmm-shifted-scatter`).
    The step is :func:`statistics` (the sums over the points, one pass)
    followed by :func:`m_step_from_statistics` (the parameters from the sums),
    which :mod:`emtutor.mapreduce` shares.  ``N_k`` gets a floor of
    ``10 * eps`` so an empty component gives zero (not NaN) statistics; its
    covariance is then singular unless ``reg_covar > 0`` and the next
    E-step says so.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    resp : array of shape (n_samples, n_components)
    params : GMMParams, optional
        The current parameters, which :func:`emtutor.em.run_em` hands every
        M-step; unused, as the mixture's M-step is a closed form in ``resp``.
    reg_covar : float, default 0.0
        ``epsilon`` in ``Sigma_k = S_k / N_k + epsilon I``, as in scikit-learn.
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"

    Returns
    -------
    GMMParams
    """
    stats = statistics(X, resp, covariance_type=covariance_type)
    return m_step_from_statistics(stats, reg_covar=reg_covar, covariance_type=covariance_type,
                                  far_scatter=partial(_far_scatter, X, resp))


class GMMStatistics(NamedTuple):
    """The sums over the points that the M-step needs (:eq:`mr-gmm-statistics`).

    Statistics of disjoint sets of points, taken about the same ``centre``,
    add up field by field (``centre`` stays): that is what makes the
    M-step a reduction (:mod:`emtutor.mapreduce`), and what incremental EM
    swaps block by block (:mod:`emtutor.online`).  The M-step uses only
    ratios of the fields, so statistics scaled by one number (all fields
    but ``centre``) give the same parameters: stochastic EM's running
    statistics are averages per observation, with ``n_samples`` about 1.

    Attributes
    ----------
    n_samples : int or float
        ``N``, the number of points (a float for scaled statistics).
    counts : ndarray of shape (n_components,)
        ``N_k = sum_n r_nk`` (not floored).
    sums : ndarray of shape (n_components, n_features)
        ``sum_n r_nk x_n``.
    centre : ndarray of shape (n_features,)
        The point ``c`` the second moments are taken about.
    scatter : ndarray
        ``sum_n r_nk (x_n - c)(x_n - c)^T``, shape (n_components, n_features,
        n_features) for ``"full"`` and ``"tied"``; its diagonal, shape
        (n_components, n_features), for ``"diag"`` and ``"spherical"``.
    """

    n_samples: int
    counts: np.ndarray
    sums: np.ndarray
    centre: np.ndarray
    scatter: np.ndarray


def statistics(X, resp, *, covariance_type: str = "full", centre=None) -> GMMStatistics:
    """The M-step's sums over the points of ``X`` given their responsibilities, :eq:`mr-gmm-statistics`.

    The same expected sufficient statistics, :eq:`online-statistics`,
    drive incremental and stochastic EM in :mod:`emtutor.online`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    resp : array of shape (n_samples, n_components)
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"
    centre : array of shape (n_features,), optional
        The point the second moments are taken about; default the data mean
        (computed from the responsibilities' sums, as :func:`m_step` does).
        Statistics of several chunks must share one centre to be added.

    Returns
    -------
    GMMStatistics
    """
    kind = _covariance_type(covariance_type)
    raw = _column_sums(resp)
    sums = resp.T @ X
    if centre is None:
        counts = np.maximum(raw, _COUNT_FLOOR)
        means = sums / counts[:, None]
        if not np.all(np.isfinite(means)):  # NaN or inf in the inputs (checked only then: cheap)
            _check_finite(resp, "resp")
            _check_finite(X, "X")
            raise ValueError("the weighted means overflow float64; rescale X")
        centre = counts @ means / counts.sum()  # the data mean
    return GMMStatistics(len(X), raw, sums, centre, kind.scatter(X, resp, centre))


def m_step_from_statistics(stats: GMMStatistics, *, reg_covar: float = 0.0, covariance_type: str = "full",
                           far_scatter: Callable | None = None) -> GMMParams:
    """The M-step's parameters from its summed statistics: :eq:`mr-m-step`, :eq:`online-m-step`.

    :eq:`gmm-m-weights`, :eq:`gmm-m-means` and :eq:`gmm-m-covariances` with
    ``N_k`` floored at ``10 * eps``, plus ``reg_covar`` on the diagonals.

    Parameters
    ----------
    stats : GMMStatistics
    reg_covar : float, default 0.0
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"
    far_scatter : callable, optional
        ``far_scatter(far, far_means, diagonal=False)``: the scatter of the
        listed components about their own means, asked for only when a
        component's mean lies so far from ``stats.centre`` (in its own
        standard deviations) that the moments about the centre would cancel;
        without it such a component raises ``ValueError``.  A method that
        sees each point once (:mod:`emtutor.online`) has no second pass: its
        ``far_scatter`` returns None, and the covariance is the difference
        of the moments about the centre, as for the other components (with
        the collapse check's rounding level of those moments).

    Returns
    -------
    GMMParams
    """
    kind = _covariance_type(covariance_type)
    # N_k, floored (not shifted: N_k + 10 eps would shrink the means of data
    # far from the origin by 10 eps |x|, a real move when a variance is tiny)
    counts = np.maximum(stats.counts, _COUNT_FLOOR)
    weights = counts / stats.n_samples
    means = stats.sums / counts[:, None]
    if not np.all(np.isfinite(means)):
        raise ValueError("the weighted means overflow float64; rescale X")
    return GMMParams(weights, means, kind.estimate(stats.scatter, counts, means, stats.centre, stats.n_samples,
                                                   reg_covar, far_scatter or _no_far_scatter))


_COUNT_FLOOR = 10 * np.finfo(float).eps


def _no_far_scatter(far, far_means, diagonal=False):
    raise ValueError(
        f"components {far.tolist()} lie so far from the centre of the moments, in their own standard "
        "deviations, that their covariances need a second pass over the data; pass far_scatter"
    )


def log_likelihood(X, params: GMMParams, *, covariance_type: str = "full") -> float:
    """Total log-likelihood :eq:`gmm-log-likelihood` of ``X`` under ``params``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : GMMParams
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"

    Returns
    -------
    float
        ``sum_n log sum_k weights[k] N(X[n] | means[k], covariances[k])``.
    """
    X = as_data_matrix(X)
    params = check_params(params, len(params.weights), X.shape[1], covariance_type)
    return float(np.sum(e_step(X, params, covariance_type=covariance_type)[1]))


# ---------------------------------------------------------------------------
# Initialisation.
# ---------------------------------------------------------------------------

INIT_METHODS = ("k-means++", "random_from_data")
"""Ways to choose the initial means when they are not given (scikit-learn's spellings)."""


def kmeans_plusplus(X, n_components: int, random_state=None) -> np.ndarray:
    """k-means++ seeding (Arthur and Vassilvitskii, 2007): spread-out initial means.

    The first mean is a data point chosen uniformly; each next one is a data
    point chosen with probability proportional to its squared distance to
    the nearest mean chosen so far (:eq:`kmeanspp-d2`).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
    random_state : int, numpy Generator or None

    Returns
    -------
    means : ndarray of shape (n_components, n_features)
        Distinct rows of ``X``.

    Raises
    ------
    ValueError
        If ``X`` has fewer than ``n_components`` distinct points.
    """
    X = as_data_matrix(X)
    k = check_positive_int(n_components, "n_components", 1, len(X))
    return _kmeans_plusplus(X, k, as_rng(random_state))


def _kmeans_plusplus(X, n_components: int, rng: np.random.Generator) -> np.ndarray:
    # The draws depend only on ratios of squared distances, so they are taken
    # in units of the data's extent: squares of data near 1e-300 would
    # underflow to 0 and of data near 1e200 overflow to inf.
    chosen = [int(rng.integers(len(X)))]
    extent = np.max(np.abs(X - X[chosen[0]]))
    Z = (X - X[chosen[0]]) / extent if extent > 0 else np.zeros_like(X)
    sq_dist = np.sum(Z**2, axis=1)
    for _ in range(1, n_components):
        total = sq_dist.sum()
        if not total > 0:
            _check_enough_distinct(X, n_components)
            # distinct points closer than extent * 1e-154: their squares underflow
            raise ValueError(
                f"X has points that differ by less than 1e-154 of its extent ({extent:.3g}); "
                "k-means++ cannot tell them apart: rescale X or use fewer components"
            )
        chosen.append(int(rng.choice(len(X), p=sq_dist / total)))
        np.minimum(sq_dist, np.sum((Z - Z[chosen[-1]]) ** 2, axis=1), out=sq_dist)
    return X[chosen].copy()


def _check_finite(array, name: str) -> None:
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")


def _raise_too_few_distinct(n_distinct: int, k: int):
    raise ValueError(
        f"X has only {n_distinct} distinct points, fewer than n_components={k}; use fewer components"
    )


def _check_enough_distinct(X, k: int) -> None:
    """Raise unless ``X`` has at least ``k`` distinct rows (cheap when it has)."""
    if len(np.unique(X[: 20 * k], axis=0)) >= k:
        return
    n_distinct = len(np.unique(X, axis=0))
    if n_distinct < k:
        _raise_too_few_distinct(n_distinct, k)


def _random_distinct_rows(X, k: int, rng: np.random.Generator) -> np.ndarray:
    distinct = np.unique(X, axis=0)
    if len(distinct) < k:
        _raise_too_few_distinct(len(distinct), k)
    return distinct[rng.choice(len(distinct), size=k, replace=False)]


def check_init(init) -> str:
    """Validate an ``init`` setting: one of :data:`INIT_METHODS`."""
    if not isinstance(init, str) or init not in INIT_METHODS:
        raise ValueError(f"init must be one of {list(INIT_METHODS)}, got {init!r}")
    return init


def initial_params(
    X,
    n_components: int,
    *,
    covariance_type: str = "full",
    init: str = "k-means++",
    reg_covar: float = 1e-6,
    random_state=None,
    weights=None,
    means=None,
    covariances=None,
) -> GMMParams:
    """Initial parameters: explicit ones as given, the rest by ``init``.

    Means not given are chosen by ``init``: ``"k-means++"`` (see
    :func:`kmeans_plusplus`) or ``"random_from_data"`` (distinct data
    points drawn uniformly).  Weights not given are uniform; covariances not
    given are the covariance of ``X`` (plus ``reg_covar`` on the diagonal)
    for every component, in the form of ``covariance_type`` (its diagonal
    alone if that matrix is not positive definite in floating point, as for
    a far outlier along a direction in which the other points barely spread).  The Gaussian
    hidden Markov model (:func:`emtutor.hmm.fit_gaussian`) starts its
    emissions the same way.

    Returns
    -------
    GMMParams
    """
    X = as_data_matrix(X)
    k = check_positive_int(n_components, "n_components", 1, len(X))
    _covariance_type(covariance_type)
    check_init(init)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    params = _initial_params(X, k, covariance_type, init, reg_covar, as_rng(random_state),
                             weights, means, covariances)
    return check_params(params, k, X.shape[1], covariance_type)


def _initial_params(X, k, covariance_type, init, reg_covar, rng, weights=None, means=None, covariances=None,
                    data_cov=None):
    """:func:`initial_params` for validated settings and ``X``; the result is not checked.

    ``data_cov``, if given, is the (biased) covariance of the data, in place
    of ``X``'s (:mod:`emtutor.mapreduce` draws the means from a sample ``X``
    of the data and computes the covariance from all of it).
    """
    if weights is None:
        weights = np.full(k, 1.0 / k)
    if means is None:
        means = _kmeans_plusplus(X, k, rng) if init == "k-means++" else _random_distinct_rows(X, k, rng)
    if covariances is None:
        data_cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True) if data_cov is None
                                 else np.array(data_cov, dtype=float))
        n_features = len(data_cov)
        data_cov.flat[:: n_features + 1] += reg_covar
        if covariance_type in ("full", "tied") and not _is_positive_definite(data_cov):
            # collinear to rounding (e.g. one point 1e10 away along a direction
            # the others barely spread in): start from the variances alone
            data_cov = np.diag(np.diag(data_cov))
        if not np.all(np.diag(data_cov) > 0):
            j = int(np.flatnonzero(~(np.diag(data_cov) > 0))[0])
            raise ValueError(
                f"column {j} of X is constant, so the initial covariances (the covariance "
                "of X) are singular; pass reg_covar > 0, covariances, or drop the column"
            )
        covariances = COVARIANCE_TYPES[covariance_type].from_full(data_cov, k)
    return GMMParams(weights, means, covariances)


def check_covariances(covariances, k: int, d: int, covariance_type: str = "full") -> np.ndarray:
    """Validate covariances of the given type (shape, symmetry, positive definiteness)."""
    shape = _covariance_type(covariance_type).shape(k, d)
    if np.shape(covariances) != shape:
        raise ValueError(
            f"covariances must have shape {shape} for covariance_type={covariance_type!r}, "
            f"got {np.shape(covariances)}"
        )
    if covariance_type == "full":
        return check_spd_stack(covariances, shape, "covariances")
    if covariance_type == "tied":
        return check_spd(covariances, d, "covariances")
    covariances = check_shape(covariances, shape, "covariances")
    if np.any(covariances <= 0):
        raise ValueError(f"covariances ({covariance_type} variances) must be positive, got {covariances}")
    return covariances


def check_params(params: GMMParams, k: int, d: int, covariance_type: str = "full") -> GMMParams:
    """Validate mixture parameters of the given covariance type; return them as float arrays."""
    covariances = check_covariances(params.covariances, k, d, covariance_type)
    return GMMParams(
        check_probability_vector(params.weights, k, "weights"),
        check_shape(params.means, (k, d), "means"),
        covariances,
    )


# ---------------------------------------------------------------------------
# The regularised M-step and the monotonicity check.
# ---------------------------------------------------------------------------


def regularisation_slack(X, resp, old_params: GMMParams, new_params: GMMParams, *,
                         reg_covar: float, covariance_type: str = "full") -> float:
    """How far the log-likelihood may fall in one regularised EM step.

    With ``reg_covar > 0`` the M-step does not maximise the expected
    complete-data log-likelihood ``Q`` but ``Q`` minus the penalty
    ``(reg_covar / 2) sum_k N_k tr(inv(Sigma_k))``, so EM's guarantee
    becomes :eq:`gmm-reg-bound`:
    ``LL_new - LL_old >= (reg_covar / 2) sum_k N_k [tr inv(Sigma_k_new) -
    tr inv(Sigma_k_old)]``.  The negative of that right-hand side is the
    slack :func:`emtutor.em.run_em` allows (it may be negative: then the
    step must raise the log-likelihood by at least that much).  The same
    bound holds for the Gaussian hidden Markov model, whose emission M-step
    is this one with the state posteriors as ``resp``
    (:func:`emtutor.hmm.m_step`); any parameters with ``means`` and
    ``covariances`` fields will do.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Unused; present for the driver's ``m_step_slack`` signature.
    resp : array of shape (n_samples, n_components)
        Responsibilities the M-step used (from ``old_params``).
    old_params, new_params : GMMParams
        Parameters before and after the M-step.
    reg_covar : float
    covariance_type : str, default "full"

    Returns
    -------
    float
    """
    return slack_from_counts(_column_sums(resp), old_params, new_params, reg_covar=reg_covar,
                             covariance_type=covariance_type)


def slack_from_counts(counts, old_params: GMMParams, new_params: GMMParams, *, reg_covar: float,
                      covariance_type: str = "full") -> float:
    """:func:`regularisation_slack` from the counts ``N_k = sum_n r_nk`` (all it needs of ``resp``)."""
    new_trace, old_trace = _precision_trace(new_params, covariance_type), _precision_trace(old_params, covariance_type)
    bound = -0.5 * reg_covar * float(counts @ (new_trace - old_trace))
    # The traces carry the covariances' rounding: entries known to about
    # eps (|Sigma| + |mu| sqrt|Sigma|) (data far from the origin are known to
    # eps |x| only), which inv(Sigma) magnifies by 1 / lambda_min.
    rounding = sum(counts @ (trace * _relative_rounding(params, covariance_type))
                   for trace, params in ((new_trace, new_params), (old_trace, old_params)))
    return bound + 0.5 * reg_covar * float(rounding)


def _relative_rounding(params: GMMParams, covariance_type: str) -> np.ndarray:
    """Relative rounding error of ``tr(inv(Sigma_k))`` for each component (see above)."""
    k, d = params.means.shape
    full = COVARIANCE_TYPES[covariance_type].to_full(np.asarray(params.covariances, float), k, d)
    eigenvalues = np.linalg.eigvalsh(full)
    size = eigenvalues[:, -1]
    about = np.max(np.abs(params.means), axis=1)
    return 100 * d * np.finfo(float).eps * (size + about * np.sqrt(size)) / eigenvalues[:, 0]


# ---------------------------------------------------------------------------
# Fitting.
# ---------------------------------------------------------------------------


class RestartSummary(NamedTuple):
    """What the ``n_init`` restarts of :func:`fit` reached.

    Attributes
    ----------
    log_likelihoods : ndarray of shape (n_init,)
        Final log-likelihood of every restart, in order.
    best : int
        Index of the restart that was kept: the first one whose final
        log-likelihood is within ``atol`` of the highest (a later restart
        wins only if it is better by more than ``atol``).
    optima : ndarray of shape (n_optima,)
        The distinct final log-likelihoods, best first (restarts ending
        within ``atol`` of each other count as the same optimum).
    counts : ndarray of shape (n_optima,)
        How many restarts reached each optimum.
    atol : float
        The tolerance used to group the final log-likelihoods.
    """

    log_likelihoods: np.ndarray
    best: int
    optima: np.ndarray
    counts: np.ndarray
    atol: float


def _summarise_restarts(final, atol) -> RestartSummary:
    final = np.asarray(final, dtype=float)
    order = np.sort(final)[::-1]
    optima, counts = [], []
    for value in order:
        if optima and optima[-1] - value <= atol:
            counts[-1] += 1
        else:
            optima.append(value)
            counts.append(1)
    return RestartSummary(final, _first_best(final, atol), np.array(optima), np.array(counts), float(atol))


def best_restart(runs, tol: float, n_observations: int):
    """The run to keep of several restarts, and the :class:`RestartSummary` of all.

    Restarts whose final objectives (totals) are within
    ``max(100 * tol * n_observations, 1e-6 * |objective|)`` of each other
    reach the same optimum (``tol`` is per observation), and of those the
    earliest is kept (see ``_first_best``).  Shared by every model with
    ``n_init``.
    """
    final = [run.objective for run in runs]
    summary = _summarise_restarts(final, atol=max(100 * tol * n_observations, 1e-6 * max(abs(v) for v in final)))
    return runs[summary.best], summary


def _first_best(final, atol) -> int:
    """Index of the restart to keep: a later restart replaces the kept one
    only if its final log-likelihood is higher by more than ``atol``.

    Restarts that reach the same optimum end within rounding (and within
    the stopping tolerance) of each other; taking the plain ``argmax`` would
    let the last bit of floating point, which differs between CPUs and BLAS
    kernels, decide which of them is kept, and with it ``n_iter`` and the
    recorded history.  Keeping the earliest of a tie makes the choice a
    property of the optima, not of rounding.
    """
    best = 0
    for index, value in enumerate(final):
        if value > final[best] + atol:
            best = index
    return best


@dataclass
class GMMResult(EMResult):
    """:class:`~emtutor.em.EMResult` of the kept restart, plus what :func:`fit` adds.

    Attributes
    ----------
    covariance_type : str
    restarts : RestartSummary
        Final log-likelihood of every restart and how often each distinct
        optimum was reached.
    """

    covariance_type: str = "full"
    restarts: RestartSummary | None = None


def fit(
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
) -> GMMResult:
    """Fit a Gaussian mixture to ``X`` by EM.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
        Number of mixture components, ``1 <= n_components <= n_samples``.
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"
        Form of the covariances (see :data:`COVARIANCE_TYPES`).
    init : {"k-means++", "random_from_data"}, default "k-means++"
        How to choose the initial means when ``means`` is not given.
    n_init : int, default 1
        Number of restarts (each from its own initial means); the one with
        the highest final log-likelihood is kept.  Restarts whose total
        log-likelihoods are within ``max(100 * tol * n_samples,
        1e-6 * |log-likelihood|)`` of each other reach the same optimum, and
        of those the earliest is kept, so the choice (and ``n_iter``) does
        not depend on rounding.
    weights : array of shape (n_components,), optional
        Initial mixing weights; default uniform.
    means : array of shape (n_components, n_features), optional
        Initial means; default chosen by ``init`` with ``random_state``.
    covariances : array, optional
        Initial covariances, of the shape ``covariance_type`` asks for;
        default the covariance of ``X`` (plus ``reg_covar`` on the diagonal)
        for every component.
    reg_covar : float, default 1e-6
        ``epsilon`` in ``Sigma_k = S_k / N_k + epsilon I``: added to the
        diagonal of every covariance in each M-step (scikit-learn's
        meaning); keeps a component from collapsing onto a single point.
    tol : float, default 1e-4
        Stop when the log-likelihood *per sample* changes by less than
        ``tol`` (checked from the second iteration on; see
        :func:`emtutor.em.run_em`).
    max_iter : int, default 100
    random_state : int, numpy Generator or None
        Seed for the initial means.
    record : bool, default False
        Keep every iteration's parameters and responsibilities in
        ``result.history`` (of the kept restart).

    Returns
    -------
    GMMResult
        ``result.weights``, ``result.means``, ``result.covariances``,
        ``result.objectives`` (the log-likelihood after every iteration),
        ``result.n_iter``, ``result.converged``, ``result.resp``
        (responsibilities under the final parameters), ``result.restarts``.

    Raises
    ------
    ValueError
        For NaN/inf or non-2-D ``X``, ``n_components`` out of range, fewer
        distinct points than components, an unknown ``covariance_type`` or
        ``init``, ``n_init < 1``, initial parameters of the wrong shape,
        weights that are negative or do not sum to 1, covariances that are
        not positive definite, or a component that collapses when
        ``reg_covar`` is too small.

    Notes
    -----
    With ``reg_covar = 0`` the log-likelihood can never decrease and the
    driver checks that.  With ``reg_covar > 0`` it can decrease slightly;
    each iteration is then checked against the bound :eq:`gmm-reg-bound`
    instead.

    Examples
    --------
    >>> from emtutor import datasets, gmm
    >>> X = datasets.three_gaussians()
    >>> result = gmm.fit(X, 3, random_state=0)
    >>> result.means.shape
    (3, 2)
    """
    return _fit(as_data_matrix(X), n_components, covariance_type=covariance_type, init=init, n_init=n_init,
                weights=weights, means=means, covariances=covariances, reg_covar=reg_covar, tol=tol,
                max_iter=max_iter, random_state=random_state, record=record)


def _fit(X, n_components, *, covariance_type, init, n_init, weights, means, covariances, reg_covar, tol,
         max_iter, random_state, record, steps=None) -> GMMResult:
    """:func:`fit` for an ``X`` already validated by :func:`emtutor._validation.as_data_matrix`.

    ``steps``, if given, is ``(e_step, m_step, m_step_slack, objective_name)``
    for the driver in place of this module's (MAP-EM's, from
    :mod:`emtutor.map_gmm`); the restarts are then compared by that objective.
    """
    n_samples, n_features = X.shape
    k = check_positive_int(n_components, "n_components", 1, n_samples)
    _covariance_type(covariance_type)
    check_init(init)
    n_init = check_positive_int(n_init, "n_init", 1)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    _check_enough_distinct(X, k)

    e_step_fn = partial(e_step, covariance_type=covariance_type)
    m_step_fn = partial(m_step, reg_covar=reg_covar, covariance_type=covariance_type)
    slack_fn = (partial(regularisation_slack, reg_covar=reg_covar, covariance_type=covariance_type)
                if reg_covar > 0 else None)
    objective_name = "log-likelihood"
    if steps is not None:
        e_step_fn, m_step_fn, slack_fn, objective_name = steps
    rng = as_rng(random_state)
    runs = []
    for _ in range(n_init):
        params = _initial_params(X, k, covariance_type, init, reg_covar, rng, weights, means, covariances)
        params = check_params(params, k, n_features, covariance_type)
        runs.append(run_em(X, params, e_step=e_step_fn, m_step=m_step_fn, m_step_slack=slack_fn,
                           n_observations=n_samples, tol=tol, max_iter=max_iter, record=record,
                           objective_name=objective_name))

    best, summary = best_restart(runs, tol, n_samples)
    return GMMResult(
        **{f.name: getattr(best, f.name) for f in fields(EMResult)},
        covariance_type=covariance_type,
        restarts=summary,
    )
