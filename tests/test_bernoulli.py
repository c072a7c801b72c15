"""emtutor.bernoulli: mixtures of multivariate Bernoullis, against independent oracles.

Oracles: scipy.stats for the densities; brute-force enumeration of every
labelling of a tiny data set for the posterior and the likelihood;
numerical maximisation of the expected complete-data log-likelihood for the
M-step; the coin mixture (emtutor.coins, one toss per set) for the
one-feature case; a numerical gradient for the fixed point; EM's monotone
theorem on random problems; the digits for what the chapter claims.
"""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, stats
from scipy.special import expit, logsumexp, softmax
from sklearn.base import clone
from sklearn.datasets import load_digits

import emtutor
from emtutor import bernoulli, coins
from emtutor.bernoulli import BernoulliParams


def random_problem(rng, n=30, d=6, k=3):
    X = (rng.random((n, d)) < 0.5).astype(float)
    means = rng.uniform(0.05, 0.95, size=(k, d))
    return X, BernoulliParams(rng.dirichlet(np.ones(k)), means)


def test_log_bernoulli_matches_scipy_including_means_of_0_and_1(rng):
    X = (rng.random((40, 5)) < 0.5).astype(float)
    means = rng.uniform(0, 1, size=(3, 5))
    means[0, 1], means[1, 3], means[2, 0] = 0.0, 1.0, 0.0
    expected = np.stack([stats.bernoulli.logpmf(X, mu).sum(axis=1) for mu in means], axis=1)
    got = bernoulli.log_bernoulli(X, means)
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    assert np.isneginf(got).any() and np.isfinite(got).any()
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-13, atol=1e-13)


def test_e_step_and_likelihood_match_enumeration_of_every_labelling(rng):
    """p(z_n = k | X) and p(X) summed over all K^N labellings of a tiny data set."""
    X, params = random_problem(rng, n=5, d=3, k=3)
    per_point = np.stack([stats.bernoulli.pmf(X, mu).prod(axis=1) for mu in params.means], axis=1)
    joint = {z: np.prod([params.weights[k] * per_point[n, k] for n, k in enumerate(z)])
             for z in itertools.product(range(3), repeat=len(X))}
    evidence = sum(joint.values())
    posterior = np.zeros((len(X), 3))
    for z, p in joint.items():
        posterior[np.arange(len(X)), z] += p / evidence
    resp, log_norm = bernoulli.e_step(X, params)
    np.testing.assert_allclose(resp, posterior, rtol=1e-12)
    np.testing.assert_allclose(log_norm.sum(), np.log(evidence), rtol=1e-12)
    assert bernoulli.log_likelihood(X, params) == pytest.approx(np.log(evidence), rel=1e-12)


def expected_complete_log_likelihood(X, resp, weights, means):
    """Q of the chapter: sum_nk r_nk (log pi_k + log p(x_n | mu_k)), written out directly."""
    log_p = X @ np.log(means).T + (1 - X) @ np.log1p(-means).T
    return float(np.sum(resp * (np.log(weights) + log_p)))


def test_m_step_is_the_maximiser_of_q(rng):
    X, params = random_problem(rng, n=25, d=4, k=2)
    resp, _ = bernoulli.e_step(X, params)
    new = bernoulli.m_step(X, resp, params)
    k, d = params.means.shape

    def negative_q(z):  # unconstrained: softmax weights, logistic means
        return -expected_complete_log_likelihood(X, resp, softmax(z[:k]), expit(z[k:].reshape(k, d)))

    best = optimize.minimize(negative_q, np.zeros(k + k * d), method="BFGS", options={"gtol": 1e-10})
    assert -negative_q(np.zeros(k + k * d)) < -best.fun  # the optimiser moved
    assert expected_complete_log_likelihood(X, resp, *new) >= -best.fun - 1e-9
    np.testing.assert_allclose(new.means, expit(best.x[k:].reshape(k, d)), atol=1e-5)
    np.testing.assert_allclose(new.weights, softmax(best.x[:k]), atol=1e-5)


