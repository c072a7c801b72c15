"""The forward–backward core shared by every hidden Markov model in :mod:`emtutor`.

Everything here works on the *frame log-likelihoods*
``frame_loglik[t, k] = log p(x_t | z_t = k)``, so it does not care what the
emissions are (categorical symbols, Gaussian vectors, ...).  The model
module :mod:`emtutor.hmm` computes those from the data and calls these
functions.

Three implementations of the same recursions live here:

* :func:`forward` and :func:`backward`: the scaled recursions
  :eq:`hmm-forward-scaled` and :eq:`hmm-backward-scaled` written as the
  book writes them, one Python step per time step.  They are the reference.
* :func:`forward_log` and :func:`backward_log`: the log-space recursions
  :eq:`hmm-forward-log`, an independent oracle for the tests.
* :func:`forward_backward_sequences`: the same scaled recursions run on
  chunks of the sequences in parallel, many sequences at once (the
  recursions are linear, so each chunk can first be pushed through with
  every possible starting state, as one ``K x K`` transfer matrix, and the
  chunks stitched together afterwards).  One transfer matrix per chunk
  serves both passes.  It computes the same numbers as the reference to
  rounding error with about ``20 sqrt(T)`` NumPy operations instead of ``T``
  Python steps; the tests check that they agree.
"""

from __future__ import annotations

import threading
from functools import reduce

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "forward",
    "backward",
    "forward_log",
    "backward_log",
    "forward_backward_sequences",
    "forward_backward",
    "viterbi",
]


def _check_inputs(frame_loglik, startprob=None, transmat=None) -> np.ndarray:
    """The public functions' boundary: shapes that agree, at least one step, no NaN."""
    frame_loglik = np.asarray(frame_loglik, dtype=float)
    if frame_loglik.ndim != 2 or frame_loglik.shape[0] < 1 or frame_loglik.shape[1] < 1:
        raise ValueError(
            "frame_loglik must have shape (n_samples, n_components) with n_samples >= 1 and "
            f"n_components >= 1, got {frame_loglik.shape}"
        )
    if np.any(np.isnan(frame_loglik)) or np.any(frame_loglik == np.inf):
        raise ValueError("frame_loglik contains NaN or +inf (log-likelihoods are finite or -inf)")
    k = frame_loglik.shape[1]
    for name, value, shape in (("startprob", startprob, (k,)), ("transmat", transmat, (k, k))):
        if value is not None:
            if np.shape(value) != shape:
                raise ValueError(f"{name} must have shape {shape} to match frame_loglik, got {np.shape(value)}")
            if not np.all(np.isfinite(value)) or np.any(np.asarray(value) < 0):
                raise ValueError(f"{name} must hold probabilities (finite, >= 0)")
    return frame_loglik


def _scaled_likelihoods(frame_loglik, out=None):
    """``exp(frame_loglik - max_k)`` and the per-step maxima.

    Subtracting the largest log-likelihood of each step keeps the largest
    entry of every row at 1, so far-away observations never underflow to a
    row of zeros; the maxima are added back to the log-likelihood.
    """
    # the maximum of the columns: numpy reduces many short rows slowly
    shift = reduce(np.maximum, frame_loglik.T, np.full(len(frame_loglik), -np.inf))
    if not np.all(np.isfinite(shift)):
        t = int(np.flatnonzero(~np.isfinite(shift))[0])
        raise ValueError(
            f"observation {t} has probability zero under every state (or its log-density "
            "is not finite); the parameters cannot explain the data"
        )
    lik = np.subtract(frame_loglik, shift[:, None], out=out)
    return np.exp(lik, out=lik), shift


