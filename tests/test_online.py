"""Incremental EM, stochastic EM and online variational Bayes for LDA (emtutor.online).

Oracles: batch EM's M-step and fixed point (emtutor.gmm), the free energy
summed directly over points and components, Neal and Hinton's theorem (the
objective never decreases, checked after every half-step), the sampling
error of the maximum-likelihood estimate (for stochastic EM, which is only
asymptotically exact), and scikit-learn's online LatentDirichletAllocation
update by update.
"""

import warnings

import numpy as np
import pytest
from scipy.special import digamma
from test_lda import match_cosines

import emtutor
from emtutor import datasets, gmm, lda, online
from emtutor.em import ConvergenceWarning

COVARIANCE_TYPES = ["full", "diag", "spherical", "tied"]


@pytest.fixture
def X():
    return datasets.three_gaussians()


def start(X, covariance_type, seed=1):
    return gmm.initial_params(X, 3, covariance_type=covariance_type, random_state=seed)


# ------------------------------------------------------------ sufficient statistics


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_step_from_statistics_is_the_batch_m_step(X, covariance_type):
    rng = np.random.default_rng(0)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    stats = gmm.statistics(X, resp, covariance_type=covariance_type, centre=X.mean(axis=0) + 0.3)
    got = gmm.m_step_from_statistics(stats, reg_covar=1e-3, covariance_type=covariance_type)
    want = gmm.m_step(X, resp, reg_covar=1e-3, covariance_type=covariance_type)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    # and the statistics of a parameter set give it back (stochastic EM's start)
    again = gmm.m_step_from_statistics(
        online.statistics_of_params(want, np.zeros(2), reg_covar=1e-3, covariance_type=covariance_type),
        reg_covar=1e-3, covariance_type=covariance_type)
    for a, b in zip(again, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_free_energy_from_statistics_is_the_direct_double_sum(X, covariance_type):
    """L(q, theta) = sum_n sum_k r_nk (log pi_k + log N(x_n | theta_k) - log r_nk) for any q,
    and the log-likelihood when q is the posterior."""
    rng = np.random.default_rng(1)
    params = start(X, covariance_type)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    log_joint = np.log(params.weights) + gmm.log_gaussian_density(X, params.means, params.covariances,
                                                                  covariance_type)
    direct = np.sum(resp * (log_joint - np.log(resp)))
    entropy = -np.sum(resp * np.log(resp))
    stats = gmm.statistics(X, resp, covariance_type=covariance_type, centre=X.mean(axis=0))
    assert online.free_energy(stats, entropy, params, covariance_type) == pytest.approx(direct, rel=1e-12)
    posterior, _ = gmm.e_step(X, params, covariance_type=covariance_type)
    stats = gmm.statistics(X, posterior, covariance_type=covariance_type, centre=X.mean(axis=0))
    entropy = -np.sum(posterior * np.log(posterior))
    assert online.free_energy(stats, entropy, params, covariance_type) == pytest.approx(
        gmm.log_likelihood(X, params, covariance_type=covariance_type), rel=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_a_component_collapsed_far_from_the_centre_raises_collapsed_component_error(covariance_type):
    """Five points 1e-9 apart, far from the others: their covariance (about 1e-18) is a
    difference of moments of size 1e6 about the centre, all rounding (here it comes out positive
    definite, about 1e-10); the one-pass M-step (no second pass about the component's mean) must
    see that it is at the rounding level of those moments, not at that of the covariance itself."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(200, 2))
    X[-5:] = np.array([1e3, -1e3]) + 1e-9 * rng.normal(size=(5, 2))
    resp = np.zeros((200, 3))
    resp[:100, 0], resp[100:195, 1], resp[195:, 2] = 1.0, 1.0, 1.0
    stats = gmm.statistics(X, resp, covariance_type=covariance_type, centre=X.mean(axis=0))
    state = online.IncrementalState(gmm.GMMStatistics(*(np.asarray(f)[None] for f in stats)), np.zeros(1), 0)
    with pytest.raises(gmm.CollapsedComponentError, match="component 2"):
        online.incremental_m_step(X, state, reg_covar=0.0, covariance_type=covariance_type)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_tight_clusters_far_from_the_centre_reach_batch_ems_fixed_point(covariance_type):
    """Clusters 1000 of their standard deviations from the data mean: batch EM's M-step recomputes
    their moments about their own means in a second pass; incremental EM, which has none, must
    reach the same fixed point from the moments about the centre (to their rounding)."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(100, 2)) * 0.01 + m for m in ([0, 0], [10, 0], [0, 10])])
    X = X[rng.permutation(300)]
    params = start(X, covariance_type, seed=0)
    same = {"weights": params.weights, "means": params.means, "covariances": params.covariances,
            "covariance_type": covariance_type, "tol": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: to machine precision
        batch = gmm.fit(X, 3, max_iter=50, **same)
        incremental = online.fit_incremental(X, 3, n_blocks=4, max_iter=30, **same)
    for a, b in zip(incremental.params, batch.params):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    assert incremental.objective == pytest.approx(batch.objective, rel=1e-10)


# ------------------------------------------------------------------ incremental EM


def half_steps(X, params, covariance_type, n_blocks, n_steps, reg_covar=0.0):
    """L after every M-step and every partial E-step, computed outside the driver."""
    edges = np.linspace(0, len(X), n_blocks + 1).round().astype(int)
    blocks = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
    kwargs = {"blocks": blocks, "centre": X.mean(axis=0), "covariance_type": covariance_type}
    state, value = online.incremental_e_step(X, params, None, **kwargs)
    values = [value]
    for _ in range(n_steps):
        params = online.incremental_m_step(X, state, params, reg_covar=reg_covar, covariance_type=covariance_type)
        totals = state.totals()
        values.append(online.free_energy(totals, state.entropies.sum(), params, covariance_type))
        state, value = online.incremental_e_step(X, params, state, **kwargs)
        values.append(value)
    return np.array(values)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_incremental_em_never_lowers_the_free_energy_after_any_half_step(X, covariance_type):
    values = half_steps(X, start(X, covariance_type), covariance_type, n_blocks=7, n_steps=40)
    steps = np.diff(values)
    assert steps.min() >= -1e-10 * np.abs(values).max(), steps.min()
    assert values[-1] - values[0] > 100  # and it does climb


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_incremental_em_reaches_batch_ems_fixed_point(X, covariance_type):
    params = start(X, covariance_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: run to max_iter, to machine precision
        batch = gmm.fit(X, 3, covariance_type=covariance_type, weights=params.weights, means=params.means,
                        covariances=params.covariances, tol=0.0, max_iter=150)
        incremental = online.fit_incremental(X, 3, n_blocks=4, covariance_type=covariance_type,
                                             weights=params.weights, means=params.means,
                                             covariances=params.covariances, tol=0.0, max_iter=60)
    for a, b in zip(incremental.params, batch.params):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)
    # at the fixed point every block's q is the posterior: L is the log-likelihood
    assert incremental.objective == pytest.approx(batch.objective, rel=1e-12)
    assert incremental.objective == pytest.approx(
        gmm.log_likelihood(X, incremental.params, covariance_type=covariance_type), rel=1e-12)


def test_one_block_is_batch_em_iteration_by_iteration(X):
    params = start(X, "full")
    batch = gmm.fit(X, 3, weights=params.weights, means=params.means, covariances=params.covariances,
                    tol=1e-6, record=True)
    incremental = online.fit_incremental(X, 3, n_blocks=1, weights=params.weights, means=params.means,
                                         covariances=params.covariances, tol=1e-6, record=True)
    assert incremental.n_iter == batch.n_iter
    np.testing.assert_allclose(incremental.objectives, batch.objectives, rtol=1e-12)
    for a, b in zip(incremental.history.params[-1], batch.history.params[-1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_incremental_em_with_reg_covar_passes_the_drivers_check(X):
    """With reg_covar > 0 the M-step may lower L by the bound gmm-reg-bound; the driver allows exactly that."""
    result = online.fit_incremental(X, 3, n_blocks=5, reg_covar=0.1, random_state=0, tol=1e-8, max_iter=200)
    assert result.converged
    refit = gmm.fit(X, 3, reg_covar=0.1, random_state=0, tol=1e-10, max_iter=500)
    np.testing.assert_allclose(np.sort(result.params.weights), np.sort(refit.params.weights), atol=1e-4)


# ------------------------------------------------------------------ stochastic EM

TRUE_MEANS = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
TRUE_WEIGHTS = np.array([0.5, 0.3, 0.2])
TRUE_SD = np.array([1.0, 0.7])


def mixture_sample(seed, n=2000):
    rng = np.random.default_rng(seed)
    z = rng.choice(3, n, p=TRUE_WEIGHTS)
    return TRUE_MEANS[z] + rng.normal(size=(n, 2)) * TRUE_SD


def in_true_order(params):
    order = [int(np.argmin(np.linalg.norm(params.means - m, axis=1))) for m in TRUE_MEANS]
    assert sorted(order) == [0, 1, 2]
    return params.means[order]


def test_stochastic_em_reaches_the_batch_optimum_within_a_fraction_of_the_sampling_error():
    """The tolerance: on data of n points the maximum-likelihood means are off the true ones by
    about their standard error se_k = sd / sqrt(n pi_k), and log L(theta_hat) - log L(theta_true)
    is about p / 2 = 8.5 (Wilks: twice it is chi-squared with p = 17 degrees of freedom).  An
    online estimate within a fraction of these of the batch optimum is as good an estimate as
    the batch one.  Measured over five data sets: the batch means are 0.9-2.6 se from the truth,
    the online ones (10 passes, default step sizes) under 0.15 se from the batch ones."""
    n = 2000
    se = TRUE_SD / np.sqrt(n * TRUE_WEIGHTS[:, None])
    truth = gmm.GMMParams(TRUE_WEIGHTS, TRUE_MEANS, np.repeat(np.diag(TRUE_SD**2)[None], 3, axis=0))
    sampling, online_error, gaps, truth_gaps = [], [], [], []
    for seed in range(5):
        X = mixture_sample(seed, n)
        params = gmm.initial_params(X, 3, random_state=seed)
        batch = gmm.fit(X, 3, weights=params.weights, means=params.means, covariances=params.covariances,
                        tol=1e-8, max_iter=1000)
        result = online.fit_stochastic(X, 3, batch_size=100, n_epochs=10, weights=params.weights,
                                       means=params.means, covariances=params.covariances, random_state=seed)
        sampling.append(np.max(np.abs(in_true_order(batch.params) - TRUE_MEANS) / se))
        online_error.append(np.max(np.abs(in_true_order(result.params) - in_true_order(batch.params)) / se))
        gaps.append(batch.objective - result.objectives[-1])
        truth_gaps.append(batch.objective - gmm.log_likelihood(X, truth))
    assert max(online_error) < 0.5, online_error
    assert np.mean(sampling) > 3 * max(online_error)  # the tolerance is far below the sampling error
    assert 0 <= min(gaps) and max(gaps) < 1.0, gaps
    assert np.mean(truth_gaps) > 4 * max(gaps), truth_gaps  # about p / 2 = 8.5


def test_stochastic_em_same_seed_same_result_other_seed_other_path(X):
    runs = [online.fit_stochastic(X, 3, batch_size=20, n_epochs=2, random_state=seed) for seed in (4, 4, 5)]
    for a, b in zip(runs[0].params, runs[1].params):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(runs[0].objectives, runs[1].objectives)
    assert not np.array_equal(runs[0].objectives, runs[2].objectives)


def test_step_sizes():
    np.testing.assert_allclose(online.step_size([1, 2, 3], 0.7, 10.0), np.array([11.0, 12.0, 13.0]) ** -0.7)
    assert online.step_size(1, 1.0, 0.0) == 1.0  # with t_0 = 0 the first batch replaces the start


@pytest.mark.parametrize("name, value", [
    ("learning_decay", 0.5), ("learning_decay", 0.3), ("learning_decay", 1.01), ("learning_decay", 0.0),
    ("learning_decay", np.nan), ("learning_decay", "0.7"), ("learning_decay", True),
    ("learning_offset", -1.0), ("learning_offset", np.inf), ("learning_offset", None),
])
def test_invalid_step_sizes_are_value_errors_naming_the_argument(X, name, value):
    settings = {"learning_decay": 0.7, "learning_offset": 10.0, name: value}
    with pytest.raises(ValueError, match=name):
        online.check_learning_schedule(**settings)
    with pytest.raises(ValueError, match=name):
        online.fit_stochastic(X, 3, **settings)
    with pytest.raises(ValueError, match=name):
        online.fit_online_lda(np.ones((4, 3)), 2, **settings)
    with pytest.raises(ValueError, match=name):
        emtutor.GaussianMixture(3, **settings).partial_fit(X)
    with pytest.raises(ValueError, match=name):
        emtutor.LatentDirichletAllocation(2, **settings).partial_fit(np.ones((4, 3)))


@pytest.mark.parametrize("call, name", [
    (lambda X: online.fit_stochastic(X, 3, batch_size=0), "batch_size"),
    (lambda X: online.fit_stochastic(X, 3, n_epochs=0), "n_epochs"),
    (lambda X: online.fit_incremental(X, 3, n_blocks=0), "n_blocks"),
    (lambda X: online.fit_incremental(X, 3, n_blocks=301), "n_blocks"),
    (lambda X: online.fit_incremental(X, 3, reg_covar=-1.0), "reg_covar"),
    (lambda X: online.fit_online_lda(np.ones((4, 3)), 2, total_samples=0), "total_samples"),
    (lambda X: emtutor.LatentDirichletAllocation(2, batch_size=0).partial_fit(np.ones((4, 3))), "batch_size"),
    (lambda X: emtutor.GaussianMixture(5).partial_fit(X[:4]), "n_components"),
])
def test_other_bad_settings_are_value_errors_naming_them(X, call, name):
    with pytest.raises(ValueError, match=name):
        call(X)


# ------------------------------------------------------------ GaussianMixture.partial_fit


def test_a_prior_rules_out_partial_fit_as_scikit_learn_rules_out_methods(X):
    # MAP-EM has no stochastic version here: the method is absent (hasattr False, as with
    # scikit-learn's available_if), so check_estimator does not call it; the error names the setting
    model = emtutor.GaussianMixture(3, mean_precision_prior=1.0)
    assert not hasattr(model, "partial_fit")
    with pytest.raises(AttributeError, match="mean_precision_prior is set"):
        model.partial_fit(X)
    assert hasattr(emtutor.GaussianMixture(3), "partial_fit")
    assert emtutor.GaussianMixture.partial_fit.__doc__.startswith("One step of stochastic EM")


def test_gaussian_mixture_partial_fit_is_one_stochastic_em_step_per_call(X):
    batches = np.array_split(np.random.default_rng(0).permutation(X), 6)
    model = emtutor.GaussianMixture(3, random_state=0, learning_decay=0.6, learning_offset=2.0)
    for batch in batches:
        model.partial_fit(batch)
    # the same steps by hand, from the same initial parameters (drawn from the first batch)
    params = gmm.initial_params(batches[0], 3, random_state=0, reg_covar=1e-6)
    stats = online.statistics_of_params(params, params.means.mean(axis=0), reg_covar=1e-6)
    for t, batch in enumerate(batches, start=1):
        stats, params, _ = online.stochastic_step(batch, stats, params, (2.0 + t) ** -0.6, reg_covar=1e-6)
    for a, b in zip(model.params_, params):
        np.testing.assert_array_equal(a, b)
    assert model.n_iter_ == 6 and len(model.objectives_) == 6 and model.converged_ is False
    assert model.n_features_in_ == 2
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2"):
        model.partial_fit(np.ones((5, 3)))
    # same seed, same result; a fresh fit forgets the online state
    again = emtutor.GaussianMixture(3, random_state=0, learning_decay=0.6, learning_offset=2.0)
    for batch in batches:
        again.partial_fit(batch)
    np.testing.assert_array_equal(again.means_, model.means_)
    model.fit(X)
    fitted = model.means_.copy()
    model.partial_fit(batches[0])  # continues from the fitted parameters, t counted afresh
    assert model.n_iter_ == 1
    assert np.abs(model.means_ - fitted).max() < 0.5


def test_gaussian_mixture_fit_is_unchanged_by_the_new_settings(X):
    plain = emtutor.GaussianMixture(3, random_state=0).fit(X)
    other = emtutor.GaussianMixture(3, random_state=0, learning_decay=1.0, learning_offset=0.0).fit(X)
    np.testing.assert_array_equal(plain.means_, other.means_)


# ------------------------------------------------------------------ online LDA


def exact_dirichlet_expectation_1d(doc_topic, prior, out):
    doc_topic += prior
    out[:] = np.exp(digamma(doc_topic) - digamma(doc_topic.sum()))


def exact_dirichlet_expectation_2d(arr):
    arr = np.asarray(arr)
    return digamma(arr) - digamma(arr.sum(axis=1))[:, None]


def sklearn_online_lda(X, lam0, alpha, eta, tol, max_iter, batch_size):
    """scikit-learn's online LDA with its state set to the starting lambda (its first
    partial_fit initialises; the state is then overwritten)."""
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.decomposition._lda import _dirichlet_expectation_2d

    model = LatentDirichletAllocation(
        n_components=len(lam0), learning_method="online", doc_topic_prior=alpha, topic_word_prior=eta,
        total_samples=X.shape[0], batch_size=batch_size, learning_decay=0.7, learning_offset=10.0,
        mean_change_tol=tol, max_doc_update_iter=max_iter, random_state=0)
    model.partial_fit(X[:1])
    model.components_ = lam0.copy()
    model.exp_dirichlet_component_ = np.exp(_dirichlet_expectation_2d(lam0))
    model.n_batch_iter_ = 1
    return model


@pytest.mark.parametrize("exact_digamma", [True, False], ids=["scipy digamma", "sklearn digamma"])
def test_online_lda_matches_scikit_learn_update_by_update(exact_digamma, monkeypatch):
    """Each update of lambda as scikit-learn's partial_fit computes it from the same lambda.

    Differences that are not the update rule: scikit-learn starts each document's gamma at
    random draws (emtutor at alpha + N_d / K) and adds eps to phi's normaliser; with alpha = 1
    each document's bound has one maximum here and a tight E-step tolerance reaches it from
    either start.  And scikit-learn's digamma is an approximation (Bernardo's AS 103 series cut
    after its 1/x^6 term, error up to about 3e-9): with scipy's digamma put in its place the
    updates agree to about 1e-12 (relative, worst entry); with its own, to about 1e-8."""
    if exact_digamma:
        import sklearn.decomposition._lda as sklearn_lda

        monkeypatch.setattr(sklearn_lda, "cy_dirichlet_expectation_1d",
                            {"double": exact_dirichlet_expectation_1d, "float": exact_dirichlet_expectation_1d})
        monkeypatch.setattr(sklearn_lda, "_dirichlet_expectation_2d", exact_dirichlet_expectation_2d)
    X, _, _ = datasets.bars(30, 40, random_state=0)
    lam0 = np.random.default_rng(1).gamma(100.0, 0.01, (10, 25))
    tol, max_iter, batch_size = 1e-12, 3000, 10
    reference = sklearn_online_lda(X, lam0, 1.0, 0.1, tol, max_iter, batch_size)
    lam = lam0.copy()
    errors = []
    for t, rows in enumerate(range(0, 30, batch_size), start=1):
        batch = X[rows : rows + batch_size]
        reference.partial_fit(batch)
        lam, _ = online.online_lda_step(batch, lam, np.ones(10), 0.1, (10.0 + t) ** -0.7, 30,
                                        e_step_tol=tol, max_e_step_iter=max_iter)
        errors.append(np.max(np.abs(lam - reference.components_) / reference.components_))
    assert max(errors) < (1e-10 if exact_digamma else 1e-7), errors  # measured 3.5e-12 and 1.6e-8


def test_online_lda_recovers_the_bars_as_batch_em_does():
    """From the start (random_state=3) that batch EM's bars test recovers every bar from."""
    X, topics, _ = datasets.bars(1000, random_state=0)
    result = online.fit_online_lda(X, 10, alpha=1.0, batch_size=50, n_epochs=8, learning_decay=0.51,
                                   learning_offset=0.0, random_state=3)
    assert match_cosines(topics, lda.topic_word_distribution(result.params)).min() > 0.95  # 0.975 (batch: 0.998)
    assert np.all(np.diff(result.objectives[-5:]) > -1e-3 * np.abs(result.objectives[-1]))


def test_lda_partial_fit_follows_scikit_learns_conventions():
    X, _, _ = datasets.bars(90, 30, random_state=0)
    model = emtutor.LatentDirichletAllocation(10, topic_word_prior=0.1, batch_size=20, total_samples=90,
                                              random_state=0)
    model.partial_fit(X)
    assert model.n_batch_iter_ == 5 and model.n_iter_ == 5  # ceil(90 / 20) mini-batches
    assert model.n_features_in_ == 25 and model.components_.shape == (10, 25)
    # the same steps as online.fit_online_lda's single unshuffled pass from the same start
    result = online.fit_online_lda(X, 10, eta=0.1, batch_size=20, n_epochs=1, shuffle=False,
                                   total_samples=90, random_state=0)
    np.testing.assert_array_equal(model.components_, result.params.topic_word)
    with pytest.raises(ValueError, match="X has 24 features, but LatentDirichletAllocation is expecting 25"):
        model.partial_fit(X[:, :24])
    model.partial_fit(X[:20])
    assert model.n_batch_iter_ == 6
    with pytest.raises(ValueError, match="fit_alpha"):
        emtutor.LatentDirichletAllocation(2, fit_alpha=True).partial_fit(X)
