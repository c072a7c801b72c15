"""Tests of emtutor.accelerate: EM's rate, and accelerated EM on every model of the book.

Oracles: plain EM (the same optimum), the objective recomputed by each
model's own ``log_likelihood`` (monotone), a finite-difference Jacobian of
one EM iteration written here from the model's steps (the rate), and the
ratio of successive changes of a plain run.
"""

import warnings
from functools import partial

import numpy as np
import pytest

from emtutor import accelerate, coins, datasets, em, gmm, hmm, information, lda, missing
from emtutor.accelerate import accelerated_em

ACCELERATED = ("squarem", "aitken", "quasi-newton")


def _overlapping(rng, n=200, gap=1.5, d=2):
    centre = np.zeros(d)
    centre[0] = gap
    return np.concatenate([rng.normal(0.0, 1.0, size=(n, d)), rng.normal(centre, 1.0, size=(n, d))])


def _problems():
    """name -> (data, start, e_step, m_step, n_observations, covariance_type, objective name)."""
    rng = np.random.default_rng(7)
    out = {}
    X = _overlapping(rng)
    for cov in ("full", "diag", "spherical", "tied"):
        start = gmm.initial_params(X, 2, covariance_type=cov, reg_covar=0.0, random_state=1)
        out[f"gmm-{cov}"] = (X, start, partial(gmm.e_step, covariance_type=cov),
                             partial(gmm.m_step, covariance_type=cov), len(X), cov, "log-likelihood")
    out["coins"] = (coins.as_coin_data([5, 9, 8, 4, 7], [10] * 5),
                    coins.CoinParams(np.array([0.5, 0.5]), np.array([0.6, 0.5])),
                    coins.e_step, coins.m_step, 5, None, "log-likelihood")
    casino = hmm.CategoricalHMMParams(np.array([0.5, 0.5]), np.array([[0.95, 0.05], [0.1, 0.9]]),
                                      np.vstack([np.full(6, 1 / 6), [0.1] * 5 + [0.5]]))
    symbols, _ = hmm.sample(casino, 300, random_state=3)
    seq = hmm.as_sequences(symbols, [100] * 3, kind="categorical", n_symbols=6)
    # started near the truth: a random start needs thousands of iterations on so few throws
    near = casino._replace(transmat=np.array([[0.8, 0.2], [0.3, 0.7]]),
                           emissionprob=np.vstack([np.full(6, 1 / 6), [0.15] * 5 + [0.25]]))
    out["hmm-categorical"] = (seq, near,
                              hmm.e_step, hmm.m_step, len(seq.X), None, "log-likelihood")
    gauss = hmm.GaussianHMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
                                  np.array([[0.0, 0.0], [1.5, 1.5]]), np.ones((2, 2)))
    Xg, _ = hmm.sample(gauss, 300, random_state=5)
    gseq = hmm.as_sequences(Xg, [100] * 3, kind="gaussian")
    out["hmm-gaussian"] = (gseq, hmm.initial_params(gseq.X, 2, kind="gaussian", reg_covar=0.0, random_state=6),
                           hmm.e_step, hmm.m_step, len(gseq.X), "diag", "log-likelihood")
    Xm = rng.multivariate_normal(np.zeros(3), [[1.0, 0.7, 0.4], [0.7, 1.0, 0.5], [0.4, 0.5, 1.0]], size=200)
    Xm[rng.random(Xm.shape) < 0.4] = np.nan
    groups = missing.group_patterns(Xm)
    out["missing"] = (groups, missing.initial_params(groups), missing.e_step, missing.m_step, len(Xm), None,
                      "log-likelihood")
    topics = np.array([[0.5, 0.3, 0.15, 0.03, 0.01, 0.01], [0.01, 0.01, 0.03, 0.15, 0.3, 0.5]])
    lrng = np.random.default_rng(3)
    proportions = lrng.dirichlet([0.3, 0.3], size=30)
    counts = lda.as_count_matrix(np.array([lrng.multinomial(30, p @ topics) for p in proportions], dtype=float))
    start = lda.initial_params(counts, 2, alpha=0.3,
                               topic_word=np.random.default_rng(8).dirichlet(np.ones(6), size=2))
    out["lda"] = (counts, start, partial(lda.e_step, tol=1e-13, max_iter=10_000), lda.m_step,
                  float(counts.sum()), None, "ELBO")
    return out


