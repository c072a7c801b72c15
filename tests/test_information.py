"""Standard errors after EM (emtutor.information) against independent oracles.

Oracles: the numerical Hessian of the observed-data log-likelihood (central
differences with Richardson extrapolation, tests/oracles.py, which only
evaluates each module's ``log_likelihood``); closed forms (nothing missing:
the normal's Fisher information; a monotone bivariate pattern: the factored
likelihood; the coins: the Hessian of a log of a sum written out); SEM's
numerical Jacobian of the EM map against Louis' ``inv(I_com) I_mis``
(chapter standard_errors, se-dm); the bootstrap within its Monte Carlo
error (se-bootstrap-mc).
"""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from emtutor import coins, datasets, gmm, information, missing
from oracles import numerical_hessian

MODELS = [information.MISSING_NORMAL, information.GAUSSIAN_MIXTURE, information.COINS,
          information.COINS_WEIGHTS]
REL = 1e-6  # the chapter's tolerance: Louis vs the numerical Hessian


def numerical_observed_information(model, data, params, rel_step=1e-3):
    data = model.prepare(data)
    theta = model.to_vector(params)

    def log_likelihood(vector):
        return model.log_likelihood(data, model.from_vector(vector, params))

    return -numerical_hessian(log_likelihood, theta, rel_step * model.scale(params))


def richardson_gradient(f, x, steps):
    """Central differences with one Richardson extrapolation (error of order h^4)."""
    def central(h):
        return np.array([(f(x + e) - f(x - e)) / (2 * e[i]) for i, e in enumerate(np.diag(h))])

    return (4 * central(steps / 2) - central(steps)) / 3


def numerical_gradient(model, data, params, rel_step=1e-3):
    data = model.prepare(data)

    def log_likelihood(vector):
        return model.log_likelihood(data, model.from_vector(vector, params))

    return richardson_gradient(log_likelihood, model.to_vector(params), rel_step * model.scale(params))


def relative_max(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


# --------------------------------------------------------------------------- problems


@pytest.fixture(scope="module")
def normal_problem():
    """The missing_em chapter's problem: 200 rows, 3 features, 30% MCAR, two empty rows."""
    rng = np.random.default_rng(11)
    cov = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.6], [0.5, 0.6, 1.5]])
    X = rng.multivariate_normal([1.0, -1.0, 2.0], cov, size=200)
    X[rng.random(X.shape) < 0.3] = np.nan
    X[[10, 20]] = np.nan
    fit = missing.fit(X, tol=1e-13, max_iter=10000)
    return X, fit.params


@pytest.fixture(scope="module")
def mixture_problem():
    X = datasets.old_faithful()
    fit = gmm.fit(X, 2, reg_covar=0.0, tol=1e-12, max_iter=10000, random_state=0)
    return X, fit.params


@pytest.fixture(scope="module")
def small_mixture_problem():
    """A small three-component mixture in 2-D (60 points)."""
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal([0, 0], 1.0, (20, 2)), rng.normal([4, 0], 0.7, (20, 2)),
                   rng.multivariate_normal([2, 4], [[1.0, 0.5], [0.5, 1.0]], 20)])
    fit = gmm.fit(X, 3, reg_covar=0.0, tol=1e-12, max_iter=10000, random_state=1)
    return X, fit.params


@pytest.fixture(scope="module")
def coin_problem():
    """The classic two coins: five sets of ten tosses, weights fixed at 1/2."""
    data = coins.as_coin_data([5, 9, 8, 4, 7], 10)
    fit = coins.fit(*data, thetas=[0.6, 0.5], tol=1e-14, max_iter=10000)
    return data, fit.params


@pytest.fixture(scope="module")
def coin_weights_problem():
    rng = np.random.default_rng(3)
    which = rng.random(300) < 0.4
    data = coins.as_coin_data(rng.binomial(20, np.where(which, 0.75, 0.4)), 20)
    fit = coins.fit(*data, thetas=[0.3, 0.7], learn_weights=True, tol=1e-12, max_iter=10000)
    return data, fit.params


@pytest.fixture(scope="module")
def problems(normal_problem, mixture_problem, coin_problem, coin_weights_problem):
    return dict(zip(MODELS, [normal_problem, mixture_problem, coin_problem, coin_weights_problem]))


