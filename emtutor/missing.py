"""EM for a multivariate normal with values missing in any pattern.

The data are ``X`` of shape (n_samples, n_features) with ``NaN`` marking a
missing value.  Row ``n`` splits into its observed coordinates ``o`` and
missing ones ``m``; the observed-data log-likelihood
(:eq:`missing-log-likelihood`) is a sum of Gaussian log densities of each
row's observed part.  The E-step (:func:`e_step`) fills every missing value
with its conditional mean given the row's observed values
(:eq:`missing-conditional-mean`) and adds up the conditional covariances
(:eq:`missing-conditional-cov`), the correction the second moments need; the
M-step (:func:`m_step`) is the mean and covariance of the filled-in data plus
that correction (:eq:`missing-m-mean`, :eq:`missing-m-cov`).  :func:`fit`
runs them with the generic driver :func:`emtutor.em.run_em`.

Rows are grouped by missingness pattern (:func:`group_patterns`, done once):
the matrices a pattern needs are computed once per pattern, and patterns with
the same number of missing values are handled together as one stack, so an
iteration is a handful of array operations per number of missing values,
never a Python loop over rows (nor over patterns, of which a 20-feature data
set with 20% of its values missing has tens of thousands).  The per-pattern
quantities come from the precision matrix ``Lambda = Sigma^{-1}``
(:eq:`missing-precision-identities`): the conditional covariance of ``x_m`` is
``inv(Lambda[m, m])`` and only that small ``|m| x |m|`` block is factorised.

A row with every value missing says nothing about the parameters: it adds
zero to the log-likelihood and is left out of the M-step; :func:`impute`
fills it with the mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np

from ._validation import as_data_matrix, check_positive_int, check_shape, check_spd
from .em import EMResult, run_em

__all__ = [
    "MissingNormalParams",
    "MissingExpectations",
    "PatternGroups",
    "group_patterns",
    "e_step",
    "m_step",
    "log_likelihood",
    "initial_params",
    "fit",
    "impute",
    "sample_imputations",
]

_LOG_2PI = np.log(2.0 * np.pi)


class MissingNormalParams(NamedTuple):
    """Parameters of a multivariate normal distribution.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
    covariance : ndarray of shape (n_features, n_features)
        Symmetric positive definite.
    """

    mean: np.ndarray
    covariance: np.ndarray


class MissingExpectations(NamedTuple):
    """What the E-step computes: the expected sufficient statistics.

    Attributes
    ----------
    X_hat : ndarray of shape (n_samples, n_features)
        The data with every missing value replaced by its conditional mean
        (:eq:`missing-conditional-mean`); observed values are unchanged and a
        row with nothing observed is the mean.
    cov_correction : ndarray of shape (n_features, n_features)
        ``sum_n C_n``: the conditional covariances (:eq:`missing-conditional-cov`)
        of the rows that contribute, each placed in its missing-by-missing
        block (zero elsewhere).
    """

    X_hat: np.ndarray
    cov_correction: np.ndarray


@dataclass(frozen=True)
class _CountGroup:
    """All rows with exactly ``n_missing`` missing values."""

    n_missing: int
    rows: np.ndarray  # (n_rows,) row indices into X
    missing_cols: np.ndarray  # (n_rows, n_missing) missing columns of each row, sorted
    pattern_cols: np.ndarray  # (n_patterns, n_missing) missing columns of each distinct pattern
    pattern_of_row: np.ndarray  # (n_rows,) index into pattern_cols
    pattern_counts: np.ndarray  # (n_patterns,) rows per pattern
    flat_missing: np.ndarray  # (n_rows * n_missing,) flat indices of the missing entries in X


@dataclass(frozen=True)
class PatternGroups:
    """Data with missing values, grouped by missingness pattern.

    Built once by :func:`group_patterns`; :func:`e_step`, :func:`m_step` and
    :func:`log_likelihood` accept it in place of ``X`` so that :func:`fit`
    does not regroup the rows in every iteration.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data, ``NaN`` where missing.
    missing : ndarray of shape (n_samples, n_features)
        ``True`` where ``X`` is missing.
    used : ndarray of shape (n_samples,)
        ``True`` for rows with at least one observed value (the rows that
        contribute to the likelihood and the M-step).
    n_patterns : int
        Number of distinct missingness patterns.
    """

    X: np.ndarray
    missing: np.ndarray
    used: np.ndarray
    n_patterns: int
    _filled: np.ndarray  # X with 0 where missing
    _n_observed: np.ndarray  # (n_samples,)
    _groups: tuple  # of _CountGroup, one per number of missing values in 1..n_features

    @property
    def shape(self) -> tuple:
        return self.X.shape

    @property
    def n_used(self) -> int:
        """Number of rows with at least one observed value."""
        return int(np.count_nonzero(self.used))


def group_patterns(X) -> PatternGroups:
    """Validate ``X`` and group its rows by missingness pattern.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        ``NaN`` marks a missing value.

    Returns
    -------
    PatternGroups

    Raises
    ------
    ValueError
        If ``X`` is not a non-empty numeric 2-D array, contains an infinite
        value, has a column with no observed value or with fewer than two
        distinct observed values, or has fewer than ``n_features + 1`` rows
        with at least one observed value (too few to estimate a covariance).
    """
    if isinstance(X, PatternGroups):
        return X
    data = _group_for_params(X)
    X, missing = data.X, data.missing
    n_samples, n_features = X.shape
    if n_samples < n_features + 1:
        raise ValueError(
            f"X has n_samples={n_samples} row(s); estimating the covariance of {n_features} "
            f"features needs at least {n_features + 1}"
        )
    for j in range(n_features):
        observed = X[~missing[:, j], j]
        if observed.size == 0:
            raise ValueError(
                f"column {j} of X has no observed value (every entry is NaN); "
                "drop that column, nothing can be estimated about it"
            )
        if np.unique(observed).size < 2:
            raise ValueError(
                f"column {j} of X has {observed.size} observed value(s) but fewer than "
                "two distinct ones, so its variance cannot be estimated; drop the "
                "column or collect more data"
            )
    if data.n_used < n_features + 1:
        raise ValueError(
            f"X has only {data.n_used} row(s) with at least one observed value; "
            f"estimating the covariance of {n_features} features needs at least "
            f"{n_features + 1}"
        )
    return data


def _precision(params: MissingNormalParams) -> tuple:
    """Cholesky factor ``L`` of the covariance, ``inv(L)`` and ``Lambda``."""
    try:
        chol = np.linalg.cholesky(params.covariance)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the covariance is not positive definite: the observed rows cannot "
            "pin down every variance (too few rows observe some set of variables "
            "together, or variables are collinear); drop or combine variables"
        ) from None
    chol_inv = np.tril(np.linalg.inv(chol))  # lower triangular, as inv(L) is
    precision = chol_inv.T @ chol_inv
    precision = 0.5 * (precision + precision.T)
    return chol, chol_inv, precision


def _pattern_blocks(precision: np.ndarray, group: _CountGroup) -> tuple:
    """Conditional covariances and log-determinants of one count group.

    Returns ``cond_cov`` of shape (n_patterns, k, k), ``inv(Lambda[m, m])``
    for each pattern, and ``log_det_lambda_mm`` of shape (n_patterns,).
    """
    cols = group.pattern_cols
    lambda_mm = precision[cols[:, :, None], cols[:, None, :]]
    try:
        chol_mm = np.linalg.cholesky(lambda_mm)
    except np.linalg.LinAlgError:
        raise ValueError(
            "a block of the precision matrix is not positive definite: the "
            "covariance is numerically singular"
        ) from None
    log_det = 2.0 * np.sum(np.log(np.diagonal(chol_mm, axis1=1, axis2=2)), axis=1)
    cond_cov = np.linalg.inv(lambda_mm)
    cond_cov = 0.5 * (cond_cov + np.swapaxes(cond_cov, 1, 2))
    return cond_cov, log_det


def e_step(X, params: MissingNormalParams, previous=None) -> tuple[MissingExpectations, np.ndarray]:
    """E-step: conditional means, conditional covariances, log-likelihood.

    For every row, the missing values are replaced by their conditional mean
    :eq:`missing-conditional-mean` and the conditional covariance
    :eq:`missing-conditional-cov` is added to ``cov_correction``; both are
    computed through the precision matrix as in
    :eq:`missing-precision-identities`, one stack of ``|m| x |m|`` blocks per
    number of missing values, one block per pattern.  The per-row normaliser
    is ``log N(x_o | mu_o, Sigma_oo)``, the row's term of
    :eq:`missing-log-likelihood` (zero for a row with nothing observed).

    Parameters
    ----------
    X : array of shape (n_samples, n_features) or PatternGroups
        ``NaN`` marks a missing value.
    params : MissingNormalParams
    previous : ignored
        The previous expectations (the driver hands them to every E-step);
        the exact conditional distributions do not depend on them.

    Returns
    -------
    expectations : MissingExpectations
    log_norm : ndarray of shape (n_samples,)
        ``log p(x_{n,o})`` under ``params``; its sum is the observed-data
        log-likelihood.
    """
    data = group_patterns(X)
    mean, covariance = params
    n_samples, n_features = data.shape
    chol, chol_inv, precision = _precision(params)
    log_det = 2.0 * np.sum(np.log(np.diag(chol)))

    X_hat = data.X.copy()
    cov_correction = np.zeros((n_features, n_features))
    log_det_oo = np.full(n_samples, log_det)  # log |Sigma_oo| of each row
    centred_filled = data._filled - mean
    centred_filled[data.missing] = 0.0  # z_o in the observed slots, 0 elsewhere
    lambda_z = centred_filled @ precision  # (Lambda z)[m] = Lambda_mo z_o

    for group in data._groups:
        rows, cols = group.rows, group.missing_cols
        if group.n_missing == n_features:  # nothing observed: the mean, no contribution
            X_hat[rows] = mean
            continue
        cond_cov, log_det_mm = _pattern_blocks(precision, group)
        w = lambda_z.take(group.flat_missing).reshape(cols.shape)  # Lambda_mo z_o, (n_rows, k)
        shift = np.einsum("nij,nj->ni", cond_cov[group.pattern_of_row], w)
        X_hat.put(group.flat_missing, mean[cols] - shift)
        log_det_oo[rows] += log_det_mm[group.pattern_of_row]
        weighted = group.pattern_counts[:, None, None] * cond_cov
        pc = group.pattern_cols
        np.add.at(cov_correction, (pc[:, :, None], pc[:, None, :]), weighted)

    # Mahalanobis term of the observed part: with x_m at its conditional mean,
    # (x_hat - mu)' Lambda (x_hat - mu) = (x_o - mu_o)' Sigma_oo^{-1} (x_o - mu_o).
    z = (X_hat - mean) @ chol_inv.T
    maha = np.einsum("ij,ij->i", z, z)
    log_norm = -0.5 * (data._n_observed * _LOG_2PI + log_det_oo + maha)
    log_norm[~data.used] = 0.0
    return MissingExpectations(X_hat, cov_correction), log_norm


def m_step(X, expectations: MissingExpectations, params: MissingNormalParams | None = None) -> MissingNormalParams:
    """M-step: mean and covariance from the expected sufficient statistics.

    Implements :eq:`missing-m-mean` and :eq:`missing-m-cov` over the rows with
    at least one observed value.  The covariance is computed from the centred
    filled-in data (two passes), not as ``E[x x'] - mu mu'``, so no
    cancellation spoils it when the mean is large.

    Parameters
    ----------
    X : array of shape (n_samples, n_features) or PatternGroups
    expectations : MissingExpectations
    params : MissingNormalParams, optional
        The current parameters (the driver hands them to every M-step);
        unused, as the M-step is a closed form in the expectations.

    Returns
    -------
    MissingNormalParams
    """
    data = group_patterns(X)
    X_hat = expectations.X_hat[data.used]
    n_used = len(X_hat)
    mean = X_hat.mean(axis=0)
    centred = X_hat - mean
    covariance = (centred.T @ centred + expectations.cov_correction) / n_used
    covariance = 0.5 * (covariance + covariance.T)
    return MissingNormalParams(mean, covariance)


def log_likelihood(X, params: MissingNormalParams) -> float:
    """Observed-data log-likelihood :eq:`missing-log-likelihood`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features) or PatternGroups
        ``NaN`` marks a missing value.
    params : MissingNormalParams

    Returns
    -------
    float
        ``sum_n log N(x_{n,o} | mu_o, Sigma_oo)`` over the rows with at least
        one observed value.
    """
    data = group_patterns(X)
    params = _check_params(params, data.shape[1])
    return float(np.sum(e_step(data, params)[1]))


def initial_params(X) -> MissingNormalParams:
    """Starting point of :func:`fit`: observed means, diagonal observed variances.

    Parameters
    ----------
    X : array of shape (n_samples, n_features) or PatternGroups

    Returns
    -------
    MissingNormalParams
        ``mean[j]`` is the mean of the observed values of column ``j`` and
        ``covariance`` is diagonal with their (divide-by-count) variances.
    """
    data = group_patterns(X)
    observed = np.where(data.missing, np.nan, data.X)
    mean = np.nanmean(observed, axis=0)
    return MissingNormalParams(mean, np.diag(np.nanvar(observed, axis=0)))


def fit(
    X,
    *,
    mean=None,
    covariance=None,
    tol: float = 1e-4,
    max_iter: int = 1000,
    record: bool = False,
) -> EMResult:
    """Maximum-likelihood mean and covariance of ``X`` with missing values, by EM.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        ``NaN`` marks a missing value; any pattern is allowed.
    mean : array of shape (n_features,), optional
        Initial mean; default the observed mean of each column.
    covariance : array of shape (n_features, n_features), optional
        Initial covariance; default diagonal with each column's observed
        variance.
    tol : float, default 1e-4
        Stop when the observed-data log-likelihood *per row* changes by
        less than ``tol`` (checked from the second iteration on; see
        :func:`emtutor.em.run_em`).
    max_iter : int, default 1000
        EM slows down as the fraction of missing information grows, so the
        default is larger than for mixtures.
    record : bool, default False
        Keep every iteration's parameters and expectations.

    Returns
    -------
    EMResult
        ``result.mean``, ``result.covariance``, ``result.objectives`` (the
        observed-data log-likelihood after every iteration),
        ``result.n_iter``, ``result.converged``, ``result.expectations``
        (whose ``X_hat`` is the data imputed with the final parameters).

    Raises
    ------
    ValueError
        For bad ``X`` (see :func:`group_patterns`), initial parameters of the
        wrong shape or not symmetric positive definite, or a covariance that
        becomes singular.

    Examples
    --------
    >>> import numpy as np
    >>> from emtutor import missing
    >>> X = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 4.0], [np.nan, 1.0]])
    >>> result = missing.fit(X, tol=1e-12)
    >>> result.mean.shape, result.covariance.shape
    ((2,), (2, 2))
    """
    data = group_patterns(X)
    n_samples, n_features = data.shape
    default = initial_params(data)
    params = _check_params(
        MissingNormalParams(
            default.mean if mean is None else mean,
            default.covariance if covariance is None else covariance,
        ),
        n_features,
    )
    return run_em(data, params, e_step=e_step, m_step=m_step, n_observations=n_samples, tol=tol, max_iter=max_iter,
                  record=record)


def impute(X, params: MissingNormalParams) -> np.ndarray:
    """Fill each missing value with its conditional mean :eq:`missing-conditional-mean`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        ``NaN`` marks a missing value.
    params : MissingNormalParams

    Returns
    -------
    X_imputed : ndarray of shape (n_samples, n_features)
        Observed values unchanged; a row with nothing observed is ``mean``.
    """
    data = _group_for_params(X)
    params = _check_params(params, data.shape[1])
    return e_step(data, params)[0].X_hat


def sample_imputations(X, params: MissingNormalParams, n_imputations: int = 5, random_state=None) -> np.ndarray:
    """Draw the missing values from their conditional distribution.

    Each missing block is drawn from ``N(x_hat_m, C)`` with the conditional
    mean :eq:`missing-conditional-mean` and covariance
    :eq:`missing-conditional-cov` (a row with nothing observed from
    ``N(mean, covariance)``).  These are the draws of multiple imputation
    *given* ``params``; for proper multiple imputation, draw ``params`` too
    (e.g. refit on a bootstrap resample for each imputation).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        ``NaN`` marks a missing value.
    params : MissingNormalParams
    n_imputations : int, default 5
    random_state : int, numpy Generator or None

    Returns
    -------
    imputations : ndarray of shape (n_imputations, n_samples, n_features)
        Observed values unchanged in every imputation.
    """
    data = _group_for_params(X)
    params = _check_params(params, data.shape[1])
    n_imputations = check_positive_int(n_imputations, "n_imputations")
    rng = np.random.default_rng(random_state)
    X_hat = e_step(data, params)[0].X_hat
    _, _, precision = _precision(params)
    out = np.repeat(X_hat[None], n_imputations, axis=0)
    for group in data._groups:
        cond_cov, _ = _pattern_blocks(precision, group)
        chol = np.linalg.cholesky(cond_cov)[group.pattern_of_row]  # (n_rows, k, k)
        noise = rng.standard_normal((n_imputations, len(group.rows), group.n_missing))
        draws = np.einsum("nij,snj->sni", chol, noise)
        rows, cols = group.rows, group.missing_cols
        out[:, rows[:, None], cols] += draws
    return out


def _group_for_params(X) -> PatternGroups:
    """Validate ``X`` as data and group its rows by pattern, without the
    checks that estimation needs (imputing with given parameters does not)."""
    if isinstance(X, PatternGroups):
        return X
    X = as_data_matrix(X, allow_nan=True)
    n_samples, n_features = X.shape
    missing = np.isnan(X)
    n_missing = missing.sum(axis=1)
    groups = []
    n_patterns = 0
    for k in np.unique(n_missing):
        k = int(k)
        rows = np.flatnonzero(n_missing == k)
        if k == 0:
            n_patterns += 1
            continue
        missing_cols = np.nonzero(missing[rows])[1].reshape(len(rows), k)
        pattern_cols, pattern_of_row, counts = np.unique(
            missing_cols, axis=0, return_inverse=True, return_counts=True
        )
        n_patterns += len(pattern_cols)
        flat = (rows[:, None] * n_features + missing_cols).reshape(-1)
        groups.append(
            _CountGroup(k, rows, missing_cols, pattern_cols, pattern_of_row.reshape(-1), counts, flat)
        )
    return PatternGroups(
        X=X,
        missing=missing,
        used=n_missing < n_features,
        n_patterns=n_patterns,
        _filled=np.where(missing, 0.0, X),
        _n_observed=n_features - n_missing,
        _groups=tuple(groups),
    )


def _check_params(params, n_features: int) -> MissingNormalParams:
    mean = check_shape(params[0], (n_features,), "mean")
    covariance = check_spd(params[1], n_features, "covariance")
    return MissingNormalParams(mean, covariance)
