"""emtutor.GaussianMixture: the scikit-learn-style estimator."""

import numpy as np
import pytest

from emtutor import GaussianMixture, NotFittedError, datasets, gmm


@pytest.fixture(scope="module")
def X():
    return datasets.three_gaussians()


@pytest.fixture(scope="module")
def fitted(X):
    return GaussianMixture(3, random_state=0, record=True).fit(X)


def test_fit_returns_self_and_sets_the_functional_result(X):
    model = GaussianMixture(3, covariance_type="diag", random_state=4)
    assert model.fit(X) is model
    result = gmm.fit(X, 3, covariance_type="diag", random_state=4)
    np.testing.assert_array_equal(model.means_, result.means)
    np.testing.assert_array_equal(model.covariances_, result.covariances)
    np.testing.assert_array_equal(model.objectives_, result.objectives)
    assert model.n_iter_ == result.n_iter and model.converged_ == result.converged


def test_fitted_attributes_are_consistent(X, fitted):
    assert fitted.weights_.shape == (3,) and fitted.means_.shape == (3, 2)
    assert fitted.covariances_.shape == (3, 2, 2)
    assert fitted.converged_ and fitted.n_iter_ == len(fitted.objectives_)
    assert fitted.objective_ == fitted.objectives_[-1]
    assert fitted.objective_ == pytest.approx(fitted.score_samples(X).sum(), rel=1e-12)
    assert fitted.lower_bound_ == pytest.approx(fitted.score(X), rel=1e-12)
    assert fitted.n_features_in_ == 2
    # the three clusters are found: means near the true centres
    true = np.array(datasets.THREE_GAUSSIANS_MEANS)
    assert np.max(np.min(np.linalg.norm(fitted.means_[:, None] - true[None], axis=2), axis=0)) < 0.3


def test_record_keeps_the_history(fitted):
    hist = fitted.history_
    assert len(hist.params) == len(hist.resp) == fitted.n_iter_ + 1
    np.testing.assert_array_equal(hist.params[-1].means, fitted.means_)
    assert GaussianMixture(3, random_state=0).fit(datasets.three_gaussians()).history_ is None


def test_predictions_are_the_e_step(X, fitted):
    resp, log_norm = gmm.e_step(X, gmm.GMMParams(fitted.weights_, fitted.means_, fitted.covariances_))
    np.testing.assert_array_equal(fitted.predict_proba(X), resp)
    np.testing.assert_array_equal(fitted.predict(X), resp.argmax(axis=1))
    np.testing.assert_array_equal(fitted.score_samples(X), log_norm)
    assert fitted.score(X) == pytest.approx(log_norm.mean(), rel=1e-14)
    np.testing.assert_array_equal(GaussianMixture(3, random_state=0).fit_predict(X), fitted.predict(X))


def test_bic_and_aic_count_the_free_parameters(X, fitted):
    ll = fitted.score_samples(X).sum()
    p = 3 * 3 + 3 * 2 + 2  # covariances, means, weights
    assert fitted.bic(X) == pytest.approx(-2 * ll + p * np.log(len(X)), rel=1e-14)
    assert fitted.aic(X) == pytest.approx(-2 * ll + 2 * p, rel=1e-14)
    expected = {"full": 3 * 3, "diag": 3 * 2, "spherical": 3, "tied": 3}
    for covariance_type, n_cov in expected.items():
        assert gmm.n_parameters(3, 2, covariance_type) == n_cov + 6 + 2


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_sample_is_reproducible_and_follows_the_model(X, covariance_type):
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=1).fit(X)
    Y, labels = model.sample(60000)
    Y2, labels2 = model.sample(60000)
    np.testing.assert_array_equal(Y, Y2)
    assert Y.shape == (60000, 2) and labels.shape == (60000,)
    np.testing.assert_allclose(np.bincount(labels, minlength=3) / 60000, model.weights_, atol=0.01)
    full = gmm.full_covariances(model.covariances_, 3, 2, covariance_type)
    for k in range(3):
        np.testing.assert_allclose(Y[labels == k].mean(axis=0), model.means_[k], atol=0.03)
        np.testing.assert_allclose(np.cov(Y[labels == k], rowvar=False), full[k], atol=0.05)


def test_restart_attributes(X):
    model = GaussianMixture(3, covariance_type="tied", n_init=6, init="random_from_data", random_state=0).fit(X)
    restarts = model.restarts_
    assert restarts.log_likelihoods.shape == (6,)
    assert restarts.counts.sum() == 6 and abs(restarts.optima[0] - model.objective_) <= restarts.atol
    assert restarts.log_likelihoods[restarts.best] == model.objective_


def test_explicit_initial_parameters(seed_example):
    w, m, c = seed_example.start
    model = GaussianMixture(3, reg_covar=0.0, tol=seed_example.tol, weights_init=w, means_init=m,
                            covariances_init=c).fit(seed_example.X)
    assert model.n_iter_ == seed_example.n_iter
    assert f"{model.objective_:.7f}" == seed_example.log_likelihood
    # scikit-learn's spelling: the precisions give the same fit
    again = GaussianMixture(3, reg_covar=0.0, tol=seed_example.tol, weights_init=w, means_init=m,
                            precisions_init=np.linalg.inv(c)).fit(seed_example.X)
    np.testing.assert_allclose(again.means_, model.means_, rtol=1e-12)
    with pytest.raises(ValueError, match="not both"):
        GaussianMixture(3, precisions_init=np.linalg.inv(c), covariances_init=c).fit(seed_example.X)


def test_use_before_fit_raises_not_fitted(X):
    model = GaussianMixture(3)
    for method in (model.predict, model.predict_proba, model.score_samples, model.score, model.bic, model.aic):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            method(X)
    with pytest.raises(NotFittedError):
        model.sample(3)


def test_wrong_number_of_features_at_predict(X, fitted):
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2 features"):
        fitted.predict(np.zeros((4, 3)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"covariance_type": "full-ish"}, "covariance_type"),
        ({"init": "kmeans"}, "init must be one of"),
        ({"n_init": 0}, "n_init"),
        ({"n_components": 301}, "n_components"),
        ({"reg_covar": -1.0}, "reg_covar"),
    ],
)
def test_bad_settings_raise_at_fit(X, kwargs, message):
    kwargs = {"n_components": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        GaussianMixture(**kwargs).fit(X)
