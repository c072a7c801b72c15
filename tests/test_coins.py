"""The coin mixture: a published worked example, brute-force oracles, properties."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import gammaln

from emtutor import ConvergenceWarning, coins

# Do & Batzoglou (2008), Figure 1: five sets of ten tosses.
SEQUENCES = ["HTTTHHTHTH", "HHHHTHHHHH", "HTHHHHHTHH", "HTHTTTHHTT", "THHHTHHHTH"]
LABELS = [1, 0, 0, 1, 0]  # their panel (a): coin B, A, A, B, A
HEADS = [s.count("H") for s in SEQUENCES]


def test_log_likelihood_is_that_of_the_published_sequences_letter_by_letter():
    """The package takes head counts; its log-likelihood must be that of the
    sequences themselves (coins-log-likelihood), computed here toss by toss
    from the letters of Do & Batzoglou's five sequences."""
    params = coins.CoinParams(np.array([0.3, 0.7]), np.array([0.6, 0.5]))
    total = 0.0
    for sequence in SEQUENCES:
        per_coin = [w * np.prod([t if toss == "H" else 1 - t for toss in sequence])
                    for w, t in zip(params.weights, params.thetas)]
        total += np.log(sum(per_coin))
    data = coins.as_coin_data(HEADS, [len(s) for s in SEQUENCES])
    assert coins.log_likelihood(data, params) == pytest.approx(total, rel=1e-13)


def test_worked_example_do_batzoglou_2008():
    """Fig. 1b: the E-step values, the first M-step and the result after 10 iterations."""
    data = coins.as_coin_data(HEADS, 10)
    start = coins.CoinParams(np.array([0.5, 0.5]), np.array([0.6, 0.5]))
    resp, _ = coins.e_step(data, start)
    # Printed responsibilities of coin A (two decimals).
    np.testing.assert_allclose(resp[:, 0], [0.45, 0.80, 0.73, 0.35, 0.65], atol=0.005 + 1e-12)
    # Printed expected counts (one decimal): heads and tails of coin A and coin B.
    tails = 10 - np.array(HEADS)
    np.testing.assert_allclose(resp[:, 0] * HEADS, [2.2, 7.2, 5.9, 1.4, 4.5], atol=0.05 + 1e-12)
    np.testing.assert_allclose(resp[:, 0] * tails, [2.2, 0.8, 1.5, 2.1, 1.9], atol=0.05 + 1e-12)
    np.testing.assert_allclose(resp[:, 1] * HEADS, [2.8, 1.8, 2.1, 2.6, 2.5], atol=0.05 + 1e-12)
    np.testing.assert_allclose(resp[:, 1] * tails, [2.8, 0.2, 0.5, 3.9, 1.1], atol=0.05 + 1e-12)
    with pytest.warns(ConvergenceWarning):
        first = coins.fit(HEADS, 10, thetas=[0.6, 0.5], max_iter=1, tol=0.0)
    np.testing.assert_allclose(first.thetas, [0.71, 0.58], atol=0.005)
    with pytest.warns(ConvergenceWarning):
        tenth = coins.fit(HEADS, 10, thetas=[0.6, 0.5], max_iter=10, tol=0.0)
    assert tenth.n_iter == 10
    np.testing.assert_allclose(tenth.thetas, [0.80, 0.52], atol=0.005)
    np.testing.assert_array_equal(tenth.weights, [0.5, 0.5])  # fixed, as in the paper


def test_worked_example_complete_data_mle():
    """Fig. 1a: with the labels known, theta_A = 24/30 = 0.80 and theta_B = 9/20 = 0.45."""
    params = coins.complete_data_mle(HEADS, 10, LABELS)
    np.testing.assert_allclose(params.thetas, [0.80, 0.45], atol=0.005)
    np.testing.assert_allclose(params.weights, [0.6, 0.4])


def complete_log_lik(heads, tosses, labels, thetas, weights):
    heads, tosses, labels = map(np.asarray, (heads, tosses, labels))
    t = np.asarray(thetas)[labels]
    return np.sum(np.log(np.asarray(weights)[labels]) + heads * np.log(t) + (tosses - heads) * np.log1p(-t))


