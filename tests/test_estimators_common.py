"""Conventions every emtutor estimator shares."""

import numpy as np
import pytest

import emtutor
from emtutor import NotFittedError

X_REAL = np.random.default_rng(0).normal(size=(20, 2))
X_SYMBOLS = np.random.default_rng(0).integers(0, 3, size=(20, 1))
X_COUNTS = np.random.default_rng(0).integers(0, 5, size=(6, 8))


@pytest.mark.parametrize(
    "estimator, method, X",
    [
        (emtutor.GaussianMixture(2), "predict", X_REAL),
        (emtutor.CategoricalHMM(2), "predict", X_SYMBOLS),
        (emtutor.GaussianHMM(2), "predict", X_REAL),
        (emtutor.MissingNormal(), "transform", X_REAL),
        (emtutor.LatentDirichletAllocation(2), "transform", X_COUNTS),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, (str, np.ndarray)) else "",
)
def test_using_an_unfitted_estimator_raises_not_fitted_error(estimator, method, X):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(estimator, method)(X)
    # NotFittedError is a ValueError, as the package's other input errors are
    assert issubclass(NotFittedError, ValueError)
