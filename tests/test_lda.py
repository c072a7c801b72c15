"""Latent Dirichlet allocation by variational EM (emtutor.lda)."""

import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment, minimize
from scipy.special import digamma, gammaln

from emtutor import ConvergenceWarning, LatentDirichletAllocation, datasets, lda
from emtutor.em import LikelihoodDecreaseError, run_em


# ---------------------------------------------------------------- oracles


def naive_elbo_and_counts(X, params, gamma):
    """ELBO (lda-elbo) with phi written out per (document, word, topic)."""
    X = np.asarray(X, dtype=float)
    alpha, topic_word, eta = params.alpha, params.topic_word, params.eta
    log_beta = lda.expected_log_beta(params)  # -inf where a topic gives a word probability 0
    total, counts = 0.0, np.zeros_like(topic_word)
    for d in range(len(X)):
        g = gamma[d]
        log_theta = digamma(g) - digamma(g.sum())
        phi = np.exp(log_theta[None, :] + log_beta.T)
        norm = phi.sum(axis=1, keepdims=True)  # 0 for a word no topic has (and no document uses)
        phi = np.divide(phi, norm, out=np.zeros_like(phi), where=norm > 0)  # lda-phi-update
        n = X[d][:, None]
        total += gammaln(alpha.sum()) - gammaln(alpha).sum() + ((alpha - 1) * log_theta).sum()
        weight = n * phi
        used = weight > 0  # 0 * log 0 = 0
        total += np.sum(weight[used] * (log_theta[None, :] + log_beta.T)[used])
        total -= gammaln(g.sum()) - gammaln(g).sum() + ((g - 1) * log_theta).sum()
        total -= np.sum(weight[used] * np.log(phi[used]))
        counts += weight.T
    if eta is not None:
        lam, n_words = topic_word, topic_word.shape[1]
        for k in range(len(lam)):
            total += gammaln(n_words * eta) - n_words * gammaln(eta) + ((eta - 1) * log_beta[k]).sum()
            total -= gammaln(lam[k].sum()) - gammaln(lam[k]).sum() + ((lam[k] - 1) * log_beta[k]).sum()
    return total, counts


def naive_gamma(X, params, n_iter=400, tol=0.0):
    """Per-document coordinate ascent, lda-phi-update and lda-gamma-update, in loops.

    A document stops after the first update that changes its gamma by less
    than ``tol`` on average (e_step's rule), or after ``n_iter`` updates.
    """
    X = np.asarray(X, dtype=float)
    alpha, log_beta = params.alpha, lda.expected_log_beta(params)
    out = []
    for x in X:
        g = alpha + x.sum() / len(alpha)
        for _ in range(n_iter):
            log_theta = digamma(g) - digamma(g.sum())
            phi = np.exp(log_theta[None, :] + log_beta.T)
            phi /= phi.sum(axis=1, keepdims=True)
            g, previous = alpha + x @ phi, g
            if np.abs(g - previous).mean() < tol:
                break
        out.append(g)
    return np.array(out)


def exact_log_likelihood(doc_words, alpha, beta):
    """log p(w | alpha, beta) by summing over every topic assignment z (lda-marginal)."""
    n_topics = len(alpha)
    terms = []
    for z in itertools.product(range(n_topics), repeat=len(doc_words)):
        nk = np.bincount(z, minlength=n_topics)
        log_p_z = gammaln(alpha.sum()) - gammaln(alpha.sum() + len(z)) + np.sum(gammaln(alpha + nk) - gammaln(alpha))
        terms.append(log_p_z + np.sum(np.log(beta[list(z), doc_words])))
    return np.logaddexp.reduce(terms)


def random_params(rng, n_topics, n_words, eta=None):
    alpha = rng.uniform(0.2, 2.0, n_topics)
    if eta is None:
        return lda.LDAParams(alpha, rng.dirichlet(np.ones(n_words), n_topics))
    return lda.LDAParams(alpha, rng.uniform(0.5, 5.0, (n_topics, n_words)), eta)