def test_complete_data_mle_maximises_complete_log_likelihood_on_a_grid():
    heads, tosses, labels = [3, 7, 1, 6], [10, 12, 5, 8], [0, 1, 0, 1]
    mle = coins.complete_data_mle(heads, tosses, labels)
    grid = np.linspace(0.001, 0.999, 999)
    best = complete_log_lik(heads, tosses, labels, mle.thetas, mle.weights)
    for k in range(2):
        for t in grid:
            thetas = mle.thetas.copy()
            thetas[k] = t
            assert complete_log_lik(heads, tosses, labels, thetas, mle.weights) <= best + 1e-12
    for w in grid:
        assert complete_log_lik(heads, tosses, labels, mle.thetas, [w, 1 - w]) <= best + 1e-12


def test_m_step_with_one_hot_resp_is_the_complete_data_mle(rng):
    heads = rng.integers(0, 11, size=12)
    labels = rng.integers(0, 3, size=12)
    labels[:3] = [0, 1, 2]
    data = coins.as_coin_data(heads, 10)
    params = coins.m_step(data, np.eye(3)[labels])
    mle = coins.complete_data_mle(heads, 10, labels)
    np.testing.assert_allclose(params.thetas, mle.thetas, rtol=1e-13)
    np.testing.assert_allclose(params.weights, mle.weights, rtol=1e-13)


def test_brute_force_likelihood_and_posterior_over_every_labelling():
    heads, tosses = np.array([2, 9, 5]), np.array([10, 10, 7])
    params = coins.CoinParams(np.array([0.3, 0.7]), np.array([0.35, 0.8]))
    data = coins.as_coin_data(heads, tosses)
    joint = {}
    for labels in itertools.product(range(2), repeat=3):
        joint[labels] = np.exp(complete_log_lik(heads, tosses, labels, params.thetas, params.weights))
    total = sum(joint.values())
    assert coins.log_likelihood(data, params) == pytest.approx(np.log(total), rel=1e-13)
    resp, log_norm = coins.e_step(data, params)
    for i in range(3):
        for k in range(2):
            marginal = sum(p for labels, p in joint.items() if labels[i] == k) / total
            assert resp[i, k] == pytest.approx(marginal, rel=1e-12)
    assert np.sum(log_norm) == pytest.approx(np.log(total), rel=1e-13)


def test_log_likelihood_is_count_likelihood_minus_binomial_coefficients():
    heads, tosses = np.array([2, 9, 5]), np.array([10, 10, 7])
    params = coins.CoinParams(np.array([0.4, 0.6]), np.array([0.2, 0.9]))
    log_binom = gammaln(tosses + 1) - gammaln(heads + 1) - gammaln(tosses - heads + 1)
    from scipy.stats import binom

    pmf = params.weights * binom.pmf(heads[:, None], tosses[:, None], params.thetas)
    counts_ll = np.sum(np.log(pmf.sum(axis=1)))
    assert coins.log_likelihood(coins.as_coin_data(heads, tosses), params) == pytest.approx(
        counts_ll - log_binom.sum(), rel=1e-12
    )


@pytest.mark.parametrize("learn_weights", [False, True])
def test_single_coin_em_is_the_plain_mle(learn_weights):
    heads, tosses = [3, 8, 6, 0], [10, 9, 6, 4]
    result = coins.fit(heads, tosses, thetas=[0.3], learn_weights=learn_weights)
    assert result.thetas[0] == pytest.approx(sum(heads) / sum(tosses), rel=1e-13)
    assert result.weights[0] == 1.0
    assert result.objectives[0] == pytest.approx(result.objective, abs=1e-12)


