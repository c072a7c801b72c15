"""Input checks shared by the model modules: each raises ``ValueError``
naming the offending argument, so bad input never turns into NaN output."""

from __future__ import annotations

import os
import sys

import numpy as np


def as_float_2d(X, name: str = "X", *, what: str = "numeric array",
                rows: str = "n_samples", columns: str = "n_features",
                hint: str = "X.reshape(-1, 1) if it has a single feature", copy: bool = False) -> np.ndarray:
    """``X`` as a 2-D float array (a copy if ``copy``), or an error naming ``name``.

    Complex input, input NumPy cannot turn into floats and input that is not
    2-D are rejected; values are not checked (the callers' rules differ).
    """
    check_not_complex(X, name)
    try:
        X = np.array(X, dtype=float) if copy else np.asarray(X, dtype=float)
    except TypeError as exc:
        raise TypeError(f"{name} must be a {what}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{name} must be a {what}: {exc}") from None
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape ({rows}, {columns}), got {X.ndim}-D with shape "
            f"{X.shape}; Reshape your data with {hint}"
        )
    return X


def as_data_matrix(X, name: str = "X", *, allow_nan: bool = False) -> np.ndarray:
    """Return ``X`` as a float array of shape (n_samples, n_features).

    Values must be finite; with ``allow_nan=True`` NaN is allowed (it marks a
    missing value) but inf is not, and the result is always a copy, so
    callers that fill in missing values never alias the caller's array.
    The messages for complex, 1-D and empty input use scikit-learn's
    phrases, which its estimator checks look for.
    """
    X = as_float_2d(X, name, copy=allow_nan)
    check_not_empty(X.shape, name)
    check_magnitude(X, name)
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


#: Largest absolute value a data matrix may hold: squares and sums of squares
#: of larger values (variances, distances) overflow float64 (max ~1.8e308).
MAX_ABS_VALUE = 1e150


def check_magnitude(X, name: str = "X") -> None:
    """Raise if finite values of ``X`` are so large that their squares overflow."""
    with np.errstate(invalid="ignore"):
        too_large = np.abs(X) > MAX_ABS_VALUE
    if np.any(too_large & np.isfinite(X)):
        bad = np.argwhere(too_large & np.isfinite(X))[0]
        raise ValueError(
            f"{name} has a value of {X[tuple(bad)]:.3g} (first at index {tuple(int(i) for i in bad)}); "
            f"values beyond {MAX_ABS_VALUE:.0e} in absolute value overflow float64 in the squares "
            f"EM needs (variances, distances): rescale {name}, e.g. divide it by its standard deviation"
        )


def check_not_complex(X, name: str = "X") -> None:
    """Raise for complex input (which a float conversion would silently truncate)."""
    try:
        complex_input = np.iscomplexobj(X)
    except (TypeError, ValueError):
        return  # not an array at all: the conversion that follows says why
    if complex_input:
        raise ValueError(f"Complex data not supported: {name} has complex values; pass real numbers")


def check_not_empty(shape: tuple, name: str = "X") -> None:
    """Raise if a 2-D shape has no rows or no columns."""
    if shape[0] == 0:
        raise ValueError(f"{name} is empty: 0 sample(s) (shape={shape}) while a minimum of 1 is required")
    if shape[1] == 0:
        raise ValueError(f"{name} is empty: 0 feature(s) (shape={shape}) while a minimum of 1 is required.")


def check_positive_int(value, name: str, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_flag(value, name: str) -> bool:
    """``value`` as a bool, or a ``ValueError`` naming the setting (``"no"`` or None is not a flag)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def caller_stacklevel() -> int:
    """The ``stacklevel`` of :func:`warnings.warn` that names the first frame outside emtutor.

    Called from the function that warns; a warning then points at the
    user's line however many of the package's functions lie in between.
    """
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def as_rng(random_state, name: str = "random_state") -> np.random.Generator:
    """``np.random.default_rng(random_state)``, or a ``ValueError`` naming the setting."""
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be None, an int >= 0, a sequence of them, or a numpy Generator/SeedSequence, "
            f"got {random_state!r} ({exc})"
        ) from None


def check_nonnegative(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < 0:
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


def check_spd(matrix, size: int, name: str) -> np.ndarray:
    """Check one symmetric positive definite matrix of shape (size, size)."""
    matrix = check_shape(matrix, (size, size), name)
    _check_symmetric_positive_definite(matrix, name)
    return matrix


def check_spd_stack(covariances, shape: tuple, name: str) -> np.ndarray:
    """Check a stack of symmetric positive definite matrices."""
    covariances = check_shape(covariances, shape, name)
    for i, cov in enumerate(covariances):
        _check_symmetric_positive_definite(cov, f"{name}[{i}]")
    return covariances


def _check_symmetric_positive_definite(matrix, name: str) -> None:
    if not np.allclose(matrix, matrix.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(matrix).max())):
        raise ValueError(f"{name} is not symmetric")
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite") from None


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