def match_cosines(true_topics, topics):
    unit = lambda t: t / np.linalg.norm(t, axis=1, keepdims=True)  # noqa: E731
    cos = unit(true_topics) @ unit(topics).T
    rows, cols = linear_sum_assignment(-cos)
    return cos[rows, cols]


# ---------------------------------------------------------------- the E-step


@pytest.mark.parametrize("eta", [None, 0.3])
def test_e_step_matches_loops_over_documents_words_and_topics(rng, eta):
    X = rng.poisson(1.5, (5, 7)).astype(float)
    X[2] = 0  # a document with no words
    params = random_params(rng, 3, 7, eta)
    expectations, elbo = lda.e_step(X, params, tol=0.0, max_iter=400)
    np.testing.assert_allclose(expectations.gamma, naive_gamma(X, params), rtol=1e-10)
    naive_total, naive_counts = naive_elbo_and_counts(X, params, expectations.gamma)
    assert elbo == pytest.approx(naive_total, rel=1e-12)
    np.testing.assert_allclose(expectations.topic_word_counts, naive_counts, rtol=1e-10)
    np.testing.assert_array_equal(expectations.gamma[2], params.alpha)
    assert expectations.doc_elbo[2] == 0.0


def test_elbo_is_a_lower_bound_on_the_exact_log_likelihood(rng):
    # tiny documents: log p(w) by enumerating all K^N topic assignments
    n_topics, n_words = 3, 4
    params = random_params(rng, n_topics, n_words)
    for length in (1, 3, 6):
        words = rng.integers(0, n_words, length)
        x = np.bincount(words, minlength=n_words)[None].astype(float)
        exact = exact_log_likelihood(words, params.alpha, params.topic_word)
        bound = lda.elbo(x, params, tol=0.0, max_iter=500)
        assert bound <= exact + 1e-12
        # more coordinate ascent only tightens the bound
        assert lda.elbo(x, params, tol=0.0, max_iter=1) <= bound


def test_one_topic_is_the_unigram_model(rng):
    # reduction: with K = 1, theta = 1, q is exact, the ELBO is the multinomial
    # log-likelihood and one M-step gives the word frequencies.
    X = rng.poisson(2.0, (6, 5)).astype(float)
    beta = rng.dirichlet(np.ones(5))[None]
    params = lda.LDAParams(np.array([0.7]), beta)
    assert lda.elbo(X, params) == pytest.approx(np.sum(X @ np.log(beta[0])), rel=1e-13)
    result = lda.fit(X, 1, topic_word=beta, alpha=0.7)
    np.testing.assert_allclose(result.topic_word[0], X.sum(axis=0) / X.sum(), rtol=1e-13)
    perp = np.exp(-np.sum(X @ np.log(result.topic_word[0])) / X.sum())
    assert lda.perplexity(X, result.params) == pytest.approx(perp, rel=1e-12)


# ---------------------------------------------------------------- the M-step


def test_alpha_newton_finds_the_maximiser(rng):
    gamma = rng.uniform(0.5, 8.0, (40, 4))
    log_theta_sum = (digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True))).sum(axis=0)
    start = np.full(4, 0.05)  # far from the optimum: the safeguard must act

    def negative(log_alpha):
        a = np.exp(log_alpha)
        return -(40 * (gammaln(a.sum()) - gammaln(a).sum()) + ((a - 1) * log_theta_sum).sum())

    reference = np.exp(minimize(negative, np.log(start), method="BFGS", options={"gtol": 1e-10}).x)
    alpha = lda.alpha_newton(log_theta_sum, 40, start)
    np.testing.assert_allclose(alpha, reference, rtol=1e-5)
    assert -negative(np.log(alpha)) >= -negative(np.log(start))