def moved(model, params, shift):
    """Parameters away from the maximum (Louis' identity holds everywhere)."""
    theta = model.to_vector(params)
    return model.from_vector(theta + shift * model.scale(params) * np.cos(np.arange(len(theta))), params)


# --------------------------------------------------------------------------- Louis = numerical Hessian


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
@pytest.mark.parametrize("where", ["mle", "elsewhere"])
def test_louis_equals_numerical_hessian(problems, model, where):
    data, params = problems[model]
    if where == "elsewhere":
        params = moved(model, params, 0.05)
    louis = information.louis_information(model, data, params)
    oracle = numerical_observed_information(model, data, params)
    assert relative_max(louis.observed, oracle) < REL
    if where == "mle":
        se_oracle = np.sqrt(np.diag(np.linalg.inv(oracle)))
        assert np.max(np.abs(louis.standard_errors / se_oracle - 1)) < REL


def test_louis_small_three_component_mixture(small_mixture_problem):
    X, params = small_mixture_problem
    louis = information.louis_information(information.GAUSSIAN_MIXTURE, X, params)
    oracle = numerical_observed_information(information.GAUSSIAN_MIXTURE, X, params)
    assert len(louis.names) == 2 + 3 * 5
    assert relative_max(louis.observed, oracle) < REL


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_score_is_the_gradient_and_the_sum_of_observation_scores(problems, model):
    data, params = problems[model]
    params = moved(model, params, 0.05)
    info = information.louis_information(model, data, params)
    gradient = numerical_gradient(model, data, params)
    assert relative_max(info.score, gradient) < 1e-6
    per_observation = information.observation_scores(model, data, params)
    np.testing.assert_allclose(per_observation.sum(axis=0), info.score, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_score_vanishes_at_the_maximum(problems, model):
    data, params = problems[model]
    info = information.louis_information(model, data, params)
    # the score in units of the standard errors: a Newton step of a tiny fraction of an SE
    assert np.max(np.abs(info.covariance @ info.score) / info.standard_errors) < 1e-3


# --------------------------------------------------------------------------- closed forms


def test_nothing_missing_gives_the_complete_data_fisher_information(rng):
    """With no value missing, I_mis = 0, DM = 0 and the standard errors are the
    normal's: sqrt(S_jj / n) for the means, sqrt((S_ii S_jj + S_ij^2) / n) for
    the covariances (S the divide-by-n sample covariance)."""
    X = rng.multivariate_normal([0.0, 1.0, -1.0], [[2.0, 0.3, 0.1], [0.3, 1.0, -0.4], [0.1, -0.4, 1.5]], 150)
    fit = missing.fit(X, tol=1e-10)
    mean, S = X.mean(axis=0), np.cov(X, rowvar=False, bias=True)
    np.testing.assert_allclose(fit.mean, mean, atol=1e-12)
    info = information.louis_information(information.MISSING_NORMAL, X, fit.params)
    assert np.max(np.abs(info.missing)) < 1e-10 * np.max(np.abs(info.complete))
    rows, cols = np.tril_indices(3)
    expected = np.r_[np.sqrt(np.diag(S) / len(X)), np.sqrt((S[rows, rows] * S[cols, cols] + S[rows, cols] ** 2) / len(X))]
    np.testing.assert_allclose(info.standard_errors, expected, rtol=1e-10)
    np.testing.assert_allclose(information.sem_rate_matrix(information.MISSING_NORMAL, X, fit.params), 0.0,
                               atol=1e-8)
    np.testing.assert_allclose(info.fmi, 0.0, atol=1e-10)


def test_gaussian_score_and_information_against_scipy(rng):
    X = rng.normal(size=(7, 2))
    mean, cov = np.array([0.2, -0.1]), np.array([[1.3, 0.4], [0.4, 0.8]])
    params = missing.MissingNormalParams(mean, cov)
    model = information.MISSING_NORMAL

    def total(vector):
        p = model.from_vector(vector, params)
        return multivariate_normal(p.mean, p.covariance).logpdf(X).sum()

    theta = model.to_vector(params)
    steps = 1e-3 * model.scale(params)
    score = information.gaussian_score(X, mean, cov).sum(axis=0)
    np.testing.assert_allclose(score, richardson_gradient(total, theta, steps), rtol=1e-7)
    np.testing.assert_allclose(information.gaussian_information(X, mean, cov),
                               -numerical_hessian(total, theta, steps), rtol=1e-6, atol=1e-9)


def test_monotone_bivariate_pattern_closed_form(rng):
    """x1 always observed, x2 missing in some rows: the likelihood factors into the
    marginal of x1 (all N rows) and the regression of x2 on x1 (the n_c complete
    rows). At the maximum, inverse information transforms exactly by the delta
    method, so Var(mu2_hat) = s22.1 (1/n_c + (mu1_hat - xbar1c)^2 / S_c) + b1^2 s11 / N."""
    X = rng.multivariate_normal([1.0, 2.0], [[1.0, 0.6], [0.6, 1.2]], 120)
    X[rng.random(120) < 0.35, 1] = np.nan
    fit = missing.fit(X, tol=1e-14, max_iter=10000)
    info = information.louis_information(information.MISSING_NORMAL, X, fit.params)
    complete = ~np.isnan(X[:, 1])
    x1, x1c, x2c = X[:, 0], X[complete, 0], X[complete, 1]
    N, n_c = len(X), complete.sum()
    mu1, s11 = x1.mean(), x1.var()
    S_c = np.sum((x1c - x1c.mean()) ** 2)
    b1 = np.sum((x1c - x1c.mean()) * (x2c - x2c.mean())) / S_c
    s22_1 = np.mean((x2c - x2c.mean() - b1 * (x1c - x1c.mean())) ** 2)
    var_mu2 = s22_1 * (1 / n_c + (mu1 - x1c.mean()) ** 2 / S_c) + b1**2 * s11 / N
    np.testing.assert_allclose(info.standard_errors[:2], [np.sqrt(s11 / N), np.sqrt(var_mu2)], rtol=1e-7)


def test_coins_closed_form_hessian(coin_problem):
    """The Hessian of sum_i log(1/2 f_1 + 1/2 f_2), f_k = theta_k^h (1 - theta_k)^(n - h),
    differentiated by hand: d2 log g = g''/g - g' g'^T / g^2."""
    data, params = coin_problem
    for thetas in (params.thetas, np.array([0.3, 0.65])):
        h, n = data.heads[:, None], data.tosses[:, None]
        f = 0.5 * thetas**h * (1 - thetas) ** (n - h)
        s = h / thetas - (n - h) / (1 - thetas)
        ds = -h / thetas**2 - (n - h) / (1 - thetas) ** 2
        g = f.sum(axis=1)
        grad = f * s  # dg / dtheta_k
        hess = np.zeros((2, 2))
        for i in range(len(g)):
            hess += np.diag(f[i] * (s[i] ** 2 + ds[i])) / g[i] - np.outer(grad[i], grad[i]) / g[i] ** 2
        info = information.louis_information(information.COINS, data, coins.CoinParams(params.weights, thetas))
        np.testing.assert_allclose(info.observed, -hess, rtol=1e-12)


# --------------------------------------------------------------------------- SEM = Louis


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_sem_rate_matrix_equals_louis(problems, model):
    data, params = problems[model]
    louis = information.louis_information(model, data, params)
    dm = information.sem_rate_matrix(model, data, params)
    scale = model.scale(params)
    # compare in units of each parameter's scale, where DM's entries are O(1)
    assert np.max(np.abs((dm - louis.rate_matrix) * scale[None, :] / scale[:, None])) < 1e-6
    sem = information.sem_information(model, data, params)
    assert np.max(np.abs(sem.standard_errors / louis.standard_errors - 1)) < 1e-6
    # the rate of EM is below 1 and the fraction of missing information in [0, 1)
    assert 0 <= np.max(np.abs(np.linalg.eigvals(dm))) < 1
    assert np.all((louis.fmi > -1e-9) & (louis.fmi < 1))


def test_sem_needs_a_fixed_point(normal_problem):
    X, params = normal_problem
    with pytest.raises(ValueError, match="not a fixed point"):
        information.sem_rate_matrix(information.MISSING_NORMAL, X, moved(information.MISSING_NORMAL, params, 0.01))


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_agrees_with_louis_and_sandwich_within_monte_carlo_error(coin_weights_problem):
    data, params = coin_weights_problem
    model = information.COINS_WEIGHTS
    boot = information.bootstrap_standard_errors(model, data, params, n_boot=200, random_state=0, tol=1e-9)
    louis = information.louis_information(model, data, params).standard_errors
    sandwich = np.sqrt(np.diag(information.sandwich_covariance(model, data, params)))
    assert boot.names == ("weights[0]", "thetas[0]", "thetas[1]")
    assert np.all(np.abs(boot.standard_errors - louis) < 3 * boot.monte_carlo_errors)
    assert np.all(np.abs(boot.standard_errors - sandwich) < 3 * boot.monte_carlo_errors)


def test_bootstrap_monte_carlo_error_is_the_spread_over_seeds(rng):
    """The Monte Carlo error (se-bootstrap-mc) predicts how much the bootstrap
    standard error varies from seed to seed (nothing missing: EM is instant)."""
    X = rng.normal(size=(60, 1))
    params = missing.fit(X).params
    runs = [information.bootstrap_standard_errors(information.MISSING_NORMAL, X, params, n_boot=40, random_state=s)
            for s in range(40)]
    spread = np.std([r.standard_errors for r in runs], axis=0, ddof=1)
    predicted = np.sqrt(np.mean([r.monte_carlo_errors ** 2 for r in runs], axis=0))
    # 40 seeds measure a standard deviation to about 11%
    assert np.all((predicted > 0.7 * spread) & (predicted < 1.4 * spread))


def test_bootstrap_is_reproducible(coin_problem):
    data, params = coin_problem
    run = [information.bootstrap_standard_errors(information.COINS, data, params, n_boot=20, random_state=seed,
                                                 tol=1e-8) for seed in (7, 7, 8)]
    np.testing.assert_array_equal(run[0].replicates, run[1].replicates)
    assert not np.array_equal(run[0].replicates, run[2].replicates)


# --------------------------------------------------------------------------- validation


def test_bad_input_names_the_argument(coin_problem, normal_problem):
    data, params = coin_problem
    with pytest.raises(TypeError, match="model"):
        information.louis_information("coins", data, params)
    with pytest.raises(TypeError, match="params"):
        information.louis_information(information.MISSING_NORMAL, normal_problem[0], params)
    with pytest.raises(ValueError, match="thetas"):
        information.louis_information(information.COINS, data, coins.CoinParams(params.weights, np.array([1.0, 0.5])))
    with pytest.raises(ValueError, match="weights"):
        information.louis_information(information.COINS_WEIGHTS, data,
                                      coins.CoinParams(np.array([1.0, 0.0]), params.thetas))
    with pytest.raises(ValueError, match="n_boot"):
        information.bootstrap_standard_errors(information.COINS, data, params, n_boot=1)
    with pytest.raises(TypeError, match="random_state"):
        information.bootstrap_standard_errors(information.COINS, data, params, n_boot=2, random_state="seed")
    with pytest.raises(ValueError, match="rel_step"):
        information.sem_rate_matrix(information.COINS, data, params, rel_step=0.0)
    with pytest.raises(TypeError, match="data"):
        information.louis_information(information.COINS, [5, 9, 8], params)
    with pytest.raises(ValueError, match="X"):
        information.louis_information(information.GAUSSIAN_MIXTURE, np.array([[np.nan, 1.0]]),
                                      gmm.GMMParams(np.ones(1), np.zeros((1, 2)), np.eye(2)[None]))


def test_standard_errors_refuse_a_point_that_is_not_a_maximum(coin_problem):
    data, params = coin_problem
    # both coins equal: the likelihood is flat in the difference; between the two optima, a saddle
    info = information.louis_information(information.COINS, data, coins.CoinParams(params.weights, np.array([0.66, 0.66])))
    with pytest.raises(ValueError, match="not positive definite"):
        info.standard_errors


def test_plain_tuples_are_accepted(coin_problem):
    data, params = coin_problem
    a = information.louis_information(information.COINS, data, params)
    b = information.louis_information(information.COINS, tuple(data), (params.weights, params.thetas))
    np.testing.assert_array_equal(a.observed, b.observed)