def forward(frame_loglik, startprob, transmat):
    """Scaled forward pass, one time step at a time.

    Implements :eq:`hmm-forward` in the scaled form :eq:`hmm-forward-scaled`:
    ``alpha[t]`` is the filtered distribution ``p(z_t | x_1..x_t)`` and
    ``scale[t] = p(x_t | x_1..x_{t-1})``, so that the log-likelihood is
    ``sum(log(scale))`` (:eq:`hmm-log-likelihood`).

    Parameters
    ----------
    frame_loglik : array of shape (n_samples, n_components)
        ``log p(x_t | z_t = k)``.
    startprob : array of shape (n_components,)
    transmat : array of shape (n_components, n_components)

    Returns
    -------
    alpha : ndarray of shape (n_samples, n_components)
        Scaled forward variables; every row sums to 1.
    log_scale : ndarray of shape (n_samples,)
        ``log scale[t]``; its sum is the log-likelihood of the sequence.
    """
    lik, shift = _scaled_likelihoods(frame_loglik)
    n_samples, n_components = lik.shape
    alpha = np.empty((n_samples, n_components))
    scale = np.empty(n_samples)
    a = startprob * lik[0]
    for t in range(n_samples):
        if t > 0:
            a = (alpha[t - 1] @ transmat) * lik[t]
        scale[t] = a.sum()
        if scale[t] == 0:
            raise ValueError(f"the sequence has probability zero under the parameters (at step {t})")
        alpha[t] = a / scale[t]
    return alpha, np.log(scale) + shift


def backward(frame_loglik, transmat, log_scale):
    """Scaled backward pass, one time step at a time.

    Implements :eq:`hmm-backward` in the scaled form
    :eq:`hmm-backward-scaled`, dividing by the forward pass's scale factors,
    so that ``alpha[t] * beta[t]`` is the state posterior ``resp[t]``
    (:eq:`hmm-gamma`).

    Parameters
    ----------
    frame_loglik : array of shape (n_samples, n_components)
    transmat : array of shape (n_components, n_components)
    log_scale : array of shape (n_samples,)
        From :func:`forward`.

    Returns
    -------
    beta : ndarray of shape (n_samples, n_components)
    """
    lik, shift = _scaled_likelihoods(frame_loglik)
    scale = np.exp(log_scale - shift)
    n_samples, n_components = lik.shape
    beta = np.empty((n_samples, n_components))
    beta[-1] = 1.0
    for t in range(n_samples - 2, -1, -1):
        beta[t] = transmat @ (lik[t + 1] * beta[t + 1]) / scale[t + 1]
    return beta


def forward_log(frame_loglik, startprob, transmat):
    """Forward pass in log space (the oracle for :func:`forward`).

    Implements :eq:`hmm-forward-log`: ``log_alpha[t, j] = log p(x_1..x_t,
    z_t = j)``, unscaled, with :eq:`logsumexp` at every step.

    Parameters
    ----------
    frame_loglik : array of shape (n_samples, n_components)
    startprob : array of shape (n_components,)
    transmat : array of shape (n_components, n_components)

    Returns
    -------
    log_alpha : ndarray of shape (n_samples, n_components)
    """
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(startprob), np.log(transmat)
    log_alpha = np.empty_like(frame_loglik, dtype=float)
    log_alpha[0] = log_start + frame_loglik[0]
    for t in range(1, len(frame_loglik)):
        log_alpha[t] = logsumexp(log_alpha[t - 1][:, None] + log_trans, axis=0) + frame_loglik[t]
    return log_alpha


def backward_log(frame_loglik, transmat):
    """Backward pass in log space: ``log_beta[t, i] = log p(x_{t+1}..x_T | z_t = i)``.

    Implements :eq:`hmm-forward-log` (its backward half).

    Parameters
    ----------
    frame_loglik : array of shape (n_samples, n_components)
    transmat : array of shape (n_components, n_components)

    Returns
    -------
    log_beta : ndarray of shape (n_samples, n_components)
    """
    with np.errstate(divide="ignore"):
        log_trans = np.log(transmat)
    log_beta = np.zeros_like(frame_loglik, dtype=float)
    for t in range(len(frame_loglik) - 2, -1, -1):
        log_beta[t] = logsumexp(log_trans + (frame_loglik[t + 1] + log_beta[t + 1])[None, :], axis=1)
    return log_beta


