"""Conventions every emtutor estimator shares, checked with scikit-learn itself.

scikit-learn is a test dependency only: emtutor implements the estimator
protocol (get_params/set_params, tags, fitted checks) without importing it.
"""

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import emtutor
from emtutor import NotFittedError, datasets, estimators

X_REAL = np.random.default_rng(0).normal(size=(20, 2))
X_SYMBOLS = np.random.default_rng(0).integers(0, 3, size=(20, 1))
X_COUNTS = np.random.default_rng(0).integers(0, 5, size=(6, 8))
X_BINARY = (np.random.default_rng(0).random((20, 5)) < 0.4).astype(float)

ESTIMATORS = [
    (emtutor.GaussianMixture(2), "predict", X_REAL),
    (emtutor.BernoulliMixture(2), "predict", X_BINARY),
    (emtutor.BayesianGaussianMixture(2), "predict", X_REAL),
    (emtutor.FactorAnalysis(1), "transform", X_REAL),
    (emtutor.ProbabilisticPCA(1), "transform", X_REAL),
    (emtutor.CategoricalHMM(2), "predict", X_SYMBOLS),
    (emtutor.GaussianHMM(2), "predict", X_REAL),
    (emtutor.MissingNormal(), "transform", X_REAL),
    (emtutor.LatentDirichletAllocation(2), "transform", X_COUNTS),
    (emtutor.StudentTMixture(2), "predict", X_REAL),
]
IDS = [type(e).__name__ for e, _, _ in ESTIMATORS]


def test_every_estimator_is_listed_here():
    assert sorted(IDS) == sorted(estimators.__all__)


@pytest.mark.parametrize("estimator, method, X", ESTIMATORS, ids=IDS)
def test_using_an_unfitted_estimator_raises_not_fitted_error(estimator, method, X):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(estimator, method)(X)
    # once scikit-learn is imported (as here), the error is its NotFittedError too
    with pytest.raises(SklearnNotFittedError):
        getattr(estimator, method)(X)


@pytest.mark.parametrize("estimator, method, X", ESTIMATORS, ids=IDS)
def test_clone_get_params_set_params(estimator, method, X):
    params = estimator.get_params()
    assert params and all(getattr(estimator, name) is value for name, value in params.items())
    changed = clone(estimator).set_params(random_state=7, tol=1e-3, max_iter=50)
    copy = clone(changed)
    assert copy is not changed and type(copy) is type(changed)
    assert copy.get_params() == changed.get_params()
    assert "random_state=7" in repr(copy)
    # the fitted model clones to an unfitted one with the same settings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
        fitted = clone(estimator).fit(X)
    assert not hasattr(clone(fitted), "n_iter_")
    with pytest.raises(ValueError, match="invalid parameter 'n_topics'"):
        clone(estimator).set_params(n_topics=3)
    # and a fitted estimator survives pickling
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(getattr(again, method)(X), getattr(fitted, method)(X))