@given(
    heads_frac=st.lists(st.floats(0, 1), min_size=1, max_size=8),
    tosses=st.lists(st.integers(1, 30), min_size=8, max_size=8),
    thetas=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=4),
    learn_weights=st.booleans(),
)
def test_log_likelihood_never_decreases(heads_frac, tosses, thetas, learn_weights):
    tosses = np.array(tosses[: len(heads_frac)])
    heads = np.round(np.array(heads_frac) * tosses)
    data = coins.as_coin_data(heads, tosses)
    result = coins.fit(heads, tosses, thetas=thetas, learn_weights=learn_weights, tol=1e-9, max_iter=500, record=True)
    lls = np.r_[result.initial_objective, result.objectives]
    assert np.all(np.diff(lls) >= -1e-10 * np.maximum(1.0, np.abs(lls[:-1])))
    for params, ll in zip(result.history.params[1:], result.objectives):
        assert coins.log_likelihood(data, params) == pytest.approx(ll, rel=1e-12, abs=1e-12)
        assert np.all(np.isfinite(params.thetas)) and np.all((params.thetas >= 0) & (params.thetas <= 1))


def test_learned_weights_recover_a_lopsided_mixture(rng):
    true_thetas, true_weights = np.array([0.2, 0.85]), np.array([0.75, 0.25])
    labels = rng.choice(2, size=400, p=true_weights)
    heads = rng.binomial(20, true_thetas[labels])
    result = coins.fit(heads, 20, thetas=[0.4, 0.6], learn_weights=True, tol=1e-8, max_iter=500)
    np.testing.assert_allclose(result.weights, true_weights, atol=0.05)
    np.testing.assert_allclose(result.thetas, true_thetas, atol=0.02)
    np.testing.assert_allclose(result.resp.mean(axis=0), result.weights, rtol=1e-6)


def test_fixed_unequal_weights_are_kept():
    result = coins.fit(HEADS, 10, thetas=[0.6, 0.5], weights=[0.8, 0.2])
    np.testing.assert_array_equal(result.weights, [0.8, 0.2])


def test_many_coins_and_sets_fit_and_stay_finite(rng):
    heads = rng.integers(0, 16, size=50)
    result = coins.fit(heads, 15, 5, random_state=3, learn_weights=True, max_iter=2000)
    assert result.thetas.shape == (5,) and result.resp.shape == (50, 5)
    assert np.all(np.isfinite(result.thetas)) and np.isfinite(result.objective)


def test_default_start_is_seeded():
    a = coins.fit(HEADS, 10, random_state=7)
    b = coins.fit(HEADS, 10, random_state=7)
    np.testing.assert_array_equal(a.thetas, b.thetas)


@pytest.mark.parametrize(
    "heads, tosses, kwargs, match",
    [
        ([5, 11], 10, {}, "more than tosses"),
        ([5, -1], 10, {}, "non-negative"),
        ([5, 3], [10, -2], {}, "non-negative"),
        ([5, 3], [10, 0], {}, "at least one toss"),
        ([5.5, 3], 10, {}, "whole numbers"),
        ([5, np.nan], 10, {}, "NaN"),
        ([5, 3], [10, 10, 10], {}, "shape"),
        ([5, 3], 10, {"thetas": [0.0, 0.5]}, "strictly between 0 and 1"),
        ([5, 3], 10, {"thetas": [1.2, 0.5]}, "strictly between 0 and 1"),
        ([5, 3], 10, {"thetas": [0.5, 0.5], "weights": [0.7, 0.7]}, "sum to 1"),
        ([5, 3], 10, {"thetas": [0.5, 0.5], "weights": [1.5, -0.5]}, "non-negative"),
        ([5, 3], 10, {"n_components": 3, "thetas": [0.5, 0.5]}, "shape"),
        ([5, 3], 10, {"n_components": 0}, "n_components"),
    ],
)
def test_bad_input_raises_value_error(heads, tosses, kwargs, match):
    with pytest.raises(ValueError, match=match):
        coins.fit(heads, tosses, **kwargs)


def test_complete_data_mle_rejects_bad_labels():
    with pytest.raises(ValueError, match="made no set"):
        coins.complete_data_mle([1, 2], 10, [0, 0], n_components=2)
    with pytest.raises(ValueError, match="between 0 and"):
        coins.complete_data_mle([1, 2], 10, [0, 2], n_components=2)
    with pytest.raises(ValueError, match="integers"):
        coins.complete_data_mle([1, 2], 10, [0.0, 1.0])
