"""The generic EM driver, exercised with the Gaussian mixture's steps."""

import warnings
from functools import partial

import numpy as np
import pytest

from emtutor import ConvergenceWarning, LikelihoodDecreaseError, datasets, gmm, run_em
from emtutor.em import EMResult


@pytest.fixture
def seed_problem():
    X, w, m, c = datasets.three_gaussians_init()
    return X, gmm.GMMParams(w, m, c)


def run(X, params, **kwargs):
    return run_em(X, params, e_step=gmm.e_step, m_step=gmm.m_step, **kwargs)


def test_stopping_rule_is_first_small_change_from_second_iteration(seed_problem):
    X, params = seed_problem
    tol = 1e-4
    result = run(X, params, tol=tol)
    lls = np.r_[result.initial_log_likelihood, result.log_likelihoods]
    changes = np.abs(np.diff(lls))  # changes[t - 1] = |ll_t - ll_{t-1}|
    assert result.converged
    assert changes[result.n_iter - 1] < tol
    # no earlier iteration t >= 2 met the rule
    assert np.all(changes[1 : result.n_iter - 1] >= tol)
    assert result.n_iter == 41


def test_first_iteration_never_stops_even_if_change_is_tiny(seed_problem):
    X, params = seed_problem
    result = run(X, params, tol=1e9)  # every change is "small"
    assert result.n_iter == 2 and result.converged


def test_log_likelihoods_are_those_of_each_m_step_params(seed_problem):
    X, params = seed_problem
    with pytest.warns(ConvergenceWarning):
        result = run(X, params, record=True, max_iter=5, tol=0.0)
    assert result.n_iter == 5 and not result.converged
    expected = [gmm.log_likelihood(X, p) for p in result.history.params[1:]]
    np.testing.assert_allclose(result.log_likelihoods, expected, rtol=1e-13)
    assert result.initial_log_likelihood == pytest.approx(gmm.log_likelihood(X, params), rel=1e-13)


def test_record_keeps_params_and_expectations_of_every_iteration(seed_problem):
    X, params = seed_problem
    result = run(X, params, record=True)
    hist = result.history
    assert len(hist.params) == len(hist.resp) == result.n_iter + 1
    assert hist.params[0] is params
    assert hist.params[-1] is result.params and hist.resp[-1] is result.resp
    for t in (0, 7, result.n_iter):
        resp, _ = gmm.e_step(X, hist.params[t])
        np.testing.assert_allclose(hist.resp[t], resp, rtol=1e-12)
    for t in (1, 20):
        expected = gmm.m_step(X, hist.resp[t - 1])
        np.testing.assert_allclose(hist.params[t].means, expected.means, rtol=1e-12)
    assert run(X, params).history is None


def test_max_iter_warns_and_reports_not_converged(seed_problem):
    X, params = seed_problem
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        result = run(X, params, max_iter=3)
    assert result.n_iter == 3 and not result.converged


def test_converged_run_does_not_warn(seed_problem):
    X, params = seed_problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(X, params)


def test_broken_m_step_that_lowers_the_likelihood_raises(seed_problem):
    X, params = seed_problem

    def broken_m_step(X, resp):
        good = gmm.m_step(X, resp)
        # Shrinking every covariance tenfold is not the maximiser: it lowers
        # the likelihood once the fit is reasonable.
        return good._replace(covariances=good.covariances / 10)

    with pytest.raises(LikelihoodDecreaseError, match="decreased at iteration"):
        run_em(X, params, e_step=gmm.e_step, m_step=broken_m_step, max_iter=50)


def test_broken_e_step_with_unnormalised_responsibilities_raises(seed_problem):
    X, params = seed_problem

    def broken_e_step(X, params):
        resp, log_norm = gmm.e_step(X, params)
        # "forgot the weights": responsibilities from the densities alone
        return resp / params.weights / (resp / params.weights).sum(1, keepdims=True), log_norm

    start = gmm.GMMParams(np.array([0.8, 0.1, 0.1]), params.means, params.covariances)
    with pytest.raises(LikelihoodDecreaseError):
        run_em(X, start, e_step=broken_e_step, m_step=gmm.m_step, max_iter=100, tol=0.0)


def test_non_finite_log_likelihood_is_a_value_error(seed_problem):
    X, params = seed_problem

    def e_step_giving_zero_probability(X, params):
        resp, log_norm = gmm.e_step(X, params)
        return resp, np.r_[log_norm[1:], -np.inf]  # one point has p(x) = 0

    with pytest.raises(ValueError, match="log-likelihood of the initial parameters is -inf"):
        run_em(X, params, e_step=e_step_giving_zero_probability, m_step=gmm.m_step)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tol": -1.0}, "tol"),
        ({"tol": np.nan}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"max_iter": True}, "max_iter"),
        ({"decrease_rtol": -1e-3}, "decrease_rtol"),
    ],
)
def test_bad_driver_settings(seed_problem, kwargs, message):
    X, params = seed_problem
    with pytest.raises(ValueError, match=message):
        run(X, params, **kwargs)


def test_result_exposes_param_fields_and_nothing_else(seed_problem):
    X, params = seed_problem
    result = run(X, params)
    assert isinstance(result, EMResult)
    assert result.means is result.params.means
    assert result.log_likelihood == result.log_likelihoods[-1]
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        result.nonsense
