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
set with 20% of its values missing has tens of thousands).  Each pattern's
quantities come from the Cholesky factor of its observed block
``Sigma_oo`` (one batched call per number of missing values), as in
:eq:`missing-conditional-mean` and :eq:`missing-conditional-cov`.  (The
precision identities :eq:`missing-precision-identities` would need only the
smaller ``|m| x |m|`` blocks of ``Lambda = Sigma^{-1}``, but they subtract
numbers of size ``1 / lambda_min(Sigma)``: once ``Sigma`` is ill-conditioned,
as it is near a collinear maximum or when EM drifts towards a singular
covariance, they lose every digit of the log-likelihood.)

Where the observed-data likelihood has no maximum with a positive definite
covariance (some set of variables is observed together in too few rows, or
the observed values are collinear), EM drives the covariance towards a
singular matrix and the likelihood grows without bound; :func:`m_step`
then raises a ``ValueError`` that names those variables.  ``reg_covar``, the
same setting as in :func:`emtutor.gmm.fit`, adds ``reg_covar * I`` to the
covariance of every M-step and so gives the fit a maximum.

A row with every value missing says nothing about the parameters: it adds
zero to the log-likelihood and is left out of the M-step; :func:`impute`
fills it with the mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple

import numpy as np

from ._validation import (as_data_matrix, as_rng, check_nonnegative, check_positive_int, check_shape,
                          check_spd)
from .em import EMResult, run_em

__all__ = [
    "MissingNormalParams",
    "MissingExpectations",
    "PatternGroups",
    "group_patterns",
    "e_step",
    "m_step",
    "m_step_from_statistics",
    "log_likelihood",
    "regularisation_slack",
    "initial_params",
    "fit",
    "impute",
    "sample_imputations",
    "check_params",
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
    observed_cols: np.ndarray  # (n_patterns, n_features - n_missing) observed columns of each pattern, sorted
    pattern_of_row: np.ndarray  # (n_rows,) index into pattern_cols
    pattern_counts: np.ndarray  # (n_patterns,) rows per pattern
    flat_missing: np.ndarray  # (n_rows * n_missing,) flat indices of the missing entries in X
    flat_observed: np.ndarray  # (n_rows, n_features - n_missing) flat indices of the observed entries in X


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
    _groups: tuple  # of _CountGroup, one per number of missing values in 0..n_features

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
    observed = [X[~missing[:, j], j] for j in range(X.shape[1])]
    _check_estimable(X.shape, [column.size for column in observed],
                     [np.unique(column).size >= 2 for column in observed], data.n_used)
    return data


def _check_estimable(shape, n_observed, two_distinct, n_used) -> None:
    """Raise unless a covariance can be estimated: the checks of :func:`group_patterns`.

    ``n_observed[j]`` is the number of observed values of column ``j``,
    ``two_distinct[j]`` whether they take at least two values, ``n_used`` the
    number of rows with at least one observed value.
    """
    n_samples, n_features = shape
    if n_samples < n_features + 1:
        raise ValueError(
            f"X has n_samples={n_samples} row(s); estimating the covariance of {n_features} "
            f"features needs at least {n_features + 1}"
        )
    for j in range(n_features):
        if n_observed[j] == 0:
            raise ValueError(
                f"column {j} of X has no observed value (every entry is NaN); "
                "drop that column, nothing can be estimated about it"
            )
        if not two_distinct[j]:
            raise ValueError(
                f"column {j} of X has {n_observed[j]} observed value(s) but fewer than "
                "two distinct ones, so its variance cannot be estimated; drop the "
                "column or collect more data"
            )
    if n_used < n_features + 1:
        raise ValueError(
            f"X has only {n_used} row(s) with at least one observed value; "
            f"estimating the covariance of {n_features} features needs at least "
            f"{n_features + 1}"
        )


def _cholesky(covariance: np.ndarray, what: str) -> np.ndarray:
    """Lower Cholesky factor(s) of ``covariance``, or a ``ValueError`` saying ``what`` is singular."""
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{what} is not positive definite (numerically singular): the observed rows "
            "cannot pin down every variance (too few rows observe some set of variables "
            "together, or variables are collinear); pass reg_covar > 0 (e.g. 1e-6) or drop "
            "or combine variables"
        ) from None


