"""Input checks shared by the model modules: each raises ``ValueError``
naming the offending argument, so bad input never turns into NaN output."""

from __future__ import annotations

import numpy as np


def as_data_matrix(X, name: str = "X", *, allow_nan: bool = False) -> np.ndarray:
    """Return ``X`` as a float array of shape (n_samples, n_features).

    Values must be finite; with ``allow_nan=True`` NaN is allowed (it marks a
    missing value) but inf is not, and the result is always a copy, so
    callers that fill in missing values never alias the caller's array.
    """
    try:
        X = np.array(X, dtype=float) if allow_nan else np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from None
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got {X.ndim}-D "
            f"with shape {X.shape}; reshape a single feature with X.reshape(-1, 1)"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    bad_values = np.isinf(X) if allow_nan else ~np.isfinite(X)
    if np.any(bad_values):
        bad = np.argwhere(bad_values)[0]
        if allow_nan:
            raise ValueError(
                f"{name} contains inf (first at row {bad[0]}, column {bad[1]}); only NaN "
                "marks a missing value"
            )
        raise ValueError(
            f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]}); "
            "remove or impute those values first"
        )
    return X


def check_positive_int(value, name: str, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_nonnegative(value, name: str) -> float:
    if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_shape(array, shape: tuple, name: str) -> np.ndarray:
    try:
        array = np.asarray(array, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from None
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


def check_probability_vector(p, size: int, name: str, atol: float = 1e-8) -> np.ndarray:
    p = check_shape(p, (size,), name)
    if np.any(p < 0):
        raise ValueError(f"{name} must be non-negative, got {p}")
    if abs(p.sum() - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1, got sum {p.sum()!r}")
    return p


def check_spd_stack(covariances, shape: tuple, name: str) -> np.ndarray:
    """Check a stack of symmetric positive definite matrices."""
    covariances = check_shape(covariances, shape, name)
    for i, cov in enumerate(covariances):
        if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(cov).max())):
            raise ValueError(f"{name}[{i}] is not symmetric")
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(f"{name}[{i}] is not positive definite") from None
    return covariances


def check_stochastic_matrix(matrix, shape: tuple, name: str, atol: float = 1e-8) -> np.ndarray:
    """Check a matrix whose rows are probability distributions."""
    matrix = check_shape(matrix, shape, name)
    if np.any(matrix < 0):
        i, j = np.argwhere(matrix < 0)[0]
        raise ValueError(f"{name} must be non-negative, got {name}[{i}, {j}] = {matrix[i, j]!r}")
    sums = matrix.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if len(bad):
        raise ValueError(f"every row of {name} must sum to 1, but row {bad[0]} sums to {sums[bad[0]]!r}")
    return matrix
