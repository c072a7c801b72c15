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


def _scaled_likelihoods(frame_loglik):
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
    return np.exp(frame_loglik - shift[:, None]), shift


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


def _renormalise_at(bounds):
    """Steps after which the rows must be renormalised, from per-step bounds.

    ``bounds[s] <= 0`` bounds below the log of how much step ``s`` can shrink a
    row's sum (the smallest scaled likelihood of the step: the transition
    matrix keeps row sums).  Renormalising only when the next step could take
    the accumulated shrinkage below ``_LOG_FLOOR`` keeps every row far from
    underflow while skipping most of the work.
    """
    after = np.zeros(len(bounds), dtype=bool)
    total = 0.0
    for s, b in enumerate(bounds):
        total += b
        if s + 1 < len(bounds) and total + bounds[s + 1] < _LOG_FLOOR:
            after[s] = True
            total = 0.0
    after[-1] = True
    return after


def _forward_backward_chunked(frame_loglik, lengths, startprob, transmat, chunk_size=None):
    """:func:`forward_backward_sequences`' fast path; its last result says whether all is finite."""
    frame_loglik = np.asarray(frame_loglik, dtype=float)
    lik, shift = _scaled_likelihoods(frame_loglik)
    n_samples, k = lik.shape
    lengths = np.asarray(lengths, dtype=np.intp)
    ends = np.cumsum(lengths)
    begins = ends - lengths
    size = int(chunk_size or max(1, min(int(np.ceil(1.8 * np.sqrt(n_samples))), lengths.max())))
    n_chunks = -(-lengths // size)  # per sequence
    seq_of_chunk = np.repeat(np.arange(len(lengths)), n_chunks)
    first_chunk = np.cumsum(n_chunks) - n_chunks
    index_in_seq = np.arange(len(seq_of_chunk)) - first_chunk[seq_of_chunk]
    n_total = len(seq_of_chunk)
    # times of every chunk's steps; past a sequence's end, the
    # sentinel row n_samples, whose likelihoods are ones
    times = (begins[seq_of_chunk] + size * index_in_seq)[:, None] + np.arange(size)
    times = np.where(times < ends[seq_of_chunk][:, None], times, n_samples)  # (chunks, size)
    # and where each time's step is in the (size * chunks) steps
    seq_of_time = np.repeat(np.arange(len(lengths)), lengths)
    offset = np.arange(n_samples) - begins[seq_of_time]
    position = (offset % size) * n_total + first_chunk[seq_of_time] + offset // size
    # log of the smallest scaled likelihood of every step (a zero one is -inf)
    with np.errstate(divide="ignore"):
        smallest = np.log(reduce(np.minimum, lik.T))
    bounds = np.take(np.append(smallest, 0.0), times).min(axis=0)
    steps = np.take(np.vstack([lik, np.ones(k)]), times, axis=0).transpose(1, 0, 2).copy()  # (size, chunks, K)
    renormalise = _renormalise_at(bounds)
    # backward, a step shrinks the sum by at most the smallest column sum of A too
    transmat = np.asarray(transmat, dtype=float)
    with np.errstate(divide="ignore"):
        back_bounds = bounds + min(np.log(np.min(transmat.sum(axis=0))), 0.0)
    renormalise_back = _renormalise_at(back_bounds[::-1])[::-1]  # after step s (in backward order)
    first = index_in_seq == 0
    transmat = np.asarray(transmat, dtype=float)
    ones = np.ones(k)
    tiny = np.finfo(float).tiny

    # 1. every chunk's transfer matrix, rows renormalised, log scale kept:
    #    P_c = B D_{t0} A D_{t0+1} ... A D_{t_end}, with B = I for a sequence's first chunk, else A
    prod = np.empty((n_total, k, k))
    prod[:] = transmat
    prod[first] = np.eye(k)
    prod *= steps[0][:, None, :]
    flat = prod.reshape(-1, k)
    log_row_scale = np.zeros(n_total * k)
    with np.errstate(divide="ignore"):
        for s in range(size):
            if s > 0:
                flat = flat @ transmat
                flat.reshape(n_total, k, k).__imul__(steps[s][:, None, :])
            if renormalise[s]:
                sums = flat @ ones
                log_row_scale += np.log(sums)
                flat /= np.maximum(sums, tiny)[:, None]
    prod = flat.reshape(n_total, k, k)
    log_row_scale = log_row_scale.reshape(n_total, k)

    # 2. each chunk's starting and ending vector: a pass over the chunks of each
    #    sequence, all sequences at once, in log space
    layers = [np.flatnonzero(index_in_seq == j) for j in range(n_chunks.max())]
    pre = np.empty((n_total, k))  # alpha just before the chunk (startprob for a first chunk)
    post = np.empty((n_total, k))  # beta at the chunk's last step
    chunk_log_norm = np.empty(n_total)
    vectors = np.tile(startprob, (len(lengths), 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        for ids in layers:
            seqs = seq_of_chunk[ids]
            v = vectors[seqs]
            pre[ids] = v
            w = np.log(v) + log_row_scale[ids]
            top = w.max(axis=1, keepdims=True)
            u = np.matmul(np.exp(w - top)[:, None, :], prod[ids])[:, 0]
            total = u @ ones
            chunk_log_norm[ids] = top[:, 0] + np.log(total)
            vectors[seqs] = u / total[:, None]
        vectors[:] = 1.0
        for ids in layers[::-1]:
            seqs = seq_of_chunk[ids]
            v = vectors[seqs]
            post[ids] = v
            w = np.log(np.matmul(prod[ids], v[:, :, None])[:, :, 0]) + log_row_scale[ids]
            u = np.exp(w - w.max(axis=1, keepdims=True))
            vectors[seqs] = u / (u @ ones)[:, None]

        # 3. the recursions in every chunk at once, from those vectors
        alpha = np.empty((size, n_total, k))
        v = pre @ transmat
        v[first] = pre[first]
        np.multiply(v, steps[0], out=alpha[0])
        for s in range(1, size):
            v = alpha[s - 1]
            if renormalise[s - 1]:
                v = v / (v @ ones)[:, None]
            np.multiply(v @ transmat, steps[s], out=alpha[s])
        beta = np.empty((size, n_total, k))
        beta[-1] = post
        transposed = transmat.T
        for s in range(size - 1, 0, -1):
            v = beta[s]
            if renormalise_back[s + 1] if s + 1 < size else False:
                v = v / (v @ ones)[:, None]
            np.matmul(v * steps[s], transposed, out=beta[s - 1])
    # back to time order (the padding is dropped)
    alpha = np.take(alpha.reshape(-1, k), position, axis=0)
    beta = np.take(beta.reshape(-1, k), position, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # alpha and beta are known up to a factor per step, which cancels here
        resp = alpha * beta
        resp /= (resp @ ones)[:, None]
        # xi_t(i, j) ∝ alpha[t-1, i] A[i, j] lik[t, j] beta[t, j], for t past each sequence's start
        right = lik[1:] * beta[1:]
        weight = 1.0 / (((alpha[:-1] @ transmat) * right) @ ones)
        weight[begins[1:] - 1] = 0.0
        xi_sum = transmat * ((alpha[:-1] * weight[:, None]).T @ right)
    log_likelihoods = np.bincount(seq_of_chunk, weights=chunk_log_norm, minlength=len(lengths))
    log_likelihoods += np.add.reduceat(shift, begins) if len(begins) else 0.0
    ok = np.isfinite(log_likelihoods).all() and np.isfinite(resp).all() and np.isfinite(xi_sum).all()
    return resp, xi_sum, log_likelihoods, ok


def forward_backward_sequences(frame_loglik, lengths, startprob, transmat, chunk_size=None):
    """Posteriors and log-likelihoods of many sequences at once, chunk-parallel.

    The scaled recursions :eq:`hmm-forward-scaled` and
    :eq:`hmm-backward-scaled` are linear in the vectors they carry:
    ``alpha[t] ∝ alpha[t-1] M_t`` and ``beta[t-1] ∝ M_t beta[t]`` with the same
    matrix ``M_t = A diag(lik[t])``.  Every sequence is cut into chunks of
    ``chunk_size`` steps (default about ``1.8 sqrt(n_samples)``, at most the
    longest sequence), and

    1. every chunk's transfer matrix, the product of its ``M_t``, is built
       for all chunks at once (one matrix product per step of a chunk, its
       rows renormalised, with their log scales kept, only as often as
       underflow could threaten: each step shrinks a row by at most its
       smallest scaled likelihood);
    2. a pass over the chunks of each sequence (all sequences at once)
       carries the forward vector to every chunk's start and, in reverse,
       the backward vector to every chunk's end, through those matrices
       and in log space; the forward pass's normalisers add up to the
       log-likelihood;
    3. both recursions are rerun in all chunks at once from those vectors.

    That is about ``20 sqrt(T)`` NumPy operations instead of ``T`` Python
    steps, and one transfer matrix per chunk serves both directions.  The
    results equal the step-by-step recursions' to rounding.  Should a
    sequence be so extreme that something here is not finite, that
    sequence is computed step by step (:func:`forward` and :func:`backward`),
    which also raises the error for a sequence of probability zero.

    Parameters
    ----------
    frame_loglik : array of shape (n_samples, n_components)
        The sequences one after the other.
    lengths : array of int
        Their lengths, summing to ``n_samples``.
    startprob : array of shape (n_components,)
    transmat : array of shape (n_components, n_components)
    chunk_size : int, optional

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    xi_sum : ndarray of shape (n_components, n_components)
        Summed over all sequences.
    log_likelihoods : ndarray of shape (n_sequences,)
    """
    resp, xi_sum, log_likelihoods, finite = _forward_backward_chunked(
        frame_loglik, lengths, startprob, transmat, chunk_size)
    if finite:
        return resp, xi_sum, log_likelihoods
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