PROBLEMS = _problems()


def _run(name, method, **kwargs):
    data, start, e_step, m_step, n_obs, cov, objective = PROBLEMS[name]
    settings = dict(tol=0.0, xtol=1e-11, max_iter=20_000) | kwargs
    return accelerated_em(data, start, e_step=e_step, m_step=m_step, n_observations=n_obs, covariance_type=cov,
                          method=method, objective_name=objective, **settings)


@pytest.fixture(scope="module")
def plain_runs():
    return {name: _run(name, "em") for name in PROBLEMS}


@pytest.mark.parametrize("method", ACCELERATED)
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_same_optimum_as_plain_em(name, method, plain_runs):
    plain = plain_runs[name]
    fast = _run(name, method)
    pmap = accelerate.parameter_map(PROBLEMS[name][1], PROBLEMS[name][5])
    x, y = pmap.pack(plain.params), pmap.pack(fast.params)
    assert plain.converged and fast.converged
    assert np.all(np.abs(x - y) <= 1e-8 * np.maximum(1.0, np.abs(x))), np.max(np.abs(x - y))
    assert abs(plain.objective - fast.objective) < 1e-8
    # the result is consistent: its expectations are those of its parameters
    assert fast.objective == pytest.approx(float(np.sum(PROBLEMS[name][2](PROBLEMS[name][0], fast.params,
                                                                           fast.expectations)[1])), abs=1e-9)


@pytest.mark.parametrize("name", ["gmm-full", "lda"])
def test_plain_method_is_run_em(name):
    """method="em" makes exactly run_em's iterates (LDA: its E-step warm-starts from the previous q)."""
    data, start, e_step, m_step, n_obs, cov, objective = PROBLEMS[name]
    settings = dict(e_step=e_step, m_step=m_step, n_observations=n_obs, tol=1e-7, max_iter=5000, record=True,
                    objective_name=objective)
    ours = accelerated_em(data, start, method="em", covariance_type=cov, **settings)
    theirs = em.run_em(data, start, **settings)
    assert ours.n_iter == theirs.n_iter == ours.n_em_maps
    np.testing.assert_array_equal(ours.objectives, theirs.objectives)
    for a, b in zip(ours.history.params, theirs.history.params):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)


def _log_likelihood(kind, data, params, reg):
    if kind == "gmm":
        return gmm.log_likelihood(data, params, covariance_type=reg)
    return coins.log_likelihood(data, params)


