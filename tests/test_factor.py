"""emtutor.factor: probabilistic PCA and factor analysis, against independent oracles.

Oracles: scipy's multivariate normal for the marginal density; Gaussian
conditioning in its plain form (``E[z|x] = W^T C^-1 (x - mu)``) for the
E-step; numerical maximisation of the written-out expected complete-data
log-likelihood for the M-step; Tipping & Bishop's closed-form PPCA solution
(from an eigendecomposition) for where PPCA's EM converges; scikit-learn's
FactorAnalysis (another algorithm for the same likelihood) for factor
analysis; EM's monotone theorem on random problems.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, stats
from sklearn.decomposition import FactorAnalysis as SklearnFactorAnalysis

import emtutor
from emtutor import factor
from emtutor.factor import FactorParams


def planted(rng, n=400, d=6, q=2, noise=None):
    loadings = rng.normal(size=(d, q)) * 2
    noise = rng.uniform(0.2, 1.5, size=d) if noise is None else np.full(d, noise)
    X = rng.normal(size=(n, q)) @ loadings.T + rng.normal(size=(n, d)) * np.sqrt(noise) + rng.normal(size=d)
    return X


def random_params(rng, d, q):
    return FactorParams(rng.normal(size=d), rng.normal(size=(q, d)), rng.uniform(0.3, 2.0, size=d))


def model_covariance(params):
    return params.components.T @ params.components + np.diag(params.noise_variance)


def test_log_density_is_the_normal_with_the_model_covariance(rng):
    X = rng.normal(size=(30, 5))
    params = random_params(rng, 5, 2)
    expected = stats.multivariate_normal(params.mean, model_covariance(params)).logpdf(X)
    np.testing.assert_allclose(factor.log_density(X, params), expected, rtol=1e-12)
    assert factor.log_likelihood(X, params) == pytest.approx(expected.sum(), rel=1e-12)


def test_e_step_statistics_and_objective_match_plain_gaussian_conditioning(rng):
    X = planted(rng, n=50, d=5, q=2)
    data = factor.as_factor_data(X)
    params = random_params(rng, 5, 2)._replace(mean=X.mean(axis=0))
    W, C = params.components.T, model_covariance(params)
    gain = W.T @ np.linalg.inv(C)                     # E[z | x] = W^T C^-1 (x - mu)
    posterior_cov = np.eye(2) - gain @ W              # cov[z | x] = I - W^T C^-1 W
    means = (X - params.mean) @ gain.T
    zx = means.T @ (X - params.mean) / len(X)
    zz = posterior_cov + means.T @ means / len(X)
    stats_, objective = factor.e_step(data, params)
    np.testing.assert_allclose(stats_.zx, zx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stats_.zz, zz, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(factor.posterior_means(X, params), means, rtol=1e-10, atol=1e-12)
    assert objective == pytest.approx(stats.multivariate_normal(params.mean, C).logpdf(X).sum(), rel=1e-12)


@pytest.mark.parametrize("noise", factor.NOISE_TYPES)
def test_m_step_is_the_maximiser_of_q(rng, noise):
    X = planted(rng, n=60, d=3, q=1)
    data = factor.as_factor_data(X)
    old = random_params(rng, 3, 1)._replace(mean=X.mean(axis=0))
    gain = old.components @ np.linalg.inv(model_covariance(old))
    means = (X - old.mean) @ gain.T                                   # E[z_n]
    second = np.eye(1) - gain @ old.components.T + means[:, :, None] * means[:, None, :]  # E[z_n z_n^T]
    centred = X - old.mean

    def q_function(W, psi):  # sum_n E[log N(x_n | W z_n + mu, Psi)] up to a constant
        quad = (np.sum(centred**2 / psi, axis=1) - 2 * np.sum(means * (centred / psi @ W), axis=1)
                + np.einsum("nij,ij->n", second, W.T @ (W / psi[:, None])))
        return -0.5 * len(X) * np.sum(np.log(psi)) - 0.5 * quad.sum()

    def unpack(z):
        psi = np.exp(z[3:]) if noise == "diagonal" else np.full(3, np.exp(z[3]))
        return z[:3].reshape(3, 1), psi

    size = 6 if noise == "diagonal" else 4
    best = optimize.minimize(lambda z: -q_function(*unpack(z)), np.zeros(size), method="BFGS",
                             options={"gtol": 1e-9})
    stats_, _ = factor.e_step(data, old)
    new = factor.m_step(data, stats_, old, noise=noise)
    assert q_function(new.components.T, new.noise_variance) >= -best.fun - 1e-8
    W_best, psi_best = unpack(best.x)
    np.testing.assert_allclose(new.noise_variance, psi_best, rtol=1e-5)
    np.testing.assert_allclose(np.abs(new.components.T), np.abs(W_best), rtol=1e-5)


def test_ppca_em_converges_to_the_closed_form_solution(rng):
    """Tipping & Bishop (1999): EM reaches U_q (Lambda_q - sigma^2 I)^(1/2), up to rotation, to 1e-8."""
    X = planted(rng, n=500, d=5, q=2, noise=0.5)
    exact = factor.ppca_closed_form(X, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
        em = factor.fit(X, 2, noise="isotropic", tol=0.0, max_iter=2000, random_state=0)
    np.testing.assert_allclose(em.components.T @ em.components, exact.components.T @ exact.components,
                               rtol=0, atol=1e-8)
    np.testing.assert_allclose(em.noise_variance, exact.noise_variance, rtol=1e-8)
    assert em.objective == pytest.approx(factor.log_likelihood(X, exact), rel=1e-12)


def test_the_closed_form_is_a_maximum_of_the_likelihood(rng):
    X = planted(rng, n=300, d=4, q=1, noise=0.8)
    exact = factor.ppca_closed_form(X, 1)
    best = factor.log_likelihood(X, exact)
    for _ in range(20):
        nudged = exact._replace(components=exact.components + 1e-3 * rng.normal(size=exact.components.shape),
                                noise_variance=exact.noise_variance * np.exp(1e-3 * rng.normal()))
        assert factor.log_likelihood(X, nudged) < best


def test_factor_analysis_reaches_scikit_learns_likelihood(rng):
    """scikit-learn's FactorAnalysis maximises the same likelihood with an SVD-based iteration."""
    X = planted(rng, n=1000, d=8, q=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
        em = emtutor.FactorAnalysis(3, tol=0.0, max_iter=3000, random_state=0).fit(X)
    peer = SklearnFactorAnalysis(3, tol=1e-14, max_iter=100_000, svd_method="lapack").fit(X)
    assert em.score(X) == pytest.approx(peer.score(X), rel=1e-8)
    np.testing.assert_allclose(em.get_covariance(), peer.get_covariance(), atol=1e-4)
    np.testing.assert_allclose(em.noise_variance_, peer.noise_variance_, rtol=1e-3)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), d=st.integers(2, 7), q=st.integers(1, 6),
       noise=st.sampled_from(factor.NOISE_TYPES), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_log_likelihood_never_decreases_on_random_problems(seed, n, d, q, noise, scale):
    """The driver raises LikelihoodDecreaseError on any decrease; it must never fire."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * scale * rng.uniform(0.1, 10, size=d)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
            result = factor.fit(X, min(q, d - 1), noise=noise, random_state=seed, tol=1e-10, max_iter=300)
    except ValueError as error:  # allowed only where the likelihood has no maximum
        assert "has collapsed" in str(error) and "no maximum" in str(error)
        return
    assert np.all(np.isfinite(result.objectives)) and np.all(result.noise_variance > 0)


@pytest.mark.parametrize("noise", factor.NOISE_TYPES)
def test_fewer_points_than_factors_plus_one_has_no_maximum_and_says_so(rng, noise):
    """Two points in four dimensions: one factor fits them exactly, the likelihood is unbounded."""
    X = rng.normal(size=(2, 4))
    with pytest.raises(ValueError, match="has collapsed.*no maximum.*n_factors"):
        factor.fit(X, 1, noise=noise, random_state=0, max_iter=10_000)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_factors": 0}, "n_factors must be between 1 and 2"),
    ({"n_factors": 3}, "n_factors must be between 1 and 2"),
    ({"n_factors": 1, "noise": "full"}, "noise must be one of"),
    ({"n_factors": 1, "noise_variance": [1.0, 0.0, 1.0]}, "noise_variance must be > 0"),
    ({"n_factors": 1, "noise": "isotropic", "noise_variance": [1.0, 2.0, 1.0]}, "equal entries"),
    ({"n_factors": 1, "components": [[1.0, 2.0]]}, r"components must have shape \(1, 3\)"),
])
def test_bad_settings_are_named(rng, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factor.fit(rng.normal(size=(20, 3)), **kwargs)


def test_bad_data_is_named(rng):
    X = rng.normal(size=(20, 3))
    X[:, 1] = 4.0
    with pytest.raises(ValueError, match=r"X\[:, 1\] has variance 0 .* constant, remove it"):
        factor.fit(X, 1)
    with pytest.raises(ValueError, match=r"X\[:, 0\] has variance 0 .* underflow .* rescale X"):
        factor.fit(rng.normal(size=(20, 3)) * 1e-200, 1)
    with pytest.raises(ValueError, match="n_features=1"):
        factor.fit(X[:, :1], 1)
    with pytest.raises(ValueError, match="n_samples=1"):
        factor.fit(X[:1], 1)
    with pytest.raises(ValueError, match="X contains inf.*only NaN marks a missing value"):
        factor.fit(np.where(np.eye(20, 3) > 0, np.inf, 1.0) + rng.normal(size=(20, 3)), 1)


def test_estimators_match_the_module_and_sample_from_the_model(rng):
    X = planted(rng, n=300, d=5, q=2)
    model = emtutor.ProbabilisticPCA(2, random_state=3).fit(X)
    result = factor.fit(X, 2, noise="isotropic", random_state=3, max_iter=1000)
    np.testing.assert_array_equal(model.components_, result.components)
    assert np.ptp(model.noise_variance_) == 0
    draws = model.sample(200_000)
    np.testing.assert_allclose(np.cov(draws, rowvar=False), model.get_covariance(), atol=0.1)
    np.testing.assert_allclose(model.transform(X), factor.posterior_means(X, model.params_))
    assert model.score(X) == pytest.approx(result.objective / len(X), rel=1e-12)
