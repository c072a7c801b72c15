"""Monte Carlo EM and stochastic EM on the coins (emtutor.coins.monte_carlo_em).

Oracles: the Monte Carlo E-step is unbiased for the exact responsibilities
(mean over many draws, within its binomial standard error); with many draws
an MCEM step is EM's step within the CLT error; with one draw (stochastic EM)
the log-likelihood goes down at some iterations but hovers near EM's optimum,
and the spread of the iterates shrinks like 1/sqrt(n_draws).
"""

import numpy as np
import pytest

from emtutor import coins


def simulated_coins(seed=1, n_sets=100):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n_sets)
    heads = rng.binomial(10, np.array([0.8, 0.45])[labels])
    return coins.as_coin_data(heads, np.full(n_sets, 10))


START = coins.CoinParams(np.array([0.5, 0.5]), np.array([0.6, 0.5]))


def test_monte_carlo_e_step_is_unbiased():
    data = simulated_coins()
    exact, log_norm = coins.e_step(data, START)
    draws = 2000
    estimate, mc_log_norm = coins.monte_carlo_e_step(data, START, draws, random_state=0)
    np.testing.assert_array_equal(mc_log_norm, log_norm)
    np.testing.assert_allclose(estimate.sum(axis=1), 1.0)
    # each entry is a binomial fraction: within 5 standard errors of the exact responsibility
    se = np.sqrt(exact * (1 - exact) / draws)
    assert np.all(np.abs(estimate - exact) <= 5 * se + 1e-12)
    # and with one draw every set goes to one coin
    one, _ = coins.monte_carlo_e_step(data, START, 1, random_state=0)
    assert set(np.unique(one)) <= {0.0, 1.0}


def test_many_draws_approach_the_em_step():
    data = simulated_coins()
    resp, _ = coins.e_step(data, START)
    em_step = coins.m_step(data, resp, START, learn_weights=False).thetas
    errors = []
    for draws in (10, 1000, 100_000):
        run = coins.monte_carlo_em(data, START, n_draws=draws, n_iter=1, learn_weights=False, random_state=3)
        errors.append(np.max(np.abs(run.params[1].thetas - em_step)))
    # the error of the step shrinks like 1/sqrt(draws): 100x the draws, about 10x smaller
    assert errors[2] < 2e-3 and errors[2] < errors[1] < errors[0]


def test_stochastic_em_is_not_monotone_but_hovers_near_the_optimum():
    data = simulated_coins()
    em = coins.fit(data.heads, data.tosses, thetas=START.thetas, weights=START.weights, tol=1e-12, max_iter=1000)
    spreads, gaps = [], []
    for draws in (1, 100):
        run = coins.monte_carlo_em(data, START, n_draws=draws, n_iter=300, learn_weights=False, random_state=0)
        lls = run.log_likelihoods
        # the recorded log-likelihoods are the exact ones of the iterates
        assert lls[-1] == pytest.approx(coins.log_likelihood(data, run.params[-1]))
        assert np.any(np.diff(lls) < -1e-9)  # it goes down at some iterations
        late = lls[100:]
        assert np.all(late <= em.objective + 1e-9)  # never above the maximum
        gaps.append(em.objective - late.mean())
        thetas = np.array([p.thetas for p in run.params[100:]])
        spreads.append(thetas.std(axis=0).max())
        assert np.all(np.abs(thetas.mean(axis=0) - em.thetas) < 3 * spreads[-1])
    # one draw: within one log-likelihood unit of the optimum on average; 100 draws: 10x less spread
    assert gaps[0] < 1.0 and gaps[1] < gaps[0] / 30
    assert spreads[1] < spreads[0] / 5


def test_bad_settings_raise():
    data = simulated_coins()
    with pytest.raises(ValueError, match="n_draws must be"):
        coins.monte_carlo_em(data, START, n_draws=0, n_iter=5)
    with pytest.raises(ValueError, match="n_iter must be"):
        coins.monte_carlo_em(data, START, n_draws=1, n_iter=0)
    with pytest.raises(ValueError, match="random_state must be"):
        coins.monte_carlo_e_step(data, START, 5, random_state="seed")
    with pytest.raises(TypeError, match="data must be a CoinData"):
        coins.monte_carlo_em((data.heads, data.tosses), START, n_draws=1, n_iter=5)