def test_monotone_over_random_problems():
    """The objective recorded by every accelerated run, recomputed by the models' own
    log_likelihood, never decreases: 30 random mixtures (overlapping or not, any covariance
    type, with and without reg_covar) and 10 random coin problems."""
    rng = np.random.default_rng(20261205)
    checked = 0
    for trial in range(40):
        if trial < 30:
            cov = ("full", "diag", "spherical", "tied")[trial % 4]
            k, d = int(rng.integers(2, 4)), int(rng.integers(1, 3))
            centres = rng.normal(0.0, rng.uniform(0.5, 3.0), size=(k, d))
            X = np.concatenate([rng.normal(c, 1.0, size=(60, d)) for c in centres])
            reg = 1e-3 if trial % 3 == 0 else 0.0
            start = gmm.initial_params(X, k, covariance_type=cov, reg_covar=reg, random_state=trial)
            data, kind = X, "gmm"
            steps = dict(e_step=partial(gmm.e_step, covariance_type=cov),
                         m_step=partial(gmm.m_step, covariance_type=cov, reg_covar=reg),
                         m_step_slack=partial(gmm.regularisation_slack, reg_covar=reg, covariance_type=cov)
                         if reg else None, covariance_type=cov)
        else:
            n_sets = int(rng.integers(4, 12))
            tosses = rng.integers(5, 20, size=n_sets)
            data = coins.as_coin_data(rng.binomial(tosses, rng.choice([0.3, 0.6, 0.8], size=n_sets)), tosses)
            start = coins.CoinParams(np.array([0.5, 0.5]), rng.uniform(0.2, 0.8, size=2))
            kind, cov, reg = "coins", None, None
            steps = dict(e_step=coins.e_step, m_step=coins.m_step)
        for method in ACCELERATED:
            with warnings.catch_warnings():  # monotone whether or not it converged in 300 maps
                warnings.simplefilter("ignore", em.ConvergenceWarning)
                result = accelerated_em(data, start,
                                        n_observations=len(data[0]) if kind == "coins" else len(data),
                                        method=method, tol=1e-10, max_iter=300, record=True, **steps)
            values = [_log_likelihood(kind, data, p, cov) for p in result.history.params]
            np.testing.assert_allclose(values[1:], result.objectives, rtol=1e-12, atol=1e-9)
            # each step, plain or accelerated, may lose at most what the plain EM step from the
            # previous point is allowed to (its regularisation slack, 0 without reg_covar)
            allowed = np.zeros(len(values) - 1)
            if reg:
                for t, old in enumerate(result.history.params[:-1]):
                    resp = steps["e_step"](data, old)[0]
                    new = steps["m_step"](data, resp, old)
                    allowed[t] = max(0.0, steps["m_step_slack"](data, resp, old, new))
            drops = np.diff(values)
            assert np.all(drops >= -allowed - 1e-10 * max(1.0, abs(values[0]))), (trial, method)
            checked += result.n_accepted
    assert checked > 100  # the accelerated steps were really taken


@pytest.mark.parametrize("name", ["gmm-full", "gmm-diag", "gmm-spherical", "gmm-tied", "missing", "lda"])
@pytest.mark.parametrize("method", ACCELERATED)
def test_fewer_em_maps_on_slow_problems(name, method, plain_runs):
    """Slow problems (rho close to 1): overlapping mixtures, 40% missing, LDA. Every method
    needs fewer EM-map evaluations than plain EM to reach the same stopping rule."""
    plain = plain_runs[name]
    fast = _run(name, method)
    assert plain.n_em_maps > 50  # a slow problem
    assert fast.n_em_maps < 0.8 * plain.n_em_maps, (fast.n_em_maps, plain.n_em_maps)


def test_squarem_is_much_faster_on_a_plateau(plain_runs):
    plain, fast = plain_runs["gmm-full"], _run("gmm-full", "squarem")
    assert plain.n_em_maps > 3 * fast.n_em_maps


# ----------------------------------------------------------------------------- the rate


def _missing_problem(fraction):
    rng = np.random.default_rng(2718)
    X = rng.multivariate_normal(np.zeros(3), [[1.0, 0.7, 0.4], [0.7, 1.0, 0.5], [0.4, 0.5, 1.0]], size=500)
    X[rng.random(X.shape) < fraction] = np.nan
    return missing.group_patterns(X)