def test_one_feature_is_the_coin_mixture_with_one_toss_per_set(rng):
    """Same EM iterates as emtutor.coins with learned weights: an independent implementation."""
    heads = (rng.random(60) < 0.35).astype(float)
    heads[:20] = 1.0
    start_thetas, start_weights = np.array([0.7, 0.3]), np.array([0.4, 0.6])
    coin = coins.fit(heads, 1, thetas=start_thetas, weights=start_weights, learn_weights=True,
                     tol=1e-10, max_iter=40, record=True)
    bern = bernoulli.fit(heads[:, None], 2, weights=start_weights, means=start_thetas[:, None],
                         tol=1e-10, max_iter=40, record=True)
    assert bern.n_iter == coin.n_iter
    for a, b in zip(bern.history.params, coin.history.params):
        np.testing.assert_allclose(a.means[:, 0], b.thetas, rtol=1e-12)
        np.testing.assert_allclose(a.weights, b.weights, rtol=1e-12)
    np.testing.assert_allclose(bern.objectives, coin.objectives, rtol=1e-12)


def test_converged_fit_is_a_stationary_point_of_the_likelihood(rng):
    truth = np.array([[0.8, 0.2, 0.7, 0.3], [0.2, 0.7, 0.3, 0.8]])
    labels = rng.integers(0, 2, size=400)
    X = (rng.random((400, 4)) < truth[labels]).astype(float)
    result = bernoulli.fit(X, 2, means=[[0.6, 0.4, 0.5, 0.5], [0.4, 0.6, 0.5, 0.5]], tol=1e-13, max_iter=5000)
    assert result.converged
    assert np.all((result.means > 1e-3) & (result.means < 1 - 1e-3))
    k, d = result.means.shape
    z0 = np.concatenate([np.log(result.weights), np.log(result.means / (1 - result.means)).ravel()])

    def log_likelihood(z):
        log_p = bernoulli.log_bernoulli(X, expit(z[k:].reshape(k, d))) + np.log(softmax(z[:k]))
        return logsumexp(log_p, axis=1).sum()

    gradient = optimize.approx_fprime(z0, log_likelihood, 1e-6)
    assert np.max(np.abs(gradient)) < 1e-4


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), d=st.integers(1, 8), k=st.integers(1, 5),
       density=st.sampled_from([0.02, 0.3, 0.5, 0.98]))
