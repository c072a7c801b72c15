"""emtutor.map_gmm (MAP-EM with conjugate priors) against independent oracles.

Oracles: scipy.stats' densities for the log-prior; scipy.optimize on the
expected complete-data log-likelihood plus the log-prior for the M-step;
the driver's monotonicity check on random problems; plain EM for the flat
prior; the algebra of reg_covar as a (data-dependent) prior.
"""

import numpy as np
import pytest
from scipy import optimize, stats

from emtutor import ConvergenceWarning, GaussianMixture, LikelihoodDecreaseError, gmm, map_gmm
from emtutor.gmm import CollapsedComponentError

TYPES = ["full", "diag", "spherical", "tied"]


def two_clusters(rng, n=40, d=2):
    return np.r_[rng.normal(0.0, 1.0, (n, d)), rng.normal(3.0, 0.6, (n // 2, d))]


def a_prior(X, k, kind, **changes):
    settings = dict(weight_concentration_prior=np.linspace(1.5, 3.0, k), mean_precision_prior=0.4,
                    mean_prior=np.full(X.shape[1], 0.5), degrees_of_freedom_prior=X.shape[1] + 1.5)
    settings.update(changes)
    return map_gmm.make_prior(X, k, covariance_type=kind, **settings)


# --- the log-prior: scipy's densities --------------------------------------------

@pytest.mark.parametrize("kind", TYPES)
def test_log_prior_is_the_sum_of_scipys_densities(kind):
    rng = np.random.default_rng(1)
    X = two_clusters(rng, d=3)
    k, d = 3, 3
    prior = a_prior(X, k, kind, covariance_prior={
        "full": np.cov(X.T) + 0.3 * np.eye(d), "tied": np.cov(X.T), "diag": np.array([0.5, 1.0, 2.0]),
        "spherical": 0.7}[kind])
    params = map_gmm.m_step(X, rng.dirichlet(np.ones(k), size=len(X)), prior=prior)
    full = gmm.full_covariances(params.covariances, k, d, kind)
    alpha, kappa, m0, psi, nu = prior[:5]
    expected = stats.dirichlet(alpha).logpdf(params.weights)
    expected += sum(stats.multivariate_normal(m0, full[j] / kappa).logpdf(params.means[j]) for j in range(k))
    if kind == "full":
        expected += sum(stats.invwishart(nu, psi).logpdf(c) for c in params.covariances)
    elif kind == "tied":
        expected += stats.invwishart(nu, psi).logpdf(params.covariances)
    else:
        variances = params.covariances.reshape(k, -1)
        scales = np.broadcast_to(psi, variances.shape[1:])
        expected += sum(stats.invgamma(nu / 2, scale=s / 2).logpdf(v)
                        for row in variances for v, s in zip(row, scales))
    assert map_gmm.log_prior(params, prior) == pytest.approx(expected, rel=1e-12, abs=1e-10)


def test_flat_parts_contribute_nothing():
    rng = np.random.default_rng(2)
    X = two_clusters(rng)
    params = gmm.fit(X, 2, random_state=0).params
    prior = map_gmm.make_prior(X, 2)
    assert prior.is_flat
    assert map_gmm.log_prior(params, prior) == 0.0
    assert map_gmm.log_posterior(X, params, prior) == gmm.log_likelihood(X, params)


# --- the M-step: the maximiser of Q + log prior -----------------------------------

def _unpack(z, k, d, kind):
    """Unconstrained vector -> GMMParams (softmax weights, log-Cholesky covariances)."""
    logits = np.r_[0.0, z[: k - 1]]
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()
    means = z[k - 1 : k - 1 + k * d].reshape(k, d)
    rest = z[k - 1 + k * d :]
    if kind in ("full", "tied"):
        blocks = k if kind == "full" else 1
        tril = np.tril_indices(d)
        chols = np.zeros((blocks, d, d))
        chols[:, tril[0], tril[1]] = rest.reshape(blocks, -1)
        chols[:, np.arange(d), np.arange(d)] = np.exp(chols[:, np.arange(d), np.arange(d)])
        covariances = chols @ chols.transpose(0, 2, 1)
        return gmm.GMMParams(weights, means, covariances if kind == "full" else covariances[0])
    return gmm.GMMParams(weights, means, np.exp(rest).reshape((k, d) if kind == "diag" else (k,)))


def _pack(params, kind):
    weights, means, covariances = params
    parts = [np.log(weights[1:] / weights[0]), means.ravel()]
    if kind in ("full", "tied"):
        chols = np.linalg.cholesky(covariances if kind == "full" else covariances[None])
        d = means.shape[1]
        chols[:, np.arange(d), np.arange(d)] = np.log(chols[:, np.arange(d), np.arange(d)])
        parts.append(chols[:, *np.tril_indices(d)].ravel())
    else:
        parts.append(np.log(covariances).ravel())
    return np.concatenate(parts)


def q_plus_log_prior(X, resp, params, prior):
    """sum_nk r_nk [log pi_k + log N(x_n | mu_k, Sigma_k)] + log p(theta), densities from scipy."""
    k, d = params.means.shape
    full = gmm.full_covariances(params.covariances, k, d, prior.covariance_type)
    log_dens = np.column_stack([stats.multivariate_normal(params.means[j], full[j]).logpdf(X)
                                for j in range(k)]).reshape(len(X), k)
    return float(np.sum(resp * (np.log(params.weights) + log_dens))) + map_gmm.log_prior(params, prior)


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("mean_precision", [0.0, 0.7])
def test_m_step_maximises_q_plus_log_prior(kind, mean_precision):
    rng = np.random.default_rng(3)
    X = two_clusters(rng, n=8)
    k, d = 2, 2
    resp = rng.dirichlet(np.ones(k), size=len(X))
    prior = a_prior(X, k, kind, mean_precision_prior=mean_precision)
    closed = map_gmm.m_step(X, resp, prior=prior)

    def objective(z):
        return -q_plus_log_prior(X, resp, _unpack(z, k, d, kind), prior)

    start = _pack(closed, kind) + rng.normal(0.0, 0.3, size=len(_pack(closed, kind)))
    found = optimize.minimize(objective, start, method="BFGS", options={"gtol": 1e-9, "maxiter": 5000})
    best = _unpack(found.x, k, d, kind)
    assert -found.fun <= q_plus_log_prior(X, resp, closed, prior) + 1e-9
    for got, want in zip(closed, best):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", TYPES)
def test_each_covariance_of_the_m_step_is_a_stationary_point(kind):
    """The gradient of Q + log p in each covariance entry vanishes at the closed form (central differences)."""
    rng = np.random.default_rng(4)
    X = two_clusters(rng, n=10, d=3)
    k = 3
    resp = rng.dirichlet(np.ones(k), size=len(X))
    prior = a_prior(X, k, kind)
    closed = map_gmm.m_step(X, resp, prior=prior)
    base = np.array(closed.covariances)
    h = 1e-6
    for index in np.ndindex(base.shape):
        step = np.zeros_like(base)
        step[index] = h
        if base.ndim >= 2 and kind in ("full", "tied"):
            step = step + np.swapaxes(step, -1, -2) if index[-1] != index[-2] else step
        up = q_plus_log_prior(X, resp, closed._replace(covariances=base + step), prior)
        down = q_plus_log_prior(X, resp, closed._replace(covariances=base - step), prior)
        assert abs(up - down) / (2 * h) < 1e-5


# --- the flat-prior limit --------------------------------------------------------

@pytest.mark.parametrize("kind", TYPES)
def test_flat_prior_is_plain_em(kind):
    rng = np.random.default_rng(5)
    X = two_clusters(rng)
    plain = gmm.fit(X, 2, covariance_type=kind, reg_covar=1e-6, random_state=0)
    flat = map_gmm.fit(X, 2, covariance_type=kind, reg_covar=1e-6, random_state=0)
    np.testing.assert_array_equal(flat.objectives, plain.objectives)
    assert flat.objective_name == "log-likelihood"


@pytest.mark.parametrize("kind", TYPES)
def test_vanishing_prior_on_weights_and_means(kind):
    """alpha = 1 and kappa -> 0 go through MAP's formulas: ML weights and means, but not ML
    covariances: the normal prior N(m_0, Sigma_k / kappa) keeps its factor |Sigma_k|^(-1/2) however
    small kappa is, one more count in the denominator (D for a spherical variance, K for tied)."""
    rng = np.random.default_rng(6)
    X = two_clusters(rng)
    n, d, k = len(X), X.shape[1], 3
    resp = rng.dirichlet(np.ones(k), size=n)
    prior = map_gmm.make_prior(X, k, covariance_type=kind, weight_concentration_prior=1.0,
                               mean_precision_prior=1e-13)
    assert not prior.is_flat
    got, want = map_gmm.m_step(X, resp, prior=prior), gmm.m_step(X, resp, covariance_type=kind)
    np.testing.assert_allclose(got.weights, want.weights, rtol=1e-12)
    np.testing.assert_allclose(got.means, want.means, rtol=1e-10, atol=1e-12)
    counts = resp.sum(axis=0)
    ratio = {"full": counts / (counts + 1), "diag": counts / (counts + 1),
             "spherical": d * counts / (d * counts + d), "tied": n / (n + k)}[kind]
    ratio = np.reshape(ratio, np.shape(ratio) + (1,) * (np.ndim(want.covariances) - np.ndim(ratio)))
    np.testing.assert_allclose(got.covariances, want.covariances * ratio, rtol=1e-10)


# --- reg_covar as a prior --------------------------------------------------------

def reg_covar_as_prior(X, resp, epsilon, kind):
    """The improper 'prior' whose MAP M-step is reg_covar's: scale eps N_k, no log-determinant (a = 0)."""
    counts = resp.sum(axis=0)
    d = X.shape[1]
    scale, nu = {
        "full": (epsilon * counts[:, None, None] * np.eye(d), -(d + 1.0)),
        "tied": (epsilon * len(X) * np.eye(d), -(d + 1.0)),
        "diag": (epsilon * counts[:, None] * np.ones(d), -2.0),
        "spherical": (epsilon * d * counts, -2.0),
    }[kind]
    return map_gmm.GMMPrior(None, 0.0, X.mean(axis=0), scale, nu, kind)


@pytest.mark.parametrize("kind", TYPES)
def test_reg_covar_is_the_map_step_of_a_count_scaled_prior(kind):
    rng = np.random.default_rng(7)
    X = two_clusters(rng, d=3)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    epsilon = 0.05
    prior = reg_covar_as_prior(X, resp, epsilon, kind)
    assert map_gmm._pseudo_count(prior, 3, 3) == 0
    got = map_gmm.m_step(X, resp, prior=prior)
    want = gmm.m_step(X, resp, reg_covar=epsilon, covariance_type=kind)
    np.testing.assert_allclose(got.covariances, want.covariances, rtol=1e-12, atol=1e-14)


def test_tied_reg_covar_em_raises_a_fixed_log_posterior():
    """For tied covariances eps N I is a fixed scale: plain EM with reg_covar raises
    l(theta) - (eps N / 2) tr(inv(Sigma)) at every iteration, though not always l itself."""
    rng = np.random.default_rng(8)
    X = np.r_[rng.normal(0, 1, (30, 2)), rng.normal(1.5, 1, (30, 2))]
    epsilon = 0.5
    start = gmm.initial_params(X, 3, covariance_type="tied", random_state=1)
    history = [start]
    for _ in range(60):
        resp, _ = gmm.e_step(X, history[-1], covariance_type="tied")
        history.append(gmm.m_step(X, resp, reg_covar=epsilon, covariance_type="tied"))
    ll = np.array([gmm.log_likelihood(X, p, covariance_type="tied") for p in history])
    penalised = ll - 0.5 * epsilon * len(X) * np.array([np.trace(np.linalg.inv(p.covariances)) for p in history])
    assert np.diff(ll).min() < -0.1  # the log-likelihood alone does fall
    assert np.all(np.diff(penalised) >= -1e-9 * np.abs(penalised[1:]))


# --- monotone log-posterior ------------------------------------------------------

@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("seed", range(6))
def test_log_posterior_never_decreases(kind, seed):
    """run_em raises LikelihoodDecreaseError on any decrease; the recorded objective is the log-posterior."""
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    X = rng.normal(size=(int(rng.integers(15, 60)), d)) * rng.uniform(0.5, 3, size=d)
    k = int(rng.integers(2, 5))
    settings = dict(weight_concentration_prior=rng.uniform(1, 4), mean_precision_prior=rng.choice([0, 0.05, 2.0]),
                    degrees_of_freedom_prior=d + rng.uniform(0, 5))
    prior = map_gmm.make_prior(X, k, covariance_type=kind, **settings)
    with pytest.warns(ConvergenceWarning):  # tol = 0: runs to max_iter
        result = map_gmm.fit(X, k, covariance_type=kind, tol=0.0, max_iter=40, random_state=seed, record=True,
                             **settings)
    assert result.objective_name == "log-posterior"
    assert np.all(np.diff(result.objectives) >= -1e-9 * np.abs(result.objectives[1:]))
    for params, value in zip(result.history.params[1:], result.objectives):
        assert map_gmm.log_posterior(X, params, prior) == pytest.approx(value, rel=1e-10)


@pytest.mark.parametrize("kind", TYPES)
def test_reg_covar_with_a_prior_keeps_within_its_bound(kind):
    rng = np.random.default_rng(9)
    X = two_clusters(rng)
    result = map_gmm.fit(X, 3, covariance_type=kind, weight_concentration_prior=2.0, mean_precision_prior=0.1,
                         degrees_of_freedom_prior=4.0, reg_covar=0.3, random_state=0, max_iter=2000)
    assert result.converged


def test_a_wrong_m_step_is_caught_by_the_driver():
    """The driver checks the log-posterior: an M-step that ignores the prior on the weights lowers it."""
    rng = np.random.default_rng(10)
    X = two_clusters(rng)
    prior = map_gmm.make_prior(X, 3, weight_concentration_prior=50.0)

    def ml_weights_m_step(X, resp, params):
        new = map_gmm.m_step(X, resp, prior=prior)
        return new._replace(weights=resp.sum(axis=0) / len(X))

    start = gmm.initial_params(X, 3, random_state=0)
    from emtutor.em import run_em
    with pytest.raises(LikelihoodDecreaseError):
        run_em(X, start, e_step=lambda X, p, prev: map_gmm.e_step(X, p, prior=prior), m_step=ml_weights_m_step,
               n_observations=len(X), tol=0.0, max_iter=50)


# --- singularities gone ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["full", "diag", "spherical"])
def test_a_component_on_one_point_keeps_a_finite_covariance(kind):
    rng = np.random.default_rng(11)
    X = np.r_[rng.normal(0, 1, (50, 2)), [[8.0, 8.0]]]
    resp = np.zeros((len(X), 2))
    resp[:-1, 0] = 1.0
    resp[-1, 1] = 1.0  # component 1 owns the single far point
    with pytest.raises(CollapsedComponentError):
        gmm.e_step(X, gmm.m_step(X, resp, covariance_type=kind), covariance_type=kind)
    prior = map_gmm.make_prior(X, 2, covariance_type=kind, covariance_prior={
        "full": 0.2 * np.eye(2), "diag": np.full(2, 0.2), "spherical": 0.2}[kind], degrees_of_freedom_prior=3.0)
    params = map_gmm.m_step(X, resp, prior=prior)
    a = map_gmm._pseudo_count(prior, 2, 2)
    count = 2 if kind == "spherical" else 1  # D N_k for the spherical variance
    np.testing.assert_allclose(gmm.full_covariances(params.covariances, 2, 2, kind)[1],
                               0.2 * np.eye(2) / (count + a), rtol=1e-12)
    assert np.isfinite(map_gmm.log_posterior(X, params, prior))


@pytest.mark.parametrize("kind", ["full", "diag", "spherical"])
def test_the_log_posterior_is_bounded_where_the_likelihood_is_not(kind):
    """A component centred on a data point: as sigma -> 0 the log-likelihood grows without
    bound (the singularity) and the log-posterior falls to -inf (the prior's tr(Psi inv(Sigma)))."""
    rng = np.random.default_rng(12)
    X = rng.normal(0, 1, (30, 2))
    prior = map_gmm.make_prior(X, 2, covariance_type=kind, degrees_of_freedom_prior=3.0)
    sigmas = 10.0 ** np.arange(-1, -9, -1)
    shape = {"full": lambda s: np.stack([np.eye(2), s**2 * np.eye(2)]),
             "diag": lambda s: np.array([[1.0, 1.0], [s**2, s**2]]),
             "spherical": lambda s: np.array([1.0, s**2])}[kind]
    ll, lp = [], []
    for s in sigmas:
        params = gmm.GMMParams(np.array([0.5, 0.5]), np.stack([X.mean(axis=0), X[0]]), shape(s))
        ll.append(gmm.log_likelihood(X, params, covariance_type=kind))
        lp.append(map_gmm.log_posterior(X, params, prior))
    assert np.all(np.diff(ll) > 0) and ll[-1] > ll[0] + 25  # unbounded: log(1 / sigma^2) = 4.6 more per decade
    assert np.all(np.diff(lp) < 0) and lp[-1] < lp[0] - 1e6  # bounded: the prior term ~ 1/sigma^2


@pytest.mark.parametrize("kind", TYPES)
def test_map_em_survives_where_ml_em_collapses(kind):
    """Five points with two exact duplicates pairs and K = 4: ML EM without reg_covar collapses."""
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.2], [3.0, 3.0], [3.0, 3.0], [2.0, 2.5], [0.5, 1.0]])
    means = X[[0, 3, 2, 5]]
    if kind != "tied":
        with pytest.raises(CollapsedComponentError):
            gmm.fit(X, 4, covariance_type=kind, means=means, reg_covar=0.0, max_iter=200)
    result = map_gmm.fit(X, 4, covariance_type=kind, means=means, degrees_of_freedom_prior=3.0,
                         weight_concentration_prior=1.5, max_iter=500, tol=1e-8)
    assert result.converged
    assert np.all(np.isfinite(result.covariances))
    assert np.all(np.linalg.eigvalsh(gmm.full_covariances(result.covariances, 4, 2, kind)) > 0)


