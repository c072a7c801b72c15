"""emtutor.gmm against independent oracles."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from scipy.stats import multivariate_normal

from emtutor import ConvergenceWarning, datasets, gmm


def random_params(rng, k, d):
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(0, 3, size=(k, d))
    A = rng.normal(size=(k, d, d))
    covariances = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    return gmm.GMMParams(weights, means, covariances)


def scipy_weighted_densities(X, params):
    return np.column_stack([
        w * multivariate_normal.pdf(X, m, c)
        for w, m, c in zip(params.weights, params.means, params.covariances)
    ])


# --- E-step and log-likelihood -------------------------------------------------

@pytest.mark.parametrize("k, d", [(1, 1), (2, 3), (4, 2), (3, 5)])
def test_log_density_matches_scipy(rng, k, d):
    params = random_params(rng, k, d)
    X = rng.normal(0, 3, size=(50, d))
    expected = np.column_stack([
        multivariate_normal.logpdf(X, m, c) for m, c in zip(params.means, params.covariances)
    ])
    np.testing.assert_allclose(gmm.log_gaussian_density(X, params.means, params.covariances),
                               expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k, d", [(1, 2), (2, 3), (4, 2), (3, 5)])
def test_e_step_matches_bayes_rule_with_scipy_densities(rng, k, d):
    params = random_params(rng, k, d)
    X = rng.normal(0, 3, size=(60, d))
    dens = scipy_weighted_densities(X, params)
    resp, log_norm = gmm.e_step(X, params)
    np.testing.assert_allclose(resp, dens / dens.sum(1, keepdims=True), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(log_norm, np.log(dens.sum(1)), rtol=1e-12)
    np.testing.assert_allclose(resp.sum(1), 1.0, rtol=1e-14)
    assert gmm.log_likelihood(X, params) == pytest.approx(np.log(dens.sum(1)).sum(), rel=1e-12)


def test_far_away_points_stay_finite_where_density_version_gives_nan():
    X, w, m, c = datasets.three_gaussians_init()
    params = gmm.GMMParams(w, m, c)
    far = np.array([[1e3, 1e3], [-1e3, 0.0], [0.0, 2e3]])
    with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
        dens = scipy_weighted_densities(far, params)
        naive = dens / dens.sum(1, keepdims=True)
    assert np.all(dens == 0) and np.all(np.isnan(naive))  # the naive E-step fails
    resp, log_norm = gmm.e_step(far, params)
    assert np.all(np.isfinite(resp)) and np.all(np.isfinite(log_norm))
    np.testing.assert_allclose(resp.sum(1), 1.0)
    # the nearest mean takes the whole responsibility
    nearest = np.argmin(((far[:, None, :] - m[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(resp.argmax(1), nearest)
    assert np.all(resp.max(1) > 1 - 1e-12)
    # and the log-likelihood is the closed form of the nearest component
    assert np.all(log_norm < -1e5)


# --- M-step --------------------------------------------------------------------

def test_m_step_with_one_hot_responsibilities_is_per_cluster_mle(rng):
    X = rng.normal(size=(90, 3))
    labels = np.repeat([0, 1, 2], [20, 30, 40])
    rng.shuffle(labels)
    resp = np.eye(3)[labels]
    params = gmm.m_step(X, resp)
    for k in range(3):
        members = X[labels == k]
        np.testing.assert_allclose(params.weights[k], len(members) / len(X), rtol=1e-12)
        np.testing.assert_allclose(params.means[k], members.mean(0), rtol=1e-12)
        np.testing.assert_allclose(params.covariances[k], np.cov(members.T, bias=True), rtol=1e-10)


def test_m_step_weighted_statistics_and_reg_covar(rng):
    X = rng.normal(size=(40, 2))
    resp = rng.dirichlet(np.ones(3), size=40)
    params = gmm.m_step(X, resp, reg_covar=0.25)
    for k in range(3):
        w = resp[:, k]
        mean = np.average(X, axis=0, weights=w)
        cov = np.cov(X.T, aweights=w, bias=True) + 0.25 * np.eye(2)
        np.testing.assert_allclose(params.means[k], mean, rtol=1e-12)
        np.testing.assert_allclose(params.covariances[k], cov, rtol=1e-10)
    np.testing.assert_allclose(params.weights, resp.mean(0), rtol=1e-12)


def test_m_step_on_empty_component_never_gives_nan(rng):
    X = rng.normal(size=(10, 2))
    resp = np.zeros((10, 2))
    resp[:, 0] = 1.0
    with pytest.raises(ValueError, match="component 1 is not positive definite.*reg_covar"):
        gmm.m_step(X, resp)
    params = gmm.m_step(X, resp, reg_covar=1e-6)
    assert np.all(np.isfinite(params.means)) and np.all(np.isfinite(params.covariances))


# --- The worked example ----------------------------------------------------------

def test_seed_example_reproduced_exactly(seed_example):
    w, m, c = seed_example.start
    result = gmm.fit(seed_example.X, 3, weights=w, means=m, covariances=c, reg_covar=0.0, tol=seed_example.tol)
    assert result.n_iter == seed_example.n_iter and result.converged
    assert f"{result.objective:.7f}" == seed_example.log_likelihood
    with np.printoptions():  # NumPy's defaults, as the tutorial printed them
        assert str(result.weights) == seed_example.weights
        assert str(result.means) == seed_example.means
        assert str(result.covariances) == seed_example.covariances


def test_seed_data_matches_legacy_global_generator_without_touching_it():
    state = np.random.get_state()
    X = datasets.three_gaussians()
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(state[1:2], after[1:2])) and state[2] == after[2]
    legacy = np.random.RandomState(42)
    expected = np.vstack([legacy.multivariate_normal(mu, np.eye(2), 100) for mu in [[0, 0], [5, 5], [0, 5]]])
    np.testing.assert_array_equal(X, expected)
    assert list(legacy.choice(300, 3, False)) == [79, 12, 204]


# --- The monotone likelihood theorem, over many random problems -------------------

def clustered_data(seed, k, d, n):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(k, d))
    return centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))


def scipy_log_likelihoods(X, history):
    return np.array([np.log(scipy_weighted_densities(X, p).sum(1)).sum() for p in history.params])


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4), d=st.integers(1, 3), n=st.integers(10, 80))
def test_log_likelihood_never_decreases(seed, k, d, n):
    """The theorem: exact EM (no regularisation) never lowers the likelihood."""
    X = clustered_data(seed, k, d, n)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # 30 iterations need not converge
            result = gmm.fit(X, k, random_state=seed, reg_covar=0.0, max_iter=30, tol=1e-8, record=True)
    except ValueError as exc:  # a component collapsed: unbounded likelihood, not a decrease
        assume("not positive definite" not in str(exc))
        raise
    lls = scipy_log_likelihoods(X, result.history)  # independent of emtutor's densities
    assert np.all(np.isfinite(lls))
    assert np.all(np.diff(lls) >= -1e-9 * np.abs(lls[:-1]))
    for p in result.history.params:
        assert np.all(np.isfinite(p.means)) and abs(p.weights.sum() - 1) < 1e-12


# --- Initialisation ---------------------------------------------------------------

def test_explicit_initial_parameters_are_honoured(rng):
    X = rng.normal(size=(30, 2))
    w = np.array([0.2, 0.8])
    m = np.array([[0.0, 1.0], [1.0, 0.0]])
    c = np.array([np.eye(2), 2 * np.eye(2)])
    result = gmm.fit(X, 2, weights=w, means=m, covariances=c, record=True, max_iter=5, tol=1e9)
    first = result.history.params[0]
    np.testing.assert_array_equal(first.weights, w)
    np.testing.assert_array_equal(first.means, m)
    np.testing.assert_array_equal(first.covariances, c)


def test_default_means_are_distinct_rows_drawn_with_random_state(rng):
    X = rng.normal(size=(50, 2))
    X[10:20] = X[0]  # duplicates must not be picked twice
    first = gmm.fit(X, 4, random_state=7, record=True).history.params[0]
    again = gmm.fit(X, 4, random_state=7, record=True).history.params[0]
    np.testing.assert_array_equal(first.means, again.means)
    assert len(np.unique(first.means, axis=0)) == 4
    assert all(any(np.array_equal(mu, x) for x in X) for mu in first.means)
    np.testing.assert_allclose(first.weights, 0.25)


def test_fewer_distinct_points_than_components():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 5, axis=0)
    with pytest.raises(ValueError, match="only 2 distinct points"):
        gmm.fit(X, 3, random_state=0)


def test_collapsing_component_without_regularisation_is_a_clear_error():
    # one isolated point: a component started on it shrinks onto it
    X = np.r_[np.random.default_rng(0).normal(size=(40, 2)), [[50.0, 50.0]]]
    m = np.array([[0.0, 0.0], [50.0, 50.0]])
    c = np.array([np.eye(2), np.eye(2)])
    with pytest.raises(ValueError, match="component 1 is not positive definite.*reg_covar"):
        gmm.fit(X, 2, weights=[0.5, 0.5], means=m, covariances=c, reg_covar=0.0)
    # with the default regularisation the fit completes with finite parameters
    result = gmm.fit(X, 2, weights=[0.5, 0.5], means=m, covariances=c, reg_covar=1e-6, max_iter=300)
    assert np.all(np.isfinite(result.covariances))


# --- Bad input ---------------------------------------------------------------------

GOOD = dict(
    weights=[0.5, 0.5],
    means=[[0.0, 0.0], [1.0, 1.0]],
    covariances=[np.eye(2), np.eye(2)],
)


@pytest.mark.parametrize(
    "X, n_components, overrides, message",
    [
        (np.array([[0.0, np.nan]] * 5), 2, {}, "NaN or inf"),
        (np.array([[0.0, np.inf]] * 5), 2, {}, "NaN or inf"),
        (np.zeros(5), 2, {}, "must be 2-D"),
        (np.zeros((2, 2, 2)), 2, {}, "must be 2-D"),
        (np.zeros((0, 2)), 2, {}, "empty"),
        ("abc", 2, {}, "numeric"),
        (None, 0, {}, "n_components must be between 1 and 20"),
        (None, 21, {}, "n_components must be between 1 and 20"),
        (None, 2.0, {}, "n_components must be an integer"),
        (None, 2, {"weights": [-0.5, 1.5]}, "weights must be non-negative"),
        (None, 2, {"weights": [0.5, 0.6]}, "weights must sum to 1"),
        (None, 2, {"weights": [1.0]}, r"weights must have shape \(2,\)"),
        (None, 2, {"means": [[0.0, 0.0]]}, r"means must have shape \(2, 2\)"),
        (None, 2, {"means": [[0.0, np.nan], [0, 0]]}, "means contains NaN"),
        (None, 2, {"covariances": [np.eye(2)]}, r"covariances must have shape \(2, 2, 2\)"),
        (None, 2, {"covariances": [np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]}, r"covariances\[1\] is not symmetric"),
        (None, 2, {"covariances": [np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]}, r"covariances\[1\] is not positive definite"),
        (None, 2, {"covariances": [np.eye(2), np.zeros((2, 2))]}, r"covariances\[1\] is not positive definite"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(rng, X, n_components, overrides, message):
    if X is None:
        X = rng.normal(size=(20, 2))
    kwargs = {**GOOD, **overrides} if overrides else {}
    with pytest.raises(ValueError, match=message):
        gmm.fit(X, n_components, **kwargs)


@pytest.mark.parametrize("reg_covar", [-1.0, np.nan, np.inf])
def test_bad_reg_covar(rng, reg_covar):
    with pytest.raises(ValueError, match="reg_covar"):
        gmm.fit(rng.normal(size=(10, 2)), 2, reg_covar=reg_covar)


# ------------------------------------------------ far and huge values (issue 16)


TYPES = ["full", "diag", "spherical", "tied"]


@pytest.mark.parametrize("covariance_type", TYPES)
def test_values_whose_squares_overflow_are_rejected_naming_x(covariance_type):
    # predict_proba([[1e160, 1e160]]) was [[nan, nan]], predict 0, score nan;
    # log_likelihood([[1e200, 0]]), score_samples and bic nan: squares of such
    # values overflow float64, so they are refused at the boundary.
    from emtutor import GaussianMixture

    X = datasets.three_gaussians()
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    for point in ([[1e160, 1e160]], [[1e200, 0.0]]):
        for method in ("predict_proba", "predict", "score", "score_samples", "bic"):
            with pytest.raises(ValueError, match=r"^X has a value of 1e\+(160|200).*rescale X"):
                getattr(model, method)(np.array(point))
        with pytest.raises(ValueError, match=r"^X has a value"):
            gmm.log_likelihood(np.array(point), model.params_, covariance_type=covariance_type)
    # far but representable: finite answers
    far = np.array([[1e100, 1e100], [-1e150, 3.0]])
    proba = model.predict_proba(far)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.isfinite(model.score(far)) and np.isfinite(model.bic(far))
    with pytest.raises(ValueError, match=r"^X has a value of 4.*rescale X"):
        gmm.fit(X * 1e200, 3, covariance_type=covariance_type, random_state=0)
    with pytest.raises(ValueError, match=r"^X has a value"):
        gmm.kmeans_plusplus(X * 1e200, 3, random_state=0)


def test_a_log_density_that_overflows_names_the_row():
    params = gmm.GMMParams(np.array([1.0]), np.zeros((1, 2)), np.array([[1e-10, 1e-10]]))
    with pytest.raises(ValueError, match="row 1 of X has a log-density that float64 cannot represent"):
        gmm.log_likelihood(np.array([[0.0, 0.0], [1e150, 0.0]]), params, covariance_type="diag")


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150 / 20])
def test_kmeans_plusplus_and_fit_do_not_depend_on_the_units(scale):
    # X * 1e-300 said "X has only 300 distinct points, fewer than
    # n_components=2" (the squared distances underflowed to 0)
    X = datasets.three_gaussians()
    ref = gmm.kmeans_plusplus(X, 3, random_state=5)
    np.testing.assert_array_equal(gmm.kmeans_plusplus(X * scale, 3, random_state=5), ref * scale)
    if scale ** 2 > 1e-300:  # variances of X * scale are representable
        # reg_covar is absolute (scikit-learn's meaning): scale it with X
        ours = gmm.fit(X * scale, 3, covariance_type="diag", reg_covar=1e-6 * scale**2, random_state=0)
        expected = gmm.fit(X, 3, covariance_type="diag", random_state=0)
        np.testing.assert_allclose(ours.resp, expected.resp, atol=1e-9)
        np.testing.assert_allclose(ours.means, expected.means * scale, rtol=1e-9)
    else:  # they underflow; the default reg_covar dominates, but the fit runs
        assert np.isfinite(gmm.fit(X * scale, 2, random_state=0).objective)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_one_point_far_along_a_direction_the_others_barely_spread_in(covariance_type):
    # (1e10, -1e10) added to the three clusters: the data covariance has a
    # condition number ~1e18, not positive definite in float64; the fit said
    # "covariances[0] is not positive definite" (a parameter the user never
    # gave), and the tied type also failed its per-component collapse check.
    from emtutor import GaussianMixture

    X = np.vstack([datasets.three_gaussians(), [[1e10, -1e10]]])
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    assert np.isfinite(model.score(X))
    assert np.all(np.isfinite(model.predict_proba(X)))
