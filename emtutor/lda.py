"""Latent Dirichlet allocation fitted by variational EM (Blei, Ng & Jordan 2003).

The model (:eq:`lda-generative`): each topic ``k`` is a distribution
``beta[k]`` over the ``n_words`` words of the vocabulary; each document
draws topic proportions ``theta_d ~ Dirichlet(alpha)`` and each of its words
first a topic ``z ~ theta_d`` and then the word ``w ~ beta[z]``.  The
posterior of ``(theta, z)`` is intractable, so the E-step fits the
mean-field approximation ``q(theta_d) = Dirichlet(gamma[d])``,
``q(z = k | word v in document d) = phi[d, v, k]`` by coordinate ascent on
the evidence lower bound (ELBO, :eq:`lda-elbo`): :eq:`lda-phi-update` and
:eq:`lda-gamma-update`.  The M-step maximises the same bound over the
topics, :eq:`lda-beta-update` (with a symmetric Dirichlet(``eta``) prior on
the topics, over the Dirichlet parameters ``lambda`` of ``q(beta_k)``) and,
optionally, over ``alpha`` by Newton's method (:eq:`lda-alpha-newton`).

Why the recorded ELBO never decreases
-------------------------------------
The driver :func:`emtutor.em.run_em` records the objective returned by each
E-step and raises on a decrease.  The E-step is iterative and stops at a
tolerance, so it is *not* exact; monotonicity still holds because every
piece is an ascent step on one function, the ELBO ``L(q, params)``:

* the E-step runs its ascent from the fresh start of :eq:`lda-gamma-start`
  (not from the previous ``gamma``, which would hold every document in the
  basin of its first assignments) and then keeps, per document, whichever
  is better: that ascent's ``q``, or the previous E-step's ``gamma`` (its
  :class:`LDAExpectations`, which the driver :func:`emtutor.em.run_em`
  hands every E-step as ``previous``) with ``phi`` re-fitted to the new
  topics by :eq:`lda-phi-update` (:eq:`lda-e-step-guard`).  The ``phi``
  update is the exact maximiser of ``L`` given ``gamma``, so the E-step's
  ``q`` is never worse than the previous ``q`` under the new parameters: a
  partial maximisation, not the best ``q`` (which is intractable to find,
  each document's bound having several local maxima when ``alpha < 1``);
* the E-step ends on a ``phi`` update and returns ``L`` computed exactly
  for the ``(gamma, phi)`` it returns (no ``eps`` added anywhere; the
  normaliser ``Z`` is only floored at the smallest positive float, which
  matters only if it would otherwise underflow to 0);
* the M-step for the topics is the exact maximiser of ``L`` over them given
  ``q``, and the Newton iteration for ``alpha`` accepts a step only if it
  does not lower the ``alpha``-part of ``L`` (halving it otherwise).

So ``L(q_t, params_t) <= L(q_t, params_{t+1}) <= L(q_{t+1}, params_{t+1})``.
The objective :func:`fit` records is therefore the ELBO, not the
log-likelihood (which is intractable): the E-step's value is ``L`` of the
``q`` it returns, a lower bound on ``log p(X | params)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields
from functools import partial
from typing import Callable, NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln, polygamma

from ._validation import (as_float_2d, as_rng, caller_stacklevel, check_flag, check_nonnegative, check_not_complex,
                          check_positive_int)
from .em import ConvergenceWarning, EMHistory, EMResult, run_em
from .gmm import RestartSummary, _summarise_restarts

__all__ = [
    "LDAParams",
    "LDAExpectations",
    "LDAResult",
    "as_count_matrix",
    "expected_log_beta",
    "topic_word_distribution",
    "e_step",
    "m_step",
    "m_step_from_statistics",
    "alpha_newton",
    "elbo",
    "transform",
    "perplexity",
    "top_words",
    "initial_params",
    "fit",
]

# Documents are processed in blocks holding about this many (non-zero, topic)
# pairs, which bounds the memory of the E-step's gathered arrays.
_BLOCK_PAIRS = 2**18
_TINY = np.finfo(float).tiny
# A block of documents is handled as a dense array when at least this
# fraction of its (document, word) pairs occur.
_DENSE_FRACTION = 0.2


class LDAParams(NamedTuple):
    """Parameters of latent Dirichlet allocation.

    Attributes
    ----------
    alpha : ndarray of shape (n_components,)
        Dirichlet parameter of the topic proportions, all entries > 0.
    topic_word : ndarray of shape (n_components, n_words)
        If ``eta is None``: the topics ``beta`` themselves (rows sum to 1).
        Otherwise: the parameters ``lambda`` of the variational Dirichlet
        ``q(beta_k) = Dirichlet(lambda[k])`` (all entries > 0).
    eta : float or None
        Symmetric Dirichlet prior on the topics, a fixed hyperparameter that
        says how to read ``topic_word``; ``None`` means no prior
        (maximum-likelihood topics).
    """

    alpha: np.ndarray
    topic_word: np.ndarray
    eta: float | None = None


class LDAExpectations(NamedTuple):
    """What the E-step returns (besides the ELBO).

    Attributes
    ----------
    gamma : ndarray of shape (n_docs, n_components)
        Variational Dirichlet parameters, ``q(theta_d) = Dirichlet(gamma[d])``.
    topic_word_counts : ndarray of shape (n_components, n_words)
        Expected number of times each word is assigned to each topic,
        ``sum_d n[d, v] phi[d, v, k]``, the sufficient statistics of the
        M-step.
    doc_elbo : ndarray of shape (n_docs,)
        Each document's term of the ELBO (0 for a document with no words).
    """

    gamma: np.ndarray
    topic_word_counts: np.ndarray
    doc_elbo: np.ndarray


# --------------------------------------------------------------------------
# input checks


def as_count_matrix(X, name: str = "X") -> sp.csr_matrix:
    """Validate a document-term count matrix and return it as canonical CSR.

    Dense and sparse input with the same values give the same CSR matrix
    (float64, sorted indices, no duplicates, no explicit zeros), so every
    function gives identical results for both.

    Parameters
    ----------
    X : array or scipy.sparse matrix of shape (n_docs, n_words)
        ``X[d, v]`` is the number of times word ``v`` occurs in document
        ``d``; non-negative and finite (non-integer counts are allowed).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_docs, n_words)

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, has no documents or an empty vocabulary, or
        contains negative, NaN or infinite counts.
    """
    check_not_complex(X, name)
    if sp.issparse(X):
        try:
            X = sp.csr_matrix(X, dtype=float, copy=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric count matrix: {exc}") from None
    else:
        X = as_float_2d(X, name, what="numeric count matrix", rows="n_docs", columns="n_words",
                        hint="X.reshape(1, -1) if it is a single document")
        X = sp.csr_matrix(X)
    n_docs, n_words = X.shape
    if n_words == 0:
        raise ValueError(
            f"{name} has an empty vocabulary: 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
            "required. It needs at least one word."
        )
    if n_docs == 0:
        raise ValueError(f"{name} has no documents: 0 sample(s) (shape={X.shape}) while a minimum of 1 is required")
    X.sum_duplicates()
    if not np.all(np.isfinite(X.data)):
        raise ValueError(f"{name} contains NaN or inf counts; counts must be finite")
    if np.any(X.data < 0):
        raise ValueError(f"Negative values in data passed to {name}: word counts must be >= 0, but "
                         f"{name} contains negative counts")
    X.eliminate_zeros()
    X.sort_indices()
    return X


def _check_params(params: LDAParams, X: sp.csr_matrix) -> LDAParams:
    n_words = X.shape[1]
    alpha = np.asarray(params.alpha, dtype=float)
    if alpha.ndim != 1 or not np.all(np.isfinite(alpha)) or np.any(alpha <= 0):
        raise ValueError(f"alpha must be a 1-D array of finite numbers > 0, got {alpha!r}")
    n_components = len(alpha)
    topic_word = np.asarray(params.topic_word, dtype=float)
    if topic_word.shape != (n_components, n_words):
        raise ValueError(
            f"topic_word must have shape (n_components, n_words) = {(n_components, n_words)}, "
            f"got {topic_word.shape} (X has {n_words} words)"
        )
    if not np.all(np.isfinite(topic_word)):
        raise ValueError("topic_word contains NaN or inf")
    eta = params.eta
    if eta is None:
        sums, negative = topic_word.sum(axis=1), np.any(topic_word < 0, axis=1)
        bad = np.flatnonzero(negative | ~np.isclose(sums, 1.0, rtol=0, atol=1e-8))
        if len(bad):
            row = int(bad[0])
            raise ValueError(f"without eta, topic_word must hold the topics: rows >= 0 summing to 1; row {row} "
                             f"sums to {sums[row]:.6g}{' and has negative entries' if negative[row] else ''}"
                             " (divide each row by its sum)")
    else:
        eta = check_nonnegative(eta, "eta")
        if eta == 0:
            raise ValueError("eta must be > 0 (or None for no prior on the topics)")
        if np.any(topic_word <= 0):
            raise ValueError("with eta, topic_word holds Dirichlet parameters lambda, which must be > 0")
    return LDAParams(alpha, topic_word, eta)


def _start_gamma(previous, n_docs: int, n_components: int) -> np.ndarray | None:
    """The ``gamma`` of the previous E-step's expectations, checked (None: there is none)."""
    if previous is None:
        return None
    gamma = np.asarray(previous.gamma, dtype=float)
    if gamma.shape != (n_docs, n_components):
        raise ValueError(
            f"previous.gamma must have shape (n_docs, n_components) = {(n_docs, n_components)}, "
            f"got {gamma.shape}"
        )
    if not np.all(np.isfinite(gamma)) or np.any(gamma <= 0):
        raise ValueError("previous.gamma must be finite and > 0")
    return gamma.copy()


