"""Parity with scikit-learn's GaussianMixture, iteration by iteration.

From the same initial parameters and ``reg_covar``, emtutor and scikit-learn
must compute the same weights, means, covariances and log-likelihood after
every EM iteration.  scikit-learn is stepped one iteration at a time with
``warm_start=True, max_iter=1``; after its ``t``-th ``fit`` call its
parameters are those after the ``t``-th M-step, and its ``lower_bound_`` is
the per-sample log-likelihood of the parameters *before* that M-step.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from emtutor import ConvergenceWarning, GaussianMixture, gmm

TYPES = ["full", "diag", "spherical", "tied"]
RTOL = 1e-8


def problem(seed, n=500, d=3, k=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (k, d))
    scales = rng.uniform(0.5, 2.0, k)
    labels = rng.integers(k, size=n)
    return centres[labels] + scales[labels, None] * rng.normal(size=(n, d)) + rng.normal(0, 10, d)


def precisions(covariances, covariance_type):
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(covariances)
    return 1.0 / covariances


def sklearn_stepper(params, covariance_type, reg_covar):
    return SklearnGaussianMixture(
        len(params.weights), covariance_type=covariance_type, weights_init=params.weights,
        means_init=params.means, precisions_init=precisions(params.covariances, covariance_type),
        reg_covar=reg_covar, max_iter=1, tol=0.0, warm_start=True, init_params="random_from_data",
        random_state=0,
    )


def sklearn_step(model, X):
    with warnings.catch_warnings():
        # one iteration per call cannot "converge": silence exactly that warning
        warnings.filterwarnings("ignore", category=SklearnConvergenceWarning)
        model.fit(X)


def assert_rel(actual, expected, what):
    err = np.max(np.abs(np.asarray(actual) - expected) / np.maximum(np.abs(expected), 1e-300))
    assert err <= RTOL, f"{what}: relative difference {err:.2e}"


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("reg_covar", [1e-6, 1e-2])
def test_every_iteration_agrees_with_sklearn(covariance_type, seed, reg_covar):
    X = problem(seed)
    n_iter = 12
    init = gmm.initial_params(X, 3, covariance_type=covariance_type, init="random_from_data",
                              random_state=seed, reg_covar=reg_covar)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        ours = gmm.fit(X, 3, covariance_type=covariance_type, weights=init.weights, means=init.means,
                       covariances=init.covariances, reg_covar=reg_covar, tol=0.0, max_iter=n_iter,
                       record=True)
    lls = np.r_[ours.initial_objective, ours.objectives]
    theirs = sklearn_stepper(init, covariance_type, reg_covar)
    for t in range(1, n_iter + 1):
        sklearn_step(theirs, X)
        params = ours.history.params[t]
        assert_rel(theirs.weights_, params.weights, f"weights at iteration {t}")
        assert_rel(theirs.means_, params.means, f"means at iteration {t}")
        assert_rel(theirs.covariances_, params.covariances, f"covariances at iteration {t}")
        assert_rel(theirs.lower_bound_ * len(X), lls[t - 1], f"log-likelihood before iteration {t}")
        assert_rel(theirs.score(X) * len(X), lls[t], f"log-likelihood after iteration {t}")


@pytest.mark.parametrize("covariance_type", TYPES)
def test_scores_criteria_and_predictions_agree_with_sklearn(covariance_type):
    X = problem(5, n=400, d=2, k=4)
    ours = GaussianMixture(4, covariance_type=covariance_type, random_state=3, max_iter=1000).fit(X)
    theirs = sklearn_stepper(gmm.GMMParams(ours.weights_, ours.means_, ours.covariances_), covariance_type, 0.0)
    sklearn_step(theirs, X)  # one iteration from our optimum; then set our parameters exactly
    theirs.weights_, theirs.means_, theirs.covariances_ = ours.weights_, ours.means_, ours.covariances_
    theirs.precisions_cholesky_ = _sklearn_precisions_cholesky(ours.covariances_, covariance_type)
    Y = problem(6, n=300, d=2, k=4)
    np.testing.assert_allclose(ours.score_samples(Y), theirs.score_samples(Y), rtol=RTOL)
    np.testing.assert_allclose(ours.predict_proba(Y), theirs.predict_proba(Y), rtol=1e-7, atol=1e-12)
    assert ours.score(Y) == pytest.approx(theirs.score(Y), rel=RTOL)
    assert ours.bic(Y) == pytest.approx(theirs.bic(Y), rel=RTOL)
    assert ours.aic(Y) == pytest.approx(theirs.aic(Y), rel=RTOL)


def _sklearn_precisions_cholesky(covariances, covariance_type):
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    return _compute_precision_cholesky(covariances, covariance_type)