#: Lowest log shrink factor the rows may accumulate between two
#: renormalisations: e^-700 is about 1e-304, just above double's smallest
#: normal number.
_LOG_FLOOR = -700.0


_TINY = np.finfo(float).tiny
_HUGE = np.finfo(float).max

#: Default chunk length as a multiple of sqrt(n_samples).
_CHUNK_FACTOR = 0.6


#: Scratch arrays kept between calls, per thread (see ``_scratch``).
_SCRATCH = threading.local()

#: Largest scratch array kept (bytes); bigger ones are allocated afresh.
_SCRATCH_LIMIT = 64 * 2**20


def _scratch(name, shape):
    """An uninitialised float array of ``shape``, reused from the previous call.

    Baum–Welch calls the E-step with arrays of the same size at every
    iteration.  Fresh multi-megabyte arrays make the allocator hand memory
    back to the operating system and ask for it again, and the page faults
    cost about as much as the forward–backward arithmetic itself; reusing
    the previous call's array (one per name and thread, at most
    :data:`_SCRATCH_LIMIT` bytes each) avoids that.
    """
    size = int(np.prod(shape))
    if 8 * size > _SCRATCH_LIMIT:
        return np.empty(shape)
    store = getattr(_SCRATCH, "arrays", None)
    if store is None:
        store = _SCRATCH.arrays = {}
    buffer = store.get(name)
    if buffer is None or buffer.size < size:
        buffer = store[name] = np.empty(size)
    return buffer[:size].reshape(shape)


def _renormalise_at(bounds):
    """Steps after which the rows must be renormalised, from per-step bounds.

    ``bounds[s] <= 0`` bounds below the log of how much step ``s`` can shrink a
    row's sum (the smallest scaled likelihood of the step: the transition
    matrix keeps row sums).  Renormalising only when the next step could take
    the accumulated shrinkage below ``_LOG_FLOOR`` keeps every row far from
    underflow while skipping most of the work.
    """
    bounds = np.asarray(bounds, dtype=float).tolist()  # Python floats: a quicker loop
    after = [False] * len(bounds)
    total = 0.0
    for s in range(len(bounds) - 1):
        total += bounds[s]
        if total + bounds[s + 1] < _LOG_FLOOR:
            after[s] = True
            total = 0.0
    after[-1] = True
    return np.array(after)


