"""emtutor.gmm with every covariance type, against naive oracles."""

import warnings
from functools import partial

import numpy as np
from scipy.special import logsumexp
import pytest
from scipy.stats import multivariate_normal
from threadpoolctl import threadpool_limits

from oracles import regularised_bound

from emtutor import ConvergenceWarning, LikelihoodDecreaseError, datasets, gmm, run_em

TYPES = ["full", "diag", "spherical", "tied"]


def random_params(rng, k, d, covariance_type, offset=0.0):
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(0, 3, (k, d)) + offset
    if covariance_type == "full":
        A = rng.normal(size=(k, d, d))
        covariances = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    elif covariance_type == "tied":
        A = rng.normal(size=(d, d))
        covariances = A @ A.T + 0.5 * np.eye(d)
    elif covariance_type == "diag":
        covariances = rng.uniform(0.3, 3, (k, d))
    else:
        covariances = rng.uniform(0.3, 3, k)
    return gmm.GMMParams(weights, means, covariances)


def sample_mixture(rng, params, n, covariance_type):
    k, d = params.means.shape
    full = gmm.full_covariances(params.covariances, k, d, covariance_type)
    labels = rng.choice(k, size=n, p=params.weights)
    noise = rng.normal(size=(n, d))
    chol = np.linalg.cholesky(full)
    return params.means[labels] + np.einsum("nij,nj->ni", chol[labels], noise)


def naive_log_density(X, params, covariance_type):
    k, d = params.means.shape
    full = gmm.full_covariances(params.covariances, k, d, covariance_type)
    return np.column_stack([multivariate_normal.logpdf(X, m, c) for m, c in zip(params.means, full)])


def naive_m_step(X, resp, reg_covar, covariance_type):
    n, d = X.shape
    counts = resp.sum(axis=0) + 10 * np.finfo(float).eps
    means = np.array([resp[:, k] @ X / counts[k] for k in range(len(counts))])
    full = np.array([
        (resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / counts[k] for k in range(len(counts))
    ])
    if covariance_type == "full":
        covariances = full + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        covariances = np.einsum("k,kij->ij", counts, full) / n + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        covariances = np.diagonal(full, axis1=1, axis2=2) + reg_covar
    else:
        covariances = np.diagonal(full, axis1=1, axis2=2).mean(axis=1) + reg_covar
    return gmm.GMMParams(counts / n, means, covariances)


@pytest.fixture(params=["default blocks", "256-row blocks", "256-row blocks on 3 threads"])
def blocks(request, monkeypatch):
    """Run a test with the default block size, with the smallest blocks
    (2500 rows then span ten blocks, the last one partial), and with those
    blocks dealt out to three threads (BLAS allowed three, and a thread
    given as few as one block), checking that they were."""
    if request.param == "default blocks":
        yield request.param
        return
    monkeypatch.setattr(gmm, "_BLOCK_FLOATS", 1)
    if request.param == "256-row blocks":
        yield request.param
        return
    monkeypatch.setattr(gmm, "_MIN_BLOCKS_PER_THREAD", 1)
    pools = []
    monkeypatch.setattr(gmm, "_thread_pool", lambda n, make=gmm._thread_pool: pools.append(n) or make(n))
    with threadpool_limits(3, user_api="blas"):
        yield request.param
    assert pools and set(pools) == {3}, "the blocks were not shared out among threads"


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_density_matches_scipy_across_blocks(covariance_type, seed, blocks):
    rng = np.random.default_rng(seed)
    params = random_params(rng, 8, 8, covariance_type, offset=1e3)  # far from the origin
    X = sample_mixture(rng, params, 2500, covariance_type)
    got = gmm.log_gaussian_density(X, params.means, params.covariances, covariance_type)
    np.testing.assert_allclose(got, naive_log_density(X, params, covariance_type), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_e_step_is_bayes_rule_and_normaliser_is_log_likelihood(covariance_type, rng, blocks):
    params = random_params(rng, 5, 3, covariance_type)
    X = sample_mixture(rng, params, 2500, covariance_type)
    log_joint = np.log(params.weights) + naive_log_density(X, params, covariance_type)
    expected_norm = np.log(np.exp(log_joint).sum(axis=1))
    resp, log_norm = gmm.e_step(X, params, covariance_type=covariance_type)
    np.testing.assert_allclose(log_norm, expected_norm, rtol=1e-12)
    np.testing.assert_allclose(resp, np.exp(log_joint - expected_norm[:, None]), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-13)
    assert gmm.log_likelihood(X, params, covariance_type=covariance_type) == pytest.approx(expected_norm.sum(), rel=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("reg_covar", [0.0, 1e-3])
def test_m_step_matches_per_component_formulas(covariance_type, reg_covar, rng, blocks):
    n, d, k = 2500, 8, 8
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2, d) + 50.0  # offset: numerics of the moments
    resp = rng.dirichlet(np.ones(k), size=n)
    got = gmm.m_step(X, resp, reg_covar=reg_covar, covariance_type=covariance_type)
    expected = naive_m_step(X, resp, reg_covar, covariance_type)
    for name in gmm.GMMParams._fields:
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_em_log_likelihood_never_decreases_without_regularisation(covariance_type):
    """The theorem, checked without the driver (whose own check would raise
    first) and with log-likelihoods from SciPy's densities, not emtutor's."""
    for seed in range(6):
        rng = np.random.default_rng(seed)
        truth = random_params(rng, 3, 2, covariance_type)
        X = sample_mixture(rng, truth, 300, covariance_type)
        params = gmm.initial_params(X, 3, covariance_type=covariance_type, reg_covar=0.0, random_state=seed)
        lls = []
        for _ in range(40):
            resp, _ = gmm.e_step(X, params, covariance_type=covariance_type)
            log_joint = np.log(params.weights) + naive_log_density(X, params, covariance_type)
            lls.append(np.sum(np.log(np.exp(log_joint).sum(axis=1))))
            params = gmm.m_step(X, resp, params, covariance_type=covariance_type)
        assert np.all(np.diff(lls) >= -1e-9 * np.abs(lls[:-1]))


def collapse_prone_data(seed):
    """A broad cloud plus three nearly coincident points: components collapse onto them."""
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(4, 0.05, (3, 2))])