def test_m_step_topics_maximise_the_elbo_given_q(rng):
    X = rng.poisson(1.5, (6, 5)).astype(float)
    for eta in (None, 0.5):
        params = random_params(rng, 2, 5, eta)
        expectations, _ = lda.e_step(X, params, warm_start=False)
        new = lda.m_step(X, expectations, params)
        best, _ = naive_elbo_and_counts(X, new, expectations.gamma)
        # any other topics (here: random perturbations) give a lower bound at fixed q
        for _ in range(5):
            if eta is None:
                other = new.topic_word * np.exp(0.05 * rng.standard_normal(new.topic_word.shape))
                other /= other.sum(axis=1, keepdims=True)
            else:
                other = new.topic_word * np.exp(0.05 * rng.standard_normal(new.topic_word.shape))
            value = _elbo_fixed_phi(X, new._replace(topic_word=other), expectations.gamma, params)
            assert value <= best + 1e-10


def _elbo_fixed_phi(X, params, gamma, phi_params):
    """ELBO of params with q fixed to (gamma, phi computed under phi_params)."""
    X = np.asarray(X, dtype=float)
    log_beta_q = lda.expected_log_beta(phi_params)
    log_beta = lda.expected_log_beta(params)
    alpha = params.alpha
    total = 0.0
    for d in range(len(X)):
        g = gamma[d]
        log_theta = digamma(g) - digamma(g.sum())
        phi = np.exp(log_theta[None, :] + log_beta_q.T)
        phi /= phi.sum(axis=1, keepdims=True)
        n = X[d][:, None]
        total += gammaln(alpha.sum()) - gammaln(alpha).sum() + ((alpha - 1) * log_theta).sum()
        total += (n * phi * (log_theta[None, :] + log_beta.T)).sum()
        total -= gammaln(g.sum()) - gammaln(g).sum() + ((g - 1) * log_theta).sum()
        total -= (n * phi * np.log(phi)).sum()
    if params.eta is not None:
        total += lda._topic_elbo(params, log_beta)
    return total


# ---------------------------------------------------------------- monotone ELBO


@st.composite
def small_problems(draw):
    n_docs = draw(st.integers(1, 8))
    n_words = draw(st.integers(1, 8))
    n_topics = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rate = draw(st.sampled_from([0.3, 2.0, 10.0]))
    X = np.random.default_rng(seed).poisson(rate, (n_docs, n_words)).astype(float)
    X[0, 0] += 1  # at least one token
    options = dict(
        eta=draw(st.sampled_from([None, 0.05, 1.0])),
        fit_alpha=draw(st.booleans()),
        alpha=draw(st.sampled_from([0.05, 1.0, 5.0])),
        e_step_tol=draw(st.sampled_from([0.0, 1e-3, 0.5])),
        max_e_step_iter=draw(st.sampled_from([1, 3, 100])),
        warm_start=draw(st.booleans()),
        random_state=seed,
    )
    return X, n_topics, options


@given(small_problems())
def test_elbo_never_decreases(problem):
    """Variational EM run by hand (the driver would raise on a decrease before
    any assert could see it), each ELBO computed by the naive loops."""
    X, n_topics, options = problem
    params = lda.initial_params(X, n_topics, alpha=options["alpha"], eta=options["eta"],
                                random_state=options["random_state"])
    previous, elbos = None, []
    for _ in range(15):
        previous, _ = lda.e_step(X, params, previous, tol=options["e_step_tol"],
                                 max_iter=options["max_e_step_iter"], warm_start=options["warm_start"])
        elbos.append(naive_elbo_and_counts(X, params, previous.gamma)[0])
        params = lda.m_step(X, previous, params, fit_alpha=options["fit_alpha"])
    assert np.all(np.isfinite(elbos))
    assert np.all(np.diff(elbos) >= -1e-9 * np.abs(elbos[:-1]).clip(1.0))


@given(small_problems())
def test_the_recorded_objective_is_the_elbo_of_the_returned_q(problem):
    X, n_topics, options = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = lda.fit(X, n_topics, tol=0.0, max_iter=5, **options)
    assert result.objective_name == "ELBO"
    naive, _ = naive_elbo_and_counts(X, result.params, result.expectations.gamma)
    assert result.objective == pytest.approx(naive, rel=1e-9, abs=1e-9)