# --- the settings ---------------------------------------------------------------

@pytest.mark.parametrize("setting, value, message", [
    ("weight_concentration_prior", 0.5, "weight_concentration_prior must be >= 1"),
    ("weight_concentration_prior", [2.0, 2.0], "weight_concentration_prior must have shape"),
    ("mean_precision_prior", -1.0, "mean_precision_prior"),
    ("mean_prior", [0.0], "mean_prior must have shape"),
    ("degrees_of_freedom_prior", 0.5, "degrees_of_freedom_prior must be a finite number > 1"),
    ("degrees_of_freedom_prior", np.nan, "degrees_of_freedom_prior"),
    ("covariance_prior", np.eye(3), "covariance_prior must have shape"),
    ("covariance_prior", -np.eye(2), "covariance_prior is not positive definite"),
])
def test_bad_settings_name_the_setting(setting, value, message):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=message):
        map_gmm.make_prior(X, 3, **{setting: value})
    with pytest.raises(ValueError, match=message):
        GaussianMixture(3, **{setting: value}).fit(X)


def test_default_scale_of_a_constant_column_is_refused():
    X = np.c_[np.random.default_rng(0).normal(size=20), np.ones(20)]
    with pytest.raises(ValueError, match="pass covariance_prior"):
        map_gmm.make_prior(X, 2, degrees_of_freedom_prior=3.0)


