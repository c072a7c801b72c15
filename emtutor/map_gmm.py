"""MAP-EM for Gaussian mixtures with conjugate priors (the chapter "MAP-EM: priors instead of reg_covar").

The objective is the log-posterior (up to the evidence)
``log p(X | theta) + log p(theta)`` (:eq:`map-log-posterior`), with

* a Dirichlet prior ``Dir(alpha)`` on the weights (:eq:`map-prior-weights`),
  ``alpha = weight_concentration_prior``;
* a normal prior ``N(m_0, Sigma_k / kappa)`` on each mean given its
  covariance, ``m_0 = mean_prior``, ``kappa = mean_precision_prior``
  (``kappa = 0``: a flat prior on the means);
* an inverse-Wishart prior ``IW(Psi, nu)`` on each covariance
  (:eq:`map-prior-niw`), ``Psi = covariance_prior``,
  ``nu = degrees_of_freedom_prior``; for diagonal covariances every variance
  has the one-dimensional inverse-Wishart (an inverse gamma,
  ``IG(nu / 2, psi_j / 2)``), for spherical ones the single variance, and a
  tied covariance has one prior shared by all components.

Together the last two are the normal-inverse-Wishart prior.  EM with the
M-step :func:`m_step` (:eq:`map-m-weights`, :eq:`map-m-means`,
:eq:`map-m-covariances`), the exact maximiser of the expected complete-data
log-likelihood plus the log-prior, never lowers the log-posterior, and the
generic driver :func:`emtutor.em.run_em` checks that: the E-step
(:func:`e_step`) returns the log-likelihood terms of the points and the
log-prior (:func:`log_prior`) as its objective.  A prior part left ``None``
is flat: it contributes nothing to the log-posterior and leaves that
part of the M-step at its maximum-likelihood value, so with all five
``None`` MAP-EM is plain EM (:func:`emtutor.gmm.fit`).

The five settings have the names (and the meanings) of scikit-learn's
``BayesianGaussianMixture``, which fits the same prior by variational
Bayes; MAP-EM finds the posterior's mode instead.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
from scipy.special import gammaln, multigammaln, xlogy

from . import gmm
from ._validation import as_data_matrix, check_nonnegative, check_positive_int, check_shape, check_spd

__all__ = [
    "GMMPrior",
    "make_prior",
    "log_prior",
    "log_posterior",
    "e_step",
    "m_step",
    "regularisation_slack",
    "fit",
]

_LOG_2PI = np.log(2.0 * np.pi)


class GMMPrior(NamedTuple):
    """A conjugate prior of a Gaussian mixture, every part resolved (see :func:`make_prior`).

    Attributes
    ----------
    weight_concentration_prior : ndarray of shape (n_components,) or None
        ``alpha`` of the Dirichlet prior on the weights, every entry >= 1;
        None: flat (maximum-likelihood weights).
    mean_precision_prior : float
        ``kappa`` >= 0: the mean of component ``k`` has the prior
        ``N(mean_prior, Sigma_k / kappa)``; 0 means a flat prior on the means.
    mean_prior : ndarray of shape (n_features,)
        ``m_0``, the prior mean of the means.
    covariance_prior : ndarray or None
        ``Psi``, the scale of the inverse-Wishart prior on each covariance:
        shape (n_features, n_features) for ``"full"`` and ``"tied"``,
        (n_features,) for ``"diag"``, () for ``"spherical"``; None: flat
        (maximum-likelihood covariances).
    degrees_of_freedom_prior : float or None
        ``nu``, its degrees of freedom (None exactly when ``covariance_prior`` is).
    covariance_type : str
        The covariance type the prior is for.
    """

    weight_concentration_prior: np.ndarray | None
    mean_precision_prior: float
    mean_prior: np.ndarray
    covariance_prior: np.ndarray | None
    degrees_of_freedom_prior: float | None
    covariance_type: str

    @property
    def is_flat(self) -> bool:
        """Whether every part is flat (MAP-EM is then plain maximum-likelihood EM)."""
        return (self.weight_concentration_prior is None and self.mean_precision_prior == 0
                and self.covariance_prior is None)


def make_prior(
    X,
    n_components: int,
    *,
    covariance_type: str = "full",
    weight_concentration_prior=None,
    mean_precision_prior=None,
    mean_prior=None,
    covariance_prior=None,
    degrees_of_freedom_prior=None,
) -> GMMPrior:
    """Validate the prior's settings and fill in the defaults that depend on ``X``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Used only for the defaults of ``mean_prior`` and ``covariance_prior``.
    n_components : int
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"
    weight_concentration_prior : float or array of shape (n_components,), optional
        ``alpha >= 1``, the Dirichlet prior's parameters (one number: the
        same for every component).  None: flat, the weights are
        maximum-likelihood.  ``alpha = 1`` is the uniform Dirichlet, also
        giving maximum-likelihood weights; ``alpha > 1`` keeps every weight
        above 0 (:eq:`map-m-weights`).
    mean_precision_prior : float, optional
        ``kappa >= 0``; None or 0: a flat prior on the means.
    mean_prior : array of shape (n_features,), optional
        ``m_0``; default the mean of ``X``.
    covariance_prior : array, optional
        ``Psi``, positive definite, of shape (n_features, n_features) for
        ``"full"`` and ``"tied"``, (n_features,) for ``"diag"``, a number
        for ``"spherical"``.  If it and ``degrees_of_freedom_prior`` are
        both None the covariances have no prior; if only it is None it
        defaults to Fraley and Raftery's choice (2007), the covariance of
        ``X`` divided by ``n_components ** (2 / n_features)`` (for the
        diagonal and spherical types, its diagonal or its average variance).
    degrees_of_freedom_prior : float, optional
        ``nu``: greater than ``n_features - 1`` for ``"full"`` and
        ``"tied"`` (a proper inverse-Wishart), greater than 0 for
        ``"diag"`` and ``"spherical"``; default ``n_features + 2`` (Fraley
        and Raftery's) when ``covariance_prior`` is given.

    Returns
    -------
    GMMPrior

    Raises
    ------
    ValueError
        Naming the setting that is out of range or of the wrong shape.
    """
    X = as_data_matrix(X)
    k = check_positive_int(n_components, "n_components", 1)
    gmm._covariance_type(covariance_type)
    d = X.shape[1]

    alpha = None
    if weight_concentration_prior is not None:
        alpha = np.asarray(_as_float_array(weight_concentration_prior, "weight_concentration_prior"))
        if alpha.ndim == 0:
            alpha = np.full(k, float(alpha))
        alpha = check_shape(alpha, (k,), "weight_concentration_prior")
        if np.any(alpha < 1):
            raise ValueError(
                "weight_concentration_prior must be >= 1 (below 1 the Dirichlet density is "
                f"unbounded at a zero weight and has no mode), got {weight_concentration_prior!r}"
            )

    kappa = 0.0 if mean_precision_prior is None else check_nonnegative(mean_precision_prior, "mean_precision_prior")
    m0 = X.mean(axis=0) if mean_prior is None else check_shape(mean_prior, (d,), "mean_prior")

    psi = nu = None
    if covariance_prior is not None or degrees_of_freedom_prior is not None:
        lowest = d - 1 if covariance_type in ("full", "tied") else 0
        if degrees_of_freedom_prior is None:
            nu = float(d + 2)
        else:
            nu = degrees_of_freedom_prior
            if isinstance(nu, (bool, np.bool_)) or not isinstance(nu, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(nu) or not nu > lowest:
                raise ValueError(
                    f"degrees_of_freedom_prior must be a finite number > {lowest} for "
                    f"covariance_type={covariance_type!r} (a proper prior), got {degrees_of_freedom_prior!r}"
                )
            nu = float(nu)
        psi = _default_scale(X, k, covariance_type) if covariance_prior is None \
            else _check_scale(covariance_prior, d, covariance_type)
    return GMMPrior(alpha, kappa, m0, psi, nu, covariance_type)


def _as_float_array(value, name):
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or a numeric array: {exc}") from None


def _check_scale(psi, d, covariance_type):
    name = "covariance_prior"
    if covariance_type in ("full", "tied"):
        return check_spd(psi, d, name)
    psi = check_shape(_as_float_array(psi, name), (d,) if covariance_type == "diag" else (), name)
    if np.any(psi <= 0):
        raise ValueError(f"{name} must be positive for covariance_type={covariance_type!r}, got {psi}")
    return psi


def _default_scale(X, k, covariance_type):
    n, d = X.shape
    if n < 2:
        raise ValueError(
            f"the default covariance_prior is the covariance of X, which needs 2 samples or more "
            f"(n_samples = {n}); pass covariance_prior"
        )
    cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True)) / k ** (2.0 / d)
    scale = {"full": cov, "tied": cov, "diag": np.diag(cov).copy(), "spherical": np.array(np.trace(cov) / d)}
    try:
        return _check_scale(scale[covariance_type], d, covariance_type)
    except ValueError:
        raise ValueError(
            "the default covariance_prior (the covariance of X divided by n_components ** (2 / n_features)) "
            "is singular (a constant column, or collinear columns); pass covariance_prior"
        ) from None


# ---------------------------------------------------------------------------
# The covariance part: pseudo-counts and the closed form.
# ---------------------------------------------------------------------------


def _pseudo_count(prior: GMMPrior, n_components: int, n_features: int) -> float:
    """``a`` of :eq:`map-m-covariances`: what the prior adds to the count in the denominator.

    It is the power of ``|Sigma|^(-1/2)`` in the prior: ``nu + D + 1`` from
    the inverse-Wishart (``nu + 2`` for each variance of the diagonal
    types), plus one ``|Sigma|^(-1/2)`` (``sigma^-D`` for a spherical
    variance) for each normal prior on a mean that shares the covariance.
    """
    kind = prior.covariance_type
    a = 0.0
    if prior.covariance_prior is not None:
        a += prior.degrees_of_freedom_prior + (n_features + 1 if kind in ("full", "tied") else 2)
    if prior.mean_precision_prior > 0:
        a += {"full": 1, "diag": 1, "spherical": n_features, "tied": n_components}[kind]
    return a


def _scatter(X, resp, counts, xbar, covariance_type):
    """``S_k = sum_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T`` in the form of the type (summed over k for tied)."""
    if covariance_type in ("full", "tied"):
        within = gmm._covariances_full(X, resp, counts, xbar, 0.0, check=False) * counts[:, None, None]
        return within if covariance_type == "full" else within.sum(axis=0)
    variances = gmm._diag_moments(X, resp, counts, xbar)[0] * counts[:, None]
    return variances if covariance_type == "diag" else variances.sum(axis=1)


def _outer(v, covariance_type):
    """``v_k v_k^T`` in the form of the type (summed over k for tied)."""
    if covariance_type == "full":
        return v[:, :, None] * v[:, None, :]
    if covariance_type == "tied":
        return v.T @ v
    return v * v if covariance_type == "diag" else np.sum(v * v, axis=1)


def _covariance_denominators(counts, prior, n_samples, n_features):
    """``N_k + a`` of :eq:`map-m-covariances` (``D N_k + a`` spherical, ``N + a`` tied)."""
    k = len(counts)
    a = _pseudo_count(prior, k, n_features)
    kind = prior.covariance_type
    if kind == "tied":
        return n_samples + a
    return (n_features * counts if kind == "spherical" else counts) + a


def m_step(X, resp, params: gmm.GMMParams | None = None, *, prior: GMMPrior, reg_covar: float = 0.0,
           covariance_type: str | None = None) -> gmm.GMMParams:
    """The MAP M-step: :eq:`map-m-weights`, :eq:`map-m-means` and :eq:`map-m-covariances`.

    It maximises ``Q(theta) + log p(theta)`` (:eq:`map-q-prior`) in closed
    form; ``reg_covar`` is then added to the covariances' diagonals, as in
    :func:`emtutor.gmm.m_step` (with a covariance prior it is not needed).
    A flat prior gives :func:`emtutor.gmm.m_step` itself.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    resp : array of shape (n_samples, n_components)
    params : GMMParams, optional
        The current parameters (unused: the step is a closed form in ``resp``).
    prior : GMMPrior
        From :func:`make_prior`.
    reg_covar : float, default 0.0
    covariance_type : str, optional
        Must be the prior's (``prior.covariance_type``, the default).

    Returns
    -------
    GMMParams
    """
    kind = _check_type(prior, covariance_type)
    if prior.is_flat:
        return gmm.m_step(X, resp, reg_covar=reg_covar, covariance_type=kind)
    n_samples, n_features = X.shape
    n_components = resp.shape[1]
    tiny = 10 * np.finfo(float).eps
    raw = resp.sum(axis=0)
    counts = np.maximum(raw, tiny)
    alpha = prior.weight_concentration_prior
    if alpha is None:
        weights = counts / n_samples
    else:  # (map-m-weights)
        weights = (raw + alpha - 1.0) / (n_samples + alpha.sum() - n_components)
    sums = resp.T @ X
    if not np.all(np.isfinite(sums)):
        gmm._check_finite(resp, "resp")
        gmm._check_finite(X, "X")
        raise ValueError("the weighted means overflow float64; rescale X")
    xbar = sums / counts[:, None]
    kappa, m0 = prior.mean_precision_prior, prior.mean_prior
    # (map-m-means): kappa = 0 leaves the weighted means
    means = xbar if kappa == 0 else (sums + kappa * m0) / (raw + kappa)[:, None]
    # (map-m-covariances): (Psi + S_k + kappa N_k / (kappa + N_k) (xbar_k - m_0)(...)^T) / (N_k + a)
    numerator = _scatter(X, resp, counts, xbar, kind)
    if prior.covariance_prior is not None:
        numerator = numerator + prior.covariance_prior
    if kappa > 0:
        shrink = np.sqrt(kappa * raw / (kappa + raw))[:, None]
        numerator = numerator + _outer(shrink * (xbar - m0), kind)
    denominator = _covariance_denominators(raw, prior, n_samples, n_features)
    if kind == "full":
        covariances = numerator / np.maximum(denominator, tiny)[:, None, None]
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
    elif kind == "tied":
        covariances = numerator / denominator
        covariances.flat[:: n_features + 1] += reg_covar
    else:
        denominator = np.maximum(denominator, tiny)
        covariances = numerator / (denominator[:, None] if kind == "diag" else denominator) + reg_covar
    _check_resolved(X, covariances, kind)
    return gmm.GMMParams(weights, means, covariances)


def _check_resolved(X, covariances, kind) -> None:
    """Raise if a covariance is at the rounding level of ``X``.

    A value ``x`` is known to about ``eps |x|``, so coordinate ``j`` carries
    rounding noise of variance about ``level_j = (100 eps max_n |x_nj|)^2``.
    A covariance that does not exceed that noise in every direction
    (``Sigma - diag(level)`` not positive definite) gives log densities that
    are rounding noise, and EM's steps on them are meaningless (the
    log-posterior may then "decrease").  A proper covariance prior keeps every
    covariance above ``Psi / (N_k + nu_bar)`` (:eq:`map-m-covariances`), so
    this happens only when ``covariance_prior`` is tiny for the scale of ``X``
    (the default one for a column that is constant up to rounding).
    """
    scale = np.max(np.abs(X), axis=0)
    level = np.maximum((100 * np.finfo(float).eps * scale) ** 2, np.finfo(float).tiny)
    if kind in ("full", "tied"):
        whitened = np.atleast_3d(covariances.T).T if kind == "tied" else covariances
        whitened = whitened / np.sqrt(level[:, None] * level[None, :])
        smallest = np.linalg.eigvalsh(whitened)[:, 0]
    else:
        variances = covariances[:, None] if kind == "spherical" else covariances
        smallest = np.min(variances / level, axis=1)
    for k in np.flatnonzero(~(smallest > 1.0)):
        unit = "tied covariance" if kind == "tied" else f"covariance of component {k}"
        raise ValueError(
            f"the MAP {unit} is at the rounding level of X (a variance of about "
            f"{smallest[k] * level.max():.3g}, while values of X up to {scale.max():.3g} are known to "
            f"about {np.finfo(float).eps * scale.max():.3g}); covariance_prior is too small for the "
            "scale of X (the default one is, for a column constant up to rounding): standardise X, "
            "drop such columns, or pass a larger covariance_prior"
        )


def _check_type(prior, covariance_type):
    if covariance_type is not None and covariance_type != prior.covariance_type:
        raise ValueError(
            f"covariance_type={covariance_type!r} differs from the prior's ({prior.covariance_type!r}); "
            "make the prior with make_prior(..., covariance_type=...)"
        )
    return prior.covariance_type


# ---------------------------------------------------------------------------
# The log-prior and the log-posterior.
# ---------------------------------------------------------------------------


def log_prior(params: gmm.GMMParams, prior: GMMPrior) -> float:
    """``log p(theta)``, the prior's log density at ``params`` (:eq:`map-prior-weights`, :eq:`map-prior-niw`).

    Each proper part contributes its normalised log density (the Dirichlet's,
    the normals' and the inverse-Wisharts', as in ``scipy.stats``); a flat
    part contributes 0.

    Parameters
    ----------
    params : GMMParams
        Of the prior's covariance type (trusted: see :func:`log_posterior`
        for a checked evaluation).
    prior : GMMPrior

    Returns
    -------
    float
        ``-inf`` if a weight is 0 where its ``alpha > 1``.
    """
    weights, means, covariances = params
    k, d = means.shape
    kind = prior.covariance_type
    total = 0.0
    alpha = prior.weight_concentration_prior
    if alpha is not None:
        with np.errstate(divide="ignore"):
            total += gammaln(alpha.sum()) - gammaln(alpha).sum() + float(np.sum(xlogy(alpha - 1.0, weights)))
    kappa, psi, nu = prior.mean_precision_prior, prior.covariance_prior, prior.degrees_of_freedom_prior
    if kind in ("full", "tied"):
        stack = gmm.full_covariances(covariances, k, d, kind)
        chol = np.linalg.cholesky(stack)
        log_det = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)  # log|Sigma_k|
        if kappa > 0:
            z = np.linalg.solve(chol, (means - prior.mean_prior)[:, :, None])[:, :, 0]
            total += float(np.sum(0.5 * d * (np.log(kappa) - _LOG_2PI) - 0.5 * log_det
                                  - 0.5 * kappa * np.sum(z * z, axis=1)))
        if psi is not None:
            blocks = range(1) if kind == "tied" else range(k)
            inverse_chol = np.linalg.inv(chol[: len(blocks)])
            traces = np.einsum("kij,jl,kil->k", inverse_chol, psi, inverse_chol)  # tr(Psi inv(Sigma_k))
            log_det_psi = np.linalg.slogdet(psi)[1]
            constant = 0.5 * nu * log_det_psi - 0.5 * nu * d * np.log(2.0) - multigammaln(0.5 * nu, d)
            total += float(np.sum(constant - 0.5 * (nu + d + 1) * log_det[: len(blocks)] - 0.5 * traces))
    else:
        variances = covariances[:, None] * np.ones(d) if kind == "spherical" else covariances  # (k, d)
        if kappa > 0:
            total += float(np.sum(0.5 * (np.log(kappa) - _LOG_2PI - np.log(variances))
                                  - 0.5 * kappa * (means - prior.mean_prior) ** 2 / variances))
        if psi is not None:
            one = covariances  # (k, d) variances, or (k,) spherical ones: each IG(nu / 2, psi / 2)
            shape, scale = 0.5 * nu, 0.5 * psi
            total += float(np.sum(shape * np.log(scale) - gammaln(shape) - (shape + 1) * np.log(one) - scale / one))
    return float(total)


def log_posterior(X, params: gmm.GMMParams, prior: GMMPrior) -> float:
    """``log p(X | theta) + log p(theta)`` (:eq:`map-log-posterior`), the objective MAP-EM raises.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : GMMParams
        Of the prior's covariance type.
    prior : GMMPrior

    Returns
    -------
    float
    """
    X = as_data_matrix(X)
    kind = prior.covariance_type
    params = gmm.check_params(params, len(params.weights), X.shape[1], kind)
    return gmm.log_likelihood(X, params, covariance_type=kind) + log_prior(params, prior)


def e_step(X, params: gmm.GMMParams, previous=None, *, prior: GMMPrior,
           covariance_type: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """E-step of MAP-EM: :func:`emtutor.gmm.e_step`'s responsibilities, the log-posterior as objective.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_components)
    objective : ndarray of shape (n_samples + 1,)
        ``log p(x_n)`` for every point, then ``log p(theta)``: its sum is
        the log-posterior :eq:`map-log-posterior`.
    """
    kind = _check_type(prior, covariance_type)
    resp, log_norm = gmm.e_step(X, params, covariance_type=kind)
    return resp, np.append(log_norm, log_prior(params, prior))


def regularisation_slack(X, resp, old_params: gmm.GMMParams, new_params: gmm.GMMParams, *, prior: GMMPrior,
                         reg_covar: float, covariance_type: str | None = None) -> float:
    """How far the log-posterior may fall in one MAP-EM step that adds ``reg_covar``.

    With ``reg_covar = epsilon > 0`` the M-step maximises
    ``Q + log p(theta) - (epsilon / 2) sum_k w_k tr(inv(Sigma_k))`` with
    ``w_k`` the denominator of :eq:`map-m-covariances` (divided by ``D`` for
    spherical covariances), so the log-posterior obeys :eq:`map-reg-bound`,
    the bound :func:`emtutor.gmm.regularisation_slack` gives the
    log-likelihood without a prior.  The signature is the driver's
    ``m_step_slack``.
    """
    kind = _check_type(prior, covariance_type)
    n_samples, n_features = X.shape
    raw = resp.sum(axis=0)
    k = len(raw)
    weights = _covariance_denominators(raw, prior, n_samples, n_features)
    if kind == "spherical":
        weights = weights / n_features
    elif kind == "tied":
        weights = np.full(k, weights / k)
    new_trace, old_trace = gmm._precision_trace(new_params, kind), gmm._precision_trace(old_params, kind)
    bound = -0.5 * reg_covar * float(weights @ (new_trace - old_trace))
    rounding = sum(weights @ (trace * gmm._relative_rounding(params, kind))
                   for trace, params in ((new_trace, new_params), (old_trace, old_params)))
    return bound + 0.5 * reg_covar * float(rounding)


# ---------------------------------------------------------------------------
# Fitting.
# ---------------------------------------------------------------------------


def fit(
    X,
    n_components: int,
    *,
    covariance_type: str = "full",
    weight_concentration_prior=None,
    mean_precision_prior=None,
    mean_prior=None,
    covariance_prior=None,
    degrees_of_freedom_prior=None,
    init: str = "k-means++",
    n_init: int = 1,
    weights=None,
    means=None,
    covariances=None,
    reg_covar: float = 0.0,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
) -> gmm.GMMResult:
    """Fit a Gaussian mixture by MAP-EM: the mode of the posterior under the conjugate prior.

    The prior's five settings are those of :func:`make_prior`; the others
    mean what they mean in :func:`emtutor.gmm.fit`, except that
    ``reg_covar`` defaults to 0 (a covariance prior keeps the covariances
    positive definite by itself, and with ``reg_covar = 0`` the driver
    demands that every iteration raise the log-posterior).  With every
    prior setting None this is :func:`emtutor.gmm.fit` with the given
    ``reg_covar``.

    Returns
    -------
    GMMResult
        As :func:`emtutor.gmm.fit`'s, with ``objectives`` (and the restarts'
        finals) the log-posterior :eq:`map-log-posterior` and
        ``objective_name`` ``"log-posterior"``.

    Raises
    ------
    ValueError
        As :func:`emtutor.gmm.fit`, and for prior settings out of range.
    """
    X = as_data_matrix(X)
    prior = make_prior(X, n_components, covariance_type=covariance_type,
                       weight_concentration_prior=weight_concentration_prior,
                       mean_precision_prior=mean_precision_prior, mean_prior=mean_prior,
                       covariance_prior=covariance_prior, degrees_of_freedom_prior=degrees_of_freedom_prior)
    return _fit(X, n_components, prior=prior, init=init, n_init=n_init, weights=weights, means=means,
                covariances=covariances, reg_covar=reg_covar, tol=tol, max_iter=max_iter,
                random_state=random_state, record=record)


def _fit(X, n_components, *, prior: GMMPrior, reg_covar, **settings) -> gmm.GMMResult:
    """:func:`fit` for a validated ``X`` and a resolved prior (used by the estimator too)."""
    kind = prior.covariance_type
    if prior.is_flat:
        return gmm._fit(X, n_components, covariance_type=kind, reg_covar=reg_covar, **settings)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    steps = (
        partial(e_step, prior=prior),
        partial(m_step, prior=prior, reg_covar=reg_covar),
        partial(regularisation_slack, prior=prior, reg_covar=reg_covar) if reg_covar > 0 else None,
        "log-posterior",
    )
    return gmm._fit(X, n_components, covariance_type=kind, reg_covar=reg_covar, steps=steps, **settings)