# --------------------------------------------------------------------------
# the topics


def expected_log_beta(params: LDAParams) -> np.ndarray:
    """``E_q[log beta[k, v]]``: the log topics the E-step uses.

    Without a prior (``params.eta is None``) this is ``log beta`` (``-inf``
    where a topic gives a word probability 0); with one it is
    ``digamma(lambda[k, v]) - digamma(sum_v lambda[k, v])`` (:eq:`lda-elbo`).

    Parameters
    ----------
    params : LDAParams

    Returns
    -------
    ndarray of shape (n_components, n_words)
    """
    topic_word = np.asarray(params.topic_word, dtype=float)
    if params.eta is None:
        with np.errstate(divide="ignore"):
            return np.log(topic_word)
    return digamma(topic_word) - digamma(topic_word.sum(axis=1, keepdims=True))


def topic_word_distribution(params: LDAParams) -> np.ndarray:
    """The topics as probability distributions over words.

    ``beta`` itself without a prior; the posterior mean
    ``lambda[k] / sum_v lambda[k, v]`` with one.

    Returns
    -------
    ndarray of shape (n_components, n_words)
        Rows sum to 1.
    """
    topic_word = np.asarray(params.topic_word, dtype=float)
    return topic_word / topic_word.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------
# E-step


def e_step(X, params: LDAParams, previous: LDAExpectations | None = None, *, tol: float = 1e-3,
           max_iter: int = 100, warm_start: bool = False):
    """E-step: per-document coordinate ascent on the ELBO from a fresh start, never below the previous ``q``.

    For every document, alternate :eq:`lda-phi-update` (``phi`` given
    ``gamma``) and :eq:`lda-gamma-update` (``gamma`` given ``phi``), starting
    from the fresh start ``alpha + n_tokens / n_components``, :eq:`lda-gamma-start`
    (Blei, Ng & Jordan 2003, figure 6), until the
    mean absolute change of ``gamma[d]`` is below ``tol`` or after
    ``max_iter`` updates; then a last :eq:`lda-phi-update`.  Every E-step
    starts afresh, so a document is not held in the basin its earlier
    ``gamma`` was in (with ``alpha < 1`` a document's bound has several
    local maxima, and a warm start from the previous ``gamma`` keeps each
    document where the first, nearly uniform, topics put it).

    Given ``previous`` (what :func:`emtutor.em.run_em` hands every E-step),
    each document keeps whichever has the higher ELBO
    (:eq:`lda-e-step-guard`): the fresh ascent's ``q``, or the previous
    ``gamma`` with the ``phi`` of :eq:`lda-phi-update` for the current
    topics.  The latter is at least the ELBO of the previous ``q`` under the
    current parameters (the ``phi`` update is the exact maximiser given
    ``gamma``), so the E-step never returns a lower ELBO than the previous
    ``q`` has: a partial maximisation, enough for EM's monotone ELBO.

    ``phi`` is never stored: with
    ``A[d, k] = exp(E log theta[d, k])`` and ``B[k, v] = exp(E log beta[k, v])``
    it is ``A[d, k] B[k, v] / Z[d, v]`` with ``Z[d, v] = sum_k A[d, k] B[k, v]``,
    needed only where ``X[d, v] > 0``; both exponents are shifted by their
    maxima so nothing underflows.

    The returned objective is :eq:`lda-elbo` evaluated exactly at the
    returned ``q``: with ``phi`` optimal for ``gamma`` the word terms
    collapse to ``sum_v X[d, v] log Z[d, v]`` (:eq:`lda-elbo-collapsed`).  A document with no words has
    ``gamma[d] = alpha`` and contributes 0.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_docs, n_words)
    params : LDAParams
    previous : LDAExpectations, optional
        The previous E-step's expectations; each document's result is never
        worse than their ``gamma`` (see above).
    tol : float, default 1e-3
        Per-document stopping threshold on ``mean_k |change of gamma[d, k]|``.
    max_iter : int, default 100
        Maximum number of ``gamma`` updates per document.
    warm_start : bool, default False
        Also continue the ascent from ``previous.gamma`` (instead of only
        re-evaluating it) and keep, per document, the better ``q`` of the
        two ascents; about twice the cost.

    Returns
    -------
    expectations : LDAExpectations
    elbo : float
        The ELBO :eq:`lda-elbo` of ``expectations`` and ``params`` (including
        the topics' prior term when ``params.eta`` is set).

    Raises
    ------
    ValueError
        If a document contains a word that every topic gives probability 0
        (possible only without ``eta``, for words unseen in training).
    """
    X = X if _is_canonical(X) else as_count_matrix(X)
    params = _check_params(params, X)
    tol = check_nonnegative(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter")
    alpha = params.alpha
    n_docs, n_words = X.shape
    n_components = len(alpha)
    start_gamma = _start_gamma(previous, n_docs, n_components)

    log_beta = expected_log_beta(params)
    word_shift = log_beta.max(axis=0)  # c[v] = max_k E log beta[k, v]
    with np.errstate(invalid="ignore"):  # -inf - (-inf) for a word no topic has
        exp_beta_t = np.ascontiguousarray(np.exp(log_beta - word_shift).T)  # B[k, v] / exp(c[v]), (n_words, n_components)
    exp_beta_t[~np.isfinite(word_shift)] = 0.0
    present = np.zeros(n_words, bool)
    present[X.indices] = True
    if np.any(~np.isfinite(word_shift[present])):
        bad = np.flatnonzero(present & ~np.isfinite(word_shift))
        raise ValueError(
            f"words {bad[:10].tolist()} occur in X but have probability 0 under every topic "
            "(they never occurred in the training documents); fit with eta > 0 to smooth the topics"
        )

    lengths = np.diff(X.indptr)
    gamma = alpha + X.sum(axis=1).A1[:, None] / n_components  # the fresh start (lda-gamma-start)
    gamma[lengths == 0] = alpha  # the exact optimum for a document with no words

    counts = np.zeros((n_components, n_words))
    doc_elbo = np.zeros(n_docs)
    for start, stop in _blocks(X.indptr, n_components):
        docs = slice(start, stop)
        block = X[docs]
        nonempty = np.flatnonzero(lengths[docs] > 0)
        if len(nonempty) == 0:
            continue
        block = block[nonempty]
        dense = block.nnz >= _DENSE_FRACTION * block.shape[0] * n_words
        g = _update_gamma(block, gamma[docs][nonempty], alpha, exp_beta_t, tol, max_iter, dense)
        a, norm, elbo_d = _final_phi(block, g, alpha, exp_beta_t, word_shift, dense)
        if start_gamma is not None:
            # the previous q under the new topics (lda-e-step-guard): its gamma with the
            # phi of lda-phi-update, continued by the ascent only with warm_start
            g1 = start_gamma[docs][nonempty]
            if warm_start:
                g1 = _update_gamma(block, g1, alpha, exp_beta_t, tol, max_iter, dense)
            a1, norm1, elbo1 = _final_phi(block, g1, alpha, exp_beta_t, word_shift, dense)
            better = elbo1 > elbo_d
            g[better], a[better], elbo_d[better] = g1[better], a1[better], elbo1[better]
            pairs = np.repeat(better, np.diff(block.indptr))
            norm[pairs] = norm1[pairs]
        ratio = sp.csr_matrix((block.data / norm, block.indices, block.indptr), shape=block.shape)
        counts += (ratio.T @ a).T
        idx = start + nonempty
        gamma[idx] = g
        doc_elbo[idx] = elbo_d
    counts *= exp_beta_t.T  # sum_d n[d, v] phi[d, v, k] = B[k, v] sum_d a[d, k] n[d, v] / Z[d, v]
    total = float(doc_elbo.sum() + _topic_elbo(params, log_beta))
    return LDAExpectations(gamma, counts, doc_elbo), total


def _final_phi(block, gamma, alpha, exp_beta_t, word_shift, dense):
    """The last phi update (lda-phi-update) and each document's collapsed ELBO (lda-elbo).

    Returns ``a`` (shifted ``exp E log theta``), ``Z`` at the non-zeros of
    ``block`` (shifted), and the per-document ELBO.
    """
    log_theta = digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True))
    doc_shift = log_theta.max(axis=1)
    a = np.exp(log_theta - doc_shift[:, None])
    rows = np.repeat(np.arange(len(gamma)), np.diff(block.indptr))
    if dense:
        norm = (a @ exp_beta_t.T)[rows, block.indices]
    else:
        norm = np.einsum("ik,ik->i", a[rows], exp_beta_t[block.indices])
    np.maximum(norm, _TINY, out=norm)
    word_terms = block.data * (doc_shift[rows] + word_shift[block.indices] + np.log(norm))
    elbo_d = (
        np.add.reduceat(word_terms, block.indptr[:-1])
        + gammaln(alpha.sum())
        - gammaln(alpha).sum()
        - gammaln(gamma.sum(axis=1))
        + gammaln(gamma).sum(axis=1)
        + ((alpha - gamma) * log_theta).sum(axis=1)
    )
    return a, norm, elbo_d


