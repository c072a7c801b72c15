"""The forward–backward core shared by every hidden Markov model in :mod:`emtutor`.

Everything here works on one sequence and on the *frame log-likelihoods*
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
* :func:`filter_chunked`: the same scaled forward recursion run on
  ``sqrt(T)`` chunks of the sequence in parallel (the recursion is linear,
  so each chunk can first be pushed through with every possible starting
  state, and the chunks stitched together afterwards).  The backward
  recursion has the same form run backwards in time, so
  :func:`forward_backward` uses it for both passes.  It computes the same
  numbers as the reference to rounding error, with about ``3 sqrt(T)``
  Python-level steps per pass instead of ``T``; the tests check that they
  agree.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "forward",
    "backward",
    "forward_log",
    "backward_log",
    "filter_chunked",
    "forward_backward",
    "viterbi",
]


def _scaled_likelihoods(frame_loglik):
    """``exp(frame_loglik - max_k)`` and the per-step maxima.

    Subtracting the largest log-likelihood of each step keeps the largest
    entry of every row at 1, so far-away observations never underflow to a
    row of zeros; the maxima are added back to the log-likelihood.
    """
    shift = np.max(frame_loglik, axis=1)
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


def filter_chunked(init, matrix, lik, chunk_size=None):
    """Normalised solution of ``v[t] ∝ (v[t-1] @ matrix) * lik[t]``, chunk-parallel.

    This is the scaled forward recursion :eq:`hmm-forward-scaled` (with
    ``v[0] = init``); run on reversed time with ``matrix = transmat.T`` it
    is the backward recursion.  The sequence is cut into chunks of
    ``chunk_size`` steps (default ``ceil(sqrt(T))``):

    1. every chunk is pushed through with all ``n_components`` unit
       starting vectors at once (a product of ``chunk_size`` matrices
       ``matrix @ diag(lik[t])``, each row renormalised and its log scale
       kept), all chunks in parallel;
    2. a short sequential pass over the chunks gives each chunk's true
       starting vector (weights combined in log space, so a row that became
       tiny cannot turn into 0/0);
    3. the recursion itself is rerun in all chunks in parallel from those
       starting vectors.

    Parameters
    ----------
    init : array of shape (n_components,)
        ``v[0]``, non-negative with positive sum.
    matrix : array of shape (n_components, n_components)
    lik : array of shape (n_samples, n_components)
        Non-negative; ``lik[0]`` is not used.
    chunk_size : int, optional

    Returns
    -------
    v : ndarray of shape (n_samples, n_components)
        Every row sums to 1.
    """
    n_samples, n_components = lik.shape
    out = np.empty((n_samples, n_components))
    if not init.sum() > 0:
        raise ValueError("the sequence has probability zero under the parameters (at step 0)")
    out[0] = init / init.sum()
    n_steps = n_samples - 1
    if n_steps == 0:
        return out
    size = chunk_size or int(np.ceil(np.sqrt(n_steps)))
    n_chunks = -(-n_steps // size)
    # steps past the end multiply by ones and are discarded
    steps = np.ones((n_chunks * size, n_components))
    steps[:n_steps] = lik[1:]
    steps = steps.reshape(n_chunks, size, n_components).transpose(1, 0, 2)  # (size, chunks, K)

    # 1. chunk transfer matrices from every unit start, rows renormalised
    # prod holds the chunks' K x K matrices stacked as one (chunks * K, K) array,
    # so that each step is one 2-D matrix product
    prod = np.tile(np.eye(n_components), (n_chunks, 1))
    shape3 = (n_chunks, n_components, n_components)
    row_sums = np.empty((size, n_chunks, n_components))
    tiny = np.finfo(float).tiny
    add, maximum = np.add.reduce, np.maximum  # skip the Python wrappers in the hot loops
    for s in range(size):
        prod = prod @ matrix
        view = prod.reshape(shape3)
        view *= steps[s][:, None, :]
        rows = add(view, axis=2)
        row_sums[s] = rows
        view /= maximum(rows, tiny)[:, :, None]  # a zero row stays zero
    prod = prod.reshape(shape3)
    with np.errstate(divide="ignore"):
        log_row_scale = np.log(row_sums).sum(axis=0)  # -inf: a start that cannot continue

    # 2. sequential stitching: each chunk's starting vector
    starts = np.empty((n_chunks, n_components))
    v = out[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in range(n_chunks):
            starts[c] = v
            w = np.log(v) + log_row_scale[c]
            v = np.exp(w - w.max()) @ prod[c]
            v /= add(v)

        # 3. the recursion in every chunk at once
        result = np.empty((size, n_chunks, n_components))
        v = starts
        for s in range(size):
            v = (v @ matrix) * steps[s]
            v /= add(v, axis=1, keepdims=True)
            result[s] = v
    # Only the real steps are checked: the padding steps past the end still
    # apply ``matrix``, and in the backward pass (``matrix = transmat.T``) a
    # state that no state can enter has a zero row there, so a padding step
    # may give 0/0 even though the sequence is possible.
    out[1:] = result.transpose(1, 0, 2).reshape(-1, n_components)[:n_steps]
    if not np.all(np.isfinite(out)):  # a zero normaliser gave 0/0 at a real step
        raise ValueError("the sequence has probability zero under the parameters")
    return out


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
        :func:`backward_log`; ``"chunked"``: :func:`filter_chunked` for
        both passes (fastest, same numbers).

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
        ``resp[t, k] = p(z_t = k | x)``, the state posteriors.
    xi_sum : ndarray of shape (n_components, n_components)
        ``xi_sum[i, j] = sum_t p(z_t = i, z_{t+1} = j | x)``.
    log_likelihood : float
        ``log p(x)``.
    """
    frame_loglik = np.asarray(frame_loglik, dtype=float)
    if method == "log":
        return _forward_backward_log(frame_loglik, startprob, transmat)
    lik, shift = _scaled_likelihoods(frame_loglik)
    if method == "scaled":
        alpha, log_scale = forward(frame_loglik, startprob, transmat)
        beta = backward(frame_loglik, transmat, log_scale)
        log_likelihood = float(np.sum(log_scale))
    elif method == "chunked":
        alpha = filter_chunked(startprob * lik[0], transmat, lik)
        # h[t] = beta[t] * lik[t] obeys h[t] ∝ (h[t+1] @ transmat.T) * lik[t]
        h = filter_chunked(lik[-1], transmat.T, lik[::-1])[::-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = np.where(lik > 0, h / lik, 0.0)
        # scale[t] = sum_j (alpha[t-1] @ A)_j lik[t, j]: all at once
        scale = np.empty(len(lik))
        scale[0] = startprob @ lik[0]
        scale[1:] = np.einsum("tj,tj->t", alpha[:-1] @ transmat, lik[1:])
        if not np.all(scale > 0):
            raise ValueError("the sequence has probability zero under the parameters")
        log_likelihood = float(np.sum(np.log(scale) + shift))
    else:
        raise ValueError(f"method must be 'chunked', 'scaled' or 'log', got {method!r}")

    resp = alpha * beta
    resp /= resp.sum(axis=1, keepdims=True)
    if len(lik) > 1:
        # xi_t(i, j) ∝ alpha[t, i] A[i, j] lik[t+1, j] beta[t+1, j], each t normalised to 1
        right = lik[1:] * beta[1:]
        norm = np.einsum("tj,tj->t", alpha[:-1] @ transmat, right)
        xi_sum = transmat * ((alpha[:-1] / norm[:, None]).T @ right)
    else:
        xi_sum = np.zeros_like(transmat, dtype=float)
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
    frame_loglik = np.asarray(frame_loglik, dtype=float)
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