def test_m_step_refuses_another_covariance_type():
    X = np.random.default_rng(0).normal(size=(20, 2))
    prior = map_gmm.make_prior(X, 2, covariance_type="diag", degrees_of_freedom_prior=3.0)
    with pytest.raises(ValueError, match="differs from the prior"):
        map_gmm.m_step(X, np.full((20, 2), 0.5), prior=prior, covariance_type="full")


# --- the estimator ---------------------------------------------------------------

def test_estimator_fits_map_and_keeps_its_settings():
    sklearn_base = pytest.importorskip("sklearn.base")
    rng = np.random.default_rng(13)
    X = two_clusters(rng)
    settings = dict(weight_concentration_prior=2.0, mean_precision_prior=0.1, mean_prior=[0.0, 0.0],
                    covariance_prior=0.5 * np.eye(2), degrees_of_freedom_prior=4.0)
    model = GaussianMixture(2, reg_covar=0.0, random_state=0, **settings)
    for name, value in settings.items():
        assert model.get_params()[name] is value
    copy = sklearn_base.clone(model)
    model.fit(X)
    direct = map_gmm.fit(X, 2, reg_covar=0.0, random_state=0, **settings)
    np.testing.assert_array_equal(model.objectives_, direct.objectives)
    assert model.objective_ == pytest.approx(map_gmm.log_posterior(X, model.params_, model.prior_), rel=1e-12)
    assert model.lower_bound_ == model.objective_ / len(X)
    np.testing.assert_array_equal(copy.fit(X).means_, model.means_)