# ---------------------------------------------------------------- bars


def test_bars_dataset():
    X, topics, theta = datasets.bars(50, n_tokens=100, random_state=3)
    assert X.shape == (50, 25) and topics.shape == (10, 25) and theta.shape == (50, 10)
    np.testing.assert_array_equal(X.sum(axis=1), 100)
    np.testing.assert_allclose(topics.sum(axis=1), 1.0)
    images = topics.reshape(10, 5, 5)
    for j in range(5):
        assert np.all(images[j, j] == 0.2) and images[j].sum() == pytest.approx(1.0)
        assert np.all(images[5 + j, :, j] == 0.2)
    np.testing.assert_array_equal(X, datasets.bars(50, random_state=3)[0])
    # words are drawn from theta @ topics: expected counts match on average
    X_big, _, theta_big = datasets.bars(4000, random_state=4)
    expected = 100 * theta_big @ topics
    assert np.abs((X_big - expected).mean(axis=0)).max() < 0.15


def test_bars_topics_are_recovered():
    X, topics, _ = datasets.bars(1000, random_state=0)
    model = LatentDirichletAllocation(10, doc_topic_prior=1.0, random_state=3, tol=1e-6, max_iter=300).fit(X)
    assert model.converged_
    cosines = match_cosines(topics, model.topic_word_)
    assert cosines.min() >= 0.9, cosines


# ---------------------------------------------------------------- input forms


