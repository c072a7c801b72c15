"""``GaussianMixture``: a scikit-learn-style estimator on top of :mod:`emtutor.gmm`.

The estimator holds settings and fitted attributes (names ending in ``_``);
all the computing is done by the pure functions of :mod:`emtutor.gmm`::

    >>> from emtutor import GaussianMixture, datasets
    >>> X = datasets.three_gaussians()
    >>> model = GaussianMixture(3, random_state=0).fit(X)
    >>> model.means_.shape
    (3, 2)
"""

from __future__ import annotations

import numpy as np

from . import gmm
from ._validation import as_data_matrix, check_positive_int
from .em import NotFittedError

__all__ = ["GaussianMixture"]


class GaussianMixture:
    """Gaussian mixture model fitted by EM (:eq:`gmm-density`).

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"
        See :data:`emtutor.gmm.COVARIANCE_TYPES`.
    init : {"kmeans++", "random_from_data"}, default "kmeans++"
        How the initial means are chosen when ``means_init`` is not given.
    n_init : int, default 1
        Number of restarts; the fit with the highest final log-likelihood is kept.
    reg_covar : float, default 1e-6
        Added to the diagonal of every covariance in each M-step.
    tol : float, default 1e-4
        Stop when the *total* log-likelihood changes by less than ``tol``
        (scikit-learn's ``tol`` is per sample).
    max_iter : int, default 100
    random_state : int, numpy Generator or None
    record : bool, default False
        Keep every iteration's parameters and responsibilities in ``history_``.
    weights_init, means_init, covariances_init : array, optional
        Explicit initial parameters (used exactly, in every restart).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape given by ``covariance_type`` (see :data:`emtutor.gmm.COVARIANCE_TYPES`).
    converged_ : bool
    n_iter_ : int
    log_likelihoods_ : ndarray of shape (n_iter_,)
        Total log-likelihood after every iteration of the kept restart.
    initial_log_likelihood_ : float
    log_likelihood_ : float
        Final total log-likelihood.
    lower_bound_ : float
        ``log_likelihood_ / n_samples``: the per-sample log-likelihood of the
        *final* parameters (scikit-learn's is that of the parameters before
        its last M-step).
    init_log_likelihoods_ : ndarray of shape (n_init,)
        Final log-likelihood reached from each restart.
    optima_ : ndarray of shape (n_optima,)
        The distinct final log-likelihoods of the restarts, best first.
    optima_counts_ : ndarray of shape (n_optima,)
        How many restarts reached each of ``optima_``.
    best_init_ : int
        Index of the restart that was kept.
    restarts_ : emtutor.gmm.RestartSummary
        The same information in one object.
    history_ : emtutor.em.EMHistory or None
        Per-iteration parameters and responsibilities when ``record=True``.
    n_features_in_ : int
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        init: str = "kmeans++",
        n_init: int = 1,
        reg_covar: float = 1e-6,
        tol: float = 1e-4,
        max_iter: int = 100,
        random_state=None,
        record: bool = False,
        weights_init=None,
        means_init=None,
        covariances_init=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.init = init
        self.n_init = n_init
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.record = record
        self.weights_init = weights_init
        self.means_init = means_init
        self.covariances_init = covariances_init

    def __repr__(self) -> str:
        return f"GaussianMixture(n_components={self.n_components}, covariance_type={self.covariance_type!r})"

    # -- fitting -------------------------------------------------------------

    def fit(self, X, y=None) -> "GaussianMixture":
        """Fit the mixture to ``X`` by EM (see :func:`emtutor.gmm.fit`).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        X = as_data_matrix(X)
        result = gmm.fit(
            X,
            self.n_components,
            covariance_type=self.covariance_type,
            init=self.init,
            n_init=self.n_init,
            weights=self.weights_init,
            means=self.means_init,
            covariances=self.covariances_init,
            reg_covar=self.reg_covar,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
            record=self.record,
        )
        self.result_ = result
        self.weights_, self.means_, self.covariances_ = result.params
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.log_likelihoods_ = result.log_likelihoods
        self.initial_log_likelihood_ = result.initial_log_likelihood
        self.log_likelihood_ = result.log_likelihood
        self.lower_bound_ = result.log_likelihood / len(X)
        self.restarts_ = result.restarts
        self.init_log_likelihoods_ = result.restarts.log_likelihoods
        self.optima_ = result.restarts.optima
        self.optima_counts_ = result.restarts.counts
        self.best_init_ = result.restarts.best
        self.history_ = result.history
        self.n_features_in_ = X.shape[1]
        return self

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit, then return the most responsible component of each point."""
        return self.fit(X).predict(X)

    # -- using a fitted model -----------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError(
                "this GaussianMixture is not fitted yet; call fit(X) before using it"
            )

    def _check_fitted_X(self, X) -> np.ndarray:
        self._check_fitted()
        X = as_data_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but this GaussianMixture was fitted "
                f"with {self.n_features_in_}"
            )
        return X

    @property
    def params_(self) -> gmm.GMMParams:
        """The fitted parameters as a :class:`emtutor.gmm.GMMParams`."""
        self._check_fitted()
        return gmm.GMMParams(self.weights_, self.means_, self.covariances_)

    def _e_step(self, X):
        X = self._check_fitted_X(X)
        return gmm.e_step(X, self.params_, self.covariance_type)

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities :eq:`gmm-e-step`: array of shape (n_samples, n_components)."""
        return self._e_step(X)[0]

    def predict(self, X) -> np.ndarray:
        """Most responsible component of each point: array of shape (n_samples,)."""
        return np.argmax(self._e_step(X)[0], axis=1)

    def score_samples(self, X) -> np.ndarray:
        """``log p(x_n)`` of each point: array of shape (n_samples,)."""
        return self._e_step(X)[1]

    def score(self, X, y=None) -> float:
        """Average log-likelihood per sample (as in scikit-learn)."""
        return float(np.mean(self.score_samples(X)))

    def _n_parameters(self) -> int:
        return gmm.n_parameters(self.n_components, self.n_features_in_, self.covariance_type)

    def bic(self, X) -> float:
        """Bayesian information criterion ``-2 log L + p log n`` (lower is better)."""
        X = self._check_fitted_X(X)
        return float(-2 * np.sum(self.score_samples(X)) + self._n_parameters() * np.log(len(X)))

    def aic(self, X) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (lower is better)."""
        X = self._check_fitted_X(X)
        return float(-2 * np.sum(self.score_samples(X)) + 2 * self._n_parameters())

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw points from the fitted mixture.

        Uses ``random_state`` afresh at each call (an integer seed gives the
        same draw every time, as in scikit-learn).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Grouped by component.
        labels : ndarray of shape (n_samples,)
            The component that generated each point.
        """
        n_samples = check_positive_int(n_samples, "n_samples", 1)
        self._check_fitted()
        rng = np.random.default_rng(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        covariances = gmm.full_covariances(
            self.covariances_, self.n_components, self.n_features_in_, self.covariance_type
        )
        X = np.vstack([
            rng.multivariate_normal(mean, cov, size=count, method="cholesky")
            for mean, cov, count in zip(self.means_, covariances, counts)
        ])
        labels = np.repeat(np.arange(self.n_components), counts)
        return X, labels
