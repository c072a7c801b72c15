"""scikit-learn-compatible estimators for every model, on top of the model modules.

Each model module (:mod:`emtutor.gmm`, :mod:`emtutor.hmm`,
:mod:`emtutor.missing`, :mod:`emtutor.lda`) holds the model's pure steps and
a ``fit`` function; this module wraps each in an estimator that follows
scikit-learn's conventions (hmmlearn's for the HMMs):

* every setting is a keyword of ``__init__``, stored verbatim and validated
  in ``fit``, so ``get_params``/``set_params``, ``sklearn.base.clone``,
  ``Pipeline`` and ``GridSearchCV`` work (without :mod:`emtutor` importing
  scikit-learn: the protocol is implemented here);
* ``fit(X, y=None)`` (``fit(X, lengths=None)`` for HMMs, as in hmmlearn)
  validates ``X`` once and hands it to the model module, whose private
  helpers trust it;
* fitted attributes end in ``_``; every estimator has ``n_features_in_``,
  ``n_iter_``, ``converged_``, ``objectives_`` (the objective after every
  EM iteration: the log-likelihood, or for LDA the ELBO), ``objective_``
  (the final one), ``history_`` (per-iteration parameters and expectations
  when ``record=True``, else None) and ``params_`` (the fitted parameters as
  the model module's named tuple);
* methods that need a fitted model raise :class:`~emtutor.em.NotFittedError`;
* ``random_state`` is used afresh by every call that draws (``fit``,
  ``sample``): an integer seed gives the same draws each time, as in
  scikit-learn.

Dask arrays.  :class:`GaussianMixture`, :class:`MissingNormal` and
:class:`LatentDirichletAllocation` also ``fit`` a ``dask.array.Array``
(chunked along rows): the fit is then the map-reduce EM of
:mod:`emtutor.mapreduce`, with the same iterations, and the data are read
chunk by chunk, never gathered.  The other methods (``predict``,
``transform``, ``score``, ...) compute their input in memory;
:func:`emtutor.mapreduce.responsibilities` gives a mixture's
responsibilities as a Dask array.

``score`` follows each family's peer: the mean log-likelihood per sample
for :class:`GaussianMixture`, :class:`BernoulliMixture` and :class:`MissingNormal` (scikit-learn's
``GaussianMixture.score``), the total log-likelihood of the sequences for
the HMMs (hmmlearn), the total ELBO of the documents for
:class:`LatentDirichletAllocation` (scikit-learn's ``LatentDirichletAllocation.score``).
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from . import bernoulli, factor, gmm, hmm, lda, map_gmm, mapreduce, missing, online, tmix, vbgmm
from ._validation import as_data_matrix, as_rng, check_nonnegative, check_positive_int
from .em import EMResult, NotFittedError

__all__ = [
    "GaussianMixture",
    "BernoulliMixture",
    "BayesianGaussianMixture",
    "FactorAnalysis",
    "ProbabilisticPCA",
    "CategoricalHMM",
    "GaussianHMM",
    "MissingNormal",
    "LatentDirichletAllocation",
    "StudentTMixture",
]


class _AvailableIf:
    """A method that exists only while ``unavailable(estimator)`` returns None.

    scikit-learn's convention for a method that some settings rule out
    (its ``available_if``; emtutor does not import scikit-learn): the
    attribute lookup raises ``AttributeError`` with the reason, so
    ``hasattr(estimator, name)`` is False and tools that test for the
    method (``check_estimator``, meta-estimators) skip it.
    """

    def __init__(self, unavailable: Callable[[Any], str | None], method: Callable):
        self.unavailable, self.method = unavailable, method
        functools.update_wrapper(self, method)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.method
        reason = self.unavailable(obj)
        if reason is not None:
            raise AttributeError(reason)
        return self.method.__get__(obj, owner)


def _available_if(unavailable: Callable[[Any], str | None]):
    return lambda method: _AvailableIf(unavailable, method)


_PRIOR_SETTINGS = ("weight_concentration_prior", "mean_precision_prior", "mean_prior", "covariance_prior",
                   "degrees_of_freedom_prior")


def _prior_rules_out_partial_fit(estimator) -> str | None:
    given = [name for name in _PRIOR_SETTINGS if getattr(estimator, name) is not None]
    if given:
        return (f"{given[0]} is set: this GaussianMixture fits MAP-EM, which has no partial_fit "
                "(stochastic EM here is maximum likelihood); use fit, or drop the prior settings")
    return None


class _Estimator:
    """scikit-learn's estimator protocol: parameters, repr, tags, fitted checks."""

    #: scikit-learn's ``estimator_type`` tag; None for the HMMs.
    _estimator_type: str | None = None
    _transformer = False
    _input_tags: dict = {}

    @classmethod
    def _get_param_names(cls) -> list:
        signature = inspect.signature(cls.__init__)
        return sorted(name for name in signature.parameters if name != "self")

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments, as given (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor arguments by name; returns ``self``.

        Raises
        ------
        ValueError
            For a name that is not an argument of the constructor.
        """
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; valid parameters are {valid}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [
            f"{name}={value!r}" for name, value in self.get_params().items()
            if not _same(value, defaults.get(name, inspect.Parameter.empty))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        # Called only by scikit-learn itself, so it is already imported.
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags() if self._transformer else None,
            input_tags=InputTags(**self._input_tags),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_iter_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise _not_fitted_error_class()(
                f"this {type(self).__name__} is not fitted yet; call fit before using it"
            )

    def _check_n_features(self, n_features: int) -> None:
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )

    def _store_run(self, result: EMResult, n_features: int):
        """The attributes every estimator sets from the driver's result."""
        self.params_ = result.params
        for name in result.params._fields:
            setattr(self, name + "_", getattr(result.params, name))
        self.objectives_ = result.objectives
        self.objective_ = result.objective
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.history_ = result.history
        self.n_features_in_ = n_features
        return self


@functools.cache
def _combined_not_fitted_error(sklearn_error: type) -> type:
    return type("NotFittedError", (NotFittedError, sklearn_error), {"__module__": NotFittedError.__module__})


def _not_fitted_error_class() -> type:
    """:class:`~emtutor.em.NotFittedError`; once scikit-learn is imported (by the
    caller: emtutor never imports it), a subclass that is also scikit-learn's
    ``NotFittedError``, so code catching either one catches it."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return NotFittedError
    return _combined_not_fitted_error(sklearn_exceptions.NotFittedError)


def _keep_arguments(estimator, arguments: dict) -> None:
    """Store every constructor argument verbatim, as scikit-learn's protocol asks
    (``__init__`` does nothing else; ``fit`` validates)."""
    for name in estimator._get_param_names():
        setattr(estimator, name, arguments[name])


def _same(value, default) -> bool:
    if value is default:
        return True
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def _reject_sparse(X, estimator):
    """``X`` unchanged, or a ``TypeError`` that says sparse input is not accepted."""
    if sp.issparse(X):
        raise TypeError(
            f"{type(estimator).__name__} does not accept sparse input; convert X with X.toarray()"
        )
    return X


def _dense_data(X, estimator) -> np.ndarray:
    """``X`` as a float matrix (validated once, here at the public boundary)."""
    return as_data_matrix(_reject_sparse(X, estimator))


# --------------------------------------------------------------------------
# Gaussian mixtures


class _Mixture(_Estimator):
    """What the mixture estimators share: everything computed from the E-step.

    Subclasses define ``_e_step(X) -> (resp, log_norm)`` (validating ``X``)
    and ``_n_parameters()``.
    """

    _estimator_type = "density_estimator"

    def _store_mixture_run(self, result, X) -> None:
        """The driver's attributes, plus the per-sample ``lower_bound_`` and ``restarts_``."""
        self._store_run(result, X.shape[1])
        self.lower_bound_ = result.objective / X.shape[0]
        self.restarts_ = result.restarts

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit, then return the most responsible component of each point."""
        return self.fit(X).predict(X)

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities (the E-step): array of shape (n_samples, n_components)."""
        return self._e_step(X)[0]

    def predict(self, X) -> np.ndarray:
        """Most responsible component of each point: array of shape (n_samples,)."""
        return np.argmax(self._e_step(X)[0], axis=1)

    def score_samples(self, X) -> np.ndarray:
        """``log p(x_n)`` of each point: array of shape (n_samples,)."""
        return self._e_step(X)[1]

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per sample (scikit-learn's ``score``)."""
        return float(np.mean(self.score_samples(X)))

    def bic(self, X) -> float:
        """Bayesian information criterion ``-2 log L + p log n`` (lower is better), :eq:`gmm-bic`."""
        log_norm = self.score_samples(X)
        return float(-2 * np.sum(log_norm) + self._n_parameters() * np.log(len(log_norm)))

    def aic(self, X) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` (lower is better), :eq:`gmm-aic`."""
        return float(-2 * np.sum(self.score_samples(X)) + 2 * self._n_parameters())


class GaussianMixture(_Mixture):
    """Gaussian mixture model fitted by EM (:eq:`gmm-density`); see :func:`emtutor.gmm.fit`.

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"
        See :data:`emtutor.gmm.COVARIANCE_TYPES`.
    init : {"k-means++", "random_from_data"}, default "k-means++"
        How the initial means are chosen when ``means_init`` is not given
        (scikit-learn calls this setting ``init_params``).
    n_init : int, default 1
        Number of restarts; the fit with the highest final log-likelihood is kept.
    reg_covar : float, default 1e-6
        ``epsilon`` in ``Sigma_k = S_k / N_k + epsilon I`` (scikit-learn's meaning).
    tol : float, default 1e-4
        Stop when the log-likelihood *per sample* changes by less than ``tol``
        (scikit-learn's rule; its default is 1e-3).
    max_iter : int, default 100
    random_state : int, numpy Generator or None
    record : bool, default False
        Keep every iteration's parameters and responsibilities in ``history_``.
    weights_init, means_init : array, optional
        Explicit initial weights and means (used exactly, in every restart).
    precisions_init, covariances_init : array, optional
        Explicit initial precisions (scikit-learn's) or covariances, of the
        shape ``covariance_type`` asks for; give at most one of them.
    weight_concentration_prior, mean_precision_prior, mean_prior, covariance_prior, degrees_of_freedom_prior : optional
        A conjugate prior (see :func:`emtutor.map_gmm.make_prior`):
        ``Dir(alpha)`` on the weights, ``N(m_0, Sigma_k / kappa)`` on the
        means, ``IW(Psi, nu)`` on the covariances, with scikit-learn's
        ``BayesianGaussianMixture`` names.  If any is given, ``fit`` runs
        MAP-EM (:func:`emtutor.map_gmm.fit`) and the objective is the
        log-posterior :eq:`map-log-posterior`; all None (the default) is
        maximum-likelihood EM.  ``reg_covar`` keeps its meaning (added to
        the covariances after every M-step); with a covariance prior set it
        to 0 to get the exact posterior mode.
    learning_decay, learning_offset : float, default 0.7 and 10.0
        The step sizes ``chi_t = (learning_offset + t) ** -learning_decay``
        of :meth:`partial_fit` (stochastic EM, :eq:`online-step-sizes`):
        ``learning_decay`` in ``(0.5, 1]``, ``learning_offset >= 0``; the
        names, meanings and defaults of scikit-learn's
        ``LatentDirichletAllocation`` (see :func:`emtutor.online.check_learning_schedule`).
        ``fit`` does not use them.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape given by ``covariance_type`` (see :data:`emtutor.gmm.COVARIANCE_TYPES`).
    params_ : emtutor.gmm.GMMParams
    converged_ : bool
    n_iter_ : int
    objectives_ : ndarray of shape (n_iter_,)
        The total log-likelihood (with a prior: log-posterior) after every
        iteration of the kept restart.
    objective_ : float
        The final total log-likelihood (with a prior: log-posterior).
    lower_bound_ : float
        ``objective_ / n_samples``: the per-sample log-likelihood of the
        *final* parameters (scikit-learn's is that of the parameters before
        its last M-step).
    restarts_ : emtutor.gmm.RestartSummary
        The final objective of every restart and how often each
        distinct optimum was reached.
    prior_ : emtutor.map_gmm.GMMPrior
        The prior with its defaults filled in (``prior_.is_flat`` without one).
    history_ : emtutor.em.EMHistory or None
    n_features_in_ : int

    Examples
    --------
    >>> from emtutor import GaussianMixture, datasets
    >>> model = GaussianMixture(3, random_state=0).fit(datasets.three_gaussians())
    >>> model.means_.shape
    (3, 2)
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        init: str = "k-means++",
        n_init: int = 1,
        reg_covar: float = 1e-6,
        tol: float = 1e-4,
        max_iter: int = 100,
        random_state=None,
        record: bool = False,
        weights_init=None,
        means_init=None,
        precisions_init=None,
        covariances_init=None,
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        covariance_prior=None,
        degrees_of_freedom_prior=None,
        learning_decay: float = 0.7,
        learning_offset: float = 10.0,
    ):
        _keep_arguments(self, locals())

    def fit(self, X, y=None) -> "GaussianMixture":
        """Fit the mixture to ``X`` by EM (see :func:`emtutor.gmm.fit`).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self

        Notes
        -----
        A ``dask.array.Array`` is fitted by :func:`emtutor.mapreduce.fit_gmm`
        (maximum likelihood only: the prior settings must then be None);
        ``prior_`` is then None.
        """
        if mapreduce.is_dask_array(X):
            return self._fit_dask(X)
        X = _dense_data(X, self)
        prior = map_gmm.make_prior(
            X, self.n_components, covariance_type=self.covariance_type,
            weight_concentration_prior=self.weight_concentration_prior,
            mean_precision_prior=self.mean_precision_prior, mean_prior=self.mean_prior,
            covariance_prior=self.covariance_prior, degrees_of_freedom_prior=self.degrees_of_freedom_prior,
        )
        result = map_gmm._fit(
            X,
            self.n_components,
            prior=prior,
            init=self.init,
            n_init=self.n_init,
            weights=self.weights_init,
            means=self.means_init,
            covariances=self._initial_covariances(),
            reg_covar=self.reg_covar,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
            record=self.record,
        )
        self._store_mixture_run(result, X)
        self.prior_ = prior
        return self

    @_available_if(_prior_rules_out_partial_fit)
    def partial_fit(self, X, y=None) -> "GaussianMixture":
        """One step of stochastic EM (Cappé & Moulines 2009) with the mini-batch ``X``.

        scikit-learn's ``GaussianMixture`` has no ``partial_fit``; this one
        follows the conventions of its other estimators' (such as
        ``LatentDirichletAllocation.partial_fit``).  Each call is one step
        of :func:`emtutor.online.stochastic_step` (:eq:`online-stochastic-step`):
        the running per-observation statistics move towards those of ``X``
        by ``chi_t = (learning_offset + t) ** -learning_decay``, ``t`` the
        number of calls so far, and the parameters are the M-step of them.

        The first call (on an unfitted estimator) chooses the initial
        parameters from ``X`` as :meth:`fit` does (``init``,
        ``random_state``, the ``*_init`` arguments; ``X`` needs at least
        ``n_components`` distinct rows), starts the statistics at them, about
        the mean of the initial means, and fixes ``n_features_in_``; a call
        after :meth:`fit` continues from the fitted parameters, with ``t``
        counted afresh.  ``n_init``, ``tol``, ``max_iter`` and ``record``
        are not used (stochastic EM has no stopping rule: the caller decides
        how many mini-batches to feed), and the conjugate prior is not
        supported.

        Sets the attributes of :meth:`fit`, with ``n_iter_`` the number of
        steps taken, ``objectives_`` the log-likelihood of every mini-batch
        under the parameters before its step (a by-product of the E-step),
        ``converged_`` always False, ``history_`` and ``restarts_`` None.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For invalid ``X`` (or a number of features other than the first
            call's), ``learning_decay`` outside ``(0.5, 1]``, a negative
            ``learning_offset``.
        AttributeError
            On access, when a prior setting is given: MAP-EM has no
            ``partial_fit`` (scikit-learn's convention for a method that
            settings rule out; ``hasattr`` is then False).
        """
        X = _dense_data(X, self)
        decay, offset = online.check_learning_schedule(self.learning_decay, self.learning_offset)
        reg_covar = check_nonnegative(self.reg_covar, "reg_covar")
        covariance_type = self.covariance_type
        state = getattr(self, "_online_state", None)
        if state is not None and state[2] is self.params_:
            stats, n_steps, params, objectives = state
            self._check_n_features(X.shape[1])
        else:
            if self.__sklearn_is_fitted__():  # continue from fit's parameters
                self._check_n_features(X.shape[1])
                params = self.params_
            else:
                params = online.initial_mixture(X, self.n_components, covariance_type, self.init, reg_covar,
                                                as_rng(self.random_state), self.weights_init, self.means_init,
                                                self._initial_covariances())
            stats = online.statistics_of_params(params, params.means.mean(axis=0), reg_covar=reg_covar,
                                                covariance_type=covariance_type)
            n_steps, objectives = 0, []
        n_steps += 1
        stats, params, log_likelihood = online.stochastic_step(X, stats, params, (offset + n_steps) ** -decay,
                                                               reg_covar=reg_covar, covariance_type=covariance_type)
        objectives = [*objectives, log_likelihood]
        self._store_run(EMResult(params, None, np.array(objectives), objectives[0], n_steps, False), X.shape[1])
        self.lower_bound_ = log_likelihood / len(X)
        self.restarts_ = None
        self.prior_ = map_gmm.make_prior(X, self.n_components, covariance_type=covariance_type)
        self._online_state = (stats, n_steps, self.params_, objectives)
        return self

    def _fit_dask(self, X) -> "GaussianMixture":
        given = [name for name in _PRIOR_SETTINGS if getattr(self, name) is not None]
        if given:
            raise ValueError(f"{', '.join(given)} given: MAP-EM with a prior does not run on Dask arrays "
                             "(emtutor.mapreduce fits maximum likelihood); compute X or drop the prior")
        result = mapreduce.fit_gmm(
            X, self.n_components, covariance_type=self.covariance_type, init=self.init, n_init=self.n_init,
            weights=self.weights_init, means=self.means_init, covariances=self._initial_covariances(),
            reg_covar=self.reg_covar, tol=self.tol, max_iter=self.max_iter, random_state=self.random_state,
            record=self.record)
        self._store_mixture_run(result, X)
        self.prior_ = None
        return self

    def _initial_covariances(self):
        if self.precisions_init is None:
            return self.covariances_init
        if self.covariances_init is not None:
            raise ValueError("give precisions_init or covariances_init, not both")
        precisions = np.asarray(self.precisions_init, dtype=float)
        if self.covariance_type in ("full", "tied"):
            try:
                return np.linalg.inv(precisions)
            except np.linalg.LinAlgError:
                raise ValueError("precisions_init is singular") from None
        with np.errstate(divide="ignore"):
            return 1.0 / precisions

    def _e_step(self, X):
        self._check_fitted()
        X = _dense_data(X, self)
        self._check_n_features(X.shape[1])
        return gmm.e_step(X, self.params_, covariance_type=self.covariance_type)

    def _n_parameters(self) -> int:
        return gmm.n_parameters(self.n_components, self.n_features_in_, self.covariance_type)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw points from the fitted mixture.

        Uses ``random_state`` afresh at each call (an integer seed gives the
        same draws every time, as in scikit-learn).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Grouped by component.
        labels : ndarray of shape (n_samples,)
            The component that generated each point.
        """
        self._check_fitted()
        n_samples = check_positive_int(n_samples, "n_samples", 1)
        rng = as_rng(self.random_state)
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


class BayesianGaussianMixture(_Estimator):
    """Variational Bayesian Gaussian mixture (full covariances); see :func:`emtutor.vbgmm.fit`.

    Follows scikit-learn's ``BayesianGaussianMixture`` with
    ``weight_concentration_prior_type="dirichlet_distribution"`` and
    ``covariance_type="full"`` (same settings, defaults and fitted
    attributes; the tests match its iterates), the mixture's ``init``
    setting aside: the start is each point assigned to the nearest k-means++
    seed.

    Parameters
    ----------
    n_components : int, default 1
        An upper bound on the number of components.
    weight_concentration_prior, mean_precision_prior, mean_prior, degrees_of_freedom_prior, covariance_prior
        The prior :eq:`vb-priors`; None gives scikit-learn's defaults.
    n_init, reg_covar, tol, max_iter, random_state, record
        As :class:`GaussianMixture` (``tol`` on the ELBO per sample).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Posterior mean weights ``alpha_k / sum_j alpha_j``.
    weight_concentration_, mean_precision_, means_, degrees_of_freedom_, covariances_
        The posterior hyperparameters (:class:`emtutor.vbgmm.VBParams`).
    objectives_ : ndarray
        The ELBO after every iteration.
    """

    _estimator_type = "density_estimator"

    def __init__(
        self,
        n_components: int = 1,
        *,
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        n_init: int = 1,
        reg_covar: float = 1e-6,
        tol: float = 1e-4,
        max_iter: int = 100,
        random_state=None,
        record: bool = False,
    ):
        _keep_arguments(self, locals())

    def fit(self, X, y=None) -> "BayesianGaussianMixture":
        """Fit by coordinate ascent on the ELBO (see :func:`emtutor.vbgmm.fit`); returns ``self``."""
        X = _dense_data(X, self)
        result = vbgmm.fit(
            X, self.n_components, weight_concentration_prior=self.weight_concentration_prior,
            mean_precision_prior=self.mean_precision_prior, mean_prior=self.mean_prior,
            degrees_of_freedom_prior=self.degrees_of_freedom_prior, covariance_prior=self.covariance_prior,
            n_init=self.n_init, reg_covar=self.reg_covar, tol=self.tol, max_iter=self.max_iter,
            random_state=self.random_state, record=self.record,
        )
        self._store_run(result, X.shape[1])
        self.weights_ = self.weight_concentration_ / self.weight_concentration_.sum()
        self.prior_ = result.prior
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities :eq:`vb-resp`: array of shape (n_samples, n_components)."""
        self._check_fitted()
        X = _dense_data(X, self)
        self._check_n_features(X.shape[1])
        return vbgmm.e_step(X, self.params_, prior=self.prior_)[0]

    def predict(self, X) -> np.ndarray:
        """Most responsible component of each point."""
        return np.argmax(self.predict_proba(X), axis=1)

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit, then :meth:`predict` ``X``."""
        return self.fit(X).predict(X)


# --------------------------------------------------------------------------
# Mixtures of Bernoullis


class BernoulliMixture(_Mixture):
    """Mixture of multivariate Bernoulli distributions fitted by EM (:eq:`bern-density`);
    see :func:`emtutor.bernoulli.fit`.

    scikit-learn has no counterpart; the settings and methods are those of
    :class:`GaussianMixture` that apply (no covariances, so no
    ``covariance_type`` or ``reg_covar``: the likelihood is bounded).
    ``X`` must hold only 0 and 1.

    Parameters
    ----------
    n_components : int, default 1
    n_init : int, default 1
        Number of restarts; the fit with the highest final log-likelihood is kept.
    tol : float, default 1e-4
        Stop when the log-likelihood *per sample* changes by less than ``tol``.
    max_iter : int, default 100
    random_state : int, numpy Generator or None
        Seed for the initial means (uniform on (0.25, 0.75), Bishop's start).
    record : bool, default False
        Keep every iteration's parameters and responsibilities in ``history_``.
    weights_init, means_init : array, optional
        Explicit initial weights and means (used exactly, in every restart).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
        ``means_[k, i]``: the probability that component ``k`` switches
        feature ``i`` on.
    params_ : emtutor.bernoulli.BernoulliParams
    converged_ : bool
    n_iter_ : int
    objectives_ : ndarray of shape (n_iter_,)
        The total log-likelihood after every iteration of the kept restart.
    objective_ : float
    lower_bound_ : float
        ``objective_ / n_samples``.
    restarts_ : emtutor.gmm.RestartSummary
    history_ : emtutor.em.EMHistory or None
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from emtutor import BernoulliMixture
    >>> X = np.array([[1, 1, 0, 0]] * 5 + [[0, 0, 1, 1]] * 5)
    >>> BernoulliMixture(2, random_state=0).fit(X).predict(X).tolist()
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        n_init: int = 1,
        tol: float = 1e-4,
        max_iter: int = 100,
        random_state=None,
        record: bool = False,
        weights_init=None,
        means_init=None,
    ):
        _keep_arguments(self, locals())

    def fit(self, X, y=None) -> "BernoulliMixture":
        """Fit the mixture to the binary rows of ``X`` by EM (see :func:`emtutor.bernoulli.fit`).

        Parameters
        ----------
        X : array of shape (n_samples, n_features), entries 0 or 1
        y : ignored

        Returns
        -------
        self
        """
        X = bernoulli.as_binary_matrix(_reject_sparse(X, self))
        result = bernoulli._fit(
            X,
            self.n_components,
            n_init=self.n_init,
            weights=self.weights_init,
            means=self.means_init,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
            record=self.record,
        )
        self._store_mixture_run(result, X)
        return self

    def _e_step(self, X):
        self._check_fitted()
        X = bernoulli.as_binary_matrix(_reject_sparse(X, self))
        self._check_n_features(X.shape[1])
        return bernoulli.e_step(X, self.params_)

    def _n_parameters(self) -> int:
        return bernoulli.n_parameters(self.n_components, self.n_features_in_)

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw binary rows from the fitted mixture (``random_state`` used afresh each call).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), entries 0.0 or 1.0
            Grouped by component.
        labels : ndarray of shape (n_samples,)
        """
        self._check_fitted()
        n_samples = check_positive_int(n_samples, "n_samples", 1)
        rng = as_rng(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        labels = np.repeat(np.arange(self.n_components), counts)
        X = (rng.random((n_samples, self.n_features_in_)) < self.means_[labels]).astype(float)
        return X, labels


# --------------------------------------------------------------------------
# Factor models


class _FactorModel(_Estimator):
    """What factor analysis and probabilistic PCA share; subclasses set ``_noise``."""

    _noise = "diagonal"
    _transformer = True
    _input_tags = {"allow_nan": True}

    def __init__(
        self,
        n_factors: int = 1,
        *,
        tol: float = 1e-4,
        max_iter: int = 1000,
        random_state=None,
        record: bool = False,
        components_init=None,
        noise_variance_init=None,
    ):
        _keep_arguments(self, locals())

    def fit(self, X, y=None):
        """Fit the model to ``X`` by EM (see :func:`emtutor.factor.fit`).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            ``NaN`` marks a missing value (any pattern): EM then maximises the
            likelihood of the observed values, :eq:`fa-missing-log-likelihood`.
        y : ignored

        Returns
        -------
        self
        """
        X = as_data_matrix(_reject_sparse(X, self), allow_nan=True)
        result = factor._fit(
            factor.as_missing_data(X) if np.isnan(X).any() else factor._summarise(X),
            self.n_factors,
            noise=self._noise,
            components=self.components_init,
            noise_variance=self.noise_variance_init,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
            record=self.record,
        )
        return self._store_run(result, X.shape[1])

    def _data(self, X) -> np.ndarray:
        self._check_fitted()
        X = as_data_matrix(_reject_sparse(X, self), allow_nan=True)
        self._check_n_features(X.shape[1])
        return X

    def transform(self, X) -> np.ndarray:
        """The posterior means of the factors, ``E[z_n | x_n]`` :eq:`fa-posterior`: shape (n_samples, n_factors).

        A row with missing values (``NaN``) gets ``E[z_n | x_n,o]`` given its
        observed values, :eq:`fa-missing-posterior`; a row with nothing observed, 0.
        """
        return factor.posterior_means(self._data(X), self.params_)

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit, then :meth:`transform` ``X``."""
        return self.fit(X).transform(X)

    def score_samples(self, X) -> np.ndarray:
        """``log p(x_n)`` of each row under :eq:`fa-marginal`: shape (n_samples,).

        For a row with missing values (``NaN``), the density of its observed
        values, :eq:`fa-missing-log-likelihood` (0 for a row with nothing observed).
        """
        return factor.log_density(self._data(X), self.params_)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per sample (scikit-learn's ``FactorAnalysis.score``)."""
        return float(np.mean(self.score_samples(X)))

    def get_covariance(self) -> np.ndarray:
        """The model's covariance ``Sigma = W W^T + Phi`` :eq:`fa-marginal`: shape (n_features, n_features)."""
        self._check_fitted()
        return self.components_.T @ self.components_ + np.diag(self.noise_variance_)

    def sample(self, n_samples: int = 1) -> np.ndarray:
        """Draw points ``W z + mu + e`` (``random_state`` used afresh each call): shape (n_samples, n_features)."""
        self._check_fitted()
        n_samples = check_positive_int(n_samples, "n_samples", 1)
        rng = as_rng(self.random_state)
        z = rng.standard_normal((n_samples, len(self.components_)))
        noise = rng.standard_normal((n_samples, self.n_features_in_)) * np.sqrt(self.noise_variance_)
        return z @ self.components_ + self.mean_ + noise


class FactorAnalysis(_FactorModel):
    """Factor analysis fitted by EM: the model :eq:`fa-model` with diagonal noise; see :func:`emtutor.factor.fit`.

    Follows scikit-learn's ``FactorAnalysis`` (same fitted attributes,
    ``transform`` and ``score``), which maximises the same likelihood by a
    different algorithm; the number of factors is ``n_factors`` (scikit-learn
    calls it ``n_components``, which in emtutor is always the number of
    latent classes).

    Missing values: unlike scikit-learn's ``FactorAnalysis`` and ``PCA``,
    which reject ``NaN``, ``X`` may mark missing values with ``NaN`` in any
    pattern (as :class:`MissingNormal`).  ``fit`` then maximises the
    likelihood of the observed values by EM (:func:`emtutor.factor.fit`),
    ``transform`` gives each row's factors given its observed values and
    ``score_samples`` the log density of its observed values; a row with
    nothing observed adds nothing to the fit, transforms to 0 and scores 0.

    Parameters
    ----------
    n_factors : int, default 1
        ``F``, the number of hidden factors, ``1 <= F < n_features``.
    tol : float, default 1e-4
        Stop when the log-likelihood *per sample* changes by less than ``tol``.
    max_iter : int, default 1000
    random_state : int, numpy Generator or None
        Seed for the initial loadings.
    record : bool, default False
    components_init, noise_variance_init : array, optional
        Explicit initial loadings (shape (n_factors, n_features)) and noise variances.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    components_ : ndarray of shape (n_factors, n_features)
        The loadings ``W^T`` (determined up to a rotation of the factors).
    noise_variance_ : ndarray of shape (n_features,)
    params_ : emtutor.factor.FactorParams
    n_iter_, converged_, objectives_, objective_, history_, n_features_in_
    """

    _noise = "diagonal"


class ProbabilisticPCA(_FactorModel):
    """Probabilistic PCA fitted by EM: the model :eq:`fa-model` with ``Phi = sigma^2 I``; see :func:`emtutor.factor.fit`.

    Its maximum-likelihood solution is known in closed form
    (:func:`emtutor.factor.ppca_closed_form`); EM reaches it without an
    eigendecomposition.  Settings and attributes as :class:`FactorAnalysis`
    (``noise_variance_`` holds ``sigma^2`` for every feature), and, as there,
    ``NaN`` marks a missing value (PPCA with missing values,
    :eq:`fa-missing-log-likelihood`; scikit-learn's ``PCA`` rejects ``NaN``).

    Examples
    --------
    >>> import numpy as np
    >>> from emtutor import ProbabilisticPCA
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 1)) @ [[3.0, 2.0, 1.0, 0.5]] + rng.normal(size=(200, 4))
    >>> X[rng.random(X.shape) < 0.2] = np.nan  # a fifth of the values missing
    >>> model = ProbabilisticPCA(1, random_state=0).fit(X)
    >>> model.transform(X).shape, bool(np.isfinite(model.score(X)))
    ((200, 1), True)
    """

    _noise = "isotropic"


# --------------------------------------------------------------------------
# Hidden Markov models


class _BaseHMM(_Estimator):
    """What the two HMM estimators share; subclasses define ``_kind`` and ``_initial``."""

    _kind = ""

    def fit(self, X, lengths=None):
        """Fit by Baum–Welch (see :func:`emtutor.hmm.fit_categorical` and
        :func:`emtutor.hmm.fit_gaussian`); returns ``self``.

        Parameters
        ----------
        X : array or list of arrays
            See :func:`emtutor.hmm.as_sequences`.
        lengths : array of int, optional
            Lengths of the concatenated sequences (hmmlearn's convention).
        """
        data = hmm.as_sequences(X, lengths, kind=self._kind)
        result = hmm._fit(data, self.n_components, kind=self._kind, learn=self.learn, tol=self.tol,
                          max_iter=self.max_iter, record=self.record, method=self.method,
                          random_state=self.random_state, **self._initial())
        n_features = 1 if self._kind == "categorical" else data.X.shape[1]
        return self._store_run(result, n_features)

    def _covariance_type(self) -> str:
        return getattr(self, "covariance_type", "diag")

    def _data(self, X, lengths):
        self._check_fitted()
        data, _ = hmm._prepare(X, lengths, self.params_, self._covariance_type())
        if self._kind == "gaussian":
            self._check_n_features(data.X.shape[1])
        return data

    def score(self, X, lengths=None) -> float:
        """Total log-likelihood of the sequences, :eq:`hmm-log-likelihood` (hmmlearn's ``score``)."""
        data = self._data(X, lengths)
        return float(np.sum(hmm.posteriors(data, self.params_, covariance_type=self._covariance_type(),
                                           method=self.method)[3]))

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """State posteriors :eq:`hmm-gamma`, shape (n_samples, n_components)."""
        data = self._data(X, lengths)
        return hmm.posteriors(data, self.params_, covariance_type=self._covariance_type(), method=self.method)[0]

    def predict(self, X, lengths=None) -> np.ndarray:
        """The Viterbi path (concatenated over sequences), shape (n_samples,)."""
        return self.decode(X, lengths)[1]

    def decode(self, X, lengths=None, algorithm: str = "viterbi"):
        """Decode the hidden states.

        Parameters
        ----------
        X : array or list of arrays
        lengths : array of int, optional
        algorithm : {"viterbi", "map"}
            ``"viterbi"``: the most probable path :eq:`hmm-viterbi`;
            ``"map"``: the most probable state at each step
            :eq:`hmm-posterior-decoding`.

        Returns
        -------
        log_prob : float
            ``log p(X, path)`` for Viterbi, ``log p(X)`` for ``"map"``.
        states : ndarray of shape (n_samples,)
        """
        if algorithm not in ("viterbi", "map"):
            raise ValueError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")
        data = self._data(X, lengths)
        if algorithm == "viterbi":
            return hmm.viterbi(data.X, self.params_, data.lengths, covariance_type=self._covariance_type())
        resp, _, _, log_likelihoods = hmm.posteriors(data, self.params_, covariance_type=self._covariance_type(),
                                                     method=self.method)
        return float(np.sum(log_likelihoods)), np.argmax(resp, axis=1)

    def sample(self, n_samples: int = 1, random_state=None):
        """Draw ``(X, states)`` from the fitted model, one sequence of ``n_samples`` steps.

        ``random_state`` defaults to the estimator's, used afresh at each call.
        """
        self._check_fitted()
        seed = self.random_state if random_state is None else random_state
        return hmm.sample(self.params_, n_samples, seed, covariance_type=self._covariance_type())


class CategoricalHMM(_BaseHMM):
    """Hidden Markov model with categorical emissions, fitted by Baum–Welch.

    Parameters
    ----------
    n_components : int, default 1
        Number of hidden states.
    n_symbols : int, optional
        Size of the alphabet; default ``max(X) + 1`` (hmmlearn calls it ``n_features``).
    startprob_init, transmat_init, emissionprob_init : arrays, optional
        Initial parameters (drawn with ``random_state`` when missing; see
        :func:`emtutor.hmm.initial_params`).
    learn : str, default "ste"
        Parameters to learn: ``s`` startprob, ``t`` transmat, ``e`` emissionprob.
    tol : float, default 1e-4
        Stop when the log-likelihood per observation changes by less than ``tol``.
    max_iter : int, default 100
    method : {"chunked", "scaled", "log"}, default "chunked"
        Forward–backward implementation (:func:`emtutor.hmm_core.forward_backward`).
    random_state : int, numpy Generator or None
    record : bool, default False

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    emissionprob_ : ndarray of shape (n_components, n_symbols)
    params_ : emtutor.hmm.CategoricalHMMParams
    objectives_ : ndarray of shape (n_iter_,)
        The log-likelihood after every iteration.
    objective_ : float
    n_iter_ : int
    converged_ : bool
    history_ : emtutor.em.EMHistory or None
    n_features_in_ : int
        1 (one column of symbols).
    """

    _kind = "categorical"

    def __init__(
        self,
        n_components: int = 1,
        *,
        n_symbols=None,
        startprob_init=None,
        transmat_init=None,
        emissionprob_init=None,
        learn: str = "ste",
        tol: float = 1e-4,
        max_iter: int = 100,
        method: str = "chunked",
        random_state=None,
        record: bool = False,
    ):
        _keep_arguments(self, locals())

    def _initial(self) -> dict:
        return dict(n_symbols=self.n_symbols, startprob=self.startprob_init, transmat=self.transmat_init,
                    emissionprob=self.emissionprob_init)


class GaussianHMM(_BaseHMM):
    """Hidden Markov model with Gaussian emissions, fitted by Baum–Welch.

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : {"full", "diag", "spherical", "tied"}, default "diag"
        See :data:`emtutor.gmm.COVARIANCE_TYPES` (hmmlearn's default type).
    init : {"k-means++", "random_from_data"}, default "k-means++"
        How the initial means are chosen when ``means_init`` is not given.
    startprob_init, transmat_init, means_init, covariances_init : arrays, optional
        Initial parameters (see :func:`emtutor.hmm.initial_params`).
    learn : str, default "stmc"
    reg_covar : float, default 1e-6
        ``epsilon`` in ``Sigma_k = S_k / N_k + epsilon I``, as for
        :class:`GaussianMixture` (:eq:`hmm-m-covariances-reg`).
    tol : float, default 1e-4
        Stop when the log-likelihood per observation changes by less than ``tol``.
    max_iter : int, default 100
    method : {"chunked", "scaled", "log"}, default "chunked"
    random_state : int, numpy Generator or None
    record : bool, default False

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape given by ``covariance_type``.
    params_ : emtutor.hmm.GaussianHMMParams
    objectives_ : ndarray of shape (n_iter_,)
        The log-likelihood after every iteration.
    objective_ : float
    n_iter_ : int
    converged_ : bool
    history_ : emtutor.em.EMHistory or None
    n_features_in_ : int
    """

    _kind = "gaussian"

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "diag",
        init: str = "k-means++",
        startprob_init=None,
        transmat_init=None,
        means_init=None,
        covariances_init=None,
        learn: str = "stmc",
        reg_covar: float = 1e-6,
        tol: float = 1e-4,
        max_iter: int = 100,
        method: str = "chunked",
        random_state=None,
        record: bool = False,
    ):
        _keep_arguments(self, locals())

    def _initial(self) -> dict:
        return dict(covariance_type=self.covariance_type, init=self.init, reg_covar=self.reg_covar,
                    startprob=self.startprob_init, transmat=self.transmat_init, means=self.means_init,
                    covariances=self.covariances_init)


# --------------------------------------------------------------------------
# Missing data


class MissingNormal(_Estimator):
    """Multivariate normal fitted by EM to data with missing values (``NaN``); see :func:`emtutor.missing.fit`.

    As a transformer it imputes: ``transform`` fills each missing value
    with its conditional mean given the row's observed values.

    Parameters
    ----------
    reg_covar : float, default 0
        Added to the diagonal of the covariance in every M-step (as in
        :class:`GaussianMixture`); needed when the observed-data likelihood
        has no maximum (see :func:`emtutor.missing.fit`).
    tol : float, default 1e-4
        Stop when the observed-data log-likelihood *per row* changes by
        less than ``tol``.
    max_iter : int, default 1000
    mean_init : array of shape (n_features,), optional
    covariance_init : array of shape (n_features, n_features), optional
        Initial parameters (default: observed means, diagonal observed variances).
    random_state : int, numpy Generator or None
        Used by :meth:`sample_imputations`.
    record : bool, default False

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    covariance_ : ndarray of shape (n_features, n_features)
    params_ : emtutor.missing.MissingNormalParams
    objectives_ : ndarray of shape (n_iter_,)
        The observed-data log-likelihood :eq:`missing-log-likelihood` after every iteration.
    objective_ : float
    n_iter_ : int
    converged_ : bool
    n_patterns_ : int
        Number of distinct missingness patterns in the training data.
    history_ : emtutor.em.EMHistory or None
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from emtutor import MissingNormal
    >>> X = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 4.0], [np.nan, 1.0]])
    >>> model = MissingNormal(tol=1e-10).fit(X)
    >>> bool(np.isnan(model.transform(X)).any())
    False
    """

    _transformer = True
    _input_tags = {"allow_nan": True}

    def __init__(self, *, reg_covar: float = 0.0, tol: float = 1e-4, max_iter: int = 1000, mean_init=None,
                 covariance_init=None, random_state=None, record: bool = False):
        _keep_arguments(self, locals())

    def fit(self, X, y=None) -> "MissingNormal":
        """Fit the mean and covariance by EM (see :func:`emtutor.missing.fit`); returns ``self``.

        A ``dask.array.Array`` is fitted by :func:`emtutor.mapreduce.fit_missing`.
        """
        if mapreduce.is_dask_array(X):
            result = mapreduce.fit_missing(X, mean=self.mean_init, covariance=self.covariance_init,
                                           reg_covar=self.reg_covar, tol=self.tol, max_iter=self.max_iter,
                                           record=self.record)
            self.n_patterns_ = result.n_patterns
            return self._store_run(result, X.shape[1])
        data = missing.group_patterns(_reject_sparse(X, self))
        result = missing.fit(data, mean=self.mean_init, covariance=self.covariance_init, reg_covar=self.reg_covar,
                             tol=self.tol, max_iter=self.max_iter, record=self.record)
        self.n_patterns_ = data.n_patterns
        return self._store_run(result, data.shape[1])

    def _data(self, X):
        self._check_fitted()
        data = missing._group_for_params(_reject_sparse(X, self))
        self._check_n_features(data.shape[1])
        return data

    def transform(self, X) -> np.ndarray:
        """Conditional-mean imputation of ``X`` (see :func:`emtutor.missing.impute`)."""
        return missing.e_step(self._data(X), self.params_)[0].X_hat

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit on ``X``, then impute it."""
        return self.fit(X).transform(X)

    def score_samples(self, X) -> np.ndarray:
        """``log p(x_n^obs)`` of each row (0 for a row with nothing observed)."""
        return missing.e_step(self._data(X), self.params_)[1]

    def score(self, X, y=None) -> float:
        """Mean observed-data log-likelihood per row (scikit-learn's ``score``)."""
        return float(np.mean(self.score_samples(X)))

    def sample_imputations(self, X, n_imputations: int = 5, random_state=None) -> np.ndarray:
        """Multiple imputations of ``X`` (see :func:`emtutor.missing.sample_imputations`).

        ``random_state`` defaults to the estimator's, used afresh at each call
        (an integer seed gives the same draws every time)."""
        seed = self.random_state if random_state is None else random_state
        return missing.sample_imputations(self._data(X), self.params_, n_imputations, seed)


# --------------------------------------------------------------------------
# Topic models


class LatentDirichletAllocation(_Estimator):
    """LDA fitted by variational EM (see :func:`emtutor.lda.fit`), in scikit-learn's spellings.

    Parameters
    ----------
    n_components : int, default 10
        Number of topics.
    doc_topic_prior : float or array of shape (n_components,), optional
        ``alpha``, the Dirichlet parameter of the topic proportions (the
        initial value if ``fit_alpha``); default ``1 / n_components``.
    topic_word_prior : float, optional
        ``eta``, a symmetric Dirichlet prior on the topics; None (default)
        fits maximum-likelihood topics (scikit-learn's default is ``1 / n_components``).
    fit_alpha : bool, default False
        Estimate ``alpha`` in every M-step.
    tol : float, default 1e-5
        Stop when the ELBO *per token* (LDA's observations) changes by less than ``tol``
        (see :func:`emtutor.lda.fit` for why it is smaller than the other models').
    max_iter : int, default 100
    mean_change_tol : float, default 1e-3
        The E-step's per-document tolerance on the mean change of ``gamma``.
    max_doc_update_iter : int, default 100
        The E-step's cap on ``gamma`` updates per document.
    warm_start : bool, default False
        See :func:`emtutor.lda.e_step`.
    n_init : int, default 5
        Number of starts from random topics; the one with the highest ELBO
        is kept (see :func:`emtutor.lda.fit`).
    init_max_iter : int or None, default 20
        EM iterations of every start before the best one continues to
        convergence (see :func:`emtutor.lda.fit`).
    search : bool, default True
        Search with fresh E-steps before the monotone E-step takes over (see
        :func:`emtutor.lda.fit`).
    random_state : int, numpy Generator or None
    record : bool, default False
    learning_decay, learning_offset : float, default 0.7 and 10.0
        The step sizes ``chi_t = (learning_offset + t) ** -learning_decay``
        of :meth:`partial_fit` (:eq:`online-step-sizes`), as in scikit-learn
        (which also accepts a decay in ``[0, 0.5]``; emtutor asks for
        ``(0.5, 1]``, see :func:`emtutor.online.check_learning_schedule`).
    batch_size : int, default 128
        :meth:`partial_fit` splits ``X`` into mini-batches of this many documents.
    total_samples : float, default 1e6
        ``M``, the number of documents of the whole corpus, in :meth:`partial_fit`'s
        update :eq:`online-lda-step` (scikit-learn's meaning and default).

    Attributes
    ----------
    alpha_ : ndarray of shape (n_components,)
    components_ : ndarray of shape (n_components, n_words)
        ``beta`` without a topic prior, ``lambda`` with one (``topic_word`` of :class:`emtutor.lda.LDAParams`).
    topic_word_ : ndarray of shape (n_components, n_words)
        The topics as distributions (rows sum to 1).
    gamma_ : ndarray of shape (n_docs, n_components)
        Variational Dirichlet parameters of the training documents.
    params_ : emtutor.lda.LDAParams
    objectives_ : ndarray of shape (n_iter_,)
        The ELBO :eq:`lda-elbo` after every iteration.
    objective_ : float
    n_iter_ : int
    converged_ : bool
    history_ : emtutor.em.EMHistory or None
    restarts_ : emtutor.gmm.RestartSummary or None
        The starts' ELBOs when they were ranked and which one was kept
        (``result.restarts`` of :func:`emtutor.lda.fit`); None after :meth:`partial_fit`.
    n_search_iter_ : int
        How many of the ``n_iter_`` iterations used fresh E-steps
        (``result.n_search_iter`` of :func:`emtutor.lda.fit`); 0 after :meth:`partial_fit`.
    n_features_in_ : int
    n_batch_iter_ : int
        After :meth:`partial_fit`: the number of mini-batch updates so far
        (also ``n_iter_``).
    """

    _transformer = True
    _input_tags = {"sparse": True, "positive_only": True}

    def __init__(
        self,
        n_components: int = 10,
        *,
        doc_topic_prior=None,
        topic_word_prior=None,
        fit_alpha: bool = False,
        tol: float = 1e-5,
        max_iter: int = 100,
        mean_change_tol: float = 1e-3,
        max_doc_update_iter: int = 100,
        warm_start: bool = False,
        n_init: int = 5,
        init_max_iter: int | None = 20,
        search: bool = True,
        random_state=None,
        record: bool = False,
        learning_decay: float = 0.7,
        learning_offset: float = 10.0,
        batch_size: int = 128,
        total_samples: float = 1e6,
    ):
        _keep_arguments(self, locals())

    def fit(self, X, y=None) -> "LatentDirichletAllocation":
        """Fit to ``X`` (array or sparse matrix of word counts, shape (n_docs, n_words)).

        A ``dask.array.Array`` is fitted by :func:`emtutor.mapreduce.fit_lda`
        (with the same starts).
        """
        if mapreduce.is_dask_array(X):
            return self._fit_dask(X)
        X = lda.as_count_matrix(X)
        result = lda._fit(
            X,
            self.n_components,
            alpha=self.doc_topic_prior,
            eta=self.topic_word_prior,
            fit_alpha=self.fit_alpha,
            topic_word=None,
            tol=self.tol,
            max_iter=self.max_iter,
            e_step_tol=self.mean_change_tol,
            max_e_step_iter=self.max_doc_update_iter,
            warm_start=self.warm_start,
            n_init=self.n_init,
            init_max_iter=self.init_max_iter,
            search=self.search,
            random_state=self.random_state,
            record=self.record,
        )
        self._store_run(result, X.shape[1])
        self.restarts_ = result.restarts
        self.n_search_iter_ = result.n_search_iter
        self.components_ = result.topic_word
        self.topic_word_ = lda.topic_word_distribution(result.params)
        self.gamma_ = result.expectations.gamma
        self.__dict__.pop("n_batch_iter_", None)  # partial_fit's, of a model fit replaces
        return self

    def partial_fit(self, X, y=None) -> "LatentDirichletAllocation":
        """Online variational Bayes (Hoffman, Blei & Bach 2010) on the mini-batches of ``X``.

        As scikit-learn's ``LatentDirichletAllocation.partial_fit``: ``X``
        is split into mini-batches of ``batch_size`` documents, and each is
        one step of :func:`emtutor.online.online_lda_step`,
        ``lambda <- (1 - chi_t) lambda + chi_t (eta + total_samples / n_batch
        * expected counts)`` (:eq:`online-lda-step`) with ``chi_t =
        (learning_offset + t) ** -learning_decay``, ``t`` counting the steps
        of every call so far.  With ``topic_word_prior=None`` (no prior) the
        same recursion without ``eta`` is stochastic EM for the
        maximum-likelihood topics, and ``components_`` holds the topics
        themselves, as after :meth:`fit`.

        The first call (on an unfitted estimator) draws the initial
        ``lambda`` with ``random_state`` as :meth:`fit` does and fixes
        ``n_features_in_``; a call after :meth:`fit` continues from the
        fitted topics.  ``fit_alpha`` is not supported here (``alpha``
        stays ``doc_topic_prior``).  Sets ``components_``, ``topic_word_``,
        ``params_``, ``alpha_``, ``n_features_in_``, ``n_batch_iter_`` and
        ``n_iter_`` (both the number of steps so far), ``objectives_`` (the
        documents' ELBO of every mini-batch under the topics before its
        step), ``objective_``, ``converged_`` (always False),
        ``history_`` and ``restarts_`` (None); not ``gamma_``, which it
        removes (a fit's ``gamma_`` belongs to topics it moves on from).

        Parameters
        ----------
        X : array or sparse matrix of shape (n_docs, n_words)
        y : ignored

        Returns
        -------
        self
        """
        X = lda.as_count_matrix(X)
        decay, offset = online.check_learning_schedule(self.learning_decay, self.learning_offset)
        batch_size = check_positive_int(self.batch_size, "batch_size")
        total_samples = check_nonnegative(self.total_samples, "total_samples")
        if total_samples <= 0:
            raise ValueError(f"total_samples must be > 0, got {self.total_samples!r}")
        if self.fit_alpha:
            raise ValueError("fit_alpha=True is not supported by partial_fit; use fit, or fit_alpha=False")
        eta = self.topic_word_prior
        state = getattr(self, "_online_state", None)
        if state is not None and state[2] is self.params_:
            stats, n_steps, params, objectives = state
            self._check_n_features(X.shape[1])
        else:
            if self.__sklearn_is_fitted__():
                self._check_n_features(X.shape[1])
                params = self.params_
            else:
                n_components = check_positive_int(self.n_components, "n_components")
                params = lda._initial_params(X, n_components, self.doc_topic_prior, eta, None,
                                             as_rng(self.random_state))
            stats, n_steps, objectives = params.topic_word, 0, []
        for start in range(0, X.shape[0], batch_size):
            n_steps += 1
            stats, doc_elbo = online.online_lda_step(
                X[start : start + batch_size], stats, params.alpha, params.eta, (offset + n_steps) ** -decay,
                total_samples, e_step_tol=self.mean_change_tol, max_e_step_iter=self.max_doc_update_iter)
            objectives = [*objectives, doc_elbo]
        params = online._lda_params(stats, params.alpha, params.eta)
        self._store_run(EMResult(params, None, np.array(objectives), objectives[0], n_steps, False), X.shape[1])
        self.restarts_ = None
        self.n_search_iter_ = 0
        self.__dict__.pop("gamma_", None)  # fit's, for topics partial_fit has moved on from
        self.components_ = params.topic_word
        self.topic_word_ = lda.topic_word_distribution(params)
        self.n_batch_iter_ = n_steps
        self._online_state = (stats, n_steps, self.params_, objectives)
        return self

    def _fit_dask(self, X) -> "LatentDirichletAllocation":
        result = mapreduce.fit_lda(
            X, self.n_components, alpha=self.doc_topic_prior, eta=self.topic_word_prior, fit_alpha=self.fit_alpha,
            tol=self.tol, max_iter=self.max_iter, e_step_tol=self.mean_change_tol,
            max_e_step_iter=self.max_doc_update_iter, warm_start=self.warm_start, n_init=self.n_init,
            init_max_iter=self.init_max_iter, search=self.search, random_state=self.random_state,
            record=self.record)
        self._store_run(result, X.shape[1])
        self.restarts_ = result.restarts
        self.n_search_iter_ = result.n_search_iter
        self.components_ = result.topic_word
        self.topic_word_ = lda.topic_word_distribution(result.params)
        self.gamma_ = result.gamma
        self.__dict__.pop("n_batch_iter_", None)
        return self

    def _counts(self, X):
        self._check_fitted()
        X = lda.as_count_matrix(X)
        self._check_n_features(X.shape[1])
        return X

    def _e_step(self, X):
        return lda.e_step(self._counts(X), self.params_, tol=self.mean_change_tol,
                          max_iter=self.max_doc_update_iter)

    def transform(self, X) -> np.ndarray:
        """Posterior mean topic proportions of documents, shape (n_docs, n_components)."""
        gamma = self._e_step(X)[0].gamma
        return gamma / gamma.sum(axis=1, keepdims=True)

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit, then return the documents' topic proportions (``fit(X).transform(X)``)."""
        return self.fit(X).transform(X)

    def score(self, X, y=None) -> float:
        """The ELBO :eq:`lda-elbo` of the documents, a lower bound on their log-likelihood
        (scikit-learn's ``score``)."""
        return float(self._e_step(X)[1])

    def perplexity(self, X) -> float:
        """Perplexity bound of (held-out) documents; see :func:`emtutor.lda.perplexity`."""
        return lda.perplexity(self._counts(X), self.params_, tol=self.mean_change_tol,
                              max_iter=self.max_doc_update_iter)

    def top_words(self, n_top: int = 10, vocabulary=None) -> list:
        """Most probable words per topic; see :func:`emtutor.lda.top_words`."""
        self._check_fitted()
        return lda.top_words(self.topic_word_, n_top, vocabulary)


# --------------------------------------------------------------------------
# Mixtures of t distributions


class StudentTMixture(_Mixture):
    """Mixture of multivariate t distributions fitted by ECM (:eq:`tmix-density`); see :func:`emtutor.tmix.fit`.

    The settings it shares with :class:`GaussianMixture` mean the same.

    Parameters
    ----------
    n_components : int, default 1
    nu_step : {"ecm", "newton", "ecme", "fixed"}, default "ecm"
        How the degrees of freedom are updated (:data:`emtutor.tmix.NU_STEPS`);
        ``"fixed"`` keeps ``dofs_init``.
    init : {"k-means++", "random_from_data"}, default "k-means++"
    n_init : int, default 1
    reg_covar : float, default 1e-6
        Added to the diagonal of every scale matrix in each M-step.
    tol : float, default 1e-4
        Stop when the log-likelihood *per sample* changes by less than ``tol``.
    max_iter : int, default 100
    random_state : int, numpy Generator or None
    record : bool, default False
    weights_init, means_init, covariances_init : array, optional
        Explicit initial weights, locations and (full) scale matrices.
    dofs_init : float or array of shape (n_components,), optional
        Initial degrees of freedom (``inf`` allowed); default 10.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray of shape (n_components, n_features, n_features)
        The scale matrices.
    dofs_ : ndarray of shape (n_components,)
    params_ : emtutor.tmix.TMixParams
    converged_ : bool
    n_iter_ : int
    objectives_ : ndarray of shape (n_iter_,)
    objective_ : float
    lower_bound_ : float
        ``objective_ / n_samples``.
    restarts_ : emtutor.gmm.RestartSummary
    history_ : emtutor.em.EMHistory or None
    n_features_in_ : int

    Examples
    --------
    >>> from emtutor import StudentTMixture, datasets
    >>> model = StudentTMixture(3, random_state=0).fit(datasets.three_gaussians())
    >>> model.dofs_.shape
    (3,)
    """


    def __init__(
        self,
        n_components: int = 1,
        *,
        nu_step: str = "ecm",
        init: str = "k-means++",
        n_init: int = 1,
        reg_covar: float = 1e-6,
        tol: float = 1e-4,
        max_iter: int = 100,
        random_state=None,
        record: bool = False,
        weights_init=None,
        means_init=None,
        covariances_init=None,
        dofs_init=None,
    ):
        _keep_arguments(self, locals())

    def fit(self, X, y=None) -> "StudentTMixture":
        """Fit the mixture to ``X`` (see :func:`emtutor.tmix.fit`).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        X = _dense_data(X, self)
        result = tmix._fit(
            X,
            self.n_components,
            init=self.init,
            n_init=self.n_init,
            weights=self.weights_init,
            means=self.means_init,
            covariances=self.covariances_init,
            dofs=self.dofs_init,
            nu_step=self.nu_step,
            reg_covar=self.reg_covar,
            tol=self.tol,
            max_iter=self.max_iter,
            random_state=self.random_state,
            record=self.record,
        )
        self._store_mixture_run(result, X)
        return self

    def _e_step(self, X):
        """``(resp, log_norm)`` of ``X``, the pair the methods shared with GaussianMixture use."""
        self._check_fitted()
        X = _dense_data(X, self)
        self._check_n_features(X.shape[1])
        expectations, log_norm = tmix.e_step(X, self.params_)
        return expectations.resp, log_norm

    def _n_parameters(self) -> int:
        return tmix.n_parameters(self.n_components, self.n_features_in_, self.nu_step != "fixed")

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw points from the fitted mixture (see :func:`emtutor.tmix.sample`).

        Uses ``random_state`` afresh at each call, as :meth:`GaussianMixture.sample`.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Grouped by component.
        labels : ndarray of shape (n_samples,)
        """
        self._check_fitted()
        n_samples = check_positive_int(n_samples, "n_samples", 1)
        return tmix.sample(self.params_, n_samples, self.random_state)