@pytest.mark.parametrize("estimator, method, X", ESTIMATORS, ids=IDS)
def test_common_fitted_attributes_and_record(estimator, method, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
        plain = clone(estimator).fit(X)
        recorded = clone(estimator).set_params(record=True).fit(X)
    assert plain.history_ is None
    assert len(recorded.history_.params) == recorded.n_iter_ + 1
    for model in (plain, recorded):
        assert model.n_features_in_ == (1 if isinstance(model, emtutor.CategoricalHMM) else X.shape[1])
        assert len(model.objectives_) == model.n_iter_ and model.objective_ == model.objectives_[-1]
        assert isinstance(model.converged_, bool)
        assert type(model.params_).__name__.endswith("Params")


@pytest.mark.parametrize("estimator", [e for e, _, _ in ESTIMATORS if hasattr(e, "sample")],
                         ids=lambda e: type(e).__name__)
def test_sample_reuses_random_state(estimator):
    X = {emtutor.CategoricalHMM: X_SYMBOLS, emtutor.BernoulliMixture: X_BINARY}.get(type(estimator), X_REAL)
    model = clone(estimator).set_params(random_state=3).fit(X)
    first, second = model.sample(50), model.sample(50)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_fit_accepts_y_and_ignores_it():
    """LatentDirichletAllocation().fit(X, y) used to fail with "ambiguous truth value"."""
    y = np.arange(len(X_COUNTS))
    a = emtutor.LatentDirichletAllocation(2, random_state=0).fit(X_COUNTS, y)
    b = emtutor.LatentDirichletAllocation(2, random_state=0).fit(X_COUNTS)
    np.testing.assert_array_equal(a.components_, b.components_)
    for model in (emtutor.GaussianMixture(2, random_state=0), emtutor.MissingNormal()):
        np.testing.assert_array_equal(clone(model).fit(X_REAL, y[:1].repeat(20)).params_[1],
                                      clone(model).fit(X_REAL).params_[1])


CHECKED = [emtutor.GaussianMixture(), emtutor.LatentDirichletAllocation(2), emtutor.MissingNormal(),
           emtutor.FactorAnalysis(), emtutor.ProbabilisticPCA(),
           emtutor.StudentTMixture()]

# The checks scikit-learn skips, with the reason.  None is skipped by emtutor.
EXPECTED_SKIPS = {
    "check_array_api_input": (
        "scikit-learn skips it unless SCIPY_ARRAY_API=1 is set before SciPy is first imported, which "
        "would change SciPy for the whole test session; "
        "test_array_api_check_in_a_fresh_interpreter runs it with the variable set"
    ),
}


# The only warning silenced is scikit-learn's note that the estimators do not
# inherit from sklearn.base.BaseEstimator: emtutor implements the protocol
# itself so that it never imports scikit-learn at run time.
@pytest.mark.parametrize("estimator", CHECKED, ids=lambda e: type(e).__name__)
@pytest.mark.filterwarnings("ignore:Estimator .* does not inherit from `sklearn.base.BaseEstimator`")
@pytest.mark.filterwarnings("ignore::emtutor.ConvergenceWarning")
def test_check_estimator_passes(estimator):
    results = check_estimator(estimator, on_fail=None, on_skip=None)
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert not failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= set(EXPECTED_SKIPS), skipped - set(EXPECTED_SKIPS)
    assert len(results) - len(skipped) >= 40


def test_array_api_check_in_a_fresh_interpreter():
    script = (
        "import warnings\n"
        "from sklearn.utils.estimator_checks import check_estimator\n"
        "import emtutor\n"
        "for e in (emtutor.GaussianMixture(), emtutor.LatentDirichletAllocation(2), emtutor.MissingNormal()):\n"
        "    with warnings.catch_warnings():\n"
        "        warnings.simplefilter('ignore')\n"
        "        results = check_estimator(e, on_fail=None, on_skip=None)\n"
        "    [r] = [r for r in results if r['check_name'] == 'check_array_api_input']\n"
        "    print(type(e).__name__, r['status'], r['exception'])\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[:2] == ["GaussianMixture passed None", "LatentDirichletAllocation passed None"]
    # The check fits make_classification(n_features=10) data, some of whose
    # features are linear combinations of others: the normal's maximum-
    # likelihood covariance is singular, and MissingNormal says so (naming the
    # collinear variables and reg_covar, the ridge that gives a maximum) rather
    # than return one.  The variance it quotes is rounding, so not compared.
    assert len(lines) == 3 and lines[2].startswith("MissingNormal failed the covariance has become singular")
    assert "are (nearly) collinear" in lines[2] and "reg_covar > 0" in lines[2]


def test_grid_search_selects_n_components_inside_a_pipeline():
    X = datasets.three_gaussians()
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("mixture", emtutor.GaussianMixture(n_init=5, random_state=0))])  # restarts: no poor local optimum
    # the data come cluster by cluster: shuffle, or a fold would hold out a whole cluster
    search = GridSearchCV(pipeline, {"mixture__n_components": [1, 2, 3, 4]},
                          cv=KFold(3, shuffle=True, random_state=0))
    search.fit(X)  # scored by GaussianMixture.score: the held-out log-likelihood per sample
    assert search.best_params_ == {"mixture__n_components": 3}
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] > scores[1] > scores[0] and scores[2] > scores[3]  # the true number scores best
    assert search.best_estimator_.named_steps["mixture"].n_components == 3


@pytest.mark.parametrize(
    "estimator, X, validators",
    [
        (emtutor.GaussianMixture(2, random_state=0), X_REAL, ["estimators.as_data_matrix", "gmm.as_data_matrix"]),
        (emtutor.GaussianHMM(2, random_state=0), X_REAL, ["hmm.as_data_matrix", "gmm.as_data_matrix"]),
        (emtutor.MissingNormal(), X_REAL, ["missing.as_data_matrix"]),
        (emtutor.LatentDirichletAllocation(2, random_state=0), X_COUNTS, ["lda.as_count_matrix"]),
        (emtutor.StudentTMixture(2, random_state=0), X_REAL, ["estimators.as_data_matrix", "tmix.as_data_matrix"]),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, (list, np.ndarray)) else "",
)
def test_fit_validates_X_once(estimator, X, validators, monkeypatch):
    """X is checked at the public boundary only; the model's helpers trust it
    (GaussianMixture.fit used to check it five times)."""
    calls = []
    for dotted in validators:
        module_name, name = dotted.split(".")
        module = getattr(emtutor, module_name)
        original = getattr(module, name)

        def counting(*args, _original=original, **kwargs):
            calls.append(1)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emtutor.ConvergenceWarning)
        clone(estimator).fit(X)
    assert len(calls) == 1