def test_estimator_without_a_prior_is_unchanged():
    rng = np.random.default_rng(14)
    X = two_clusters(rng)
    model = GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_array_equal(model.objectives_, gmm.fit(X, 2, random_state=0).objectives)
    assert model.prior_.is_flat


@pytest.mark.parametrize("kind", ["full", "diag", "tied"])
def test_a_column_constant_up_to_rounding_is_refused_not_fitted_to_noise(kind):
    """Values that differ only in their last bit: the default covariance_prior is rounding noise,
    and EM on it would be too (the log-posterior 'decreased' by hundreds in a fuzz run).  (A
    spherical variance is shared with the other column, so it is well above that noise.)"""
    rng = np.random.default_rng(15)
    a = -10000.3
    X = np.c_[rng.normal(size=60), np.where(rng.random(60) < 0.5, a, np.nextafter(a, 0.0))]
    assert 0 < np.var(X[:, 1]) < 1e-20
    with pytest.raises(ValueError, match="rounding level of X"):
        map_gmm.fit(X, 3, covariance_type=kind, degrees_of_freedom_prior=3.0, mean_precision_prior=1.0,
                    weight_concentration_prior=5.0, max_iter=50)


@pytest.mark.parametrize("kind", TYPES)
def test_uniform_dirichlet_alone_runs_ml_em_through_the_map_formulas(kind):
    """alpha = 1 is a proper prior (the uniform Dirichlet), so the MAP path runs, with a constant
    log-prior log Gamma(K): the iterates are ML EM's, the objective shifted by that constant."""
    rng = np.random.default_rng(16)
    X = two_clusters(rng)
    plain = gmm.fit(X, 3, covariance_type=kind, reg_covar=1e-3, random_state=0, record=True)
    uniform = map_gmm.fit(X, 3, covariance_type=kind, reg_covar=1e-3, random_state=0, record=True,
                          weight_concentration_prior=1.0)
    assert uniform.objective_name == "log-posterior"
    assert uniform.n_iter == plain.n_iter
    np.testing.assert_allclose(uniform.objectives - np.log(2.0), plain.objectives, rtol=1e-10)  # Gamma(3) = 2
    for a, b in zip(uniform.params, plain.params):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Estimator .* does not inherit from `sklearn.base.BaseEstimator`")
@pytest.mark.filterwarnings("ignore::emtutor.ConvergenceWarning")
def test_the_map_estimator_passes_scikit_learns_checks():
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    model = GaussianMixture(2, weight_concentration_prior=2.0, mean_precision_prior=0.01,
                            degrees_of_freedom_prior=50.0, reg_covar=0.0, random_state=0)
    results = estimator_checks.check_estimator(model, on_fail=None, on_skip=None)
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) >= 40