def _oracle_rate_missing(data, params, h=1e-5):
    """Largest |eigenvalue| of the Jacobian of one EM step, differentiated here from scratch."""
    tril = np.tril_indices(3)

    def step(theta):
        cov = np.zeros((3, 3))
        cov[tril] = theta[3:]
        cov = cov + np.tril(cov, -1).T
        new = missing.m_step(data, missing.e_step(data, missing.MissingNormalParams(theta[:3], cov))[0])
        return np.r_[new.mean, new.covariance[tril]]

    theta = np.r_[params.mean, params.covariance[tril]]
    J = np.column_stack([(step(theta + h * e) - step(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])
    return np.max(np.abs(np.linalg.eigvals(J)))


@pytest.mark.parametrize("fraction", [0.3, 0.6])
def test_rate_equals_jacobian_eigenvalue_and_observed_ratio_missing(fraction):
    data = _missing_problem(fraction)
    run = missing.fit(data, tol=1e-9 / 500, max_iter=5000, record=True)
    rho = accelerate.convergence_rate(data, run.params, e_step=missing.e_step, m_step=missing.m_step)
    assert rho == pytest.approx(_oracle_rate_missing(data, run.params), abs=1e-6)
    dm = accelerate.rate_matrix(data, run.params, e_step=missing.e_step, m_step=missing.m_step)
    assert np.max(np.abs(np.linalg.eigvals(dm))) == pytest.approx(rho, abs=1e-6)
    observed = np.median(accelerate.change_ratios(run.history.params)[-5:])
    assert observed == pytest.approx(rho, abs=2e-3)
    assert 0 < rho < 1


def test_rate_equals_jacobian_eigenvalue_and_observed_ratio_gmm():
    X = _overlapping(np.random.default_rng(11), n=150, gap=2.0)
    start = gmm.initial_params(X, 2, reg_covar=0.0, random_state=0)
    run = accelerated_em(X, start, e_step=gmm.e_step, m_step=gmm.m_step, n_observations=len(X), method="em",
                         tol=0.0, xtol=1e-12, max_iter=20_000, record=True)
    rho = accelerate.convergence_rate(X, run.params, e_step=gmm.e_step, m_step=gmm.m_step)

    # oracle: one EM step written from the model's steps, differentiated column by column
    def step(theta):
        w, mu, cov = theta[:2], theta[2:6].reshape(2, 2), theta[6:].reshape(2, 2, 2)
        new = gmm.m_step(X, gmm.e_step(X, gmm.GMMParams(w, mu, 0.5 * (cov + cov.transpose(0, 2, 1))))[0])
        return np.r_[new.weights, new.means.ravel(), new.covariances.ravel()]

    theta = np.r_[run.weights, run.means.ravel(), run.covariances.ravel()]
    J = np.column_stack([(step(theta + 1e-5 * e) - step(theta - 1e-5 * e)) / 2e-5 for e in np.eye(len(theta))])
    assert rho == pytest.approx(np.max(np.abs(np.linalg.eigvals(J))), abs=1e-6)
    ratios = accelerate.change_ratios(run.history.params)
    # late in the run, before the changes reach rounding
    assert np.median(ratios[len(ratios) // 2: len(ratios) // 2 + 20]) == pytest.approx(rho, abs=2e-3)
    assert 0.5 < rho < 1  # overlapping components: a slow plateau


def test_rate_grows_as_components_overlap():
    rates = []
    for gap in (4.0, 3.0, 2.0):
        X = _overlapping(np.random.default_rng(5), n=400, gap=gap, d=1)
        run = gmm.fit(X, 2, means=np.array([[0.0], [gap]]), reg_covar=0.0, tol=1e-13, max_iter=20_000)
        rates.append(accelerate.convergence_rate(X, run.params, e_step=gmm.e_step, m_step=gmm.m_step))
    assert rates[0] < rates[1] < rates[2] < 1


# ----------------------------------------------------------------------------- parameter maps


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_pack_unpack_round_trip(name):
    start, cov = PROBLEMS[name][1], PROBLEMS[name][5]
    pmap = accelerate.parameter_map(start, cov)
    back = pmap.unpack(pmap.pack(start))
    assert type(back) is type(start)
    for a, b in zip(start, back):
        if a is None or np.isscalar(a):
            assert a == b
        else:
            np.testing.assert_allclose(b, a, rtol=1e-15, atol=1e-15)
    assert pmap.infeasible(start) is None
    assert len(pmap.pack(start)) == pmap.size


def test_infeasible_points_are_named():
    g = PROBLEMS["gmm-full"][1]
    pmap = accelerate.parameter_map(g)
    assert "weights" in pmap.infeasible(g._replace(weights=np.array([1.2, -0.2])))
    assert "positive definite" in pmap.infeasible(g._replace(covariances=-g.covariances))
    c = PROBLEMS["coins"][1]
    assert "[0, 1]" in accelerate.parameter_map(c).infeasible(c._replace(thetas=np.array([0.5, 1.1])))
    t = PROBLEMS["hmm-categorical"][1]
    bad = t.transmat.copy()
    bad[0] = [1.1, -0.1]
    assert "transmat" in accelerate.parameter_map(t).infeasible(t._replace(transmat=bad))


def test_bad_arguments():
    X, start, e_step, m_step, n_obs, cov, _ = PROBLEMS["gmm-full"]
    with pytest.raises(ValueError, match="method"):
        accelerated_em(X, start, e_step=e_step, m_step=m_step, n_observations=n_obs, method="fast")
    with pytest.raises(ValueError, match="xtol"):
        accelerated_em(X, start, e_step=e_step, m_step=m_step, n_observations=n_obs, xtol=-1.0)
    with pytest.raises(ValueError, match="tol"):
        accelerated_em(X, start, e_step=e_step, m_step=m_step, n_observations=n_obs, tol=-1.0)
    with pytest.raises(TypeError, match="params"):
        accelerate.parameter_map((1.0, 2.0))
    with pytest.raises(ValueError, match="covariance_type"):
        accelerate.parameter_map(PROBLEMS["coins"][1], "full")
    with pytest.raises(ValueError, match="covariance_type"):
        accelerate.parameter_map(start, "banana")
    with pytest.raises(ValueError, match="step"):
        accelerate.rate_matrix(X, start, e_step=e_step, m_step=m_step, step=0.0)


# ----------------------------------------------------------------------------- one layout for the package


def test_information_and_acceleration_share_one_layout_and_one_em_map():
    """emtutor.information's parameter vectors, names and EM map are accelerate's."""
    X = datasets.old_faithful()
    params = gmm.fit(X, 3, reg_covar=0.0, tol=1e-6, random_state=0).params
    pmap = accelerate.parameter_map(params)
    model = information.GAUSSIAN_MIXTURE
    theta = pmap.pack(params)
    assert pmap.size == len(theta) == 2 + 3 * 2 + 3 * 3  # K - 1 free weights, means, lower triangles
    np.testing.assert_array_equal(model.to_vector(params), theta)
    assert model.names(params) == pmap.names()
    assert pmap.names()[:3] == ("weights[0]", "weights[1]", "means[0, 0]")
    assert pmap.names()[-3:] == ("covariances[2, 0, 0]", "covariances[2, 1, 0]", "covariances[2, 1, 1]")
    back = pmap.unpack(theta)
    assert back.weights[-1] == 1.0 - theta[0] - theta[1]
    np.testing.assert_array_equal(back.covariances, params.covariances)
    moved = theta + 1e-3 * np.cos(np.arange(len(theta)))
    forward = accelerate.em_map(X, params, e_step=gmm.e_step, m_step=partial(gmm.m_step, reg_covar=0.0))
    np.testing.assert_array_equal(information.em_map(model, X, moved, params), forward(moved))


def test_fixed_fields_are_not_packed():
    c = PROBLEMS["coins"][1]
    pmap = accelerate.parameter_map(c, fixed=("weights",))
    assert pmap.names() == information.COINS.names(c) == ("thetas[0]", "thetas[1]")
    np.testing.assert_array_equal(pmap.unpack(np.array([0.2, 0.9])).weights, c.weights)
    with pytest.raises(ValueError, match="fixed"):
        accelerate.parameter_map(c, fixed=("banana",))


def test_rate_matrix_takes_a_step_per_parameter():
    X, start, e_step, m_step, _, _, _ = PROBLEMS["gmm-full"]
    n = accelerate.parameter_map(start).size
    steps = np.full(n, 1e-5)
    np.testing.assert_array_equal(accelerate.rate_matrix(X, start, e_step=e_step, m_step=m_step, step=steps),
                                  accelerate.rate_matrix(X, start, e_step=e_step, m_step=m_step, step=1e-5))
    with pytest.raises(ValueError, match="step"):
        accelerate.rate_matrix(X, start, e_step=e_step, m_step=m_step, step=steps[:-1])
    with pytest.raises(ValueError, match="step"):
        accelerate.rate_matrix(X, start, e_step=e_step, m_step=m_step, step=-steps)