def test_log_likelihood_never_decreases_on_random_problems(seed, n, d, k, density):
    """The driver raises LikelihoodDecreaseError on any decrease; it must never fire."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, d)) < density).astype(float)
    k = min(k, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
        result = bernoulli.fit(X, k, random_state=seed, tol=1e-10, max_iter=200)
    assert np.all(np.diff(result.objectives) >= -1e-9 * np.maximum(1.0, np.abs(result.objectives[1:])))
    assert np.all(np.isfinite(result.objectives)) and np.all(np.isfinite(result.means))
    assert np.all((result.means >= 0) & (result.means <= 1))
    np.testing.assert_allclose(result.weights.sum(), 1.0)


def test_a_mean_of_zero_keeps_training_rows_possible():
    """A feature off in every row of a component gives a mean of exactly 0; EM goes on."""
    X = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=float)
    result = bernoulli.fit(X, 2, means=[[0.9, 0.1, 0.1], [0.1, 0.9, 0.6]], tol=1e-12, max_iter=500)
    assert np.any(result.means == 0) and np.all(np.isfinite(result.objectives))
    assert result.objective == pytest.approx(bernoulli.log_likelihood(X, result.params), rel=1e-12)


def test_a_row_impossible_under_every_component_is_named():
    params = BernoulliParams(np.array([0.5, 0.5]), np.array([[0.5, 0.0], [0.2, 0.0]]))
    with pytest.raises(ValueError, match="row 1 of X has probability zero under every component"):
        bernoulli.e_step(np.array([[1.0, 0.0], [0.0, 1.0]]), params)


@pytest.mark.parametrize("X, match", [
    ([[0, 1], [2, 1]], r"X must hold only 0 and 1.*X\[1, 0\] = 2;"),
    ([[0, 0.5]], r"X must hold only 0 and 1"),
    ([[0, np.nan]], r"X must hold only 0 and 1"),
    ([0, 1, 1], "X must be 2-D"),
    (np.zeros((0, 3)), "X"),
])
def test_bad_data_is_named(X, match):
    with pytest.raises(ValueError, match=match):
        bernoulli.fit(X, 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_components": 0}, "n_components must be between 1 and 4"),
    ({"n_components": 5}, "n_components must be between 1 and 4"),
    ({"n_components": 2, "n_init": 0}, "n_init must be >= 1"),
    ({"n_components": 2, "means": [[0.5, 1.5], [0.5, 0.5]]}, "means must be between 0 and 1"),
    ({"n_components": 2, "means": [[0.5, 0.5]]}, r"means must have shape \(2, 2\)"),
    ({"n_components": 2, "weights": [0.3, 0.3]}, "weights must sum to 1"),
    ({"n_components": 2, "tol": -1.0}, "tol"),
])
def test_bad_settings_are_named(kwargs, match):
    X = np.array([[0, 1], [1, 1], [1, 0], [0, 0]])
    with pytest.raises(ValueError, match=match):
        bernoulli.fit(X, **kwargs)


def test_same_seed_same_fit_and_restarts_keep_the_best(rng):
    X, _ = random_problem(rng, n=60, d=8, k=3)
    a = bernoulli.fit(X, 3, n_init=4, random_state=5)
    b = bernoulli.fit(X, 3, n_init=4, random_state=5)
    np.testing.assert_array_equal(a.means, b.means)
    singles = []
    seed_stream = np.random.default_rng(5)
    for _ in range(4):  # the restarts draw their starts from one stream, in order
        start = bernoulli._initial_params(X.shape[1], 3, seed_stream)
        singles.append(bernoulli.fit(X, 3, means=start.means).objective)
    np.testing.assert_allclose(a.restarts.log_likelihoods, singles, rtol=1e-12)
    assert a.objective == pytest.approx(max(singles), abs=a.restarts.atol)


@pytest.fixture(scope="module")
def digits_234():
    digits = load_digits()
    keep = np.isin(digits.target, [2, 3, 4])
    return (digits.data[keep] >= 8).astype(float), digits.target[keep]


def test_digits_two_three_four_are_found_without_labels(digits_234):
    """The chapter's claim (as Bishop's Figure 9.10 with MNIST): K = 3 finds the three digits."""
    X, y = digits_234
    model = emtutor.BernoulliMixture(3, n_init=5, random_state=0).fit(X)
    labels = model.predict(X)
    majority = [np.bincount(y[labels == k]).argmax() for k in range(3)]
    assert sorted(majority) == [2, 3, 4]
    purity = sum(np.bincount(y[labels == k]).max() for k in range(3)) / len(y)
    assert purity > 0.85
    assert model.means_.shape == (3, 64)


def test_estimator_matches_the_module_and_samples_binary_rows(digits_234):
    X, _ = digits_234
    model = emtutor.BernoulliMixture(3, random_state=1).fit(X)
    result = bernoulli.fit(X, 3, random_state=1)
    np.testing.assert_array_equal(model.means_, result.means)
    assert model.score(X) == pytest.approx(result.objective / len(X), rel=1e-12)
    assert model.bic(X) == pytest.approx(-2 * result.objective + (3 * 64 + 2) * np.log(len(X)), rel=1e-12)
    sample, labels = model.sample(500)
    assert set(np.unique(sample)) <= {0.0, 1.0} and sample.shape == (500, 64)
    np.testing.assert_allclose(sample.mean(axis=0), (model.weights_ @ model.means_), atol=0.12)
    with pytest.raises(ValueError, match="X has 3 features, but BernoulliMixture is expecting 64"):
        model.predict(np.zeros((2, 3)))
    assert clone(model).get_params() == model.get_params()
