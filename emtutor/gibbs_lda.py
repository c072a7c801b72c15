r"""Collapsed Gibbs sampling for latent Dirichlet allocation (Griffiths & Steyvers 2004).

Variational EM (:mod:`emtutor.lda`) fits point estimates of the topics and a
factorised approximation of the posterior.  Collapsed Gibbs sampling instead
integrates the topics and the topic proportions out analytically and draws
the topic of every token from its exact conditional given all the others,
:eq:`gibbs-conditional`; the draws form a Markov chain whose stationary
distribution is the posterior ``p(z | w)``.  Topics and proportions are then
estimated from the counts, :eq:`gibbs-estimates`.  It is not EM (no
objective rises monotonically; the chain wanders), which is why it lives
beside :mod:`emtutor.lda` and does not use the driver; the log joint
:eq:`gibbs-log-joint` of each sweep is recorded to watch it settle.

The sampler is written as a plain loop over tokens (each draw depends on the
counts the previous one changed), so it is for small corpora: about ten
microseconds per token and sweep here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from ._validation import as_rng, check_positive_int
from .lda import as_count_matrix

__all__ = ["GibbsState", "GibbsResult", "tokens_from_counts", "conditional", "log_joint", "topic_estimates", "sample"]


class GibbsState(NamedTuple):
    """Topic assignments and the counts they imply.

    Attributes
    ----------
    topics : ndarray of int, shape (n_tokens,)
        ``z_dn``, the topic of each token, in the order of :func:`tokens_from_counts`.
    doc_topic : ndarray of shape (n_docs, n_components)
        ``c_dk``: tokens of document ``d`` assigned to topic ``k``.
    topic_word : ndarray of shape (n_components, n_words)
        ``c_kv``: tokens of word ``v`` assigned to topic ``k``.
    """

    topics: np.ndarray
    doc_topic: np.ndarray
    topic_word: np.ndarray


class GibbsResult(NamedTuple):
    """What :func:`sample` returns.

    Attributes
    ----------
    state : GibbsState
        The last sweep's assignments and counts.
    topic_word : ndarray of shape (n_components, n_words)
        Topic estimates :eq:`gibbs-estimates` averaged over the sweeps after ``burn_in``.
    doc_topic : ndarray of shape (n_docs, n_components)
        Topic-proportion estimates, averaged likewise.
    log_joints : ndarray of shape (n_sweeps,)
        ``log p(w, z)`` :eq:`gibbs-log-joint` after every sweep.
    """

    state: GibbsState
    topic_word: np.ndarray
    doc_topic: np.ndarray
    log_joints: np.ndarray


def tokens_from_counts(X) -> tuple[np.ndarray, np.ndarray]:
    """The document and word of every token of a document-term count matrix.

    Returns
    -------
    docs, words : ndarrays of int, shape (n_tokens,)
    """
    X = as_count_matrix(X)
    dense = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    counts = dense.astype(np.int64)
    docs, words = np.nonzero(counts)
    repeats = counts[docs, words]
    return np.repeat(docs, repeats), np.repeat(words, repeats)


def conditional(state: GibbsState, doc: int, word: int, alpha: float, eta: float) -> np.ndarray:
    """``p(z_i = k | z_-i, w)`` for a token of ``word`` in ``doc`` whose own count is removed, :eq:`gibbs-conditional`.

    ``(c_dk + alpha) (c_kv + eta) / (c_k + V eta)``, normalised; the counts
    in ``state`` must already exclude the token.
    """
    n_words = state.topic_word.shape[1]
    weights = (state.doc_topic[doc] + alpha) * (state.topic_word[:, word] + eta) \
        / (state.topic_word.sum(axis=1) + n_words * eta)
    return weights / weights.sum()


def log_joint(state: GibbsState, alpha: float, eta: float) -> float:
    """``log p(w, z)`` with the topics and proportions integrated out, :eq:`gibbs-log-joint`.

    A product of Dirichlet-multinomial terms: one per topic over the words
    and one per document over the topics (symmetric priors ``eta`` and
    ``alpha``).
    """
    k, v = state.topic_word.shape
    words_part = np.sum(gammaln(state.topic_word + eta)) - np.sum(gammaln(state.topic_word.sum(axis=1) + v * eta)) \
        + k * (gammaln(v * eta) - v * gammaln(eta))
    n_docs = len(state.doc_topic)
    topics_part = np.sum(gammaln(state.doc_topic + alpha)) - np.sum(gammaln(state.doc_topic.sum(axis=1) + k * alpha)) \
        + n_docs * (gammaln(k * alpha) - k * gammaln(alpha))
    return float(words_part + topics_part)


def topic_estimates(state: GibbsState, alpha: float, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Posterior-mean topics and proportions given the assignments, :eq:`gibbs-estimates`.

    Returns
    -------
    topic_word : ndarray of shape (n_components, n_words)
        ``(c_kv + eta) / (c_k + V eta)``.
    doc_topic : ndarray of shape (n_docs, n_components)
        ``(c_dk + alpha) / (N_d + K alpha)``.
    """
    k, v = state.topic_word.shape
    topic_word = (state.topic_word + eta) / (state.topic_word.sum(axis=1, keepdims=True) + v * eta)
    doc_topic = (state.doc_topic + alpha) / (state.doc_topic.sum(axis=1, keepdims=True) + k * alpha)
    return topic_word, doc_topic