def _update_gamma(block, gamma, alpha, exp_beta_t, tol, max_iter, dense):
    """Coordinate ascent (lda-phi-update then lda-gamma-update) on a block of non-empty docs.

    ``dense`` computes ``Z`` for every (document, word) pair with one matrix
    product (fast when most words occur); otherwise only where ``X > 0``.
    A document stops at the first update that changes its ``gamma`` by less
    than ``tol``; stopped documents are dropped from the arrays only once a
    quarter of them has stopped (rebuilding them every iteration cost more
    than the updates), and until then their updates are computed but not kept.
    """
    if dense:
        return _update_gamma_dense(block, gamma, alpha, exp_beta_t, tol, max_iter)
    n = len(gamma)
    active = np.arange(n)  # the documents in the current arrays
    running = np.ones(n, bool)  # which of them have not stopped
    lengths = np.diff(block.indptr)
    b_a = exp_beta_t[block.indices]
    data = block.data
    ratio = sp.csr_matrix((data.copy(), block.indices, block.indptr), shape=block.shape)
    g = gamma.copy()
    for _ in range(max_iter):
        log_theta = digamma(g) - digamma(g.sum(axis=1, keepdims=True))
        a = np.exp(log_theta - log_theta.max(axis=1, keepdims=True))
        norm = np.einsum("ik,ik->i", np.repeat(a, lengths, axis=0), b_a)
        np.maximum(norm, _TINY, out=norm)
        np.divide(data, norm, out=ratio.data)
        new = alpha + a * (ratio @ exp_beta_t)
        change = np.abs(new - g).mean(axis=1)
        np.copyto(g, new, where=running[:, None])
        running &= change >= tol
        n_running = np.count_nonzero(running)
        if n_running == 0:
            break
        if n_running <= 0.75 * len(active):
            gamma[active] = g
            active, g = active[running], g[running]
            keep = np.repeat(running, lengths)
            lengths, b_a, data = lengths[running], b_a[keep], data[keep]
            indptr = np.concatenate([[0], np.cumsum(lengths)])
            ratio = sp.csr_matrix((data.copy(), ratio.indices[keep], indptr), shape=(len(lengths), block.shape[1]))
            running = np.ones(len(active), bool)
    gamma[active] = g
    return gamma