@pytest.mark.parametrize("eta", [None, 0.1])
def test_sparse_and_dense_input_give_identical_fits(rng, eta):
    X = rng.poisson(0.05, (100, 300)).astype(float)  # sparse enough for the sparse path
    X[:, :3] += rng.poisson(2.0, (100, 3))
    X_sparse = sp.csr_matrix(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = lda.fit(X, 4, eta=eta, fit_alpha=True, random_state=0, max_iter=8)
        sparse = lda.fit(X_sparse, 4, eta=eta, fit_alpha=True, random_state=0, max_iter=8)
        coo = lda.fit(X_sparse.tocoo(), 4, eta=eta, fit_alpha=True, random_state=0, max_iter=8)
    for other in (sparse, coo):
        np.testing.assert_array_equal(other.topic_word, dense.topic_word)
        np.testing.assert_array_equal(other.alpha, dense.alpha)
        np.testing.assert_array_equal(other.expectations.gamma, dense.expectations.gamma)
        np.testing.assert_array_equal(other.objectives, dense.objectives)


@pytest.mark.parametrize("fraction", [0.0, 2.0])  # every block dense / every block sparse
def test_each_document_stops_at_its_own_tolerance(rng, monkeypatch, fraction):
    # documents of very different lengths stop after different numbers of updates; the
    # E-step drops stopped documents from its arrays only in batches, and must not go on
    # updating them meanwhile
    lengths = rng.integers(1, 200, 60)
    X = np.array([rng.multinomial(n, rng.dirichlet(np.ones(9))) for n in lengths], dtype=float)
    params = random_params(rng, 4, 9)
    monkeypatch.setattr(lda, "_DENSE_FRACTION", fraction)
    for tol in (1e-1, 1e-3):
        expectations, _ = lda.e_step(X, params, tol=tol, max_iter=30)
        np.testing.assert_allclose(expectations.gamma, naive_gamma(X, params, n_iter=30, tol=tol), rtol=1e-12)


def test_dense_and_sparse_computations_agree(rng, monkeypatch):
    X = rng.poisson(1.0, (40, 12)).astype(float)
    params = random_params(rng, 3, 12, 0.2)
    results = []
    for fraction in (0.0, 2.0):  # every block dense / every block sparse
        monkeypatch.setattr(lda, "_DENSE_FRACTION", fraction)
        results.append(lda.e_step(X, params, tol=0.0, max_iter=50))
    (e_dense, v_dense), (e_sparse, v_sparse) = results
    np.testing.assert_allclose(e_dense.gamma, e_sparse.gamma, rtol=1e-12)
    np.testing.assert_allclose(e_dense.topic_word_counts, e_sparse.topic_word_counts, rtol=1e-12)
    assert v_dense == pytest.approx(v_sparse, rel=1e-13)


def test_blocks_do_not_change_the_result(rng, monkeypatch):
    X = rng.poisson(1.0, (30, 6)).astype(float)
    X[[3, 4, 17]] = 0
    params = random_params(rng, 2, 6)
    whole = lda.e_step(X, params)
    monkeypatch.setattr(lda, "_BLOCK_PAIRS", 7)  # about three documents per block
    blocked = lda.e_step(X, params)
    np.testing.assert_allclose(blocked[0].gamma, whole[0].gamma, rtol=1e-12)
    np.testing.assert_allclose(blocked[0].topic_word_counts, whole[0].topic_word_counts, rtol=1e-12)
    assert blocked[1] == pytest.approx(whole[1], rel=1e-13)


def test_transform_of_training_documents_matches_their_gamma():
    # after any number of EM iterations, the final E-step's gamma (warm-started)
    # is the same optimum of each document's bound as a fresh start finds
    X, _, _ = datasets.bars(200, random_state=5)
    model = LatentDirichletAllocation(10, doc_topic_prior=1.0, mean_change_tol=1e-9, max_doc_update_iter=5000,
                                      tol=1e9, random_state=0).fit(X)
    gamma = lda.transform(X, model.params_, tol=1e-9, max_iter=5000)
    np.testing.assert_allclose(gamma, model.gamma_, rtol=1e-6)
    np.testing.assert_allclose(model.transform(X), model.gamma_ / model.gamma_.sum(axis=1, keepdims=True), rtol=1e-6)


def test_held_out_perplexity_improves_with_fitting():
    X, topics, _ = datasets.bars(600, random_state=6)
    held_out, _, _ = datasets.bars(200, random_state=7)
    model = LatentDirichletAllocation(10, doc_topic_prior=1.0, random_state=0, tol=1e-5, max_iter=300).fit(X)
    truth = lda.LDAParams(np.ones(10), topics)
    uniform = lda.LDAParams(np.ones(10), np.full((10, 25), 1 / 25))
    fitted = model.perplexity(held_out)
    assert lda.perplexity(held_out, truth) <= fitted < lda.perplexity(held_out, uniform)
    # a word the model never saw, without smoothing, is a clear error
    X_missing = X.copy()
    X_missing[:, 0] = 0
    unsmoothed = LatentDirichletAllocation(10, random_state=0, max_iter=4, tol=1e9).fit(X_missing)
    with pytest.raises(ValueError, match="probability 0 under every topic"):
        unsmoothed.perplexity(held_out)
    smoothed = LatentDirichletAllocation(10, topic_word_prior=0.1, random_state=0, max_iter=4, tol=1e9).fit(X_missing)
    assert np.isfinite(smoothed.perplexity(held_out))


def test_top_words():
    _, topics, _ = datasets.bars(1, random_state=0)
    top = lda.top_words(topics, 5)
    assert top[0] == [0, 1, 2, 3, 4] and top[5] == [0, 5, 10, 15, 20]
    vocabulary = [f"p{v // 5}{v % 5}" for v in range(25)]
    assert lda.top_words(topics, 2, vocabulary)[9] == ["p04", "p14"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[1.0, -1.0], [0.0, 2.0]]), "negative"),
        (np.array([[1.0, np.nan], [0.0, 2.0]]), "NaN or inf"),
        (np.array([[1.0, np.inf], [0.0, 2.0]]), "NaN or inf"),
        (np.zeros((3, 0)), "empty vocabulary"),
        (sp.csr_matrix((3, 0)), "empty vocabulary"),
        (sp.csr_matrix(np.array([[1.0, -2.0]])), "negative"),
        (np.ones(4), "2-D"),
        (np.zeros((2, 3)), "no words"),
    ],
)
def test_bad_input_is_a_clear_value_error(X, message):
    with pytest.raises(ValueError, match=message):
        lda.fit(X, 2)