def _pattern_blocks(covariance: np.ndarray, group: _CountGroup) -> tuple:
    """What the rows of one count group need, one stack entry per pattern.

    With ``L`` the Cholesky factor of the observed block ``Sigma_oo``:
    ``chol_inv = inv(L)`` of shape (n_patterns, q, q), ``gain =
    Sigma_mo inv(L)'`` of shape (n_patterns, k, q) (so the conditional mean
    :eq:`missing-conditional-mean` is ``mu_m + gain @ inv(L) (x_o - mu_o)``),
    the conditional covariance :eq:`missing-conditional-cov`
    ``Sigma_mm - gain gain'`` of shape (n_patterns, k, k), and
    ``log |Sigma_oo|`` of shape (n_patterns,); ``q`` and ``k`` are the numbers
    of observed and missing values.
    """
    obs, mis = group.observed_cols, group.pattern_cols
    sigma_oo = covariance[obs[:, :, None], obs[:, None, :]]
    chol = _cholesky(sigma_oo, "the covariance of the observed variables of some rows")
    log_det = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
    chol_inv = np.tril(np.linalg.inv(chol))
    gain = covariance[mis[:, :, None], obs[:, None, :]] @ np.swapaxes(chol_inv, 1, 2)
    cond_cov = covariance[mis[:, :, None], mis[:, None, :]] - gain @ np.swapaxes(gain, 1, 2)
    cond_cov = 0.5 * (cond_cov + np.swapaxes(cond_cov, 1, 2))
    return chol_inv, gain, cond_cov, log_det


#: Floats per temporary (per-row copies of a pattern's matrices) in the E-step.
_BLOCK_FLOATS = 2**16