def _update_gamma_dense(block, gamma, alpha, exp_beta_t, tol, max_iter):
    """:func:`_update_gamma` with ``Z`` for every (document, word) pair.

    Documents are columns here: with a few topics per document, reductions
    over the topics along rows of length ``n_components`` cost several times
    more than along columns.
    """
    n = len(gamma)
    active = np.arange(n)
    running = np.ones(n, bool)
    counts_t = np.ascontiguousarray(block.toarray().T)  # (n_words, n_docs)
    exp_beta = exp_beta_t.T  # (n_components, n_words)
    alpha_col = alpha[:, None]
    g = np.ascontiguousarray(gamma.T)  # (n_components, n_docs)
    for _ in range(max_iter):
        log_theta = digamma(g) - digamma(g.sum(axis=0))
        a = np.exp(log_theta - log_theta.max(axis=0))
        norm = exp_beta_t @ a
        np.maximum(norm, _TINY, out=norm)
        new = alpha_col + a * (exp_beta @ (counts_t / norm))
        change = np.abs(new - g).mean(axis=0)
        np.copyto(g, new, where=running)
        running &= change >= tol
        n_running = np.count_nonzero(running)
        if n_running == 0:
            break
        if n_running <= 0.75 * len(active):
            gamma[active] = g.T
            active, g, counts_t = active[running], g[:, running], counts_t[:, running]
            running = np.ones(len(active), bool)
    gamma[active] = g.T
    return gamma


def _blocks(indptr, n_components):
    n_docs = len(indptr) - 1
    per_block = max(1, _BLOCK_PAIRS // n_components)
    start = 0
    while start < n_docs:
        stop = int(np.searchsorted(indptr, indptr[start] + per_block, side="right")) - 1
        stop = min(max(stop, start + 1), n_docs)
        yield start, stop
        start = stop


def _is_canonical(X) -> bool:
    return isinstance(X, sp.csr_matrix) and X.dtype == float and X.has_canonical_format


def _topic_elbo(params: LDAParams, log_beta: np.ndarray) -> float:
    """The topics' term of :eq:`lda-elbo`: ``E[log p(beta | eta)] - E[log q(beta)]``."""
    if params.eta is None:
        return 0.0
    lam, eta = params.topic_word, params.eta
    n_words = lam.shape[1]
    return float(
        len(lam) * (gammaln(n_words * eta) - n_words * gammaln(eta))
        - gammaln(lam.sum(axis=1)).sum()
        + gammaln(lam).sum()
        + ((eta - lam) * log_beta).sum()
    )


# --------------------------------------------------------------------------
# M-step


def m_step(X, expectations: LDAExpectations, params: LDAParams, *, fit_alpha: bool = False) -> LDAParams:
    """M-step: the topics (and ``alpha``) maximising the ELBO given ``q``.

    The topics are :eq:`lda-beta-update`: without a prior
    (``params.eta is None``) the expected counts normalised per topic; with
    a symmetric Dirichlet(``eta``) prior ``lambda = eta + counts``.  Both
    are the exact maximisers of :eq:`lda-elbo` over the topics.  With
    ``fit_alpha``, ``alpha`` is updated by the safeguarded Newton iteration
    :func:`alpha_newton` (:eq:`lda-alpha-newton`) started from the current
    ``params.alpha``, which it never does worse than; documents with no
    words do not take part.  Otherwise ``params.alpha`` is kept.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_docs, n_words)
        Only used to tell which documents have words (the counts are
        already in ``expectations``).
    expectations : LDAExpectations
    params : LDAParams
        The current parameters: their ``eta`` and (the start of) ``alpha``.
    fit_alpha : bool, default False

    Returns
    -------
    LDAParams

    Raises
    ------
    ValueError
        If, without ``eta``, a topic received no words at all.
    """
    log_theta_sum, n_used = None, 0
    if fit_alpha:
        X = X if _is_canonical(X) else as_count_matrix(X)
        used = np.diff(X.indptr) > 0  # documents with words
        n_used = int(used.sum())
        if n_used:
            log_theta_sum = _log_theta_sum(expectations.gamma[used])
    return m_step_from_statistics(expectations.topic_word_counts, log_theta_sum, n_used, params,
                                  fit_alpha=fit_alpha)


def _log_theta_sum(gamma) -> np.ndarray:
    """``sum_d E log theta[d]`` over the rows of ``gamma`` (the documents with words)."""
    return (digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True))).sum(axis=0)


