r"""Probabilistic PCA and factor analysis fitted by EM.

Both models explain ``D`` observed variables by ``F < D`` hidden factors:

``x = W z + mu + e``, ``z ~ N(0, I_F)``, ``e ~ N(0, Phi)`` (:eq:`fa-model`),

so that ``x ~ N(mu, Sigma)`` with ``Sigma = W W^T + Phi`` (:eq:`fa-marginal`).  Factor analysis
lets every variable have its own noise variance (``Phi`` diagonal);
probabilistic PCA (PPCA) has one for all (``Phi = sigma^2 I``), and its
maximum-likelihood solution is the principal subspace in closed form
(:func:`ppca_closed_form`, :eq:`ppca-closed-form`).  The hidden factors
``z_n`` are the missing data of EM: the E-step (:func:`e_step`) is their
Gaussian posterior :eq:`fa-posterior`, summarised in the two expected
sufficient statistics the M-step needs; the M-step (:func:`m_step`) is
:eq:`fa-m-loadings` for ``W`` and :eq:`fa-m-noise` (factor analysis) or
:eq:`ppca-m-noise` (PPCA) for the noise.  The mean is the sample mean, the
maximum-likelihood estimate whatever ``W`` and ``Phi``, so it is set once.
:func:`fit` runs EM with the generic driver :func:`emtutor.em.run_em`;
the objective is the log-likelihood :eq:`fa-log-likelihood`.

The data enter only through their mean and covariance, so an iteration
costs ``O(D^2 F)`` whatever the number of points.

With missing values (``NaN`` in ``X``, any pattern; the convention of
:mod:`emtutor.missing`), :func:`fit` maximises the observed-data
log-likelihood :eq:`fa-missing-log-likelihood` instead: the hidden variables
are still the factors alone, since with diagonal noise the missing
coordinates integrate out.  :func:`e_step_missing` is each row's factor
posterior given its observed values, :eq:`fa-missing-posterior` (rows grouped
by missingness pattern, one ``F x F`` factorisation per pattern), and
:func:`m_step_missing` a regression per variable over the rows that observe
it, which now estimates the mean as well, :eq:`fa-missing-m-loadings` and
:eq:`fa-missing-m-noise`.  An iteration then costs ``O(N D F^2)``.  A row
with nothing observed adds nothing; :func:`log_density` and
:func:`posterior_means` accept ``NaN`` the same way.

The estimators :class:`~emtutor.estimators.FactorAnalysis` and
:class:`~emtutor.estimators.ProbabilisticPCA` follow scikit-learn's
``FactorAnalysis`` (``components_`` of shape ``(F, D)``, ``noise_variance_``,
``mean_``, ``transform``, ``score``).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
from scipy import linalg

from ._validation import as_data_matrix, as_rng, check_positive_int, check_shape
from . import missing
from .em import EMResult, run_em

__all__ = [
    "NOISE_TYPES",
    "FactorData",
    "FactorParams",
    "FactorStats",
    "as_factor_data",
    "e_step",
    "m_step",
    "log_likelihood",
    "log_density",
    "posterior_means",
    "ppca_closed_form",
    "n_parameters",
    "fit",
    "MissingFactorData",
    "MissingFactorStats",
    "as_missing_data",
    "e_step_missing",
    "m_step_missing",
]

#: ``"diagonal"`` noise is factor analysis, ``"isotropic"`` noise (one
#: variance for every variable) is probabilistic PCA.
NOISE_TYPES = ("diagonal", "isotropic")


class FactorData(NamedTuple):
    """The data as EM uses them: their number, mean and covariance.

    Attributes
    ----------
    n_samples : int
    mean : ndarray of shape (n_features,)
        The sample mean ``x_bar``.
    covariance : ndarray of shape (n_features, n_features)
        The sample covariance ``S = (1/N) sum_n (x_n - x_bar)(x_n - x_bar)^T``
        (divided by ``N``: the maximum-likelihood one).
    """

    n_samples: int
    mean: np.ndarray
    covariance: np.ndarray


class FactorParams(NamedTuple):
    """Parameters of a factor model, in scikit-learn's layout.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
        ``mu``.
    components : ndarray of shape (n_factors, n_features)
        The loadings ``W^T``: row ``j`` is how factor ``j`` moves the
        variables (scikit-learn's ``components_``).
    noise_variance : ndarray of shape (n_features,)
        The diagonal of ``Phi`` (all equal for PPCA).
    """

    mean: np.ndarray
    components: np.ndarray
    noise_variance: np.ndarray


class FactorStats(NamedTuple):
    """The E-step's expected sufficient statistics, averaged over the points.

    Attributes
    ----------
    zx : ndarray of shape (n_factors, n_features)
        ``(1/N) sum_n E[z_n] (x_n - mu)^T``.
    zz : ndarray of shape (n_factors, n_factors)
        ``(1/N) sum_n E[z_n z_n^T]``.
    """

    zx: np.ndarray
    zz: np.ndarray


def as_factor_data(X) -> FactorData:
    """Validate ``X`` (finite, 2-D, at least 2 rows) and summarise it as :class:`FactorData`."""
    return _summarise(as_data_matrix(X))


def _summarise(X) -> FactorData:
    """:class:`FactorData` of an ``X`` already validated by ``as_data_matrix``."""
    if len(X) < 2:
        raise ValueError(f"X has n_samples={len(X)}; a factor model needs at least 2 rows to estimate a covariance")
    mean = X.mean(axis=0)
    centred = X - mean
    return FactorData(len(X), mean, centred.T @ centred / len(X))


def _posterior_parts(params: FactorParams):
    """The Cholesky factor of ``G^-1 = I + W^T Phi^-1 W`` and ``B = G W^T Phi^-1``, :eq:`fa-posterior`."""
    loadings_t = params.components  # W^T, (q, D)
    scaled = loadings_t / params.noise_variance  # W^T Phi^-1
    m = np.eye(len(loadings_t)) + scaled @ loadings_t.T
    m_chol = linalg.cho_factor(m, lower=True)
    return m_chol, linalg.cho_solve(m_chol, scaled)


def e_step(data: FactorData, params: FactorParams, previous=None) -> tuple[FactorStats, float]:
    """E-step: the posterior of the factors, :eq:`fa-posterior`, as expected statistics.

    With ``G = (I + W^T Phi^-1 W)^-1`` and ``B = G W^T Phi^-1``,
    ``E[z_n] = B (x_n - mu)`` and ``cov[z_n] = G`` (the same for every
    point), so the averages the M-step needs are ``zx = B S`` and
    ``zz = G + B S B^T`` with ``S`` the covariance of the data about
    ``mu`` (``mu`` is the sample mean).

    Parameters
    ----------
    data : FactorData
    params : FactorParams
    previous : ignored
        The exact posterior does not depend on the previous E-step.

    Returns
    -------
    stats : FactorStats
    log_likelihood : float
        :eq:`fa-log-likelihood` at ``params``.
    """
    m_chol, b = _posterior_parts(params)
    s = _scatter_about(data, params.mean)
    bs = b @ s
    stats = FactorStats(bs, linalg.cho_solve(m_chol, np.eye(len(b))) + bs @ b.T)
    return stats, _log_likelihood(data, params, m_chol, s)


def m_step(data: FactorData, stats: FactorStats, params: FactorParams, *, noise: str = "diagonal") -> FactorParams:
    """M-step: loadings :eq:`fa-m-loadings`, then the noise :eq:`fa-m-noise` or :eq:`ppca-m-noise`.

    ``W = zx^T zz^-1``; factor analysis then sets
    ``Phi = diag(S - W zx)``, PPCA ``sigma^2 = tr(S - W zx) / D``.  The
    mean stays the sample mean.  This is the exact joint maximiser of the
    expected complete-data log-likelihood over ``W`` and ``Phi``.

    Parameters
    ----------
    data : FactorData
    stats : FactorStats
    params : FactorParams
        The current parameters (their mean is kept).
    noise : {"diagonal", "isotropic"}, default "diagonal"

    Returns
    -------
    FactorParams
    """
    loadings = linalg.solve(stats.zz, stats.zx, assume_a="pos").T  # W, (D, q)
    s = _scatter_about(data, params.mean)
    residual = np.diag(s) - np.einsum("dj,jd->d", loadings, stats.zx)
    if noise == "isotropic":
        residual = np.full_like(residual, residual.mean())
    _check_not_collapsed(residual, np.diag(s), noise)
    return FactorParams(params.mean, loadings.T, residual)


#: A noise variance below this fraction of its variable's variance has collapsed.
COLLAPSE_FRACTION = 1e-6


def _check_not_collapsed(noise_variance, variances, noise: str) -> None:
    """Raise if a noise variance is heading to 0, where the likelihood has no maximum.

    When the factors can explain a variable exactly (a *Heywood case* of
    factor analysis, or for PPCA data of rank at most ``F``, e.g. fewer
    points than factors + 1), the likelihood grows without bound as that
    noise variance goes to 0; EM follows it until rounding takes over.
    This says so while the numbers still mean something.
    """
    fraction = noise_variance / variances
    if np.all(fraction > COLLAPSE_FRACTION):
        return
    i = int(np.argmin(fraction))
    which = "the noise variance" if noise == "isotropic" else f"the noise variance of variable {i}"
    raise ValueError(
        f"{which} has collapsed to {noise_variance[i]:.3g} ({fraction[i]:.1e} of the variable's variance): "
        "the factors explain the data exactly there and the likelihood has no maximum (for factor analysis, "
        "a Heywood case; the sample covariance may have rank <= n_factors, e.g. too few rows). Use fewer "
        "factors (n_factors), more data, or remove that variable"
    )


def _scatter_about(data: FactorData, mean) -> np.ndarray:
    """``(1/N) sum_n (x_n - mean)(x_n - mean)^T`` from the sample mean and covariance."""
    shift = data.mean - mean
    return data.covariance + np.outer(shift, shift)


def _log_likelihood(data: FactorData, params: FactorParams, m_chol, s) -> float:
    """:eq:`fa-log-likelihood` through the matrix determinant lemma and Woodbury's identity.

    ``log det Sigma = -log det G + sum log Phi`` and
    ``tr(Sigma^-1 S) = tr(Phi^-1 S) - tr(G (W^T Phi^-1) S (Phi^-1 W))``:
    no ``D x D`` factorisation.
    """
    n, d = data.n_samples, len(data.mean)
    scaled = params.components / params.noise_variance  # W^T Phi^-1, (q, D)
    log_det = 2 * np.sum(np.log(np.diag(m_chol[0]))) + np.sum(np.log(params.noise_variance))
    trace = np.sum(np.diag(s) / params.noise_variance) - np.sum(linalg.cho_solve(m_chol, scaled @ s) * scaled)
    return float(-0.5 * n * (d * np.log(2 * np.pi) + log_det + trace))


def log_likelihood(X, params: FactorParams) -> float:
    """Total log-likelihood :eq:`fa-log-likelihood` of the rows of ``X``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : FactorParams

    Returns
    -------
    float
    """
    return float(np.sum(log_density(X, params)))


def log_density(X, params: FactorParams) -> np.ndarray:
    """``log N(x_n | mu, Sigma)`` with ``Sigma = W W^T + Phi`` for every row, :eq:`fa-marginal`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        ``NaN`` marks a missing value: a row's density is then that of its
        observed values, :eq:`fa-missing-log-likelihood` (0 if nothing is observed).
    params : FactorParams

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    X = as_data_matrix(X, allow_nan=True)
    if np.isnan(X).any():
        return _observed_data_ll_terms(X, params)[1]
    params = check_params(params, len(np.atleast_2d(params.components)), X.shape[1])
    m_chol, _ = _posterior_parts(params)
    centred = X - params.mean
    # (x - mu)^T Sigma^-1 (x - mu) = sum (x - mu)^2 / Phi - (W^T Phi^-1 (x - mu))^T G (W^T Phi^-1 (x - mu))
    projected = centred @ (params.components / params.noise_variance).T
    quadratic = np.sum(centred**2 / params.noise_variance, axis=1) \
        - np.sum(projected * linalg.cho_solve(m_chol, projected.T).T, axis=1)
    log_det = 2 * np.sum(np.log(np.diag(m_chol[0]))) + np.sum(np.log(params.noise_variance))
    return -0.5 * (X.shape[1] * np.log(2 * np.pi) + log_det + quadratic)


def posterior_means(X, params: FactorParams) -> np.ndarray:
    """``E[z_n | x_n] = G W^T Phi^-1 (x_n - mu)`` of every row, :eq:`fa-posterior`.

    ``NaN`` in ``X`` marks a missing value: a row's posterior mean is then
    given its observed values, :eq:`fa-missing-posterior` (0, the prior
    mean, if nothing is observed).

    Returns
    -------
    ndarray of shape (n_samples, n_factors)
    """
    X = as_data_matrix(X, allow_nan=True)
    if np.isnan(X).any():
        return _observed_data_ll_terms(X, params)[0].means
    params = check_params(params, len(np.atleast_2d(params.components)), X.shape[1])
    _, b = _posterior_parts(params)
    return (X - params.mean) @ b.T


def ppca_closed_form(X, n_factors: int) -> FactorParams:
    """The maximum-likelihood PPCA solution, :eq:`ppca-closed-form` (Tipping & Bishop 1999).

    ``sigma^2`` is the mean of the ``D - F`` smallest eigenvalues of the
    sample covariance and ``W = U_F (diag(eig_1(S)..eig_F(S)) - sigma^2 I)^(1/2)``,
    with the ``F`` largest eigenvalues ``eig_j(S)`` and their eigenvectors ``U_F``;
    any rotation ``W R`` is as good (the likelihood depends on ``W W^T``).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_factors : int
        ``F``, between 1 and ``n_features - 1``.

    Returns
    -------
    FactorParams
    """
    data = as_factor_data(X)
    d = len(data.mean)
    q = check_positive_int(n_factors, "n_factors", 1, d - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(data.covariance)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    sigma2 = eigenvalues[q:].mean()
    loadings = eigenvectors[:, :q] * np.sqrt(np.maximum(eigenvalues[:q] - sigma2, 0.0))
    return FactorParams(data.mean, loadings.T, np.full(d, sigma2))


def n_parameters(n_features: int, n_factors: int, noise: str = "diagonal") -> int:
    """Free parameters: ``D`` means, ``D F - F (F - 1) / 2`` loadings (up to rotation) and the noise."""
    noise_count = n_features if _check_noise(noise) == "diagonal" else 1
    return n_features + n_features * n_factors - n_factors * (n_factors - 1) // 2 + noise_count


def check_params(params: FactorParams, q: int, d: int) -> FactorParams:
    """``params`` validated: shapes ``(d,)``, ``(q, d)``, ``(d,)`` (``q`` factors), noise variances > 0."""
    if not isinstance(params, FactorParams):
        raise TypeError(f"params must be a FactorParams, got {type(params).__name__}")
    mean = check_shape(params.mean, (d,), "mean")
    components = check_shape(params.components, (q, d), "components")
    noise_variance = check_shape(params.noise_variance, (d,), "noise_variance")
    if np.any(noise_variance <= 0):
        raise ValueError(f"noise_variance must be > 0, got minimum {noise_variance.min():g}")
    return FactorParams(mean, components, noise_variance)


def _check_noise(noise) -> str:
    if noise not in NOISE_TYPES:
        raise ValueError(f"noise must be one of {NOISE_TYPES}, got {noise!r}")
    return noise


def fit(
    X,
    n_factors: int,
    *,
    noise: str = "diagonal",
    components=None,
    noise_variance=None,
    tol: float = 1e-4,
    max_iter: int = 1000,
    random_state=None,
    record: bool = False,
) -> EMResult:
    """Fit factor analysis (``noise="diagonal"``) or PPCA (``"isotropic"``) by EM.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        ``NaN`` marks a missing value (any pattern): EM then maximises the
        observed-data log-likelihood :eq:`fa-missing-log-likelihood` with
        :func:`e_step_missing` and :func:`m_step_missing`, and also
        estimates the mean; a row with nothing observed adds nothing.
        Without ``NaN`` it uses :func:`e_step` and :func:`m_step`, which
        need only the mean and covariance of ``X``.
    n_factors : int
        ``F``, the number of hidden factors, ``1 <= F < n_features``.
    noise : {"diagonal", "isotropic"}, default "diagonal"
        Factor analysis or probabilistic PCA.
    components : array of shape (n_factors, n_features), optional
        Initial loadings ``W^T``; default normal with the variables' scale,
        drawn with ``random_state``.
    noise_variance : array of shape (n_features,), optional
        Initial noise variances (for PPCA, all equal); default the
        variables' variances (their mean for PPCA).
    tol : float, default 1e-4
        Stop when the log-likelihood *per sample* changes by less than
        ``tol`` (see :func:`emtutor.em.run_em`).
    max_iter : int, default 1000
        EM for these models can be slow (its rate is set by how close the
        smallest kept eigenvalue is to the noise).
    random_state : int, numpy Generator or None
    record : bool, default False

    Returns
    -------
    EMResult
        ``result.mean``, ``result.components``, ``result.noise_variance``,
        ``result.objectives`` (log-likelihood after every iteration), ...

    Raises
    ------
    ValueError
        For inf or non-2-D ``X``, fewer than 2 rows (with an observed
        value), a column with no observed value, ``n_factors`` out
        of range, an unknown ``noise``, initial values of the wrong shape,
        non-positive noise variances, a variable with zero variance, or a
        noise variance that collapses towards 0 during EM (the likelihood
        then has no maximum; see ``_check_not_collapsed``).

    Examples
    --------
    >>> import numpy as np
    >>> from emtutor import factor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 1)) @ [[3.0, 2.0, 1.0]] + rng.normal(size=(500, 3))
    >>> em = factor.fit(X, 1, noise="isotropic", tol=1e-12, random_state=0)
    >>> exact = factor.ppca_closed_form(X, 1)
    >>> bool(np.allclose(em.components.T @ em.components, exact.components.T @ exact.components, atol=1e-6))
    True
    """
    X = as_data_matrix(X, allow_nan=True)
    data = as_missing_data(X) if np.isnan(X).any() else _summarise(X)
    return _fit(data, n_factors, noise=noise, components=components, noise_variance=noise_variance,
                tol=tol, max_iter=max_iter, random_state=random_state, record=record)


def _fit(data: FactorData | MissingFactorData, n_factors, *, noise, components, noise_variance, tol, max_iter,
         random_state, record) -> EMResult:
    """:func:`fit` on data already summarised by :func:`as_factor_data` or :func:`as_missing_data`."""
    with_missing = isinstance(data, MissingFactorData)
    mean = data.offset if with_missing else data.mean
    d = len(mean)
    if d < 2:
        raise ValueError(f"X has n_features={d}; a factor model needs at least 2 (n_factors < n_features)")
    q = check_positive_int(n_factors, "n_factors", 1, d - 1)
    _check_noise(noise)
    variances = data.variances if with_missing else np.diag(data.covariance)
    if np.any(variances <= 0):
        i = int(np.argmin(variances))
        raise ValueError(
            f"X[:, {i}] has variance 0 in floating point: a variable without variance has no noise to estimate "
            "(its noise variance would go to 0). If it is constant, remove it; if its values are tiny (their "
            "squares underflow below 1e-308), rescale X"
        )
    if components is None:
        components = as_rng(random_state).normal(size=(q, d)) * np.sqrt(variances)
    if noise_variance is None:
        noise_variance = variances if noise == "diagonal" else np.full(d, variances.mean())
    params = check_params(FactorParams(mean, components, noise_variance), q, d)
    if noise == "isotropic" and np.ptp(params.noise_variance) > 0:
        raise ValueError("noise_variance must have equal entries for noise='isotropic' (PPCA has one variance)")
    if with_missing and np.any(variances < missing._MIN_VARIANCE):
        i = int(np.argmin(variances))
        raise ValueError(
            f"the observed values of X[:, {i}] have variance {variances[i]:.3g}, below {missing._MIN_VARIANCE:g}, "
            "where float64 loses digits (subnormal numbers) or underflows to 0: rescale X"
        )
    if not with_missing:
        return run_em(data, params, e_step=e_step, m_step=partial(m_step, noise=noise),
                      n_observations=data.n_samples, tol=tol, max_iter=max_iter, record=record)
    informative = int(np.count_nonzero(data.observed.sum(axis=1) > q))
    if informative == 0:
        raise ValueError(
            f"no row of X observes more than n_factors={q} values: every row can be fitted exactly by the "
            "factors, so the noise variance goes to 0 and the likelihood has no maximum; use fewer factors "
            "(n_factors) or rows with more observed values"
        )
    return run_em(data, params, e_step=e_step_missing, m_step=partial(m_step_missing, noise=noise),
                  n_observations=len(data.centred), tol=tol, max_iter=max_iter, record=record)


# --------------------------------------------------------------------------
# Missing values


class MissingFactorData(NamedTuple):
    """Data with missing values as EM for a factor model uses them.

    The observed values are kept centred on their column means (``offset``), so
    no sum of squares loses digits to a large mean; parameters stay in the
    data's own units.

    Attributes
    ----------
    groups : emtutor.missing.PatternGroups
        The rows grouped by missingness pattern (the same grouping as
        :mod:`emtutor.missing`).
    centred : ndarray of shape (n_samples, n_features)
        ``x_nd - offset_d`` where observed, 0 where missing.
    observed : ndarray of shape (n_samples, n_features)
        1.0 where observed, 0.0 where missing.
    offset : ndarray of shape (n_features,)
        The mean of each column's observed values.
    variances : ndarray of shape (n_features,)
        The (divide-by-count) variance of each column's observed values.
    """

    groups: object
    centred: np.ndarray
    observed: np.ndarray
    offset: np.ndarray
    variances: np.ndarray


class MissingFactorStats(NamedTuple):
    """The E-step's posterior of every row's factors given its observed values, :eq:`fa-missing-posterior`.

    Attributes
    ----------
    means : ndarray of shape (n_samples, n_factors)
        ``E[z_n | x_n,o]`` (0, the prior mean, for a row with nothing observed).
    covariances : ndarray of shape (n_samples, n_factors, n_factors)
        ``cov[z_n | x_n,o] = G_o`` (the same for every row with the same pattern;
        the identity for a row with nothing observed).
    """

    means: np.ndarray
    covariances: np.ndarray


def as_missing_data(X) -> MissingFactorData:
    """Validate ``X`` (``NaN`` marks a missing value) for :func:`fit` and summarise it.

    Raises
    ------
    ValueError
        If ``X`` is not a 2-D numeric array, holds inf, has fewer than 2 rows
        with an observed value, or has a column with no observed value or
        with fewer than two distinct observed values (its variance, and so
        its noise variance, cannot be estimated).
    """
    groups = missing._group_for_params(X)
    X, miss = groups.X, groups.missing
    if groups.n_used < 2:
        raise ValueError(
            f"X has {groups.n_used} row(s) with an observed value; a factor model needs at least 2 to "
            "estimate a covariance"
        )
    for j in range(X.shape[1]):
        values = X[~miss[:, j], j]
        if values.size == 0:
            raise ValueError(
                f"column {j} of X has no observed value (every entry is NaN): its mean, loadings and noise "
                "variance cannot be estimated; drop that column"
            )
        if np.unique(values).size < 2:
            raise ValueError(
                f"column {j} of X has {values.size} observed value(s) but fewer than two distinct ones, so its "
                "variance (and noise variance) cannot be estimated; drop the column or collect more data"
            )
    observed = (~miss).astype(float)
    values = np.where(miss, np.nan, X)
    offset = np.nanmean(values, axis=0)
    centred = np.where(miss, 0.0, X - offset)
    variances = np.sum(centred**2, axis=0) / observed.sum(axis=0)
    return MissingFactorData(groups, centred, observed, offset, variances)


def _missing_posterior(data: MissingFactorData, params: FactorParams):
    """Posterior moments :eq:`fa-missing-posterior` and ``log p(x_n,o)`` :eq:`fa-missing-log-likelihood`.

    One batched Cholesky factorisation of ``M_o = I + W_o^T Psi_o^-1 W_o`` per
    number of missing values (one matrix per pattern), then
    ``E[z_n] = M_o^-1 W_o^T Psi_o^-1 (x_n,o - mu_o)``, ``cov = M_o^-1`` and,
    by the determinant lemma and Woodbury's identity,
    ``log N(x_o | mu_o, C_o)`` with ``log det C_o = log det M_o + sum log psi_o``
    and quadratic form ``r^T Psi_o^-1 r - r^T Psi_o^-1 W_o E[z_n]``.
    """
    groups = data.groups
    loadings = params.components.T  # W, (D, F)
    n_samples, n_features = groups.shape
    q = loadings.shape[1]
    shift = params.mean - data.offset
    means = np.zeros((n_samples, q))
    covariances = np.broadcast_to(np.eye(q), (n_samples, q, q)).copy()
    log_norm = np.zeros(n_samples)
    for group in groups._groups:
        if group.n_missing == n_features:  # nothing observed: the prior, no contribution
            continue
        obs = group.observed_cols  # (P, O)
        w_o = loadings[obs]  # (P, O, F)
        psi_o = params.noise_variance[obs]  # (P, O)
        scaled = w_o / psi_o[:, :, None]  # Psi_o^-1 W_o
        m = np.eye(q) + np.swapaxes(w_o, 1, 2) @ scaled
        chol = np.linalg.cholesky(m)
        chol_inv = np.linalg.inv(chol)
        g = np.swapaxes(chol_inv, 1, 2) @ chol_inv  # M_o^-1
        log_det = 2 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1) + np.sum(np.log(psi_o), axis=1)
        rows, p = group.rows, group.pattern_of_row
        r = data.centred[rows[:, None], obs[p]] - shift[obs[p]]  # x_o - mu_o, (n_rows, O)
        b = np.einsum("nof,no->nf", scaled[p], r)  # W_o^T Psi_o^-1 r
        z = np.einsum("nfg,ng->nf", g[p], b)
        quadratic = np.sum(r**2 / psi_o[p], axis=1) - np.sum(b * z, axis=1)
        means[rows] = z
        covariances[rows] = g[p]
        log_norm[rows] = -0.5 * (obs.shape[1] * np.log(2 * np.pi) + log_det[p] + quadratic)
    return MissingFactorStats(means, covariances), log_norm


def e_step_missing(data: MissingFactorData, params: FactorParams, previous=None):
    """E-step with missing values: each row's factor posterior given its observed values.

    Implements :eq:`fa-missing-posterior` (rows grouped by missingness
    pattern, one factorisation per pattern); the objective is the
    observed-data log-likelihood :eq:`fa-missing-log-likelihood`, one term
    per row (0 for a row with nothing observed).

    Parameters
    ----------
    data : MissingFactorData
    params : FactorParams
    previous : ignored
        The exact posterior does not depend on the previous E-step.

    Returns
    -------
    stats : MissingFactorStats
    log_norm : ndarray of shape (n_samples,)
        ``log p(x_n,o)`` under ``params``.
    """
    return _missing_posterior(data, params)


def m_step_missing(data: MissingFactorData, stats: MissingFactorStats, params: FactorParams, *,
                   noise: str = "diagonal") -> FactorParams:
    """M-step with missing values: :eq:`fa-missing-m-loadings`, then :eq:`fa-missing-m-noise`.

    For every variable ``d``, over the rows ``n`` where it is observed:
    ``[w_d; mu_d]`` solves ``(sum_n E[z~_n z~_n^T]) [w_d; mu_d] = sum_n x_nd E[z~_n]``
    with ``z~_n = (z_n, 1)`` (a least-squares regression of ``x_nd`` on the
    factors, in expectation); then ``psi_d`` is the mean expected squared
    residual over those rows (factor analysis) or ``sigma^2`` the mean over
    all observed values (PPCA).  This is the exact joint maximiser of the
    expected complete-data log-likelihood over ``mu``, ``W`` and the noise.
    Where nothing is missing, the mean stays the sample mean and the update
    is :func:`m_step`'s.

    Parameters
    ----------
    data : MissingFactorData
    stats : MissingFactorStats
    params : FactorParams
        The current parameters (unused: the step is a closed form in ``stats``).
    noise : {"diagonal", "isotropic"}, default "diagonal"

    Returns
    -------
    FactorParams
    """
    z, cov, obs, x = stats.means, stats.covariances, data.observed, data.centred
    n_samples, q = z.shape
    z_aug = np.hstack([z, np.ones((n_samples, 1))])  # E[z~_n]
    second = np.zeros((n_samples, q + 1, q + 1))  # E[z~_n z~_n^T]
    second[:, :q, :q] = cov
    second += z_aug[:, :, None] * z_aug[:, None, :]
    lhs = np.einsum("nd,nij->dij", obs, second)  # (D, F+1, F+1)
    rhs = np.einsum("nd,ni->di", x, z_aug)  # x is 0 where missing
    solution = np.linalg.solve(lhs, rhs[:, :, None])[:, :, 0]  # rows [w_d, mu_d - offset_d]
    loadings, centre = solution[:, :q], solution[:, q]
    residual = obs * (x - z @ loadings.T - centre)
    spread = np.einsum("df,dfg,dg->d", loadings, np.einsum("nd,nfg->dfg", obs, cov), loadings)
    counts = obs.sum(axis=0)
    total = np.sum(residual**2, axis=0) + spread
    noise_variance = total / counts if noise == "diagonal" else np.full(len(counts), total.sum() / counts.sum())
    _check_not_collapsed_missing(noise_variance, data, noise, q)
    return FactorParams(data.offset + centre, loadings.T, noise_variance)


def _check_not_collapsed_missing(noise_variance, data: MissingFactorData, noise: str, q: int) -> None:
    """:func:`_check_not_collapsed`, saying how many rows observe more values than there are factors."""
    try:
        _check_not_collapsed(noise_variance, data.variances, noise)
    except ValueError as error:
        if noise == "diagonal":
            i = int(np.argmin(noise_variance / data.variances))
            where = f"variable {i} is observed in {int(data.observed[:, i].sum())} row(s)"
        else:
            informative = int(np.count_nonzero(data.observed.sum(axis=1) > q))
            where = (f"only rows that observe more than n_factors={q} values constrain the noise, and X has "
                     f"{informative}")
        raise ValueError(f"{error}. With missing values: {where}") from None


def _observed_data_ll_terms(X, params: FactorParams):
    """``(posterior, log p(x_n,o))`` of the rows of ``X`` (NaN marks missing) under ``params``."""
    groups = missing._group_for_params(X)
    n_features = groups.shape[1]
    params = check_params(params, len(np.atleast_2d(params.components)), n_features)
    observed = ~groups.missing
    offset = np.zeros(n_features)
    data = MissingFactorData(groups, np.where(observed, groups.X, 0.0), observed.astype(float), offset,
                             np.ones(n_features))
    return _missing_posterior(data, params)
