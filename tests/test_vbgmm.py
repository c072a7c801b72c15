"""emtutor.vbgmm: variational Bayes for Gaussian mixtures, against independent oracles.

Oracles: scikit-learn's BayesianGaussianMixture (Dirichlet distribution
prior, full covariances) iteration for iteration from the same
responsibilities; a Monte Carlo estimate of the ELBO from scipy.stats'
Dirichlet, Wishart and normal densities; the monotone ELBO on random
problems; pruning of unneeded components on data with a known number.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logsumexp
from sklearn.mixture import BayesianGaussianMixture as SklearnBGMM

import emtutor
from emtutor import datasets, vbgmm


class FromResp(SklearnBGMM):
    """scikit-learn's estimator started from given responsibilities (its private hook)."""

    def __init__(self, resp0=None, **kwargs):
        super().__init__(**kwargs)
        self.resp0 = resp0

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp0)


@pytest.mark.parametrize("n_iter", [1, 5, 30])
def test_same_iterates_as_scikit_learn_from_the_same_responsibilities(n_iter):
    X = datasets.old_faithful()
    resp0 = np.random.default_rng(0).dirichlet(np.ones(6), size=len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = FromResp(resp0=resp0, n_components=6, max_iter=n_iter, tol=0,
                        weight_concentration_prior_type="dirichlet_distribution").fit(X)
        ours = vbgmm.fit(X, 6, resp=resp0, max_iter=n_iter, tol=0)
    p = ours.params
    for mine, theirs in [(p.weight_concentration, peer.weight_concentration_), (p.mean_precision, peer.mean_precision_),
                         (p.means, peer.means_), (p.degrees_of_freedom, peer.degrees_of_freedom_),
                         (p.covariances, peer.covariances_)]:
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-10)


def test_elbo_matches_a_monte_carlo_estimate_from_scipy_densities():
    """ELBO = E_q[log p(X, Z, theta) - log q(Z, theta)], averaged over draws of theta from q."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(4, 0.7, (40, 2))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
        result = vbgmm.fit(X, 2, random_state=0, max_iter=3, tol=0)
    p, prior = result.params, result.prior
    resp = result.resp
    k, d = p.means.shape
    scale = np.linalg.inv(p.covariances) / p.degrees_of_freedom[:, None, None]  # W_k
    prior_scale = np.linalg.inv(prior.covariance)
    values = []
    for _ in range(1000):
        weights = rng.dirichlet(p.weight_concentration)
        total = stats.dirichlet(np.full(k, prior.weight_concentration)).logpdf(weights) \
            - stats.dirichlet(p.weight_concentration).logpdf(weights)
        log_joint = np.log(weights) + np.zeros((len(X), 1))
        for j in range(k):
            precision = stats.wishart(p.degrees_of_freedom[j], scale[j]).rvs(random_state=rng)
            mean = rng.multivariate_normal(p.means[j], np.linalg.inv(p.mean_precision[j] * precision))
            cov = np.linalg.inv(precision)
            total += (stats.wishart(prior.degrees_of_freedom, prior_scale).logpdf(precision)
                      + stats.multivariate_normal(prior.mean, cov / prior.mean_precision).logpdf(mean)
                      - stats.wishart(p.degrees_of_freedom[j], scale[j]).logpdf(precision)
                      - stats.multivariate_normal(p.means[j], cov / p.mean_precision[j]).logpdf(mean))
            log_joint[:, j] += stats.multivariate_normal(mean, cov).logpdf(X)
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy_z = -np.nansum(resp * np.log(resp))
        values.append(total + np.sum(resp * log_joint) + entropy_z)
    values = np.array(values)
    error = values.std() / np.sqrt(len(values))
    assert abs(values.mean() - result.objective) < 4 * error, (values.mean(), result.objective, error)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 40), k=st.integers(1, 5))
def test_elbo_never_decreases_on_random_problems(seed, n, k):
    """The driver raises LikelihoodDecreaseError on any decrease of the ELBO; it must never fire."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) * rng.uniform(0.1, 10, size=2) + rng.normal(0, 5, size=(1, 2)) * (rng.random((n, 1)) < 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
        result = vbgmm.fit(X, min(k, n), random_state=seed, tol=1e-10, max_iter=200)
    assert np.all(np.isfinite(result.objectives))


def test_unneeded_components_are_pruned():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(centre, 0.5, (150, 2)) for centre in ([0, 0], [5, 0], [0, 5])])
    model = emtutor.BayesianGaussianMixture(10, max_iter=500, random_state=0).fit(X)
    assert np.sum(model.weights_ > 0.02) == 3
    assert sorted(np.round(model.weights_[model.weights_ > 0.02], 1)) == [0.3, 0.3, 0.3]
    assert len(np.unique(model.predict(X))) == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"weight_concentration_prior": 0.0}, "weight_concentration_prior must be > 0"),
    ({"mean_precision_prior": -1.0}, "mean_precision_prior"),
    ({"degrees_of_freedom_prior": 0.5}, "degrees_of_freedom_prior must be > n_features - 1"),
    ({"mean_prior": [0.0]}, r"mean_prior must have shape \(2,\)"),
    ({"covariance_prior": [[1.0, 2.0], [2.0, 1.0]]}, "covariance_prior"),
    ({"resp": np.full((20, 2), 0.3)}, "resp must be non-negative with rows summing to 1"),
    ({"reg_covar": -1.0}, "reg_covar"),
])
def test_bad_settings_are_named(kwargs, match):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=match):
        vbgmm.fit(X, 2, **kwargs)