def _whiten_rows(chol_inv, gain, pattern_of_row, z) -> tuple:
    """Per row: ``y = inv(L_p) z`` (whose squared norm is the Mahalanobis term) and
    ``gain_p @ y`` (the conditional mean's shift), in blocks of rows."""
    n_rows, q = z.shape
    k = gain.shape[1]
    y = np.empty_like(z)
    shift = np.empty((n_rows, k))
    step = max(1, _BLOCK_FLOATS // (q * (q + k)))
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        p = pattern_of_row[rows]
        y[rows] = np.matmul(chol_inv[p], z[rows, :, None])[..., 0]
        shift[rows] = np.matmul(gain[p], y[rows, :, None])[..., 0]
    return y, shift


def e_step(X, params: MissingNormalParams, previous=None) -> tuple[MissingExpectations, np.ndarray]:
    """E-step: conditional means, conditional covariances, log-likelihood.

    For every row, the missing values are replaced by their conditional mean
    :eq:`missing-conditional-mean` and the conditional covariance
    :eq:`missing-conditional-cov` is added to ``cov_correction``; both come
    from the Cholesky factor of the observed block ``Sigma_oo``, one stack
    of blocks per number of missing values, one block per pattern.  The
    per-row normaliser is ``log N(x_o | mu_o, Sigma_oo)``, the row's term of
    :eq:`missing-log-likelihood` (zero for a row with nothing observed),
    computed from the same factor, so it keeps its digits when ``Sigma`` is
    ill-conditioned.

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
    X_hat = data.X.copy()
    cov_correction = np.zeros((n_features, n_features))
    log_norm = np.zeros(n_samples)
    for group in data._groups:
        rows, k = group.rows, group.n_missing
        if k == n_features:  # nothing observed: the mean, no contribution
            X_hat[rows] = mean
            continue
        chol_inv, gain, cond_cov, log_det = _pattern_blocks(covariance, group)
        obs_of_row = group.observed_cols[group.pattern_of_row]  # (n_rows, q)
        z = data.X.take(group.flat_observed) - mean[obs_of_row]  # x_o - mu_o
        y, shift = _whiten_rows(chol_inv, gain, group.pattern_of_row, z)
        log_norm[rows] = -0.5 * ((n_features - k) * _LOG_2PI + log_det[group.pattern_of_row]
                                 + np.einsum("ij,ij->i", y, y))
        if k:
            X_hat.put(group.flat_missing, mean[group.missing_cols] + shift)
            pc = group.pattern_cols
            weighted = group.pattern_counts[:, None, None] * cond_cov
            np.add.at(cov_correction, (pc[:, :, None], pc[:, None, :]), weighted)
    return MissingExpectations(X_hat, cov_correction), log_norm


def m_step(X, expectations: MissingExpectations, params: MissingNormalParams | None = None, *,
           reg_covar: float = 0.0) -> MissingNormalParams:
    """M-step: mean and covariance from the expected sufficient statistics.

    Implements :eq:`missing-m-mean` and :eq:`missing-m-cov` over the rows with
    at least one observed value, then adds ``reg_covar`` to the diagonal of
    the covariance.  The covariance is computed from the centred filled-in
    data (two passes), not as ``E[x x'] - mu mu'``, so no cancellation spoils
    it when the mean is large.

    Parameters
    ----------
    X : array of shape (n_samples, n_features) or PatternGroups
    expectations : MissingExpectations
    params : MissingNormalParams, optional
        The current parameters (the driver hands them to every M-step);
        unused, as the M-step is a closed form in the expectations.
    reg_covar : float, default 0
        Added to the diagonal of the covariance after the division by the
        number of rows (the meaning it has in :func:`emtutor.gmm.fit`).

    Returns
    -------
    MissingNormalParams

    Raises
    ------
    ValueError
        If the covariance is numerically singular (its correlation matrix
        has an eigenvalue within rounding of zero): the observed-data
        likelihood then has no maximum with a positive definite covariance.
        The message names the variables involved and how many rows observe
        them together.
    """
    data = group_patterns(X)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    X_hat = expectations.X_hat[data.used]
    n_used = len(X_hat)
    mean = X_hat.mean(axis=0)
    centred = X_hat - mean
    return m_step_from_statistics(n_used, mean, centred.T @ centred, expectations.cov_correction,
                                  reg_covar=reg_covar, rows_observing=partial(_rows_observing, data.missing))


def m_step_from_statistics(n_used, mean, scatter, cov_correction, *, reg_covar: float = 0.0,
                           rows_observing: Callable) -> MissingNormalParams:
    """The M-step's parameters from its summed statistics (:eq:`mr-m-step`).

    :eq:`missing-m-cov` from ``n_used`` (the rows with an observed value),
    their filled-in mean ``mean``, the scatter ``sum_n (x_hat_n - mean)(x_hat_n
    - mean)^T`` about it and ``cov_correction`` (``sum_n C_n``), plus
    ``reg_covar`` on the diagonal; shared by :func:`m_step` and
    :mod:`emtutor.mapreduce`.  ``rows_observing(columns)`` counts the rows
    that observe all of ``columns`` (asked only for the error message of a
    singular covariance).
    """
    covariance = (scatter + cov_correction) / n_used
    covariance = 0.5 * (covariance + covariance.T)
    covariance.flat[:: len(covariance) + 1] += reg_covar
    _check_not_singular(covariance, rows_observing, reg_covar)
    return MissingNormalParams(mean, covariance)


def _rows_observing(missing, columns) -> int:
    return int(np.count_nonzero(np.all(~missing[:, columns], axis=1)))


def _check_not_singular(covariance: np.ndarray, rows_observing: Callable, reg_covar: float) -> None:
    """Raise if ``covariance`` is singular up to the rounding of its computation.

    The check is on the correlation matrix, so it does not depend on the
    units of the variables: an eigenvalue below ``_SINGULAR_RTOL * n_features``
    is rounding noise of the M-step's sums.  The eigenvector says which
    variables are (nearly) linearly dependent; if fewer than ``|S| + 1`` rows
    observe that set ``S`` together, any ``|S|`` of them lie on a hyperplane
    and the likelihood grows without bound as the covariance flattens onto it.
    """
    n_features = len(covariance)
    scale = np.sqrt(np.diag(covariance))
    if np.all(scale > 0):
        eigenvalues, eigenvectors = np.linalg.eigh(covariance / scale[:, None] / scale[None, :])
        if eigenvalues[0] > _SINGULAR_RTOL * n_features:
            return
        direction = eigenvectors[:, 0]
        involved = np.flatnonzero(np.abs(direction) >= 1e-4)  # the rest is rounding
        smallest = f"the standardised combination of variables {involved.tolist()} has variance {eigenvalues[0]:.1e}"
    else:
        involved = np.flatnonzero(scale <= 0)
        smallest = f"variables {involved.tolist()} have variance 0"
    together = rows_observing(involved)
    if together <= len(involved):
        why = (f"variables {involved.tolist()} are observed together in only {together} row(s), fewer than "
               f"the {len(involved) + 1} needed to estimate their joint covariance")
    else:
        why = f"the observed values of variables {involved.tolist()} are (nearly) collinear"
    remedy = (f"increase reg_covar (now {reg_covar:g})" if reg_covar > 0 else
              "pass reg_covar > 0 (e.g. 1e-6; added to the covariance's diagonal in every M-step)")
    raise ValueError(
        f"the covariance has become singular ({smallest}): {why}, so the observed-data likelihood has no "
        "maximum with a positive definite covariance and grows without bound as the covariance "
        f"degenerates; {remedy}, or drop or combine those variables"
    )


#: Smallest observed variance a column may have: products of variances must
#: stay in float64's normal range (a variance of 1e-318 has 4 digits left).
_MIN_VARIANCE = 1e-280


#: Relative size (per feature) below which an eigenvalue of the covariance's
#: correlation matrix is rounding noise.
_SINGULAR_RTOL = 100 * np.finfo(float).eps


def regularisation_slack(X, expectations: MissingExpectations, old_params: MissingNormalParams,
                         new_params: MissingNormalParams, *, reg_covar: float) -> float:
    """How far the log-likelihood may fall in one regularised EM step.

    With ``reg_covar > 0`` the M-step maximises the expected complete-data
    log-likelihood minus the penalty ``(reg_covar / 2) N tr(inv(Sigma))``
    (``N`` the rows with an observed value), so EM increases the penalised
    log-likelihood ``LL - (reg_covar / 2) N tr(inv(Sigma))`` (the bound
    :eq:`gmm-reg-bound` with one component).  The driver monitors the
    log-likelihood and allows it to fall by this slack,
    ``(reg_covar / 2) N [tr inv(Sigma_old) - tr inv(Sigma_new)]``, which is
    the same check as monitoring the penalised objective.
    """
    return _slack(group_patterns(X).n_used, old_params, new_params, reg_covar)


def _slack(n_used, old_params: MissingNormalParams, new_params: MissingNormalParams, reg_covar: float) -> float:
    change = np.trace(np.linalg.inv(new_params.covariance)) - np.trace(np.linalg.inv(old_params.covariance))
    return -0.5 * reg_covar * n_used * float(change)


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
    params = check_params(params, data.shape[1])
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
    reg_covar: float = 0.0,
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
    reg_covar : float, default 0
        ``epsilon`` in ``Sigma = S / N + epsilon I``: added to the diagonal
        of the covariance in every M-step, the meaning it has in
        :func:`emtutor.gmm.fit`.  Needed when the observed-data likelihood
        has no maximum with a positive definite covariance (too few rows
        observe some set of variables together, or collinear variables):
        without it EM then raises a ``ValueError`` that names those
        variables.  With ``reg_covar > 0`` EM maximises the penalised
        log-likelihood ``LL - (reg_covar / 2) N tr(inv(Sigma))`` (``N`` the
        rows with an observed value); ``result.objectives`` is still the
        log-likelihood, which may then fall slightly, and each iteration is
        checked against :func:`regularisation_slack`.
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
        wrong shape or not symmetric positive definite, a bad ``reg_covar``,
        or a covariance that becomes singular (the likelihood has no
        maximum; the message names the variables and suggests
        ``reg_covar``).

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
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    default = initial_params(data)
    if covariance is None and not np.all(np.diag(default.covariance) > _MIN_VARIANCE):
        j = int(np.flatnonzero(~(np.diag(default.covariance) > _MIN_VARIANCE))[0])
        raise ValueError(
            f"the observed values of column {j} of X have variance {default.covariance[j, j]:.3g}, "
            f"below {_MIN_VARIANCE:g}, where float64 loses digits (subnormal numbers) or underflows "
            "to 0: rescale X"
        )
    params = check_params(
        MissingNormalParams(
            default.mean if mean is None else mean,
            default.covariance if covariance is None else covariance,
        ),
        n_features,
    )
    slack = partial(regularisation_slack, reg_covar=reg_covar) if reg_covar > 0 else None
    return run_em(data, params, e_step=e_step, m_step=partial(m_step, reg_covar=reg_covar), m_step_slack=slack,
                  n_observations=n_samples, tol=tol, max_iter=max_iter, record=record)


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
    params = check_params(params, data.shape[1])
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
    params = check_params(params, data.shape[1])
    n_imputations = check_positive_int(n_imputations, "n_imputations")
    rng = as_rng(random_state)
    X_hat = e_step(data, params)[0].X_hat
    out = np.repeat(X_hat[None], n_imputations, axis=0)
    for group in data._groups:
        if group.n_missing == 0:
            continue
        if group.n_missing == data.shape[1]:
            cond_cov = params.covariance[None]
        else:
            cond_cov = _pattern_blocks(params.covariance, group)[2]
        root = _cholesky(cond_cov, "the conditional covariance of the missing values of some rows")
        root = root[group.pattern_of_row]  # (n_rows, k, k)
        noise = rng.standard_normal((n_imputations, len(group.rows), group.n_missing))
        draws = np.einsum("nij,snj->sni", root, noise)
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
        missing_cols = np.nonzero(missing[rows])[1].reshape(len(rows), k)
        observed_cols = np.nonzero(~missing[rows])[1].reshape(len(rows), n_features - k)
        pattern_cols, first, pattern_of_row, counts = np.unique(
            missing_cols, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
        n_patterns += len(pattern_cols)
        flat = (rows[:, None] * n_features + missing_cols).reshape(-1)
        flat_observed = rows[:, None] * n_features + observed_cols
        groups.append(
            _CountGroup(k, rows, missing_cols, pattern_cols, observed_cols[first], pattern_of_row.reshape(-1),
                        counts, flat, flat_observed)
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


def check_params(params, n_features: int) -> MissingNormalParams:
    """Validate the normal's parameters; return them as a :class:`MissingNormalParams` of float arrays.

    Parameters
    ----------
    params : MissingNormalParams or tuple (mean, covariance)
    n_features : int
        ``mean`` must have shape ``(n_features,)`` and ``covariance`` be a
        symmetric positive definite ``(n_features, n_features)`` matrix.

    Raises
    ------
    ValueError
        Naming ``mean`` or ``covariance``.
    """
    if not isinstance(params, tuple) or len(params) != 2:
        raise TypeError(f"params must be MissingNormalParams(mean, covariance), got {type(params).__name__}")
    mean = check_shape(params[0], (n_features,), "mean")
    covariance = check_spd(params[1], n_features, "covariance")
    return MissingNormalParams(mean, covariance)