def test_a_document_with_no_words_contributes_nothing(rng):
    X = rng.poisson(2.0, (12, 6)).astype(float)
    X_with_empty = np.insert(X, 4, 0.0, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        base = lda.fit(X, 3, fit_alpha=True, random_state=0, max_iter=10)
        more = lda.fit(X_with_empty, 3, fit_alpha=True, random_state=0, max_iter=10)
    np.testing.assert_allclose(more.topic_word, base.topic_word, rtol=1e-12)
    np.testing.assert_allclose(more.alpha, base.alpha, rtol=1e-12)
    np.testing.assert_allclose(more.objectives, base.objectives, rtol=1e-12)
    np.testing.assert_array_equal(more.expectations.gamma[4], more.alpha)
    assert more.expectations.doc_elbo[4] == 0.0


def test_bad_parameters_are_clear_value_errors(rng):
    X = rng.poisson(2.0, (5, 4)).astype(float)
    with pytest.raises(ValueError, match="n_components"):
        lda.fit(X, 0)
    with pytest.raises(ValueError, match="eta must be > 0"):
        lda.fit(X, 2, eta=0.0)
    with pytest.raises(ValueError, match="alpha"):
        lda.fit(X, 2, alpha=-1.0)
    with pytest.raises(ValueError, match="topic_word must have shape"):
        lda.fit(X, 2, topic_word=np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="not fitted"):
        LatentDirichletAllocation(2).transform(X)


# ---------------------------------------------------------------- where the E-step starts (issue 16)


def test_e_step_is_never_worse_than_a_fresh_start_or_the_previous_q():
    # A previous q in a poor basin: every document's gamma holds only two of
    # the ten topics (the others at alpha).  With alpha < 1 coordinate ascent
    # from there cannot bring the dropped topics back, so an E-step that only
    # continued from previous.gamma stays below the fresh start.
    X, topics, _ = datasets.bars(60, random_state=21)
    params = lda.LDAParams(np.full(10, 0.1), topics * 0.9 + 0.1 / 25)
    gamma = np.full((60, 10), 0.1)
    gamma[:, :2] += 50.0
    previous = lda.LDAExpectations(gamma, np.zeros((10, 25)), np.zeros(60))
    fresh, _ = lda.e_step(X, params)
    kept, value = lda.e_step(X, params, previous)
    assert np.all(kept.doc_elbo >= fresh.doc_elbo - 1e-9 * np.abs(fresh.doc_elbo))
    # and never below the previous gamma under these parameters (lda-e-step-guard)
    stale = naive_elbo_per_doc(X, params, gamma)
    assert np.all(kept.doc_elbo >= stale - 1e-9 * np.abs(stale))
    assert value == pytest.approx(kept.doc_elbo.sum(), rel=1e-12)
    # the fresh start wins for (almost) every document here
    assert np.mean(kept.doc_elbo > stale + 1e-6) > 0.9


def naive_elbo_per_doc(X, params, gamma):
    return np.array([naive_elbo_and_counts(X[d:d + 1], params, gamma[d:d + 1])[0] for d in range(len(X))])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_fit_climbs_past_the_true_topics_elbo(seed):
    # Bars corpora as in issue 16 (1000 documents of 100 words, theta ~
    # Dirichlet(1)), the first three seeds.  With its defaults the fit must
    # reach at least the ELBO of EM started near the true topics (blurred, so
    # that no word has probability 0 and EM can move them); the E-step that
    # warm-started from the previous gamma stopped 0.03 nats per token below
    # it (worst topic cosine 0.4-0.6).
    X, topics, _ = datasets.bars(1000, n_tokens=100, alpha=1.0, random_state=seed)
    n_tokens = X.sum()
    result = lda.fit(X, 10, random_state=0)
    from_truth = lda.fit(X, 10, topic_word=0.9 * topics + 0.1 / 25, search=False)
    assert result.objective / n_tokens >= from_truth.objective / n_tokens, (result.objective, from_truth.objective)
    # and the defaults find every bar (issue 16's goal, worst matched cosine
    # >= 0.9): one monotone start to tol=1e-4, the defaults before, reached 0.3-0.5 here
    assert match_cosines(topics, lda.topic_word_distribution(result.params)).min() >= 0.9
    # the search's fresh E-steps may lower the bound; from where the monotone E-step
    # takes over it never falls
    assert 0 < result.n_search_iter < result.n_iter and result.converged
    assert np.all(np.diff(result.objectives[result.n_search_iter - 1:]) >= 0)
    one = lda.fit(X, 10, n_init=1, tol=1e-4, search=False, random_state=0)
    assert match_cosines(topics, lda.topic_word_distribution(one.params)).min() < 0.9
    assert np.all(np.diff(one.objectives) >= 0)


def test_n_init_keeps_the_best_restart_reproducibly():
    X, _, _ = datasets.bars(300, random_state=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = lda.fit(X, 10, n_init=3, init_max_iter=None, search=False, random_state=4, max_iter=30)
        again = lda.fit(X, 10, n_init=3, init_max_iter=None, search=False, random_state=4, max_iter=30)
        singles = []
        rng = np.random.default_rng(4)
        for _ in range(3):  # the restarts draw their topics one after another from random_state
            singles.append(lda.fit(X, 10, n_init=1, search=False, random_state=rng, max_iter=30).objective)
    np.testing.assert_array_equal(result.topic_word, again.topic_word)
    np.testing.assert_array_equal(result.restarts.log_likelihoods, singles)
    assert result.objective == singles[result.restarts.best]
    assert result.objective >= max(singles) - result.restarts.atol
    assert len(set(singles)) == 3  # three different starts


@pytest.mark.parametrize("search", [False, True])
def test_short_starts_then_the_best_continues(search):
    # init_max_iter: every start runs that many iterations, the best one
    # continues from where it stopped (its last E-step the next one's
    # previous), and the result is that one run.  Without the search its bound
    # never falls; with it, the starts and then the kept one use fresh E-steps
    # until the bound settles, and from there on the monotone E-step.
    X, _, _ = datasets.bars(300, random_state=8)
    result = lda.fit(X, 10, n_init=4, init_max_iter=5, search=search, random_state=4, record=True)
    rng = np.random.default_rng(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        shorts = [lda.fit(X, 10, n_init=1, search=search, random_state=rng, max_iter=5, record=True)
                  for _ in range(4)]
    np.testing.assert_array_equal(result.restarts.log_likelihoods, [s.objective for s in shorts])
    best = shorts[result.restarts.best]
    assert best.objective == max(s.objective for s in shorts)
    np.testing.assert_array_equal(result.objectives[:5], best.objectives)
    assert result.initial_objective == best.initial_objective
    # the monotone part carries on: no drop where it starts (a fresh first E-step fell
    # below where the start had stopped), and none after
    monotone = result.n_search_iter
    assert monotone == 0 if not search else monotone >= 5
    assert np.all(np.diff(np.r_[result.initial_objective, result.objectives][monotone:]) >= 0)
    assert result.objective > best.objective and result.converged
    assert result.n_iter == len(result.objectives) > monotone
    assert len(result.history.params) == result.n_iter + 1
    np.testing.assert_array_equal(result.history.params[5].topic_word, best.topic_word)
    np.testing.assert_array_equal(result.history.params[-1].topic_word, result.topic_word)
    if search:
        # the search is EM with e_step(previous=None) every iteration
        params = result.history.params
        for t in range(5, monotone):
            _, value = lda.e_step(X, params[t + 1])
            assert value == result.objectives[t]
            np.testing.assert_array_equal(params[t + 1].topic_word,
                                          lda.m_step(X, lda.e_step(X, params[t])[0], params[t]).topic_word)
    # the default: five starts of 20 iterations; with topic_word given, one start
    default = lda.fit(X, 10, random_state=4)
    assert len(default.restarts.log_likelihoods) == 5
    assert len(lda.fit(X, 10, topic_word=best.topic_word).restarts.log_likelihoods) == 1


def test_the_search_may_lower_the_bound_and_is_not_an_error():
    # fresh E-steps restart every document's ascent, so the bound can fall
    # between iterations; run_em must not call that a bug (monotone=False),
    # while the same fall with the monotone flag raises
    X, topics, _ = datasets.bars(1000, n_tokens=100, alpha=1.0, random_state=1)
    result = lda.fit(X, 10, n_init=1, random_state=0)
    search = result.objectives[:result.n_search_iter]
    assert np.any(np.diff(search) < 0)
    step = lda.fresh_e_step(lda.e_step)
    with pytest.raises(LikelihoodDecreaseError):
        run_em(X, lda.initial_params(X, 10, random_state=0), e_step=step, m_step=lda.m_step,
               n_observations=X.sum(), tol=0.0, max_iter=result.n_search_iter)


def test_n_init_options_are_checked():
    X, topics, _ = datasets.bars(20, random_state=1)
    with pytest.raises(ValueError, match="n_init"):
        lda.fit(X, 10, n_init=0)
    with pytest.raises(ValueError, match="n_init"):
        lda.fit(X, 10, n_init=2, topic_word=topics)
    with pytest.raises(ValueError, match="init_max_iter"):
        lda.fit(X, 10, init_max_iter=0)


def test_convergence_flag_and_warnings_of_the_phases():
    # found by a user trial: a monotone phase of one iteration could not count as
    # converged, a search that converged at max_iter still warned, and max_iter=1
    # reported a change of 0
    X, _, _ = datasets.bars(200, n_tokens=50, alpha=0.5, random_state=3)
    X = X[:5]
    full = lda.fit(X, 3, random_state=0, n_init=1)
    n_tokens, tol = X.sum(), 1e-5
    assert full.converged and 2 <= full.n_search_iter < full.n_iter
    # the search converges exactly at max_iter: converged, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        at_search = lda.fit(X, 3, random_state=0, n_init=1, max_iter=full.n_search_iter)
    assert at_search.converged and at_search.n_iter == at_search.n_search_iter == full.n_search_iter
    # one monotone iteration: converged exactly when that step met the rule, warned otherwise
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        one_more = lda.fit(X, 3, random_state=0, n_init=1, max_iter=full.n_search_iter + 1)
    step = one_more.objectives[-1] - one_more.objectives[-2]
    assert one_more.converged == (abs(step) < tol * n_tokens)
    assert len(caught) == (0 if one_more.converged else 1)
    # max_iter=1: the change reported is the one from the initial topics
    with pytest.warns(ConvergenceWarning) as record:
        single = lda.fit(X, 3, random_state=0, n_init=1, max_iter=1, search=False)
    assert f"{(single.objectives[0] - single.initial_objective) / n_tokens:.3e}" in str(record[0].message)
    assert record[0].filename == __file__  # the warning names the caller's line
    with pytest.warns(ConvergenceWarning) as record:
        LatentDirichletAllocation(3, random_state=0, max_iter=2).fit(X)
    assert record[0].filename == __file__


def test_search_is_a_flag_and_the_estimator_drops_stale_attributes():
    X, _, _ = datasets.bars(60, random_state=2)
    for bad in ("no", None, 1):
        with pytest.raises(ValueError, match="search"):
            lda.fit(X, 3, search=bad)
    with pytest.raises(ValueError, match="search"):
        LatentDirichletAllocation(3, search="yes").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LatentDirichletAllocation(3, random_state=0, max_iter=5).fit(X)
        assert hasattr(model, "gamma_")
        model.partial_fit(X)  # the topics move on: the fit's gamma_ would no longer match them
        assert not hasattr(model, "gamma_") and model.n_batch_iter_ > 0
        model.fit(X)
        assert hasattr(model, "gamma_") and not hasattr(model, "n_batch_iter_")
