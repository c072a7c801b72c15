"""The checkers of emtutor.checks, fed the assignments' solutions and mistakes.

Fast and in-process; tests/test_autograde.py runs the same catalogue through
nbgrader. Here: every mistake of tests/assignment_mistakes/ makes its own
checker fail with its hint; the instructor solutions pass; a solution that
delegates to emtutor (or scikit-learn, hmmlearn, scipy.stats) is named and
fails, however it reaches that code; the checkers' own reference
computations agree with emtutor's model functions; inputs are copies and
messages show no reference values.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import assignment_support as support
from emtutor import checks, coins, gmm, hmm, hmm_core, information, lda, missing

MISTAKES = [m for name in support.ASSIGNMENTS for m in support.mistakes(name)]


def namespace(name: str, replacements: dict | None = None) -> dict:
    """The notebook's given cells and solutions (with ``replacements``) run in one namespace."""
    ns = {"__name__": "__main__"}
    for cell in support.submission(name, replacements).cells:
        if cell.cell_type == "code" and not support.is_test(cell):
            exec(compile(cell.source, f"<cell {support.grade_id(cell)}>", "exec"), ns)  # noqa: S102
    return ns


def run_cell(name: str, grade_id: str, ns: dict) -> None:
    (cell,) = [c for c in support.read(support.source_path(name)).cells if support.grade_id(c) == grade_id]
    exec(compile(cell.source, f"<cell {grade_id}>", "exec"), ns)  # noqa: S102


@pytest.mark.parametrize("name", support.ASSIGNMENTS)
def test_the_instructor_solutions_pass_every_check(name):
    assert support.grade_in_process(support.submission(name)) == dict.fromkeys(
        support.grade_id(c) for c in support.read(support.source_path(name)).cells if support.is_test(c)
    )


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.assignment}/{m.name}")
def test_each_mistake_fails_its_check_with_its_hint(mistake):
    ns = namespace(mistake.assignment, {mistake.cell: mistake.source})
    with pytest.raises(AssertionError) as info:
        run_cell(mistake.assignment, mistake.test_cell, ns)
    message = str(info.value)
    assert mistake.hint and mistake.hint in message
    assert "(case: " in message or "on the case '" in message


ALTERNATIVES = [m for name in support.ASSIGNMENTS for m in support.mistakes(name, support.ALTERNATIVES_DIR)]


@pytest.mark.parametrize("solution", ALTERNATIVES, ids=lambda m: f"{m.assignment}/{m.name}")
def test_correct_solutions_written_differently_pass(solution):
    """No false alarms: loops, log space, other identities all get full credit."""
    ns = namespace(solution.assignment, {solution.cell: solution.source})
    run_cell(solution.assignment, solution.test_cell, ns)
    run_cell(solution.assignment, support.integration_id(support.read(support.source_path(solution.assignment))), ns)


def test_the_catalogue_has_at_least_twelve_mistakes_per_assignment_each_with_its_hint():
    for name in support.ASSIGNMENTS:
        found = support.mistakes(name)
        assert len(found) >= 12, name
        assert all(m.hint for m in found)
        cells = {support.grade_id(c) for c in support.read(support.source_path(name)).cells
                 if support.is_code_solution(c)}
        assert {m.cell for m in found} == cells, f"{name}: every graded function has mistakes"


# ------------------------------------------------------------ delegation

def _gmm_e_step_via_emtutor(X, weights, means, covariances):
    return gmm.e_step(X, gmm.GMMParams(weights, means, covariances))[0]


def _gmm_e_step_hidden(X, weights, means, covariances):
    """The module found by name at run time: only the run-time guard can see it."""
    module = __import__("importlib").import_module("emtutor." + "g" + "mm")
    return getattr(module, "e_" + "step")(X, module.GMMParams(weights, means, covariances))[0]


def _gmm_e_step_via_estimator(X, weights, means, covariances):
    model = __import__("emtutor").GaussianMixture(len(weights), weights_init=weights, means_init=means,
                                                  precisions_init=np.linalg.inv(covariances), max_iter=1)
    return model.fit(X).predict_proba(X)


def _helper_that_delegates(X, mean, cov):
    from scipy import stats
    return stats.multivariate_normal(mean, cov).logpdf(X)


def _log_gaussian_via_helper(X, mean, cov):
    return np.atleast_1d(_helper_that_delegates(X, mean, cov))


def _log_gaussian_via_emtutor(X, mean, cov):
    return gmm.log_gaussian_density(X, mean[None], cov[None])[:, 0]