@pytest.mark.parametrize("covariance_type", TYPES)
def test_regularised_em_may_decrease_but_never_below_the_bound(covariance_type):
    """With reg_covar > 0 the log-likelihood can go down (so the driver's plain
    check would be wrong), but each change stays above the bound."""
    reg_covar = 0.1
    decreased = False
    for seed in range(3):
        X = collapse_prone_data(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = gmm.fit(X, 4, covariance_type=covariance_type, reg_covar=reg_covar,
                             init="random_from_data", random_state=seed, tol=0.0, max_iter=60, record=True)
        changes = np.diff(np.r_[result.initial_objective, result.objectives])
        bounds = regularised_bound(result.history, reg_covar, covariance_type)
        assert np.all(changes >= bounds - 1e-9 * np.abs(result.objectives))
        hist = result.history
        slacks = [gmm.regularisation_slack(X, hist.resp[t - 1], hist.params[t - 1], hist.params[t],
                                           reg_covar=reg_covar, covariance_type=covariance_type)
                  for t in range(1, len(hist.params))]
        np.testing.assert_allclose(slacks, -bounds, rtol=1e-8, atol=1e-10)  # what the driver allows
        assert np.all(np.isfinite(result.covariances))
        decreased |= bool(np.any(changes < -1e-6))
    assert decreased, "these problems are meant to show a decrease"


def test_regularised_check_catches_a_wrong_m_step():
    X = collapse_prone_data(0)
    params = gmm.initial_params(X, 3, init="random_from_data", random_state=0)
    good = partial(gmm.m_step, reg_covar=0.1)

    def bad_m_step(X, resp, params):  # means pushed away from their maximiser
        p = good(X, resp)
        return p._replace(means=p.means + 0.5)

    slack = partial(gmm.regularisation_slack, reg_covar=0.1)
    with pytest.raises(LikelihoodDecreaseError, match="decreased at iteration"):
        run_em(X, params, e_step=gmm.e_step, m_step=bad_m_step, m_step_slack=slack, n_observations=len(X))
    # the correct regularised M-step passes the same check
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        run_em(X, params, e_step=gmm.e_step, m_step=good, m_step_slack=slack, n_observations=len(X), max_iter=60)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_collapse_without_regularisation_raises_a_clear_error(covariance_type):
    # diag and spherical used to have no check: their variance fell to the
    # rounding level and a false LikelihoodDecreaseError followed
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (50, 2)), [[30.0, 30.0]]])  # one isolated point
    means = np.array([[0.0, 0.0], [30.0, 30.0]])
    with pytest.raises(ValueError, match="collapsed.*increase reg_covar"):
        gmm.fit(X, 2, covariance_type=covariance_type, means=means, reg_covar=0.0)
    result = gmm.fit(X, 2, covariance_type=covariance_type, means=means, reg_covar=1e-6)  # it continues
    assert result.converged and np.all(np.isfinite(result.covariances))


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full"])
def test_unregularised_em_on_duplicated_points_converges_or_says_collapsed(covariance_type):
    # Random small problems (scales 1e-3..1e3, offsets up to 1e4) with three
    # identical rows; without reg_covar, diag and spherical fits ended in a
    # false LikelihoodDecreaseError on 11 and 24 of 200 such problems, full
    # ones on 3 (seeds 6, 49, 176: the collapse check ignored that data at
    # 1e4 are known to eps * 1e4 only, so a covariance within that rounding
    # of singular passed it).
    for seed in [*range(60), 176]:
        rng = np.random.default_rng(seed)
        n, d, k = int(rng.integers(10, 60)), int(rng.integers(1, 4)), int(rng.integers(2, 5))
        X = rng.standard_normal((n, d)) * rng.choice([1, 1e-3, 1e3]) + rng.choice([0, 1e4])
        X[:3] = X[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                gmm.fit(X, k, covariance_type=covariance_type, reg_covar=0.0, random_state=seed, max_iter=300)
            except ValueError as error:
                assert "collapsed" in str(error) and "reg_covar" in str(error)


@pytest.mark.parametrize("distance", [1e4, 1e5])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_narrow_component_far_from_the_centre_keeps_its_digits(covariance_type, distance):
    # variance 1e-6 at `distance` from a unit component: the expanded form
    # (gmm-diag-log-density) about the mean of the means lost 1.4e-3 (1e4)
    # and 0.23 (1e5) in the log density, and the M-step's shifted moments
    # lost the variance the same way.  Oracle: scipy.stats.norm, which
    # standardises each coordinate, ((x - mu) / sigma)^2, term by term.
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    sd = np.array([1.0, 1e-3])
    means = np.array([[0.0, 0.0], [distance, distance]])
    labels = np.repeat([0, 1], 200)
    X = means[labels] + rng.standard_normal((400, 2)) * sd[labels, None]
    variances = np.repeat(sd[:, None] ** 2, 2, axis=1)
    covariances = {"full": np.stack([np.diag(v) for v in variances]), "diag": variances,
                   "spherical": variances[:, 0]}[covariance_type]
    got = gmm.log_gaussian_density(X, means, covariances, covariance_type)
    expected = np.column_stack([norm.logpdf(X, means[k], sd[k]).sum(axis=1) for k in range(2)])
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-10)
    # the E-step computes the diag/spherical densities in its own (k, B) layout: same digits
    weights = np.array([0.3, 0.7])
    resp, log_norm = gmm.e_step(X, gmm.GMMParams(weights, means, covariances), covariance_type=covariance_type)
    weighted = expected + np.log(weights)
    np.testing.assert_allclose(log_norm, logsumexp(weighted, axis=1), rtol=1e-13, atol=1e-10)
    np.testing.assert_allclose(resp, np.exp(weighted - logsumexp(weighted, axis=1, keepdims=True)), atol=1e-12)
    resp = np.eye(2)[labels] * (1 - 1e-9) + 0.5e-9  # nearly hard assignments
    params = gmm.m_step(X, resp, reg_covar=0.0, covariance_type=covariance_type)
    expected = naive_m_step(X, resp, 0.0, covariance_type)
    np.testing.assert_allclose(params.covariances, expected.covariances, rtol=1e-9)


