"""The generic EM driver, exercised with the Gaussian mixture's steps."""

import warnings
from functools import partial

import numpy as np
import pytest

from emtutor import ConvergenceWarning, LikelihoodDecreaseError, gmm, run_em
from emtutor.em import EMResult


@pytest.fixture
def seed_problem(seed_example):
    return seed_example.X, seed_example.start


def run(X, params, **kwargs):
    kwargs.setdefault("n_observations", len(X))
    return run_em(X, params, e_step=gmm.e_step, m_step=gmm.m_step, **kwargs)


@pytest.mark.parametrize("tol", [1e-4, 1e-4 / 300, 1e-7])
def test_stopping_rule_is_first_small_change_per_observation_from_second_iteration(seed_problem, tol):
    X, params = seed_problem
    result = run(X, params, tol=tol)
    lls = np.r_[result.initial_objective, result.objectives]
    changes = np.abs(np.diff(lls)) / len(X)  # changes[t - 1] = |ll_t - ll_{t-1}| / N
    assert result.converged
    assert changes[result.n_iter - 1] < tol
    # no earlier iteration t >= 2 met the rule
    assert np.all(changes[1 : result.n_iter - 1] >= tol)


def test_the_seed_example_stops_where_the_tutorial_does(seed_example):
    result = run(seed_example.X, seed_example.start, tol=seed_example.tol)
    assert result.n_iter == seed_example.n_iter
    assert f"{result.objective:.7f}" == seed_example.log_likelihood
    assert result.objective_name == "log-likelihood"


def test_first_iteration_never_stops_even_if_change_is_tiny(seed_problem):
    X, params = seed_problem
    result = run(X, params, tol=1e9)  # every change is "small"
    assert result.n_iter == 2 and result.converged


def test_objectives_are_the_log_likelihoods_of_each_m_step_params(seed_problem):
    X, params = seed_problem
    with pytest.warns(ConvergenceWarning):
        result = run(X, params, record=True, max_iter=5, tol=0.0)
    assert result.n_iter == 5 and not result.converged
    expected = [gmm.log_likelihood(X, p) for p in result.history.params[1:]]
    np.testing.assert_allclose(result.objectives, expected, rtol=1e-13)
    assert result.initial_objective == pytest.approx(gmm.log_likelihood(X, params), rel=1e-13)


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
        expected = gmm.m_step(X, hist.resp[t - 1], hist.params[t - 1])
        np.testing.assert_allclose(hist.params[t].means, expected.means, rtol=1e-12)
    assert run(X, params).history is None


def test_each_step_is_handed_the_current_value_of_what_it_updates(seed_problem):
    """The driver's contract: e_step(data, params, previous expectations) and
    m_step(data, expectations, current params); nothing else carries state."""
    X, params = seed_problem
    calls = []

    def e_step(data, p, previous):
        calls.append(("e", p, previous))
        return gmm.e_step(data, p)

    def m_step(data, resp, p):
        calls.append(("m", resp, p))
        return gmm.m_step(data, resp)

    with pytest.warns(ConvergenceWarning):
        result = run_em(X, params, e_step=e_step, m_step=m_step, n_observations=len(X), tol=0.0, max_iter=3,
                        record=True)
    hist = result.history
    assert calls[0] == ("e", params, None)  # the first E-step has no previous expectations
    for t in range(1, 4):
        kind, resp, p = calls[2 * t - 1]
        assert kind == "m" and resp is hist.resp[t - 1] and p is hist.params[t - 1]
        kind, p, previous = calls[2 * t]
        assert kind == "e" and p is hist.params[t] and previous is hist.resp[t - 1]


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

    def broken_m_step(X, resp, params):
        good = gmm.m_step(X, resp)
        # Shrinking every covariance tenfold is not the maximiser: it lowers
        # the likelihood once the fit is reasonable.
        return good._replace(covariances=good.covariances / 10)

    with pytest.raises(LikelihoodDecreaseError, match="decreased at iteration"):
        run_em(X, params, e_step=gmm.e_step, m_step=broken_m_step, n_observations=len(X), max_iter=50)


def test_broken_e_step_with_unnormalised_responsibilities_raises(seed_problem):
    X, params = seed_problem

    def broken_e_step(X, params, previous):
        resp, log_norm = gmm.e_step(X, params)
        # "forgot the weights": responsibilities from the densities alone
        return resp / params.weights / (resp / params.weights).sum(1, keepdims=True), log_norm

    start = gmm.GMMParams(np.array([0.8, 0.1, 0.1]), params.means, params.covariances)
    with pytest.raises(LikelihoodDecreaseError):
        run_em(X, start, e_step=broken_e_step, m_step=gmm.m_step, n_observations=len(X), max_iter=100, tol=0.0)


def test_non_finite_log_likelihood_is_a_value_error(seed_problem):
    X, params = seed_problem

    def e_step_giving_zero_probability(X, params, previous):
        resp, log_norm = gmm.e_step(X, params)
        return resp, np.r_[log_norm[1:], -np.inf]  # one point has p(x) = 0

    with pytest.raises(ValueError, match="log-likelihood of the initial parameters is -inf"):
        run_em(X, params, e_step=e_step_giving_zero_probability, m_step=gmm.m_step, n_observations=len(X))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tol": -1.0}, "tol"),
        ({"tol": np.nan}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"max_iter": True}, "max_iter"),
        ({"decrease_rtol": -1e-3}, "decrease_rtol"),
        ({"tol": "1e-3"}, "tol"),
        ({"n_observations": 0}, "n_observations"),
        ({"n_observations": np.inf}, "n_observations"),
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
    assert result.objective == result.objectives[-1]
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        result.nonsense


def test_previous_expectations_reach_the_first_e_step_only():
    # A run that continues another hands its first E-step the other run's last
    # expectations; later E-steps get their own run's previous ones, as always.
    seen = []

    def e_step(data, params, previous):
        seen.append(previous)
        return ("E", params), -1.0 / (params + 1)

    def m_step(data, expectations, params):
        return params + 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: every iteration, on purpose
        run_em(None, 0, e_step=e_step, m_step=m_step, n_observations=1, tol=0.0, max_iter=3,
               previous_expectations="last of the earlier run")
        assert seen == ["last of the earlier run", ("E", 0), ("E", 1), ("E", 2)]
        seen.clear()
        run_em(None, 0, e_step=e_step, m_step=m_step, n_observations=1, tol=0.0, max_iter=1)
    assert seen[0] is None


def test_monotone_false_allows_a_decrease_and_stops_on_a_small_change_either_way():
    # objective after iteration t: 10, 5, 7, 6.5, 6.55 (falls, rises, falls, settles)
    values = [0.0, 10.0, 5.0, 7.0, 6.5, 6.55, 6.555]

    def e_step(data, params, previous):
        return None, values[params]

    def m_step(data, expectations, params):
        return params + 1

    with pytest.raises(LikelihoodDecreaseError):
        run_em(None, 0, e_step=e_step, m_step=m_step, n_observations=1, tol=0.1, max_iter=6)
    result = run_em(None, 0, e_step=e_step, m_step=m_step, n_observations=1, tol=0.1, max_iter=6, monotone=False)
    assert result.converged and result.n_iter == 5  # |6.55 - 6.5| < 0.1; |6.5 - 7| is not
    np.testing.assert_array_equal(result.objectives, values[1:6])