def _forward_via_emtutor(x, startprob, transmat, emissionprob):
    alpha, log_scale = hmm_core.forward(np.log(emissionprob).T[x], startprob, transmat)
    return alpha, np.exp(log_scale)


def _coins_e_step_via_emtutor(heads, tosses, weights, thetas):
    return coins.e_step(coins.CoinData(heads, tosses), coins.CoinParams(weights, thetas))[0]


def _conditional_mean_via_emtutor(x, mean, cov):
    return missing.impute(x[None], missing.MissingNormalParams(mean, cov))[0]


def _update_gamma_via_sklearn(X, phi, alpha):
    from sklearn.decomposition import LatentDirichletAllocation  # noqa: F401 - the reference is enough
    return alpha + np.einsum("dv,dvk->dk", X, phi)


def _lda_e_step_via_emtutor(X, alpha, topics, n_sweeps):
    gamma = lda.e_step(X, lda.LDAParams(alpha, topics), tol=0.0, max_iter=n_sweeps)[0].gamma
    elog = checks._ref_expected_log_pi(gamma)
    phi = np.exp(elog)[:, None, :] * topics.T[None]
    return gamma, phi / phi.sum(axis=2, keepdims=True)


def _complete_information_via_emtutor(heads, tosses, resp, thetas):
    weights = resp.mean(axis=0)
    return information.complete_information(information.COINS, coins.CoinData(heads, tosses),
                                            coins.CoinParams(weights, thetas))


def _missing_information_hidden(heads, tosses, resp, thetas):
    """Recovers the weights from resp, then calls emtutor.information found by name at run time."""
    module = __import__("importlib").import_module("emtutor." + "infor" + "mation")
    coin_module = __import__("importlib").import_module("emtutor." + "coins")
    g = heads[:, None] / thetas - (tosses - heads)[:, None] / (1 - thetas)
    log_lik = heads[:, None] * np.log(thetas) + (tosses - heads)[:, None] * np.log1p(-thetas)
    # resp = softmax(log w + log_lik): any row gives the weights up to a constant
    log_w = np.log(resp[0]) - log_lik[0]
    weights = np.exp(log_w - np.log(np.sum(np.exp(log_w))))
    del g
    return getattr(module, "missing_" + "information")(module.COINS, coin_module.CoinData(heads, tosses),
                                                        coin_module.CoinParams(weights, thetas))


def _rate_matrix_via_accelerate(em_map, thetas, h):
    from emtutor import accelerate  # noqa: F401 - referring to it is enough
    return np.array([(em_map(thetas + e) - em_map(thetas - e)) / (2 * h) for e in np.eye(len(thetas)) * h]).T