def m_step_from_statistics(counts, log_theta_sum, n_used: int, params: LDAParams, *,
                           fit_alpha: bool = False) -> LDAParams:
    """The M-step's parameters from its summed statistics (:eq:`mr-m-step`).

    ``counts`` is ``topic_word_counts`` summed over the documents; with
    ``fit_alpha``, ``log_theta_sum`` is ``sum_d E log theta[d]`` over the
    ``n_used`` documents with words (``None`` if there are none).  Shared by
    :func:`m_step` and :mod:`emtutor.mapreduce`.
    """
    eta = params.eta
    if eta is None:
        totals = counts.sum(axis=1, keepdims=True)
        if np.any(totals <= 0):
            empty = np.flatnonzero(totals[:, 0] <= 0).tolist()
            raise ValueError(f"topics {empty} received no words; use fewer topics or set eta > 0")
        topic_word = counts / totals
    else:
        topic_word = eta + counts
    alpha = params.alpha
    if fit_alpha and n_used:
        alpha = alpha_newton(log_theta_sum, int(n_used), alpha)
    return LDAParams(alpha, topic_word, eta)


def _alpha_objective(alpha, log_theta_sum, n_docs):
    return n_docs * (gammaln(alpha.sum()) - gammaln(alpha).sum()) + ((alpha - 1) * log_theta_sum).sum()