def _combine_exact(left, left_scale, right, right_scale):
    """``_combine`` with every row's terms weighted in log space (exact whatever the scales)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.log(left)
        weights += right_scale[:, None, :]
        top = weights.max(axis=2)
        top[~np.isfinite(top)] = 0.0  # a row with no mass stays zero
        weights -= top[:, :, None]
        np.exp(weights, out=weights)
        product = np.matmul(weights, right)
        sums = product.sum(axis=2)
        product /= np.maximum(sums, _TINY)[:, :, None]
        scale = left_scale + top + np.log(sums)
    return product, scale


#: A product row whose sum falls below this was weighted with factors that
#: may have underflowed; it is recomputed exactly.
_COMBINE_FLOOR = 1e-250


def _combine(left, left_scale, right, right_scale):
    """The product of two stacks of chunk operators ``diag(e^s) P`` with normalised rows.

    ``left`` and ``right`` are stacks of ``K x K`` matrices whose rows sum
    to 1 (or 0), ``left_scale`` and ``right_scale`` the logs of their rows'
    true sums.  Row ``i`` of the product is ``sum_j left[i, j]
    e^{right_scale[j]} right[j]``.  The factors ``e^{right_scale[j]}`` are
    taken relative to the largest of each matrix; where right's rows differ
    by so many orders of magnitude that a product row's weighted terms could
    underflow (its sum falls below :data:`_COMBINE_FLOOR`), that matrix is
    recomputed with each row's terms weighted in log space
    (``_combine_exact``).  Returns the normalised product and its rows'
    log scales.
    """
    n, k = right_scale.shape
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        # (a matrix with no mass: every factor 0, every row redone below)
        top = np.maximum(reduce(np.maximum, right_scale.T), -_HUGE)
        factor = np.exp(right_scale - top[:, None])
        product = np.matmul(left * factor[:, None, :], right)
        sums = (product.reshape(-1, k) @ np.ones(k)).reshape(n, k)
        product /= np.maximum(sums, _TINY)[:, :, None]
        scale = np.log(sums)
        scale += top[:, None]
        scale += left_scale
    if sums.min() < _COMBINE_FLOOR:
        redo = np.flatnonzero((sums < _COMBINE_FLOOR).any(axis=1))
        product[redo], scale[redo] = _combine_exact(left[redo], left_scale[redo], right[redo], right_scale[redo])
    return product, scale


def _scan_levels(distance, single, forward):
    """The (target, source) pairs of each level of a segmented Hillis–Steele scan over chunks.

    ``distance[c]``: how many chunks lie between chunk ``c`` and its
    sequence's start (forward) or end (backward).  At level ``d = 1, 2, 4,
    ...`` every chunk at least ``d`` chunks from that end is combined with
    the chunk ``d`` before (after) it, so after ``ceil(log2(longest))``
    levels every chunk holds the product of all chunks from its sequence's
    start up to it (from it to the end).  A single sequence uses slices
    (views, no copies).
    """
    levels = []
    d = 1
    while len(distance) and d <= distance.max():
        if single:
            target, source = (slice(d, None), slice(None, -d)) if forward else (slice(None, -d), slice(d, None))
        else:
            target = np.flatnonzero(distance >= d)
            source = target - d if forward else target + d
        levels.append((target, source))
        d *= 2
    return levels


def _forward_backward_chunked(lik, shift, lengths, startprob, transmat, chunk_size=None):
    """:func:`forward_backward_sequences`' fast path on scaled likelihoods.

    ``lik = exp(frame_loglik - shift[:, None])`` with every row's largest
    entry 1.  Returns ``resp, xi_sum, log_likelihoods, ok``; ``ok`` is False
    when something is not finite (the caller then falls back to the
    step-by-step recursions).
    """
    n_samples, k = lik.shape
    lengths = np.asarray(lengths, dtype=np.intp)
    ends = np.cumsum(lengths)
    begins = ends - lengths
    longest = int(lengths.max())
    size = int(chunk_size or np.ceil(_CHUNK_FACTOR * np.sqrt(n_samples)))
    size = max(1, min(size, longest))
    n_chunks_of = -(-lengths // size)  # per sequence
    n_total = int(n_chunks_of.sum())
    first_chunk = np.cumsum(n_chunks_of) - n_chunks_of
    last_chunk = first_chunk + n_chunks_of - 1
    seq_of_chunk = np.repeat(np.arange(len(lengths)), n_chunks_of)
    index_in_seq = np.arange(n_total) - first_chunk[seq_of_chunk]
    first = np.zeros(n_total, dtype=bool)
    first[first_chunk] = True
    single = len(lengths) == 1
    transmat = np.asarray(transmat, dtype=float)
    startprob = np.asarray(startprob, dtype=float)

    # step-major layout: steps[s, c] is step s of chunk c; every sequence
    # starts a chunk, and the steps past its end (padding) have likelihood 1
    # in every state, which changes neither pass; real[s, c] marks the others
    steps = _scratch("steps", (size, n_total, k))
    if single:
        full, rest = divmod(n_samples, size)
        # moved as K-float records, which NumPy copies faster than strided floats
        record = np.dtype((np.void, 8 * k))
        steps.view(record)[:, :full, 0] = np.ascontiguousarray(lik).view(record)[: full * size, 0].reshape(full, size).T
        real = np.ones((size, n_total), dtype=bool)
        if rest:
            steps[:rest, full] = lik[full * size:]
            steps[rest:, full] = 1.0
            real[rest:, full] = False
    else:
        seq_of_time = np.repeat(np.arange(len(lengths)), lengths)
        offset = np.arange(n_samples) - begins[seq_of_time]
        position = (offset % size) * n_total + first_chunk[seq_of_time] + offset // size
        flat = steps.reshape(-1, k)
        flat[:] = 1.0
        flat[position] = lik
        real = np.zeros(size * n_total, dtype=bool)
        real[position] = True
        real = real.reshape(size, n_total)
    # log of the smallest scaled likelihood at each step of the chunks
    with np.errstate(divide="ignore"):
        bounds = np.log(steps.reshape(size, -1).min(axis=1))
        back_bounds = bounds + min(np.log(np.min(transmat.sum(axis=0))), 0.0)
    renormalise = _renormalise_at(bounds)
    renormalise_back = _renormalise_at(back_bounds[::-1])[::-1]
    ones = np.ones(k)

    # 1. every chunk's transfer matrix P_c = B D_{t0} A D_{t0+1} ... A D_{t_end}
    #    (B = I for a sequence's first chunk, else A), stored row-major across
    #    chunks: prod[i, c] is row i of P_c, so that one matrix product with A
    #    and one product with the step's likelihoods (both over contiguous
    #    memory) advance every chunk; rows renormalised when underflow
    #    threatens, their log scales kept
    prod = transmat[:, None, :] * steps[0]
    prod[:, first] = np.eye(k)[:, None, :] * steps[0, first]
    spare = np.empty_like(prod)
    log_row_scale = np.zeros((k, n_total))
    with np.errstate(divide="ignore", invalid="ignore"):
        for s in range(size):
            if s > 0:
                np.matmul(prod.reshape(-1, k), transmat, out=spare.reshape(-1, k))
                np.multiply(spare, steps[s], out=spare)
                prod, spare = spare, prod
            if renormalise[s]:
                sums = prod.reshape(-1, k) @ ones
                log_row_scale += np.log(sums).reshape(k, n_total)
                prod /= np.maximum(sums, _TINY).reshape(k, n_total, 1)
        del spare
        prod = prod.transpose(1, 0, 2).copy()  # (chunks, K, K)
        log_row_scale = log_row_scale.T.copy()

        # 2. the forward vector at every chunk's end and the backward vector at
        #    every chunk's start: two segmented scans of log depth over the chunks.
        #    Forward: a sequence's first chunk takes startprob in (every row
        #    becomes startprob P), so the prefix products' rows are the forward vectors.
        fwd, fwd_scale = prod.copy(), log_row_scale.copy()
        fwd[first_chunk], fwd_scale[first_chunk] = _combine(
            np.broadcast_to(startprob, (len(first_chunk), k, k)), np.zeros((len(first_chunk), k)),
            prod[first_chunk], log_row_scale[first_chunk])
        for target, source in _scan_levels(index_in_seq, single, forward=True):
            fwd[target], fwd_scale[target] = _combine(fwd[source], fwd_scale[source], fwd[target], fwd_scale[target])
        #    Backward: a sequence's last chunk becomes P_c 1, kept in the scales
        #    alone (rows 1/K), so the suffix products' scales are the backward vectors.
        bwd, bwd_scale = prod, log_row_scale
        bwd_scale[last_chunk] += np.log(bwd[last_chunk].sum(axis=2))
        bwd[last_chunk] = 1.0 / k
        for target, source in _scan_levels(n_chunks_of[seq_of_chunk] - 1 - index_in_seq, single, forward=False):
            bwd[target], bwd_scale[target] = _combine(bwd[target], bwd_scale[target], bwd[source], bwd_scale[source])
        # alpha just before each chunk (startprob for a first chunk), beta at each chunk's last step
        pre = np.empty((n_total, k))
        pre[1:] = fwd[:-1, 0]
        pre[first] = startprob
        post = np.ones((n_total, k))
        inner = np.ones(n_total, dtype=bool)
        inner[last_chunk] = False
        following = bwd_scale[1:][inner[:-1]]
        if len(following):
            post[inner] = np.exp(following - following.max(axis=1, keepdims=True))
        log_likelihoods = fwd_scale[last_chunk, 0]
        del prod, bwd, fwd

        # 3. both recursions in every chunk at once, from those vectors;
        #    alpha[s] is the forward vector at step s, right[s] the backward
        #    vector times the step's likelihoods
        alpha = _scratch("alpha", (size, n_total, k))
        entering = pre @ transmat  # alpha[t-1] A at every chunk's first step
        entering[first] = pre[first]
        np.multiply(entering, steps[0], out=alpha[0])
        for s in range(1, size):
            v = alpha[s - 1]
            if renormalise[s - 1]:
                v = v / (v @ ones)[:, None]
            np.matmul(v, transmat, out=alpha[s])
            alpha[s] *= steps[s]
        right = _scratch("right", (size, n_total, k))
        v = post
        transposed = transmat.T
        for s in range(size - 1, -1, -1):
            if s + 1 < size and renormalise_back[s + 1]:
                v /= (v @ ones)[:, None]
            np.multiply(v, steps[s], out=right[s])
            if s > 0:
                np.matmul(right[s], transposed, out=v)

        # resp[t] ∝ alpha[t] beta[t] = (alpha[t-1] A) right[t], and
        # xi_t(i, j) ∝ alpha[t-1, i] A[i, j] right[t, j] has the same normaliser
        # sum_j (alpha[t-1] A)_j right[t, j]: one pass gives both
        resp = steps  # the likelihoods are no longer needed
        np.matmul(alpha[:-1].reshape(-1, k), transmat, out=resp[1:].reshape(-1, k))
        resp[0] = entering
        resp *= right
        weight = 1.0 / (resp.reshape(-1, k) @ ones)
        resp *= weight.reshape(size, n_total, 1)
        weight[~real.reshape(-1)] = 0.0  # padding
        weight = weight.reshape(size, n_total)
        right *= weight[:, :, None]
        # pairs inside the chunks, then those across chunk boundaries (not
        # across a sequence's start; there alpha[t-1] is pre, the same vector
        # as in resp's normaliser)
        within = alpha[:-1].reshape(-1, k).T @ right[1:].reshape(-1, k)
        across = pre[~first].T @ right[0, ~first]
        xi_sum = transmat * (within + across)
        if single:  # back to time order, into a new array (resp is a scratch array)
            record = np.dtype((np.void, 8 * k))
            chunks = resp.view(record)[:, :, 0].T  # (chunks, size) of K-float records
            resp = np.empty((n_samples, k))
            records = resp.view(record)[:, 0]
            records[: full * size].reshape(full, size)[:] = chunks[:full]
            records[full * size:] = chunks[full, :rest] if rest else records[:0]
        else:
            resp = resp.reshape(-1, k)[position]
    log_likelihoods = log_likelihoods + (np.add.reduceat(shift, begins) if len(begins) else 0.0)
    ok = np.isfinite(log_likelihoods).all() and np.isfinite(weight).all() and np.isfinite(xi_sum).all()
    return resp, xi_sum, log_likelihoods, ok


def forward_backward_sequences(frame_loglik, lengths, startprob, transmat, chunk_size=None, *, scaled=None):
    """Posteriors and log-likelihoods of many sequences at once, chunk-parallel.

    The scaled recursions :eq:`hmm-forward-scaled` and
    :eq:`hmm-backward-scaled` are linear in the vectors they carry:
    ``alpha[t] ∝ alpha[t-1] M_t`` and ``beta[t-1] ∝ M_t beta[t]`` with the same
    matrix ``M_t = A diag(lik[t])``.  Every sequence is cut into chunks of
    ``chunk_size`` steps (default about ``0.6 sqrt(n_samples)``, at most the
    longest sequence), and

    1. every chunk's transfer matrix, the product of its ``M_t``, is built
       for all chunks at once (one matrix product per step of a chunk, its
       rows renormalised, with their log scales kept, only as often as
       underflow could threaten: each step shrinks a row by at most its
       smallest scaled likelihood);
    2. two scans of log depth over the chunks of each sequence (all
       sequences at once) combine those matrices into the forward vector at
       every chunk's end and the backward vector at every chunk's start
       (``_combine``: rows' scales kept as logarithms); the forward
       scan's scales are the log-likelihoods;
    3. both recursions are rerun in all chunks at once from those vectors.

    That is a few thousand NumPy operations at ``T = 10^5`` instead of ``T``
    Python steps, and one transfer matrix per chunk serves both directions.
    The results equal the step-by-step recursions' to rounding.  Should a
    sequence be so extreme that something here is not finite, the
    sequences are computed step by step (:func:`forward` and
    :func:`backward`), which also raises the error for a sequence of
    probability zero.

    Parameters
    ----------
    frame_loglik : array of shape (n_samples, n_components), or None
        The sequences one after the other.  May be None when ``scaled`` is
        given (the step-by-step fallback then uses ``log(lik) + shift``).
    lengths : array of int
        Their lengths, summing to ``n_samples``.
    startprob : array of shape (n_components,)
    transmat : array of shape (n_components, n_components)
    chunk_size : int, optional
    scaled : tuple (lik, shift), optional
        ``shift[t] = max_k frame_loglik[t, k]`` (finite) and
        ``lik = exp(frame_loglik - shift[:, None])``, when the caller can
        compute them more cheaply than from ``frame_loglik`` (a categorical
        model looks them up per symbol).

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    xi_sum : ndarray of shape (n_components, n_components)
        Summed over all sequences.
    log_likelihoods : ndarray of shape (n_sequences,)
    """
    if scaled is None:
        frame_loglik = np.asarray(frame_loglik, dtype=float)
        scaled = _scaled_likelihoods(frame_loglik, out=_scratch("lik", frame_loglik.shape))
    lik, shift = scaled
    resp, xi_sum, log_likelihoods, finite = _forward_backward_chunked(
        lik, shift, lengths, startprob, transmat, chunk_size)
    if finite:
        return resp, xi_sum, log_likelihoods
    if frame_loglik is None:
        with np.errstate(divide="ignore"):
            frame_loglik = np.log(lik) + shift[:, None]
    xi_sum = np.zeros_like(xi_sum)
    begin = 0
    for s, n in enumerate(lengths):
        try:
            resp[begin : begin + n], xi, log_likelihoods[s] = forward_backward(
                frame_loglik[begin : begin + n], startprob, transmat, "scaled")
        except ValueError as exc:
            raise ValueError(f"sequence {s}: {exc}") from None
        xi_sum += xi
        begin += n
    return resp, xi_sum, log_likelihoods


def forward_backward(frame_loglik, startprob, transmat, method="chunked"):
    """Posteriors and log-likelihood of one sequence.

    Computes the state posteriors ``resp`` (:eq:`hmm-gamma`), the pair
    posteriors summed over time ``xi_sum`` (:eq:`hmm-xi`) and the
    log-likelihood (:eq:`hmm-log-likelihood`) from the forward and
    backward passes (:eq:`hmm-forward`, :eq:`hmm-backward`).

    Parameters
    ----------
    frame_loglik : array of shape (n_samples, n_components)
    startprob : array of shape (n_components,)
    transmat : array of shape (n_components, n_components)
    method : {"chunked", "scaled", "log"}, default "chunked"
        ``"scaled"``: the reference step-by-step recursions :func:`forward`
        and :func:`backward`; ``"log"``: :func:`forward_log` and
        :func:`backward_log`; ``"chunked"``:
        :func:`forward_backward_sequences` (fastest, same numbers).

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
        ``resp[t, k] = p(z_t = k | x)``, the state posteriors.
    xi_sum : ndarray of shape (n_components, n_components)
        ``xi_sum[i, j] = sum_t p(z_t = i, z_{t+1} = j | x)``.
    log_likelihood : float
        ``log p(x)``.
    """
    frame_loglik = _check_inputs(frame_loglik, startprob, transmat)
    if method == "log":
        return _forward_backward_log(frame_loglik, startprob, transmat)
    if method == "chunked":
        resp, xi_sum, log_likelihoods = forward_backward_sequences(
            frame_loglik, [len(frame_loglik)], startprob, transmat)
        return resp, xi_sum, float(log_likelihoods[0])
    lik, _ = _scaled_likelihoods(frame_loglik)
    if method != "scaled":
        raise ValueError(f"method must be 'chunked', 'scaled' or 'log', got {method!r}")
    alpha, log_scale = forward(frame_loglik, startprob, transmat)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow: the log-space fallback below
        beta = backward(frame_loglik, transmat, log_scale)
    log_likelihood = float(np.sum(log_scale))

    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        resp = alpha * beta
        resp /= resp.sum(axis=1, keepdims=True)
        if len(lik) > 1:
            # xi_t(i, j) ∝ alpha[t, i] A[i, j] lik[t+1, j] beta[t+1, j], each t normalised to 1
            right = lik[1:] * beta[1:]
            norm = np.einsum("tj,tj->t", alpha[:-1] @ transmat, right)
            xi_sum = transmat * ((alpha[:-1] / norm[:, None]).T @ right)
        else:
            xi_sum = np.zeros_like(transmat, dtype=float)
    if not (np.all(np.isfinite(resp)) and np.all(np.isfinite(xi_sum))):
        # The scaled quantities keep every row's sum at 1, but a product of
        # two of them can still underflow (frame log-likelihoods differing by
        # ~700 between states, with forbidden transitions): then the
        # log-space recursions, which cannot underflow, give the posteriors.
        return _forward_backward_log(frame_loglik, startprob, transmat)
    return resp, xi_sum, log_likelihood


def _forward_backward_log(frame_loglik, startprob, transmat):
    log_alpha = forward_log(frame_loglik, startprob, transmat)
    log_beta = backward_log(frame_loglik, transmat)
    log_likelihood = float(logsumexp(log_alpha[-1]))
    if not np.isfinite(log_likelihood):
        raise ValueError("the sequence has probability zero under the parameters")
    resp = np.exp(log_alpha + log_beta - log_likelihood)
    with np.errstate(divide="ignore"):
        log_trans = np.log(transmat)
    log_xi = (
        log_alpha[:-1, :, None]
        + log_trans[None]
        + (frame_loglik[1:] + log_beta[1:])[:, None, :]
        - log_likelihood
    )
    xi_sum = np.exp(log_xi).sum(axis=0) if len(log_xi) else np.zeros_like(transmat, dtype=float)
    return resp, xi_sum, log_likelihood


def viterbi(frame_loglik, startprob, transmat):
    """Most probable state path, :eq:`hmm-viterbi`, in log space.

    Parameters
    ----------
    frame_loglik : array of shape (n_samples, n_components)
    startprob : array of shape (n_components,)
    transmat : array of shape (n_components, n_components)

    Returns
    -------
    log_prob : float
        ``log p(x, path)``, the joint log-probability of the data and the path.
    path : ndarray of shape (n_samples,)
        State indices; ties go to the lowest index.
    """
    frame_loglik = _check_inputs(frame_loglik, startprob, transmat)
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(startprob), np.log(transmat)
    n_samples, n_components = frame_loglik.shape
    backpointer = np.empty((n_samples, n_components), dtype=np.intp)
    delta = log_start + frame_loglik[0]
    cols = np.arange(n_components)
    for t in range(1, n_samples):
        scores = delta[:, None] + log_trans  # scores[i, j]: best path ending i -> j
        backpointer[t] = np.argmax(scores, axis=0)
        delta = scores[backpointer[t], cols] + frame_loglik[t]
    log_prob = float(np.max(delta))
    if not np.isfinite(log_prob):
        raise ValueError("the sequence has probability zero under the parameters")
    path = np.empty(n_samples, dtype=np.intp)
    path[-1] = int(np.argmax(delta))
    for t in range(n_samples - 1, 0, -1):
        path[t - 1] = backpointer[t, path[t]]
    return log_prob, path