@pytest.mark.parametrize("check, fn, named", [
    (checks.check_complete_information, _complete_information_via_emtutor, "emtutor.information"),
    (checks.check_missing_information, _missing_information_hidden, "emtutor.information.missing_information"),
    (checks.check_rate_matrix, _rate_matrix_via_accelerate, "emtutor.accelerate"),
    (checks.check_e_step, _gmm_e_step_via_emtutor, "emtutor.gmm"),
    (checks.check_e_step, _gmm_e_step_hidden, "emtutor.gmm.e_step"),
    (checks.check_e_step, _gmm_e_step_via_estimator, "emtutor"),
    (checks.check_log_gaussian, _log_gaussian_via_emtutor, "emtutor.gmm"),
    (checks.check_log_gaussian, _log_gaussian_via_helper, "scipy.stats"),
    (checks.check_forward, _forward_via_emtutor, "emtutor.hmm_core"),
    (checks.check_coins_e_step, _coins_e_step_via_emtutor, "emtutor.coins"),
    (checks.check_conditional_mean, _conditional_mean_via_emtutor, "emtutor.missing"),
    (checks.check_update_gamma, _update_gamma_via_sklearn, "sklearn"),
    (checks.check_lda_e_step, _lda_e_step_via_emtutor, "emtutor.lda"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_a_solution_that_delegates_is_named_and_fails(check, fn, named):
    with pytest.raises(AssertionError, match="no credit") as info:
        check(fn)
    assert named in str(info.value)


def test_the_run_time_guard_sees_what_inspection_cannot():
    """The hidden delegation computes the right answer; only the guard catches it."""
    assert checks._forbidden_references(_gmm_e_step_hidden) == []
    X, weights, means, covs = checks._gmm_cases()[0][1:]
    assert np.allclose(_gmm_e_step_hidden(X, weights, means, covs), _gmm_e_step_via_emtutor(X, weights, means, covs))
    with pytest.raises(AssertionError, match=r"uses emtutor\.gmm\.e_step"):
        checks.check_e_step(_gmm_e_step_hidden)


def test_the_run_time_guard_covers_emtutor_information():
    """The standard-errors assignment's references live in emtutor.information: hidden calls to it are caught."""
    assert checks._forbidden_references(_missing_information_hidden) == []
    case, heads, tosses, weights, thetas = checks._se_coin_cases()[2]
    resp = coins.e_step(coins.CoinData(heads, tosses), coins.CoinParams(weights, thetas))[0]
    expected = information.missing_information(information.COINS, coins.CoinData(heads, tosses),
                                               coins.CoinParams(weights, thetas))
    assert np.allclose(_missing_information_hidden(heads, tosses, resp, thetas), expected)
    with pytest.raises(AssertionError, match=r"uses emtutor\.information\.missing_information"):
        checks.check_missing_information(_missing_information_hidden)


def _numerical_hessian(f, x, h):
    return checks._numerical_hessian(f, np.asarray(x, float), np.full(len(x), h))


@pytest.mark.parametrize("case", checks._se_coin_cases(), ids=lambda c: c[0])
def test_the_standard_error_references_agree_with_numerical_hessians(case):
    """The checkers' references for the coins, against oracles that use neither:
    I_com is minus the Hessian of Q(theta, theta_old) in theta at theta_old;
    I_com - I_mis is minus the Hessian of the observed-data log-likelihood
    (Louis' identity holds at every theta, not only at the estimate)."""
    _, heads, tosses, weights, thetas = case
    data = coins.CoinData(heads, tosses)
    resp, complete, mis, _ = checks._se_reference(heads, tosses, weights, thetas)

    def q(th):  # the expected complete-data log-likelihood, theta_old = thetas
        return float(np.sum(resp * (np.log(weights) + heads[:, None] * np.log(th)
                                    + (tosses - heads)[:, None] * np.log1p(-th))))

    def ell(th):
        return coins.log_likelihood(data, coins.CoinParams(weights, th))

    q_info = -_numerical_hessian(q, thetas, 1e-3)
    obs_info = -_numerical_hessian(ell, thetas, 1e-3)
    assert np.max(np.abs(complete - q_info)) <= 1e-7 * np.max(np.abs(q_info))
    assert np.max(np.abs(complete - mis - obs_info)) <= 1e-6 * np.max(np.abs(obs_info))


def test_the_rate_matrix_reference_is_the_fraction_of_missing_information_at_the_estimate():
    """DM by central differences of EM's map at the paper's estimate is inv(I_com) I_mis (Dempster et al.)."""
    heads, tosses, weights = checks._PAPER_HEADS, np.full(5, 10.0), np.array([0.5, 0.5])
    thetas = checks._se_paper_estimate()
    em_map = checks._coin_em_map(heads, tosses, weights)
    assert np.max(np.abs(em_map(thetas) - thetas)) < 1e-12  # a fixed point
    _, complete, mis, _ = checks._se_reference(heads, tosses, weights, thetas)
    dm = checks._differences(em_map, thetas, 1e-5)
    assert np.allclose(dm, np.linalg.solve(complete, mis), rtol=0, atol=1e-7)
    linear, theta, h = checks._se_linear_map()
    matrix = np.column_stack([linear(e) - linear(np.zeros(3)) for e in np.eye(3)])  # A, column by column
    assert np.allclose(checks._differences(linear, theta, h), matrix, rtol=0, atol=1e-10)


def test_the_guard_restores_emtutor_and_ignores_emtutor_calling_itself():
    code = gmm.e_step.__code__
    with pytest.raises(AssertionError):
        checks.check_e_step(_gmm_e_step_hidden)
    assert gmm.e_step.__code__ is code
    X, weights, means, covs = checks._gmm_cases()[0][1:]
    with checks._Guard() as guard:
        value = gmm.log_likelihood(X, gmm.GMMParams(weights, means, covs))  # called from here: recorded
    assert guard.calls == ["emtutor.gmm.log_likelihood"]  # its own calls to e_step etc. are not
    assert gmm.log_likelihood.__code__.co_name == "log_likelihood"
    assert value == gmm.log_likelihood(X, gmm.GMMParams(weights, means, covs))


def test_the_guard_leaves_generator_functions_alone():
    """A generator's code swapped for the trampoline would stop being a generator
    (and Python 3.13 deprecates the swap): the guard must skip them."""
    generators = [gmm._blocks, lda._blocks]
    with checks._Guard():
        for f in generators:
            assert inspect.isgeneratorfunction(f), f.__qualname__
        assert list(gmm._blocks(5, 2)) == [slice(0, 2), slice(2, 4), slice(4, 5)]


def test_a_function_calling_a_part_graded_elsewhere_is_not_blamed_for_it():
    """e_step may call a log_gaussian that delegates: that costs log_gaussian's points only."""
    ns = namespace("gmm_steps")
    ns["log_gaussian"] = _log_gaussian_via_emtutor
    ns["gmm"] = gmm
    run_cell("gmm_steps", "a1-e-step-tests", ns)  # passes
    with pytest.raises(AssertionError, match="no credit"):
        run_cell("gmm_steps", "a1-log-gaussian-tests", ns)


def test_the_integration_point_needs_every_part_right():
    ns = namespace("gmm_steps")
    run_cell("gmm_steps", "a1-integration", ns)
    (mistake,) = [m for m in support.mistakes("gmm_steps") if m.name == "m_step_weights_not_normalised"]
    ns = namespace("gmm_steps", {mistake.cell: mistake.source})
    with pytest.raises(AssertionError, match="needs every part right, and check_m_step fails"):
        run_cell("gmm_steps", "a1-integration", ns)


# ------------------------------------------------------------ references


def test_the_pair_posteriors_sum_to_emtutors_expected_transitions():
    for case, x, startprob, transmat, emissionprob in checks._hmm_cases(single=False):
        r, xi = checks._ref_posteriors(x, startprob, transmat, emissionprob)
        stats, _ = hmm.e_step(hmm.Sequences(x, np.array([len(x)])),
                              hmm.CategoricalHMMParams(startprob, transmat, emissionprob))
        assert np.allclose(r, stats.resp), case
        assert np.allclose(xi.sum(axis=0), stats.xi_sum), case
        assert np.allclose(xi.sum(axis=(1, 2)), 1.0), case


def test_the_conditional_moments_are_emtutors_e_step():
    X, mean, cov = checks._missing_data(np.random.default_rng(0), n=40)
    expectations, _ = missing.e_step(X, missing.MissingNormalParams(mean, cov))
    rows = [checks._ref_conditional(x, mean, cov) for x in X]
    assert np.allclose([x_hat for x_hat, _ in rows], expectations.X_hat)
    assert np.allclose(sum(C for _, C in rows), expectations.cov_correction)


def test_the_lda_updates_are_emtutors_e_step():
    X, topics = checks._lda_corpus(np.random.default_rng(0), 12)
    alpha = np.linspace(0.2, 1.5, len(topics))
    expectations, _ = lda.e_step(X, lda.LDAParams(alpha, topics), tol=0.0, max_iter=7)
    gamma = checks._lda_sweeps(X, alpha, topics, 7)
    assert np.allclose(gamma, expectations.gamma)
    counts = np.einsum("dv,dvk->kv", X, checks._ref_update_phi(gamma, topics))
    assert np.allclose(counts, expectations.topic_word_counts)


# ------------------------------------------------------------ messages and inputs


def test_an_unrecognised_mistake_gets_a_message_naming_quantity_and_case():
    ns = namespace("gmm_steps")

    def e_step_off(X, weights, means, covariances):
        resp = ns["e_step"](X, weights, means, covariances)
        resp[0] = resp[0][::-1]  # an arbitrary error on one point
        return resp

    with pytest.raises(AssertionError, match=r"resp differs from the expected value on the case 'ordinary"):
        checks.check_e_step(e_step_off)


def test_errors_of_the_student_name_the_case_and_stubs_propagate():
    def broken(X, weights, means, covariances):
        return X[:, 5]

    with pytest.raises(AssertionError, match=r"e_step raised IndexError.*case: ordinary"):
        checks.check_e_step(broken)

    def stub(X, resp):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_m_step(stub)


def test_messages_do_not_reveal_reference_outputs():
    ns = namespace("gmm_steps")
    with pytest.raises(AssertionError) as info:
        checks.check_m_step(lambda X, resp: ns["m_step"](X, resp[:, ::-1]))
    message = str(info.value)
    assert "[" not in message and "array" not in message


def test_inputs_are_copies():
    """A student function that overwrites its inputs cannot corrupt later cases."""
    ns = namespace("gmm_steps")

    def destructive(X, weights, means, covariances):
        resp = ns["e_step"](X, weights, means, covariances)
        X[:] = 0.0
        covariances[:] = np.nan
        return resp

    ns["destructive"] = destructive
    checks.check_e_step(destructive)