def _initial_state(docs, words, n_docs, n_words, k, rng) -> GibbsState:
    topics = rng.integers(k, size=len(docs))
    doc_topic = np.zeros((n_docs, k))
    topic_word = np.zeros((k, n_words))
    np.add.at(doc_topic, (docs, topics), 1)
    np.add.at(topic_word, (topics, words), 1)
    return GibbsState(topics, doc_topic, topic_word)


def _sweep(state: GibbsState, docs, words, alpha, eta, uniforms) -> None:
    """One pass over every token in order, each redrawn from :eq:`gibbs-conditional` (in place)."""
    topics, doc_topic, topic_word = state
    totals = topic_word.sum(axis=1)
    v_eta = topic_word.shape[1] * eta
    for i in range(len(topics)):
        d, w, old = docs[i], words[i], topics[i]
        doc_topic[d, old] -= 1
        topic_word[old, w] -= 1
        totals[old] -= 1
        cumulative = np.cumsum((doc_topic[d] + alpha) * (topic_word[:, w] + eta) / (totals + v_eta))
        new = int(np.searchsorted(cumulative, uniforms[i] * cumulative[-1], side="right"))
        new = min(new, len(cumulative) - 1)
        topics[i] = new
        doc_topic[d, new] += 1
        topic_word[new, w] += 1
        totals[new] += 1


def sample(X, n_components: int, *, alpha: float | None = None, eta: float | None = None, n_sweeps: int = 200,
           burn_in: int = 100, random_state=None) -> GibbsResult:
    """Run the collapsed Gibbs sampler on a document-term count matrix.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_docs, n_words)
        Word counts (whole numbers).
    n_components : int
        ``K``, the number of topics.
    alpha, eta : float, optional
        Symmetric Dirichlet priors on the topic proportions and the topics;
        default ``1 / K`` each (scikit-learn's and :func:`emtutor.lda.fit`'s).
    n_sweeps : int, default 200
        Passes over all tokens.
    burn_in : int, default 100
        Sweeps discarded before the estimates are averaged (``< n_sweeps``).
    random_state : int, numpy Generator or None

    Returns
    -------
    GibbsResult
    """
    X = as_count_matrix(X)
    k = check_positive_int(n_components, "n_components")
    n_sweeps = check_positive_int(n_sweeps, "n_sweeps")
    burn_in = check_positive_int(burn_in, "burn_in", 0, n_sweeps - 1)
    alpha = 1.0 / k if alpha is None else float(alpha)
    eta = 1.0 / k if eta is None else float(eta)
    for name, value in (("alpha", alpha), ("eta", eta)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    docs, words = tokens_from_counts(X)
    if len(docs) == 0:
        raise ValueError("X has no tokens (every count is 0)")
    rng = as_rng(random_state)
    state = _initial_state(docs, words, X.shape[0], X.shape[1], k, rng)
    log_joints = np.empty(n_sweeps)
    topic_sum = np.zeros((k, X.shape[1]))
    doc_sum = np.zeros((X.shape[0], k))
    for sweep in range(n_sweeps):
        _sweep(state, docs, words, alpha, eta, rng.random(len(docs)))
        log_joints[sweep] = log_joint(state, alpha, eta)
        if sweep >= burn_in:
            topic_word, doc_topic = topic_estimates(state, alpha, eta)
            topic_sum += topic_word
            doc_sum += doc_topic
    kept = n_sweeps - burn_in
    return GibbsResult(state, topic_sum / kept, doc_sum / kept, log_joints)