@pytest.mark.parametrize("sigma", [1e-8, 1e-50, 1e-100])
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_a_collapsing_component_on_a_data_point_has_its_exact_density(covariance_type, sigma):
    # The singularities chapter's example: a component of standard deviation
    # sigma centred on a data point.  Its log density there is
    # -d/2 log(2 pi) - d log(sigma) exactly (the quadratic form is 0); the
    # full-covariance E-step's single product (centre folded in) rounded the
    # huge cancelling terms and gave log density ~ -1e68 at sigma = 1e-50.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 2)) * [1.0, 3.0] + [2.0, -1.0]
    d = X.shape[1]
    means = np.array([X.mean(axis=0), X[0]])
    variances = np.array([X.var(axis=0), [sigma**2, sigma**2]])
    covariances = {"full": np.stack([np.diag(v) for v in variances]), "diag": variances,
                   "spherical": variances[:, 0]}[covariance_type]
    got = gmm.log_gaussian_density(X, means, covariances, covariance_type)
    assert got[0, 1] == pytest.approx(-0.5 * d * np.log(2 * np.pi) - d * np.log(sigma), rel=1e-12)
    # every other point is many sigmas away: its density is (minus) huge but exact in relative terms
    diff = (X[1:] - X[0]) / sigma
    expected = -0.5 * d * np.log(2 * np.pi) - d * np.log(sigma) - 0.5 * np.sum(diff * diff, axis=1)
    np.testing.assert_allclose(got[1:, 1], expected, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_explicit_initial_parameters_are_used_exactly(covariance_type, rng):
    params = random_params(rng, 3, 2, covariance_type)
    X = sample_mixture(rng, params, 200, covariance_type)
    result = gmm.fit(X, 3, covariance_type=covariance_type, weights=params.weights, means=params.means,
                     covariances=params.covariances, record=True, max_iter=5, tol=1e9)
    for name in gmm.GMMParams._fields:
        np.testing.assert_array_equal(getattr(result.history.params[0], name), getattr(params, name))


def test_kmeans_plusplus_picks_distinct_points_one_per_far_cluster(rng):
    centres = np.array([[0.0, 0.0], [1e3, 0.0], [0.0, 1e3], [1e3, 1e3]])
    X = np.vstack([c + rng.normal(size=(50, 2)) for c in centres])
    for seed in range(5):
        means = gmm.kmeans_plusplus(X, 4, random_state=seed)
        assert len(np.unique(means, axis=0)) == 4
        assert all(any(np.all(m == x) for x in X) for m in means)
        nearest = np.argmin(((means[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        assert sorted(nearest) == [0, 1, 2, 3]
    np.testing.assert_array_equal(gmm.kmeans_plusplus(X, 4, 7), gmm.kmeans_plusplus(X, 4, 7))


@pytest.mark.parametrize("init", gmm.INIT_METHODS)
def test_init_methods_give_valid_distinct_means_and_data_covariance(init, rng):
    X = rng.normal(size=(100, 3))
    for covariance_type in TYPES:
        p = gmm.initial_params(X, 4, covariance_type=covariance_type, init=init, random_state=1, reg_covar=0.0)
        assert len(np.unique(p.means, axis=0)) == 4
        np.testing.assert_allclose(p.weights, 0.25)
        full = gmm.full_covariances(p.covariances, 4, 3, covariance_type)
        data_cov = np.cov(X, rowvar=False, bias=True)
        if covariance_type in ("full", "tied"):
            np.testing.assert_allclose(full[0], data_cov, rtol=1e-12)
        elif covariance_type == "diag":
            np.testing.assert_allclose(np.diag(full[0]), np.diag(data_cov), rtol=1e-12)
        else:
            assert full[0, 0, 0] == pytest.approx(np.trace(data_cov) / 3, rel=1e-12)


def test_restarts_keep_the_best_and_count_the_optima():
    X = datasets.three_gaussians()
    result = gmm.fit(X, 3, covariance_type="tied", n_init=8, init="random_from_data", random_state=0)
    summary = result.restarts
    assert len(summary.log_likelihoods) == 8 and summary.counts.sum() == 8
    assert result.objective == summary.log_likelihoods[summary.best]
    # the kept restart is the FIRST one within atol of the best (issue 12: ties
    # must not be decided by the last bit, which differs between BLAS kernels)
    near_best = summary.log_likelihoods >= summary.log_likelihoods.max() - summary.atol
    assert summary.best == int(np.flatnonzero(near_best)[0])
    assert summary.optima[0] == summary.log_likelihoods.max()
    assert np.all(np.diff(summary.optima) < -summary.atol)  # distinct and best first
    # every restart is counted once, with the optimum it ended next to
    nearest = np.argmin(np.abs(summary.log_likelihoods[:, None] - summary.optima[None]), axis=1)
    np.testing.assert_array_equal(np.bincount(nearest, minlength=len(summary.optima)), summary.counts)
    assert len(summary.optima) >= 2  # this problem has more than one local maximum
    single = gmm.fit(X, 3, covariance_type="tied", init="random_from_data", random_state=0)
    assert result.objective >= single.objective - 1e-9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"covariance_type": "banana"}, "covariance_type must be one of"),
        ({"init": "kmeans"}, "init must be one of"),
        ({"n_init": 0}, "n_init must be"),
        ({"covariance_type": "diag", "covariances": np.ones((3, 2, 2))}, "covariances must have shape"),
        ({"covariance_type": "spherical", "covariances": np.array([1.0, 0.0, 1.0])}, "must be positive"),
        ({"covariance_type": "tied", "covariances": np.diag([1.0, -1.0])}, "not positive definite"),
    ],
)
def test_bad_input_raises_value_error_naming_it(kwargs, message):
    X = datasets.three_gaussians()
    with pytest.raises(ValueError, match=message):
        gmm.fit(X, 3, **kwargs)


@pytest.mark.parametrize("init", gmm.INIT_METHODS)
def test_fewer_distinct_points_than_components(init):
    X = np.repeat([[0.0, 1.0], [2.0, 3.0]], 40, axis=0)
    with pytest.raises(ValueError, match="only 2 distinct points, fewer than n_components=3"):
        gmm.fit(X, 3, init=init)
    with pytest.raises(ValueError, match="only 2 distinct points"):
        gmm.kmeans_plusplus(X, 3, random_state=0)


def test_unknown_covariance_type_in_the_steps(rng):
    X = rng.normal(size=(10, 2))
    params = random_params(rng, 2, 2, "full")
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        gmm.e_step(X, params, covariance_type="Full")


def test_restart_ties_are_broken_by_order_not_by_rounding():
    # Final log-likelihoods that agree to rounding: a plain argmax would keep
    # restart 1 here on one CPU and restart 0 on another.
    tie = gmm._summarise_restarts([-100.0, -100.0 + 1e-13, -250.0], atol=1e-2)
    assert tie.best == 0
    # a later restart that is better by more than atol does win
    better = gmm._summarise_restarts([-100.0, -99.0, -100.0 + 1e-13], atol=1e-2)
    assert better.best == 1
    # restarts reaching the same optimum within atol keep the first of them
    chain = gmm._summarise_restarts([-101.0, -100.0, -100.0 + 5e-3, -100.0 + 9e-3], atol=1e-2)
    assert chain.best == 1



@pytest.mark.parametrize("covariance_type", TYPES)
def test_results_do_not_depend_on_the_number_of_threads(covariance_type, monkeypatch):
    """The blocks are summed in runs fixed by the data's size, not by how many
    threads computed them: one thread and three give the same bits."""
    monkeypatch.setattr(gmm, "_BLOCK_FLOATS", 1)
    monkeypatch.setattr(gmm, "_MIN_BLOCKS_PER_THREAD", 1)
    monkeypatch.setattr(gmm, "_MAX_RUNS", 7)
    rng = np.random.default_rng(4)
    params = random_params(rng, 4, 6, covariance_type, offset=20.0)
    X = sample_mixture(rng, params, 6000, covariance_type)
    results = []
    for threads in (1, 3):
        with threadpool_limits(threads, user_api="blas"):
            resp, log_norm = gmm.e_step(X, params, covariance_type=covariance_type)
            results.append((resp, log_norm, *gmm.m_step(X, resp, reg_covar=1e-6, covariance_type=covariance_type)))
    for one, three in zip(*results):
        assert np.array_equal(one, three)
