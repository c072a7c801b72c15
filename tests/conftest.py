from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from emtutor import datasets, gmm

# Deterministic property tests: the same examples on every run and in CI.
settings.register_profile(
    "emtutor", deadline=None, derandomize=True, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("emtutor")


@pytest.fixture
def rng():
    """A fresh, explicitly seeded generator for each test."""
    return np.random.default_rng(20261125)


class SeedExample(NamedTuple):
    """The three-Gaussian seed example and what EM reaches from the tutorial's start."""

    X: np.ndarray
    start: object  # emtutor.gmm.GMMParams
    tol: float  # emtutor's per-sample tol equivalent to the tutorial's total threshold
    n_iter: int
    log_likelihood: str  # printed with 7 decimals
    weights: str  # as NumPy prints them by default
    means: str
    covariances: str


@pytest.fixture(scope="session")
def seed_example():
    """The seed example's published numbers, kept in this one place.

    Source: the chapter ``book/three_gaussians.ipynb``, section "A first
    implementation": a plain NumPy/SciPy EM loop written independently of
    emtutor (densities from ``scipy.stats.multivariate_normal``, one loop per
    component), run on the classic tutorial's data (``np.random.seed(42)``,
    three clusters of 100 points, initial means at rows 79, 12 and 204,
    uniform weights, identity covariances, no regularisation) with the
    tutorial's stopping rule: stop once the *total* log-likelihood changes by
    less than 1e-4, from the second iteration on.  It printed these numbers,
    which are the tutorial's.  emtutor's ``tol`` is per sample, so the same
    rule is ``tol = 1e-4 / 300``.
    """
    X, weights, means, covariances = datasets.three_gaussians_init()
    return SeedExample(
        X=X,
        start=gmm.GMMParams(weights, means, covariances),
        tol=1e-4 / len(X),
        n_iter=41,
        log_likelihood="-1146.1036342",
        weights="[0.33897411 0.32778969 0.3332362 ]",
        means="[[-0.05306686  4.80730254]\n [-0.11766118 -0.00522756]\n [ 5.13881385  5.06920179]]",
        covariances=(
            "[[[ 0.97884739  0.01651067]\n  [ 0.01651067  0.99516519]]\n\n"
            " [[ 0.73668391  0.02409119]\n  [ 0.02409119  0.9102382 ]]\n\n"
            " [[ 1.01449867 -0.15134066]\n  [-0.15134066  0.86954933]]]"
        ),
    )