def alpha_newton(log_theta_sum, n_docs: int, alpha, *, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Maximise the ``alpha``-part of the ELBO by safeguarded Newton steps.

    The objective ``f(alpha) = n_docs (log Gamma(sum_k alpha_k) - sum_k log
    Gamma(alpha_k)) + sum_k (alpha_k - 1) log_theta_sum[k]`` is concave.  Its
    Hessian is a diagonal plus a constant, so the Newton step
    :eq:`lda-alpha-newton` costs ``O(n_components)``.  A step is halved until
    ``alpha`` stays positive and ``f`` does not decrease, so the result is
    never worse than the starting ``alpha``.

    Parameters
    ----------
    log_theta_sum : array of shape (n_components,)
        ``sum_d E_q[log theta[d, k]]``.
    n_docs : int
        Number of documents in the sum.
    alpha : array of shape (n_components,)
        Starting point, entries > 0.
    tol : float, default 1e-10
        Stop when the largest relative Newton step is below ``tol``.
    max_iter : int, default 100

    Returns
    -------
    ndarray of shape (n_components,)
    """
    alpha = np.array(alpha, dtype=float)
    log_theta_sum = np.asarray(log_theta_sum, dtype=float)
    if len(alpha) == 1:
        return alpha  # theta = 1 whatever alpha is: the objective is constant
    value = _alpha_objective(alpha, log_theta_sum, n_docs)
    for _ in range(max_iter):
        total = alpha.sum()
        grad = n_docs * (digamma(total) - digamma(alpha)) + log_theta_sum
        hess_diag = -n_docs * polygamma(1, alpha)
        hess_const = n_docs * polygamma(1, total)
        shift = np.sum(grad / hess_diag) / (1.0 / hess_const + np.sum(1.0 / hess_diag))
        step = (grad - shift) / hess_diag  # H^{-1} grad
        if not np.all(np.isfinite(step)) or np.max(np.abs(step) / alpha) < tol:
            break
        size = 1.0
        while size > 1e-12:
            candidate = alpha - size * step
            if np.all(candidate > 0):
                new_value = _alpha_objective(candidate, log_theta_sum, n_docs)
                if new_value >= value:
                    break
            size /= 2
        else:
            break  # no ascent step found: alpha is optimal to rounding
        alpha, value = candidate, new_value
    return alpha


# --------------------------------------------------------------------------
# objective, held-out documents, reading the topics


def elbo(X, params: LDAParams, *, tol: float = 1e-3, max_iter: int = 100) -> float:
    """The ELBO :eq:`lda-elbo` after an E-step at ``params``.

    LDA's log-likelihood is intractable; this lower bound plays its role
    (it is what :func:`fit` records after every iteration).

    Parameters
    ----------
    X : array or sparse matrix of shape (n_docs, n_words)
    params : LDAParams
    tol, max_iter
        As in :func:`e_step`.

    Returns
    -------
    float
    """
    return e_step(X, params, tol=tol, max_iter=max_iter)[1]


def transform(X, params: LDAParams, *, tol: float = 1e-3, max_iter: int = 100) -> np.ndarray:
    """Variational topic proportions ``gamma`` of (new) documents.

    Runs the E-step with the topics and ``alpha`` of ``params`` fixed,
    from the fresh start ``alpha + n_tokens / n_components``.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_docs, n_words)
    params : LDAParams
    tol, max_iter
        As in :func:`e_step`.

    Returns
    -------
    gamma : ndarray of shape (n_docs, n_components)
        ``q(theta_d) = Dirichlet(gamma[d])``; ``gamma[d] / gamma[d].sum()``
        is the posterior mean of the topic proportions.
    """
    return e_step(X, params, tol=tol, max_iter=max_iter)[0].gamma


def perplexity(X, params: LDAParams, *, tol: float = 1e-3, max_iter: int = 100) -> float:
    """Perplexity of (held-out) documents, ``exp(-sum_d L_d / n_tokens)``.

    ``L_d`` is document ``d``'s term of :eq:`lda-elbo` after the E-step of
    :func:`transform`, a lower bound on ``log p(w_d)``, so this is an upper
    bound on the perplexity ``exp(-sum_d log p(w_d) / n_tokens)`` of Blei,
    Ng & Jordan (2003, section 7.1).  Lower is better; a model that knows
    nothing (uniform over ``n_words``) scores ``n_words``.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_docs, n_words)
    params : LDAParams
    tol, max_iter
        As in :func:`e_step`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``X`` has no words at all.
    """
    X = X if _is_canonical(X) else as_count_matrix(X)
    n_tokens = X.data.sum()
    if n_tokens <= 0:
        raise ValueError("X has no words; perplexity needs at least one token")
    expectations, _ = e_step(X, params, tol=tol, max_iter=max_iter)
    return float(np.exp(-expectations.doc_elbo.sum() / n_tokens))


def top_words(topic_word, n_top: int = 10, vocabulary=None) -> list:
    """The ``n_top`` most probable words of each topic, most probable first.

    Parameters
    ----------
    topic_word : array of shape (n_components, n_words)
        Topics (or anything proportional to them per row, e.g. ``lambda``).
    n_top : int, default 10
    vocabulary : sequence of str, optional
        Names of the words; without it, word indices are returned.

    Returns
    -------
    list of lists
        ``n_top`` word indices (or names) per topic.  Ties keep the lower index first.
    """
    topic_word = np.asarray(topic_word, dtype=float)
    if topic_word.ndim != 2:
        raise ValueError(f"topic_word must be 2-D of shape (n_components, n_words), got shape {topic_word.shape}")
    n_top = check_positive_int(n_top, "n_top", 1, topic_word.shape[1])
    if vocabulary is not None and len(vocabulary) != topic_word.shape[1]:
        raise ValueError(f"vocabulary has {len(vocabulary)} words, topic_word has {topic_word.shape[1]}")
    order = np.argsort(-topic_word, axis=1, kind="stable")[:, :n_top]
    if vocabulary is None:
        return order.tolist()
    return [[vocabulary[i] for i in row] for row in order]


# --------------------------------------------------------------------------
# fitting


def initial_params(X, n_components: int, *, alpha=None, eta: float | None = None, topic_word=None,
                   random_state=None) -> LDAParams:
    """The parameters :func:`fit` starts from.

    ``alpha`` default ``1 / n_components``; topics (or, with ``eta``, their
    Dirichlet parameters ``lambda``) not given are drawn near uniform with
    ``random_state``.

    Returns
    -------
    LDAParams
    """
    X = as_count_matrix(X)
    return _initial_params(X, check_positive_int(n_components, "n_components"), alpha, eta, topic_word,
                           random_state)


def _initial_params(X, n_components, alpha, eta, topic_word, random_state):
    if alpha is None:
        alpha = 1.0 / n_components
    try:
        alpha = np.asarray(alpha, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number or an array of shape ({n_components},), got {alpha!r}") from None
    if alpha.ndim == 0:
        alpha = np.full(n_components, float(alpha))
    if alpha.shape != (n_components,):
        raise ValueError(
            f"alpha must be a number or an array of shape (n_components,) = ({n_components},), got shape {alpha.shape}"
        )
    if topic_word is None:
        rng = as_rng(random_state)
        topic_word = rng.gamma(100.0, 0.01, size=(n_components, X.shape[1]))
        if eta is None:
            topic_word /= topic_word.sum(axis=1, keepdims=True)
    return _check_params(LDAParams(alpha, topic_word, eta), X)


def fit(
    X,
    n_components: int,
    *,
    alpha=None,
    eta: float | None = None,
    fit_alpha: bool = False,
    topic_word=None,
    tol: float = 1e-5,
    max_iter: int = 100,
    e_step_tol: float = 1e-3,
    max_e_step_iter: int = 100,
    warm_start: bool = False,
    n_init: int | None = None,
    init_max_iter: int | None = 20,
    search: bool = True,
    random_state=None,
    record: bool = False,
) -> LDAResult:
    """Fit LDA to a document-term count matrix by variational EM.

    Parameters
    ----------
    X : array or scipy.sparse matrix of shape (n_docs, n_words)
        Word counts; dense and sparse input give identical results.
    n_components : int
        Number of topics.
    alpha : float or array of shape (n_components,), optional
        (Initial) Dirichlet parameter of the topic proportions; default
        ``1 / n_components``.
    eta : float or None, default None
        Symmetric Dirichlet prior on the topics (smoothed LDA); ``None``
        fits maximum-likelihood topics.
    fit_alpha : bool, default False
        Estimate ``alpha`` in every M-step (Newton's method).
    topic_word : array of shape (n_components, n_words), optional
        Initial topics (without ``eta``; rows of probabilities, each
        summing to 1) or ``lambda`` (with ``eta``);
        default random, near uniform, drawn with ``random_state``.
    tol : float, default 1e-5
        Stop when the ELBO *per token* (LDA's observations: the word
        occurrences, ``X.sum()``) changes by less than ``tol`` (see
        :func:`emtutor.em.run_em`).  Smaller than the other models' 1e-4:
        near a good optimum LDA's bound still rises by about 1e-4 per token
        per iteration while its topics sharpen, and stopping there leaves
        them visibly blurred (``benchmarks/lda_recovery.py``).
    max_iter : int, default 100
        Maximum number of EM iterations.
    e_step_tol, max_e_step_iter, warm_start
        The E-step's per-document tolerance, iteration cap and whether it
        also continues the ascent from the previous ``gamma``
        (:func:`e_step`).
    n_init : int, optional
        Number of starts, each from its own random topics drawn with
        ``random_state``; default 5, or 1 when ``topic_word`` is given (the
        only start then).  The start with the highest ELBO is kept:
        variational EM for LDA stops at local optima that merge or split
        topics, and one random start often ends in one (the chapter on the
        bars corpus shows such runs).  Starts whose ELBOs are within ``max(tol *
        n_tokens, 1e-9 * |ELBO|)`` of each other (one stopping step, or
        rounding) count as the same optimum, and of those the earliest is
        kept, so the choice does not depend on rounding (as in
        :func:`emtutor.gmm.fit`, whose wider margin would merge LDA's
        distinct optima).  ``n_init > 1`` needs random initial topics, so
        ``topic_word`` must not be given then.
    init_max_iter : int or None, default 20
        With ``n_init > 1``, every start runs at most this many EM
        iterations; the best of them then continues to convergence, its
        iterations (the short run's included) at most ``max_iter`` (so the
        starts' iterations in all may exceed ``max_iter``).  Ignored with
        ``n_init=1``, but must still be None or an integer >= 1.  This is the "small EM" start of
        Biernacki, Celeux & Govaert (2003): short runs rank the starts
        almost as well as full ones, at a fraction of the time.  None runs
        every start to convergence, as ``n_init`` does in
        :func:`emtutor.gmm.fit`.
    search : bool, default True
        Search with fresh E-steps first: the starts, and then the kept one
        until its ELBO settles, run EM whose E-step gives every document the
        ``q`` its ascent from the fixed start reaches (:func:`e_step` without
        ``previous``; Blei, Ng & Jordan 2003's algorithm, also scikit-learn's),
        and only then does EM continue with the monotone E-step, which keeps
        a document's previous ``q`` where that is better
        (:eq:`lda-e-step-guard`).  With ``alpha < 1`` (the default ``1 / K``),
        where a document's bound has several maxima, the monotone E-step
        alone holds documents in the topic mixtures the first, nearly
        uniform, topics gave them, and
        one start stops with merged and split topics (the chapter "Recovering
        the bars" shows one); with fresh E-steps documents move, and the topics
        are found far more often (``benchmarks/lda_recovery.py``).  The
        search ends by the stopping rule of ``tol`` (the ELBO per token
        changes by less than ``tol``, here in either direction), so with
        ``tol=0`` it takes every iteration and the monotone E-step never runs.
        The price: during the search the ELBO may fall, so
        ``result.objectives[n_search_iter - 1:]`` never decreases but the
        final ELBO need not be the highest one seen; ``warm_start`` acts only
        after the search, and given ``topic_word`` the search starts from those
        topics (and may end below their ELBO).  ``search=False`` runs
        monotone EM from the first iteration.
    random_state : int, numpy Generator or None
        Seed for the initial topics of every restart.
    record : bool, default False
        Keep every iteration's parameters and expectations (of the kept
        restart).

    Returns
    -------
    LDAResult
        ``result.alpha``, ``result.topic_word``, ``result.eta``,
        ``result.objectives`` (the ELBO after every iteration),
        ``result.expectations.gamma``, ``result.restarts`` (the ELBO of
        every start when they were ranked, and which was kept),
        ``result.n_search_iter`` (the iterations with fresh E-steps), ...

    Raises
    ------
    ValueError
        For invalid counts (negative, NaN/inf, empty vocabulary), a corpus
        with no words, or invalid options (among them ``n_init > 1`` with
        ``topic_word`` given).
    """
    return _fit(as_count_matrix(X), n_components, alpha=alpha, eta=eta, fit_alpha=fit_alpha,
                topic_word=topic_word, tol=tol, max_iter=max_iter, e_step_tol=e_step_tol,
                max_e_step_iter=max_e_step_iter, warm_start=warm_start, n_init=n_init,
                init_max_iter=init_max_iter, search=search, random_state=random_state, record=record)


@dataclass
class LDAResult(EMResult):
    """:class:`~emtutor.em.EMResult` of the kept restart, plus what :func:`fit` adds.

    Attributes
    ----------
    restarts : emtutor.gmm.RestartSummary
        The ELBO of every start when the starts were ranked (after its short
        run, with ``init_max_iter``; its ``log_likelihoods`` field holds
        these ELBOs), which one was kept, and how many starts reached each
        distinct value.
    n_search_iter : int
        How many of the ``n_iter`` iterations used fresh E-steps (``search``);
        ``objectives[n_search_iter - 1:]`` never decreases.
    """

    restarts: RestartSummary | None = None
    n_search_iter: int = 0


def _fit(X: sp.csr_matrix, n_components, *, alpha, eta, fit_alpha, topic_word, tol, max_iter, e_step_tol,
         max_e_step_iter, warm_start, n_init, init_max_iter, search, random_state, record) -> LDAResult:
    """:func:`fit` for a count matrix already in canonical form (:func:`as_count_matrix`)."""
    n_components = check_positive_int(n_components, "n_components")
    if X.data.sum() <= 0:
        raise ValueError("X has no words at all; LDA needs at least one token to fit")
    e_step_tol = check_nonnegative(e_step_tol, "e_step_tol")
    max_e_step_iter = check_positive_int(max_e_step_iter, "max_e_step_iter")
    n_init, init_max_iter = check_restarts(n_init, init_max_iter, topic_word)
    search = check_flag(search, "search")
    n_tokens = float(X.data.sum())
    rng = as_rng(random_state)

    step = partial(e_step, tol=e_step_tol, max_iter=max_e_step_iter, warm_start=bool(warm_start))

    def run(params, iterations, previous=None, fresh=False):
        return run_em(
            X,
            params,
            e_step=fresh_e_step(step) if fresh else step,
            m_step=partial(m_step, fit_alpha=bool(fit_alpha)),
            n_observations=n_tokens,
            tol=tol,
            max_iter=iterations,
            record=record,
            objective_name="ELBO",
            previous_expectations=previous,
            monotone=not fresh,
        )

    best, summary, n_search = best_of_starts(
        lambda: _initial_params(X, n_components, alpha, eta, topic_word, rng), run, n_init=n_init,
        init_max_iter=init_max_iter, tol=tol, max_iter=max_iter, n_tokens=n_tokens, search=search)
    return LDAResult(**{f.name: getattr(best, f.name) for f in fields(EMResult)}, restarts=summary,
                     n_search_iter=n_search)


def fresh_e_step(step: Callable) -> Callable:
    """``step`` (an :func:`e_step`) made to ignore the previous expectations the driver passes.

    Every document's ``q`` is then where its ascent from the fixed start
    :eq:`lda-gamma-start` ends, whatever it was before: the E-step of
    ``fit(search=True)``'s search, not monotone (run it with
    ``run_em(..., monotone=False)``).
    """
    return lambda data, params, previous: step(data, params, None)


def check_restarts(n_init, init_max_iter, topic_word):
    """Validated ``(n_init, init_max_iter)`` of :func:`fit`: ``n_init`` None means 5, or 1 with ``topic_word`` given."""
    if n_init is None:
        n_init = 5 if topic_word is None else 1
    n_init = check_positive_int(n_init, "n_init")
    if init_max_iter is not None:
        init_max_iter = check_positive_int(init_max_iter, "init_max_iter")
    if n_init > 1 and topic_word is not None:
        raise ValueError(f"n_init={n_init} restarts need random initial topics; with topic_word given "
                         "every restart would be the same, so use n_init=1")
    return n_init, init_max_iter


def best_of_starts(initial: Callable, run: Callable, *, n_init: int, init_max_iter, tol: float, max_iter: int,
                   n_tokens: float, search: bool = True):
    """The restarts and phases of :func:`fit`: the kept run, the :class:`RestartSummary`, the search's iterations.

    ``initial()`` draws a start's parameters, ``run(params, iterations,
    previous=None, fresh=False)`` runs EM from them (:func:`emtutor.em.run_em`),
    its first E-step given ``previous`` expectations (``run_em``'s
    ``previous_expectations``), with fresh E-steps (:func:`fresh_e_step`,
    not monotone) if ``fresh``.  With ``n_init > 1`` and ``init_max_iter``
    set, every start runs at most ``init_max_iter`` iterations (the short
    runs of the "small EM" start of Biernacki, Celeux & Govaert 2003), and the
    one with the highest ELBO is kept.  With ``search`` the starts use fresh
    E-steps, the kept one continues with them until its ELBO settles, and
    then EM goes on with the monotone E-step until it converges; without,
    the kept start continues monotone.  Everything within ``max_iter``
    iterations in all (the starts' short runs may add more), and the
    continued run is one run: its ``objectives``, ``n_iter`` and ``history``
    count from the start's initial topics.  Each continuation's first E-step
    gets the last one's expectations as previous, so the monotone phase
    never starts below where the search ended.  Shared with
    :func:`emtutor.mapreduce.fit_lda`.
    """
    max_iter = check_positive_int(max_iter, "max_iter")
    short = max_iter if n_init == 1 or init_max_iter is None else min(init_max_iter, max_iter)
    with warnings.catch_warnings():  # one warning at the end, for the whole fit
        warnings.simplefilter("ignore", ConvergenceWarning)
        runs = [run(initial(), short, fresh=search) for _ in range(n_init)]
        final = [r.objective for r in runs]
        # tol is per token; the restarts' objectives are totals
        summary = _summarise_restarts(final, atol=max(tol * n_tokens, 1e-9 * max(abs(v) for v in final)))
        phases = [runs[summary.best]]
        if search and not phases[-1].converged and phases[-1].n_iter < max_iter:
            phases.append(run(phases[-1].params, max_iter - phases[-1].n_iter, fresh=True))
        n_done = sum(r.n_iter for r in phases)
        n_search = n_done if search else 0
        if n_done < max_iter and (search or not phases[-1].converged):
            # the last E-step is the first one's previous: the monotone E-step keeps, per
            # document, the better of a fresh start and the previous gamma, so the bound goes
            # on rising from where the last phase stopped
            phases.append(run(phases[-1].params, max_iter - n_done, phases[-1].expectations))
    result = _join(phases)
    last = np.r_[result.initial_objective, result.objectives][-2:]
    if not result.converged and len(phases) > 1 and phases[-1].n_iter == 1 and \
            abs(last[1] - last[0]) < tol * n_tokens:
        # a continuation's first change is a real EM step (run_em counts only from its
        # second iteration, which a fresh run needs): it met the stopping rule
        result.converged = True
    if not result.converged and search and n_search >= max_iter:
        warnings.warn(f"the search with fresh E-steps used all max_iter={max_iter} iterations without the ELBO "
                      "settling, so the monotone E-step never ran and the ELBO may still fall; increase "
                      "max_iter (or tol)", ConvergenceWarning, stacklevel=caller_stacklevel())
    elif not result.converged:
        searched = f", {n_search} of them searching with fresh E-steps" if search else ""
        warnings.warn(f"EM did not converge in max_iter={max_iter} iterations{searched} (last change of the "
                      f"ELBO per token {(last[1] - last[0]) / n_tokens:.3e}, tol={tol}); "
                      "increase max_iter or tol", ConvergenceWarning, stacklevel=caller_stacklevel())
    return result, summary, n_search


def _join(phases) -> EMResult:
    """Runs that each continue the previous one's final parameters, as one run."""
    first, last = phases[0], phases[-1]
    if len(phases) == 1:
        return first
    history = None
    if first.history is not None:  # each run starts where the previous ends: its first entries are that one's last
        history = EMHistory(first.history.params + [p for r in phases[1:] for p in r.history.params[1:]],
                            first.history.expectations + [e for r in phases[1:] for e in r.history.expectations[1:]])
    return EMResult(last.params, last.expectations, np.concatenate([r.objectives for r in phases]),
                    first.initial_objective, sum(r.n_iter for r in phases), last.converged, last.objective_name,
                    history)
