"""emtutor.gibbs_lda: the collapsed Gibbs sampler, against exact enumeration.

Oracles: the conditional of one token equals the ratio of the collapsed
joint p(w, z) (computed from its Dirichlet-multinomial closed form) over the
token's possible topics; on a corpus small enough to enumerate every
assignment, the chain's long-run frequencies equal the exact posterior
p(z | w); the bars corpus, whose topics are known.
"""

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from emtutor import datasets, gibbs_lda
from emtutor.gibbs_lda import GibbsState


def state_from(topics, docs, words, n_docs, n_words, k):
    doc_topic = np.zeros((n_docs, k))
    topic_word = np.zeros((k, n_words))
    np.add.at(doc_topic, (docs, topics), 1)
    np.add.at(topic_word, (topics, words), 1)
    return GibbsState(np.array(topics), doc_topic, topic_word)


def test_conditional_is_the_ratio_of_collapsed_joints(rng):
    X = rng.integers(0, 4, size=(5, 6))
    docs, words = gibbs_lda.tokens_from_counts(X)
    k, alpha, eta = 3, 0.4, 0.7
    topics = rng.integers(k, size=len(docs))
    i = 7
    joints = []
    for topic in range(k):
        trial = topics.copy()
        trial[i] = topic
        joints.append(gibbs_lda.log_joint(state_from(trial, docs, words, 5, 6, k), alpha, eta))
    expected = np.exp(np.array(joints) - max(joints))
    expected /= expected.sum()
    without = state_from(topics, docs, words, 5, 6, k)
    without.doc_topic[docs[i], topics[i]] -= 1
    without.topic_word[topics[i], words[i]] -= 1
    np.testing.assert_allclose(gibbs_lda.conditional(without, docs[i], words[i], alpha, eta), expected, rtol=1e-12)


def test_long_run_frequencies_are_the_exact_posterior():
    """Two documents, four tokens, two topics: all 16 assignments enumerated."""
    X = np.array([[1, 1, 0], [0, 1, 1]])
    docs, words = gibbs_lda.tokens_from_counts(X)
    k, alpha, eta = 2, 0.5, 0.3
    configurations = list(itertools.product(range(k), repeat=len(docs)))
    log_p = np.array([gibbs_lda.log_joint(state_from(z, docs, words, 2, 3, k), alpha, eta) for z in configurations])
    exact = np.exp(log_p - log_p.max())
    exact /= exact.sum()
    rng = np.random.default_rng(0)
    state = gibbs_lda._initial_state(docs, words, 2, 3, k, rng)
    counts = dict.fromkeys(configurations, 0)
    n_sweeps = 40_000
    for _ in range(n_sweeps):
        gibbs_lda._sweep(state, docs, words, alpha, eta, rng.random(len(docs)))
        counts[tuple(int(t) for t in state.topics)] += 1
    empirical = np.array([counts[z] for z in configurations]) / n_sweeps
    assert 0.5 * np.abs(empirical - exact).sum() < 0.02


def worst_cosine(estimate, truth):
    a = estimate / np.linalg.norm(estimate, axis=1, keepdims=True)
    b = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    cos = a @ b.T
    rows, cols = linear_sum_assignment(-cos)
    return cos[rows, cols].min()


def test_recovers_the_bars():
    X, topics, _ = datasets.bars(200, 50, 1.0, random_state=1)
    result = gibbs_lda.sample(X, 10, alpha=1.0, n_sweeps=150, burn_in=75, random_state=0)
    assert worst_cosine(result.topic_word, topics) > 0.9
    np.testing.assert_allclose(result.topic_word.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.doc_topic.sum(axis=1), 1.0)
    assert np.all(result.state.doc_topic.sum(axis=1) == X.sum(axis=1))


def test_same_seed_same_chain():
    X = np.random.default_rng(3).integers(0, 3, size=(6, 5))
    a = gibbs_lda.sample(X, 2, n_sweeps=10, burn_in=5, random_state=4)
    b = gibbs_lda.sample(X, 2, n_sweeps=10, burn_in=5, random_state=4)
    np.testing.assert_array_equal(a.state.topics, b.state.topics)
    np.testing.assert_array_equal(a.log_joints, b.log_joints)


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": 0.0}, "alpha must be a finite number > 0"),
    ({"eta": np.nan}, "eta must be a finite number > 0"),
    ({"n_sweeps": 0}, "n_sweeps"),
    ({"burn_in": 10, "n_sweeps": 10}, "burn_in must be between 0 and 9"),
])
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gibbs_lda.sample(np.ones((3, 4)), 2, **kwargs)


def test_an_empty_corpus_is_refused():
    with pytest.raises(ValueError, match="X has no tokens"):
        gibbs_lda.sample(np.zeros((3, 4)), 2)
