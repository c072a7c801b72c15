"""Data sets used in the book, generated exactly as the chapters describe."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["three_gaussians", "three_gaussians_init", "THREE_GAUSSIANS_MEANS"]

#: Means of the three components of :func:`three_gaussians`, in drawing order.
THREE_GAUSSIANS_MEANS = ((0.0, 0.0), (5.0, 5.0), (0.0, 5.0))


def three_gaussians() -> np.ndarray:
    """The classic three-Gaussian example: 300 points in the plane.

    Reproduces, bit for bit, the data of the original tutorial: seed NumPy's
    legacy global generator with 42, then for each mean in
    ``[[0, 0], [5, 5], [0, 5]]`` draw 100 points with
    ``np.random.multivariate_normal(mean, np.eye(2), 100)`` and stack them.

    The legacy global generator is used through a private
    ``np.random.RandomState(42)``, which produces the same stream, so
    calling this function does not reseed the caller's global generator.

    Returns
    -------
    X : ndarray of shape (300, 2)
    """
    return three_gaussians_init()[0]


def three_gaussians_init(n_components: int = 3):
    """The example's data and the tutorial's initial parameters.

    The initial parameters are drawn from the same stream right after the
    data: uniform weights, means at ``n_components`` distinct rows chosen
    by ``choice(n, n_components, replace=False)`` (rows 79, 12 and 204 for
    three components), identity covariances.

    Returns
    -------
    X : ndarray of shape (300, 2)
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, 2)
    covariances : ndarray of shape (n_components, 2, 2)
    """
    rng = np.random.RandomState(42)  # same stream as np.random.seed(42)
    X = np.vstack([rng.multivariate_normal(mean, np.eye(2), 100) for mean in THREE_GAUSSIANS_MEANS])
    weights = np.full(n_components, 1.0 / n_components)
    means = X[rng.choice(len(X), n_components, False)]
    covariances = np.repeat(np.eye(2)[None], n_components, axis=0)
    return X, weights, means, covariances


def data_path(name: str) -> Path:
    """Path of a data file shipped with the book (``book/data/<name>``)."""
    return Path(__file__).resolve().parent.parent / "book" / "data" / name
