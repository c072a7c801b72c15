"""EM's rate of convergence, and EM accelerated without losing its monotone guarantee.

One EM iteration is a map ``theta -> M(theta)`` (:eq:`conv-em-map`): an
E-step at ``theta`` and the M-step that follows.  Near a fixed point
``theta_hat`` the map is linear, ``M(theta) - theta_hat ~ DM (theta -
theta_hat)`` (:eq:`conv-taylor`), and ``DM``, the fraction of missing
information ``I_com^{-1} I_mis`` (:eq:`conv-dm-fmi`), sets the rate: the
distance to ``theta_hat`` shrinks by about its largest eigenvalue ``rho`` per
iteration (:eq:`conv-rate`).  This module computes that rate for any model
of the book and runs EM faster when ``rho`` is close to 1.

The rate
    :func:`rate_matrix` is ``DM`` by central differences of the EM map;
    :func:`convergence_rate` is ``rho``, computed by Arnoldi iteration from
    Jacobian-vector products of the map (a few dozen EM iterations, however
    many parameters); :func:`change_ratios` are the ratios of successive
    parameter changes of a run, which tend to ``rho``.

Acceleration
    :func:`accelerated_em` is :func:`emtutor.em.run_em` with an
    extrapolation between EM steps: Aitken's (:eq:`conv-aitken`), SQUAREM's
    (:eq:`conv-squarem`, :eq:`conv-squarem-alpha`) or a quasi-Newton
    (Broyden) step on the fixed-point equation (:eq:`conv-broyden`).  An
    extrapolated point is kept only if it is feasible and passes the check
    the driver applies to the plain EM step it replaces (:eq:`conv-safeguard`);
    otherwise the plain EM step is taken.  So the objective recorded over an
    accelerated run never goes down, as for EM itself.

One algorithm, many models: the wrapper sees a model only through its pure
``e_step`` and ``m_step`` (the driver's contract, :mod:`emtutor.em`) and a
:class:`ParameterMap` between its parameter tuple and a flat vector.  The
maps are one small table, :data:`PARAMETER_KINDS`: each field of each
parameter tuple has a *kind* (real, positive, probabilities, unit interval,
symmetric positive definite), and each kind says how to flatten the field
and what makes a value feasible.  Extrapolation happens in the models'
natural parameters: affine combinations keep every sum-to-one constraint
and every symmetry, so feasibility is a sign check or a Cholesky
factorisation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np
import scipy.sparse.linalg

from . import coins, gmm, hmm, lda, missing
from .em import ConvergenceWarning, EMHistory, EMResult, LikelihoodDecreaseError, check_driver_settings

__all__ = [
    "METHODS",
    "PARAMETER_KINDS",
    "ParameterMap",
    "AcceleratedResult",
    "parameter_map",
    "em_map",
    "rate_matrix",
    "convergence_rate",
    "change_ratios",
    "accelerated_em",
]

#: The methods of :func:`accelerated_em`: ``"em"`` is the plain iteration.
METHODS = ("em", "aitken", "squarem", "quasi-newton")

# An extrapolated point may fall short of the point it replaces by rounding
# only: 1e-12 of the objective (thousands of units in the last place of a
# sum of per-observation terms), far tighter than the driver's 1e-9 check,
# so acceleration never trades progress for speed.
_ACCEPT_RTOL = 1e-12


# ---------------------------------------------------------------------------
# Parameters <-> vectors: one kind per field.
# ---------------------------------------------------------------------------


class _Kind(NamedTuple):
    pack: Callable[[np.ndarray], np.ndarray]  # field -> flat vector
    unpack: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (vector, template field) -> field
    size: Callable[[np.ndarray], int]  # template field -> length of its vector
    infeasible: Callable[[np.ndarray], str | None]  # field -> why it is not allowed, or None
    index: Callable[[np.ndarray], list]  # template field -> the index of each vector entry in the field


def _finite(x):
    return None if np.all(np.isfinite(x)) else "not finite"


def _positive(x):
    return _finite(x) or (None if np.all(x > 0) else "not all > 0")


def _probabilities(x):
    # the extrapolation is affine, so rows still sum to 1 (to rounding);
    # only the signs can go wrong
    return _finite(x) or (None if np.all(x >= 0) else "a probability < 0")


def _unit_interval(x):
    return _finite(x) or (None if np.all((x >= 0) & (x <= 1)) else "a probability outside [0, 1]")


def _pack_free(rows):
    # each row along the last axis without its last entry, which is 1 minus the others
    return rows[..., :-1].ravel()


def _unpack_free(vector, template):
    free = vector.reshape(template.shape[:-1] + (template.shape[-1] - 1,))
    return np.concatenate([free, 1.0 - free.sum(axis=-1, keepdims=True)], axis=-1)


def _free_size(template):
    return template.size - template.size // template.shape[-1]


def _every_index(template):
    return list(np.ndindex(template.shape))


def _free_index(template):
    return list(np.ndindex(template.shape[:-1] + (template.shape[-1] - 1,)))


def _tril_index(template):
    return list(zip(*_tril(template.shape[-1])))


def _tril_stack_index(template):
    return [(c, i, j) for c in range(len(template)) for i, j in _tril_index(template[0])] if len(template) else []


def _tril(d):
    return np.tril_indices(d)


def _pack_symmetric(matrix):
    return matrix[_tril(matrix.shape[-1])]


def _unpack_symmetric(vector, template):
    d = template.shape[-1]
    matrix = np.zeros((d, d))
    matrix[_tril(d)] = vector
    return matrix + np.tril(matrix, -1).T


def _pack_symmetric_stack(stack):
    return np.concatenate([_pack_symmetric(m) for m in stack]) if len(stack) else np.empty(0)


def _unpack_symmetric_stack(vector, template):
    pieces = np.split(vector, len(template))
    return np.stack([_unpack_symmetric(p, m) for p, m in zip(pieces, template)])


def _positive_definite(matrices):
    if _finite(matrices):
        return "not finite"
    try:
        np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        return "a covariance that is not positive definite"
    return None


_KINDS: dict[str, _Kind] = {
    "real": _Kind(np.ravel, lambda v, t: v.reshape(t.shape), np.size, _finite, _every_index),
    "positive": _Kind(np.ravel, lambda v, t: v.reshape(t.shape), np.size, _positive, _every_index),
    # rows along the last axis sum to 1 (weights, transition and emission rows, topics): the vector
    # holds each row but its last entry, which is 1 minus the others
    "probabilities": _Kind(_pack_free, _unpack_free, _free_size, _probabilities, _free_index),
    "unit_interval": _Kind(np.ravel, lambda v, t: v.reshape(t.shape), np.size, _unit_interval, _every_index),
    # one symmetric positive definite matrix: its lower triangle, row by row
    "spd": _Kind(_pack_symmetric, _unpack_symmetric, lambda t: t.shape[0] * (t.shape[0] + 1) // 2,
                 _positive_definite, _tril_index),
    # a stack of them
    "spd_stack": _Kind(_pack_symmetric_stack, _unpack_symmetric_stack,
                       lambda t: len(t) * t.shape[-1] * (t.shape[-1] + 1) // 2, _positive_definite,
                       _tril_stack_index),
}

_COVARIANCE_KINDS = {"full": "spd_stack", "tied": "spd", "diag": "positive", "spherical": "positive"}

PARAMETER_KINDS: dict[type, Callable[[Any, str | None], tuple]] = {
    gmm.GMMParams: lambda p, cov: (("weights", "probabilities"), ("means", "real"),
                                   ("covariances", _COVARIANCE_KINDS[cov])),
    coins.CoinParams: lambda p, cov: (("weights", "probabilities"), ("thetas", "unit_interval")),
    hmm.CategoricalHMMParams: lambda p, cov: (("startprob", "probabilities"), ("transmat", "probabilities"),
                                              ("emissionprob", "probabilities")),
    hmm.GaussianHMMParams: lambda p, cov: (("startprob", "probabilities"), ("transmat", "probabilities"),
                                           ("means", "real"), ("covariances", _COVARIANCE_KINDS[cov])),
    missing.MissingNormalParams: lambda p, cov: (("mean", "real"), ("covariance", "spd")),
    lda.LDAParams: lambda p, cov: (("alpha", "positive"),
                                   ("topic_word", "probabilities" if p.eta is None else "positive")),
}
"""The kind of every field of every model's parameters, by parameter type.

Each entry is a function of the parameters and the covariance type that
returns ``(field name, kind)`` pairs:

=====================  =======================================================
parameters             fields and their kinds
=====================  =======================================================
``GMMParams``          weights: probabilities; means: real; covariances: by type
``CoinParams``         weights: probabilities; thetas: unit interval
``CategoricalHMM...``  startprob, transmat, emissionprob: probabilities
``GaussianHMM...``     startprob, transmat: probabilities; means: real; covariances: by type
``MissingNormal...``   mean: real; covariance: one positive definite matrix
``LDAParams``          alpha: positive; topic_word: probabilities (no ``eta``) or positive
=====================  =======================================================

Covariances by type: ``"full"`` a stack of positive definite matrices
(packed as lower triangles, row by row: ``numpy.tril_indices``), ``"tied"``
one, ``"diag"`` and ``"spherical"`` positive.  Probabilities are rows along
the last axis that sum to 1; the vector holds every row but its last entry,
which is 1 minus the others, so the vector has no direction off the
constraint (the layout :mod:`emtutor.information` needs for an invertible
information matrix).  LDA's ``eta`` is a fixed hyperparameter and is not
packed.

:meta hide-value:
"""

# the covariance type each parameter type takes when none is given: the default of its fit
_DEFAULT_COVARIANCE = {gmm.GMMParams: "full", hmm.GaussianHMMParams: "diag"}


@dataclass(frozen=True)
class ParameterMap:
    """A model's parameters as a flat vector, and back.

    Made by :func:`parameter_map` from :data:`PARAMETER_KINDS`.

    Attributes
    ----------
    template : NamedTuple
        Parameters giving the shapes, and the fields that are not packed.
    fields : tuple of (str, str)
        ``(field name, kind)`` of each packed field, in vector order.
    """

    template: Any
    fields: tuple

    def names(self) -> tuple:
        """The name of each entry of the vector, such as ``"weights[0]"`` or ``"covariances[1, 2, 0]"``."""
        return tuple(f"{name}[{', '.join(str(int(i)) for i in index)}]" for name, kind in self.fields
                     for index in _KINDS[kind].index(np.asarray(getattr(self.template, name), dtype=float)))

    @property
    def size(self) -> int:
        """Length of the vector."""
        return sum(_KINDS[kind].size(np.asarray(getattr(self.template, name))) for name, kind in self.fields)

    def pack(self, params) -> np.ndarray:
        """The parameters as one vector of floats."""
        return np.concatenate([_KINDS[kind].pack(np.asarray(getattr(params, name), dtype=float))
                               for name, kind in self.fields])

    def unpack(self, vector) -> Any:
        """Parameters of the template's type from a vector made by :meth:`pack`.

        The last entry of each row of probabilities is 1 minus the others
        (an affine combination of vectors keeps the rows' sums by itself)
        and symmetric matrices are rebuilt from their lower triangles.
        """
        vector = np.asarray(vector, dtype=float)
        if vector.shape != (self.size,):
            raise ValueError(f"vector must have shape ({self.size},), got {vector.shape}")
        values, start = {}, 0
        for name, kind in self.fields:
            template = np.asarray(getattr(self.template, name), dtype=float)
            end = start + _KINDS[kind].size(template)
            values[name] = _KINDS[kind].unpack(vector[start:end], template)
            start = end
        return self.template._replace(**values)

    def infeasible(self, params) -> str | None:
        """Why ``params`` lie outside the parameter space, or None if they do not.

        Weights and probabilities must be >= 0, probabilities of heads in
        [0, 1], variances and Dirichlet parameters > 0, covariances positive
        definite (their Cholesky factorisation must succeed); everything finite.
        """
        for name, kind in self.fields:
            reason = _KINDS[kind].infeasible(np.asarray(getattr(params, name), dtype=float))
            if reason is not None:
                return f"{name}: {reason}"
        return None


def parameter_map(params, covariance_type: str | None = None, *, fixed=()) -> ParameterMap:
    """The :class:`ParameterMap` of a model's parameters, from :data:`PARAMETER_KINDS`.

    Parameters
    ----------
    params : GMMParams, CoinParams, CategoricalHMMParams, GaussianHMMParams, MissingNormalParams or LDAParams
        Parameters of the model (any values of the right shapes).
    covariance_type : {"full", "diag", "spherical", "tied"}, optional
        For Gaussian mixtures and Gaussian HMMs; default that of their
        ``fit`` (``"full"`` and ``"diag"``).  It is a setting, never read off
        the shapes (a diagonal and a tied covariance array can have the same
        shape).
    fixed : sequence of str, default ()
        Fields that are not packed: they keep the values of ``params`` (the
        coins' weights when an M-step keeps them, for example).

    Returns
    -------
    ParameterMap

    Raises
    ------
    TypeError
        If ``params`` is not the parameter tuple of a model of :mod:`emtutor`.
    ValueError
        If ``covariance_type`` is unknown, or given for a model without covariance types, or
        ``fixed`` names a field the parameters do not pack.
    """
    kinds = PARAMETER_KINDS.get(type(params))
    if kinds is None:
        names = ", ".join(t.__name__ for t in PARAMETER_KINDS)
        raise TypeError(f"params must be the parameters of an emtutor model ({names}), got {type(params).__name__}")
    if type(params) in _DEFAULT_COVARIANCE:
        covariance_type = _DEFAULT_COVARIANCE[type(params)] if covariance_type is None else covariance_type
        if covariance_type not in _COVARIANCE_KINDS:
            raise ValueError(f"covariance_type must be one of {sorted(_COVARIANCE_KINDS)}, got {covariance_type!r}")
    elif covariance_type is not None:
        raise ValueError(f"covariance_type applies to Gaussian mixtures and Gaussian HMMs, not "
                         f"{type(params).__name__}; leave it None")
    fields = tuple(kinds(params, covariance_type))
    fixed = (fixed,) if isinstance(fixed, str) else tuple(fixed)
    unknown = set(fixed) - {name for name, _ in fields}
    if unknown:
        raise ValueError(f"fixed must name fields of {type(params).__name__} "
                         f"({', '.join(name for name, _ in fields)}), got {sorted(unknown)}")
    return ParameterMap(params, tuple((name, kind) for name, kind in fields if name not in fixed))


def _as_map(params, parameter_map_, covariance_type):
    if parameter_map_ is not None:
        if not isinstance(parameter_map_, ParameterMap):
            raise TypeError(f"parameter_map must be a ParameterMap, got {type(parameter_map_).__name__}")
        return parameter_map_
    return parameter_map(params, covariance_type)


# ---------------------------------------------------------------------------
# The rate of convergence.
# ---------------------------------------------------------------------------


def em_map(data, params, *, e_step, m_step, parameter_map: ParameterMap | None = None,
           covariance_type: str | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """One EM iteration as a function of the parameter vector, :eq:`conv-em-map`.

    Returns ``M`` with ``M(pack(theta)) = pack(m_step(data, e_step(data,
    theta)))``: an E-step from scratch (``previous=None``) and the M-step.
    For an iterative E-step (LDA's) give it a tight tolerance so that ``M``
    is a function of ``theta`` alone.

    Parameters
    ----------
    data, e_step, m_step
        As for :func:`emtutor.em.run_em`.
    params : NamedTuple
        Parameters giving the shapes (and the fixed fields).
    parameter_map : ParameterMap, optional
        Default :func:`parameter_map` of ``params`` and ``covariance_type``.
    covariance_type : str, optional

    Returns
    -------
    callable
        ``vector -> vector``.
    """
    pmap = _as_map(params, parameter_map, covariance_type)

    def one_iteration(vector):
        theta = pmap.unpack(vector)
        expectations, _ = e_step(data, theta, None)
        return pmap.pack(m_step(data, expectations, theta))

    return one_iteration


def rate_matrix(data, params, *, e_step, m_step, parameter_map: ParameterMap | None = None,
                covariance_type: str | None = None, step=1e-5) -> np.ndarray:
    """``DM``, the Jacobian of the EM map at ``params``, by central differences.

    Column ``i`` is the central difference ``(M(theta + h e_i) - M(theta -
    h e_i)) / (2 h)`` with ``h = step`` (``step[i]`` if ``step`` is an
    array) and with ``h / 2``, combined by one Richardson extrapolation
    (error of order ``h^4``; :eq:`conv-taylor`).  At a fixed point of EM it
    is the fraction of missing information ``I_com^{-1} I_mis``
    (:eq:`conv-dm-fmi`), whose largest eigenvalue is the rate of
    convergence :eq:`conv-rate`.  Costs ``4 n`` EM iterations for ``n``
    parameters.  :func:`emtutor.information.sem_rate_matrix` is this
    function at a checked fixed point, with steps scaled to each parameter.

    The matrix depends on the parameterisation, its eigenvalues at a fixed
    point do not.  Rows of probabilities are held without their last entry
    (:data:`PARAMETER_KINDS`), so there is no direction off their
    constraint.

    Parameters
    ----------
    data, e_step, m_step
        As for :func:`emtutor.em.run_em`.
    params : NamedTuple
        Where to differentiate: a fixed point of EM for the rate.
    parameter_map : ParameterMap, optional
    covariance_type : str, optional
    step : float or array of shape (n,), default 1e-5
        The step of each parameter, > 0.

    Returns
    -------
    ndarray of shape (n, n)
        ``n = parameter_map.size``; ``DM[:, i]`` is the derivative of
        ``M(theta)`` in ``theta[i]`` (column convention).
    """
    pmap = _as_map(params, parameter_map, covariance_type)
    forward = em_map(data, params, e_step=e_step, m_step=m_step, parameter_map=pmap)
    theta = pmap.pack(params)
    steps = np.broadcast_to(_check_step(step, len(theta)), theta.shape)
    jacobian = np.empty((len(theta), len(theta)))
    for i in range(len(theta)):
        e = np.zeros(len(theta))
        e[i] = steps[i]

        def central(s):
            return (forward(theta + s) - forward(theta - s)) / (2 * s[i])

        jacobian[:, i] = (4.0 * central(e / 2) - central(e)) / 3.0
    return jacobian


def convergence_rate(data, params, *, e_step, m_step, parameter_map: ParameterMap | None = None,
                     covariance_type: str | None = None, step: float = 1e-5) -> float:
    """``rho``, the largest eigenvalue of ``DM`` at a fixed point of EM, :eq:`conv-rate`.

    Arnoldi iteration (ARPACK, through :func:`scipy.sparse.linalg.eigs`) on
    the Jacobian-vector products ``DM v ~ (M(theta + h v) - M(theta - h
    v)) / (2 h)``, started from the vector of ones: it never forms ``DM``,
    so it needs a few dozen EM iterations however many parameters the
    model has (:func:`rate_matrix` needs ``4 n``).  For fewer than four
    parameters it takes the eigenvalues of :func:`rate_matrix`.

    The eigenvalues of ``DM`` at a maximum are real and in [0, 1)
    (:eq:`conv-dm-fmi`); the largest in modulus is returned.

    Parameters
    ----------
    data, e_step, m_step
        As for :func:`emtutor.em.run_em`.
    params : NamedTuple
        A fixed point of EM (where a run converged, to well below ``step``).
    parameter_map : ParameterMap, optional
    covariance_type : str, optional
    step : float, default 1e-5

    Returns
    -------
    float
    """
    pmap = _as_map(params, parameter_map, covariance_type)
    step = float(_check_step(step))
    n = pmap.size
    if n < 4:
        jacobian = rate_matrix(data, params, e_step=e_step, m_step=m_step, parameter_map=pmap, step=step)
        return float(np.max(np.abs(np.linalg.eigvals(jacobian))))
    forward = em_map(data, params, e_step=e_step, m_step=m_step, parameter_map=pmap)
    theta = pmap.pack(params)

    def jacobian_times(v):
        v = np.ravel(v).real
        norm = np.linalg.norm(v)
        if norm == 0:
            return np.zeros(n)
        h = step / norm  # a step of length `step` along v
        return (forward(theta + h * v) - forward(theta - h * v)) / (2 * h)

    operator = scipy.sparse.linalg.LinearOperator((n, n), matvec=jacobian_times, dtype=float)
    value = scipy.sparse.linalg.eigs(operator, k=1, which="LM", v0=np.ones(n), tol=1e-10,
                                     return_eigenvectors=False)
    return float(np.abs(value[0]))


def change_ratios(params_sequence, parameter_map: ParameterMap | None = None,
                  covariance_type: str | None = None) -> np.ndarray:
    """Ratios of successive parameter changes of an EM run; late in a run they tend to ``rho``.

    With ``delta_t = max_i |theta^(t+1)_i - theta^(t)_i|``, returns
    ``delta_{t+1} / delta_t`` (:eq:`conv-observed-rate`).

    Parameters
    ----------
    params_sequence : sequence of NamedTuple
        For example ``result.history.params`` of a run with ``record=True``.
    parameter_map : ParameterMap, optional
    covariance_type : str, optional

    Returns
    -------
    ndarray of shape (len(params_sequence) - 2,)
    """
    params_sequence = list(params_sequence)
    if len(params_sequence) < 3:
        raise ValueError(f"params_sequence needs at least 3 parameter sets, got {len(params_sequence)}")
    pmap = _as_map(params_sequence[0], parameter_map, covariance_type)
    vectors = np.array([pmap.pack(p) for p in params_sequence])
    steps = np.abs(np.diff(vectors, axis=0)).max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return steps[1:] / steps[:-1]


def _check_step(step, n=None):
    """``step`` as a float; with ``n``, an array of shape (n,) of per-parameter steps is accepted too."""
    if n is not None and isinstance(step, np.ndarray) and step.ndim == 1:
        if step.shape != (n,) or not np.issubdtype(step.dtype, np.number) or not np.all(np.isfinite(step) & (step > 0)):
            raise ValueError(f"step must be a finite number > 0 or an array of {n} of them, got {step!r}")
        return step.astype(float)
    if isinstance(step, bool) or not isinstance(step, (int, float, np.floating)) or not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a finite number > 0, got {step!r}")
    return float(step)


# ---------------------------------------------------------------------------
# Accelerated EM.
# ---------------------------------------------------------------------------


@dataclass
class AcceleratedResult(EMResult):
    """:class:`~emtutor.em.EMResult` of :func:`accelerated_em`, plus its counts.

    ``objectives``, ``history`` and ``n_iter`` cover every point the run
    passed through: plain EM steps and accepted extrapolations alike.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    n_em_maps : int
        EM-map evaluations: M-steps, each after an E-step.  Plain EM makes
        one per iteration; this is the number to compare.
    n_e_steps : int
        E-steps, including the one at the start and those that evaluate the
        objective at extrapolated points.
    n_accepted : int
        Extrapolated points kept.
    n_rejected : int
        Extrapolated points refused (infeasible, or a lower objective).
    step_kinds : tuple of str
        For each iteration, ``"em"`` or ``"accelerated"``.
    em_maps_at : tuple of int
        For each iteration, the EM-map evaluations spent when its point was
        reached (for plotting progress against cost).
    """

    method: str = "em"
    n_em_maps: int = 0
    n_e_steps: int = 0
    n_accepted: int = 0
    n_rejected: int = 0
    step_kinds: tuple = field(default_factory=tuple)
    em_maps_at: tuple = field(default_factory=tuple)


class _Run:
    """The bookkeeping shared by every method: counts, record, checks, stopping."""

    def __init__(self, data, params, e_step, m_step, slack, n_observations, tol, xtol, max_iter, record,
                 objective_name, decrease_rtol, pmap):
        self.data, self.e_step_fn, self.m_step_fn, self.slack_fn = data, e_step, m_step, slack
        self.n_observations, self.tol, self.xtol, self.max_iter = n_observations, tol, xtol, max_iter
        self.objective_name, self.decrease_rtol, self.pmap = objective_name, decrease_rtol, pmap
        self.n_e = self.n_m = self.n_accepted = self.n_rejected = 0
        self.params = params
        self.expectations, self.objective = self.e_step(params, None)
        self.initial = self.objective
        self.objectives, self.kinds, self.maps_at = [], [], []
        self.history = EMHistory([params], [self.expectations]) if record else None
        self.converged = False
        self.last_change = np.nan

    # the model's steps, counted
    def e_step(self, params, previous):
        self.n_e += 1
        expectations, objective = self.e_step_fn(self.data, params, previous)
        return expectations, float(np.sum(objective))

    def m_step(self, expectations, params):
        self.n_m += 1
        return self.m_step_fn(self.data, expectations, params)

    def slack(self, expectations, old, new):
        return 0.0 if self.slack_fn is None else float(self.slack_fn(self.data, expectations, old, new))

    @property
    def budget_left(self):
        return self.n_m < self.max_iter

    def evaluate(self, params, previous):
        """E-step at an extrapolated point: ``(expectations, objective)`` or None if it is not allowed."""
        if self.pmap.infeasible(params) is not None:
            return None
        try:
            with np.errstate(all="ignore"):
                expectations, objective = self.e_step(params, previous)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            # the point is artificial: a model that cannot evaluate it (a
            # numerically singular covariance, a word no topic has) refuses it
            return None
        return (expectations, objective) if np.isfinite(objective) else None

    def acceptable(self, objective, slack):
        """The driver's check for the plain step an extrapolation replaces, to rounding (:eq:`conv-safeguard`)."""
        return objective - self.objective >= -(slack + _ACCEPT_RTOL * max(1.0, abs(self.objective)))

    def advance(self, params, expectations, objective, kind, slack=0.0):
        """Move to a new point; return True when the run should stop."""
        if not np.isfinite(objective):
            raise ValueError(
                f"the {self.objective_name} of iteration {len(self.objectives) + 1} is {objective}; the "
                "parameters give some point zero probability (or overflow). Check the data scale and the "
                "initial parameters."
            )
        previous = self.objective
        change = objective - previous
        if change < -(slack + self.decrease_rtol * max(1.0, abs(previous))):
            culprit = ("the model's e_step or m_step is wrong" if kind == "em" else
                       "the safeguard of emtutor.accelerate let a worse point through (a bug there)")
            raise LikelihoodDecreaseError(
                f"the {self.objective_name} decreased at iteration {len(self.objectives) + 1} ({kind} step): "
                f"{previous!r} -> {objective!r} (change {change:.3e}, allowed slack {slack:.3e}). EM cannot "
                f"decrease it, so {culprit}."
            )
        step = np.max(np.abs(self.pmap.pack(params) - self.pmap.pack(self.params)), initial=0.0)
        self.params, self.expectations, self.objective = params, expectations, objective
        self.objectives.append(objective)
        self.kinds.append(kind)
        self.maps_at.append(self.n_m)
        if self.history is not None:
            self.history.params.append(params)
            self.history.expectations.append(expectations)
        self.last_change = change
        if len(self.objectives) >= 2 and abs(change) < self.tol * self.n_observations:
            self.converged = True
        if self.xtol is not None and kind == "em" and step < self.xtol:
            self.converged = True
        return self.converged

    def em_step(self):
        """One plain EM step from the current point; True when the run should stop."""
        old = self.params
        new = self.m_step(self.expectations, old)
        slack = self.slack(self.expectations, old, new)
        expectations, objective = self.e_step(new, self.expectations)
        return self.advance(new, expectations, objective, "em", slack)


def _extrapolation_cycles(run: _Run, method: str, max_backtrack: int):
    """Aitken and SQUAREM: two EM steps, then an extrapolated point or the plain one."""
    pmap = run.pmap
    while run.budget_left:
        x0 = pmap.pack(run.params)
        if run.em_step() or not run.budget_left:  # theta_1 = M(theta_0), with its E-step
            return
        theta1, q1 = run.params, run.expectations
        x1 = pmap.pack(theta1)
        theta2 = run.m_step(q1, theta1)  # theta_2 = M(theta_1), E-step not yet needed
        x2 = pmap.pack(theta2)
        slack = run.slack(q1, theta1, theta2)
        r, v = x1 - x0, x2 - 2 * x1 + x0
        for candidate in _candidates(method, x0, x1, x2, r, v, max_backtrack):
            theta = pmap.unpack(candidate)
            evaluated = run.evaluate(theta, q1)
            if evaluated is not None and run.acceptable(evaluated[1], slack):
                run.n_accepted += 1
                if run.advance(theta, *evaluated, "accelerated", slack):
                    return
                break
            run.n_rejected += 1
        else:  # every candidate refused: the plain step theta_2
            expectations, objective = run.e_step(theta2, q1)
            if run.advance(theta2, expectations, objective, "em", slack):
                return


def _candidates(method, x0, x1, x2, r, v, max_backtrack):
    """The extrapolated points to try, best guess first, backtracking towards theta_2.

    SQUAREM: :eq:`conv-squarem` with the S3 step length :eq:`conv-squarem-alpha`
    bounded by -1, then the step length halfway towards -1 (where the point is
    theta_2) each time.  Aitken: :eq:`conv-aitken` with the observed rate, then
    half the extrapolation each time.  Nothing is proposed when the two EM steps
    did not move (or, for Aitken, did not contract).
    """
    r_norm, v_norm = np.linalg.norm(r), np.linalg.norm(v)
    if v_norm == 0 or r_norm == 0:
        return
    if method == "squarem":
        # S3 step length (conv-squarem-alpha), bounded by -1: at -1 the point is theta_2
        alpha = min(-r_norm / v_norm, -1.0)
        for _ in range(max_backtrack + 1):
            if alpha == -1.0:
                return
            yield x0 - 2 * alpha * r + alpha**2 * v  # conv-squarem
            alpha = (alpha - 1) / 2  # monotone backtracking towards -1
            if alpha > -1.01:
                return
    else:  # aitken
        rate = np.linalg.norm(x2 - x1) / r_norm  # the observed rate (conv-observed-rate)
        if not rate < 1:
            return
        factor = rate / (1 - rate)
        for _ in range(max_backtrack + 1):
            yield x2 + factor * (x2 - x1)  # conv-aitken
            factor /= 2


def _quasi_newton(run: _Run, max_backtrack: int, memory: int):
    """Broyden's method on the fixed-point equation M(theta) - theta = 0 (:eq:`conv-broyden`)."""
    pmap = run.pmap
    us, ws = [], []  # the inverse-Jacobian approximation is -I + sum_i u_i w_i^T

    def apply(x):
        out = -x
        for u, w in zip(us, ws):
            out = out + u * (w @ x)
        return out

    def apply_transposed(x):
        out = -x
        for u, w in zip(us, ws):
            out = out + w * (u @ x)
        return out

    previous = None  # (x, g) of the previous point
    while run.budget_left:
        theta0, q0 = run.params, run.expectations
        x0 = pmap.pack(theta0)
        theta1 = run.m_step(q0, theta0)  # M(theta_0)
        g0 = pmap.pack(theta1) - x0  # the residual of the fixed-point equation
        slack = run.slack(q0, theta0, theta1)
        if previous is not None:
            s, y = x0 - previous[0], g0 - previous[1]
            hy = apply(y)
            denominator = s @ hy
            if abs(denominator) > 1e-12 * np.linalg.norm(s) * np.linalg.norm(hy) and np.isfinite(denominator):
                us.append((s - hy) / denominator)
                ws.append(apply_transposed(s))
            if len(us) > memory:
                us.clear()
                ws.clear()
        previous = (x0, g0)
        accepted = False
        if us and not (run.xtol is not None and np.max(np.abs(g0)) < run.xtol):
            direction = -apply(g0)  # x_new = x_0 - H g_0
            for _ in range(max_backtrack + 1):
                theta = pmap.unpack(x0 + direction)
                evaluated = run.evaluate(theta, q0)
                if evaluated is not None and run.acceptable(evaluated[1], slack):
                    run.n_accepted += 1
                    accepted = True
                    if run.advance(theta, *evaluated, "accelerated", slack):
                        return
                    break
                run.n_rejected += 1
                direction = 0.5 * (direction + g0)  # halfway towards the EM step
            else:
                us.clear()  # a failed secant model: start again from EM
                ws.clear()
        if not accepted:
            expectations, objective = run.e_step(theta1, q0)
            if run.advance(theta1, expectations, objective, "em", slack):
                return


def accelerated_em(
    data: Any,
    params: Any,
    *,
    e_step: Callable[[Any, Any, Any], tuple[Any, Any]],
    m_step: Callable[[Any, Any, Any], Any],
    n_observations: float,
    method: str = "squarem",
    parameter_map: ParameterMap | None = None,
    covariance_type: str | None = None,
    tol: float = 1e-4,
    xtol: float | None = None,
    max_iter: int = 100,
    record: bool = False,
    objective_name: str = "log-likelihood",
    decrease_rtol: float = 1e-9,
    m_step_slack: Callable[[Any, Any, Any, Any], float] | None = None,
    max_backtrack: int = 4,
    memory: int = 50,
) -> AcceleratedResult:
    """EM with an extrapolation between its steps, never lowering the objective.

    Takes exactly the arguments of :func:`emtutor.em.run_em` (the model's
    pure ``e_step`` and ``m_step``, ``n_observations``, ``tol``, ...) and
    the method.  Each method proposes a point from plain EM steps:

    * ``"squarem"``: after two EM steps ``theta_1 = M(theta_0)``,
      ``theta_2 = M(theta_1)``, the point :eq:`conv-squarem` with the S3
      step length :eq:`conv-squarem-alpha` (Varadhan and Roland, 2008),
      bounded so that it is never shorter than ``theta_2``; if it is
      refused, the step length is moved halfway towards -1 (where the point
      is ``theta_2``), at most ``max_backtrack`` times;
    * ``"aitken"``: after two EM steps, Aitken's extrapolation
      :eq:`conv-aitken` along the last step with the observed rate; if
      refused, half the extrapolation, at most ``max_backtrack`` times;
    * ``"quasi-newton"``: a Broyden step on ``M(theta) - theta = 0``
      (:eq:`conv-broyden`), Jamshidian and Jennrich's (1997) QN1, whose first
      step is the EM step; if refused, halfway towards the EM step, at most
      ``max_backtrack`` times, then the secant model starts again;
    * ``"em"``: no extrapolation, the iterates of :func:`emtutor.em.run_em`.

    A proposed point is kept only if it is feasible (:meth:`ParameterMap.infeasible`:
    weights in the simplex, covariances positive definite, probabilities in
    [0, 1]) and its objective passes the check :func:`~emtutor.em.run_em`
    applies to the plain step it replaces, to rounding (:eq:`conv-safeguard`);
    otherwise the run takes that plain EM step.  So the recorded objective
    never decreases (beyond the ``m_step_slack`` a regularised M-step is
    allowed), and every fixed point of the run is a fixed point of EM.

    Parameters
    ----------
    data, params, e_step, m_step, n_observations
        As for :func:`emtutor.em.run_em`.
    method : {"squarem", "aitken", "quasi-newton", "em"}, default "squarem"
    parameter_map : ParameterMap, optional
        Default :func:`parameter_map` of ``params`` and ``covariance_type``.
    covariance_type : {"full", "diag", "spherical", "tied"}, optional
        Gaussian mixtures and Gaussian HMMs: the covariance type the steps
        use (default that of their ``fit``).
    tol : float, default 1e-4
        As for :func:`emtutor.em.run_em`: stop when the objective per
        observation changes by less than ``tol`` from one iteration to the
        next (from the second on).  ``0`` turns the rule off.
    xtol : float, optional
        Also stop after a plain EM step that moves no parameter (entry of
        the packed vector) by ``xtol`` or more: the residual ``M(theta) -
        theta`` of the fixed-point equation is then below ``xtol``, the same
        rule for every method.  Default None: the objective rule alone.
    max_iter : int, default 100
        Maximum number of EM-map evaluations (M-steps).
    record : bool, default False
        Keep every iteration's parameters and expectations.
    objective_name, decrease_rtol, m_step_slack
        As for :func:`emtutor.em.run_em`.
    max_backtrack : int, default 4
        How many shorter extrapolations to try before the plain step.
    memory : int, default 50
        Quasi-Newton: the secant model starts again after this many updates.

    Returns
    -------
    AcceleratedResult

    Raises
    ------
    ValueError
        For invalid settings or a non-finite objective (as
        :func:`~emtutor.em.run_em`), an unknown ``method``, or parameters
        that are not a model's (``TypeError``).
    LikelihoodDecreaseError
        If a *plain* EM step lowers the objective (a bug in the model's steps).

    Examples
    --------
    >>> from functools import partial
    >>> from emtutor import accelerate, datasets, gmm
    >>> X = datasets.old_faithful()
    >>> start = gmm.initial_params(X, 2, random_state=0)
    >>> result = accelerate.accelerated_em(X, start, e_step=gmm.e_step, m_step=gmm.m_step,
    ...                                    n_observations=len(X), tol=1e-8)
    >>> result.converged
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    for name, value, low in (("max_backtrack", max_backtrack, 0), ("memory", memory, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if xtol is not None and (isinstance(xtol, bool) or not isinstance(xtol, (int, float, np.floating))
                             or not (np.isfinite(xtol) and xtol > 0)):
        raise ValueError(f"xtol must be a finite number > 0 or None, got {xtol!r}")
    pmap = _as_map(params, parameter_map, covariance_type)
    check_driver_settings(tol, max_iter, n_observations, decrease_rtol)

    run = _Run(data, params, e_step, m_step, m_step_slack, n_observations, tol, xtol, max_iter, record,
               objective_name, decrease_rtol, pmap)
    if not np.isfinite(run.objective):
        raise ValueError(
            f"the {objective_name} of the initial parameters is {run.objective}; the parameters give some "
            "point zero probability (or overflow). Check the data scale and the initial parameters."
        )
    if method == "em":
        while run.budget_left and not run.em_step():
            pass
    elif method == "quasi-newton":
        _quasi_newton(run, max_backtrack, memory)
    else:
        _extrapolation_cycles(run, method, max_backtrack)

    if not run.converged:
        warnings.warn(
            f"{method} did not converge in max_iter={max_iter} EM-map evaluations (last change of the "
            f"{objective_name} per observation {run.last_change / n_observations:.3e}); increase max_iter "
            "or tol, or check the initial parameters.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return AcceleratedResult(
        params=run.params,
        expectations=run.expectations,
        objectives=np.asarray(run.objectives, dtype=float),
        initial_objective=run.initial,
        n_iter=len(run.objectives),
        converged=run.converged,
        objective_name=objective_name,
        history=run.history,
        method=method,
        n_em_maps=run.n_m,
        n_e_steps=run.n_e,
        n_accepted=run.n_accepted,
        n_rejected=run.n_rejected,
        step_kinds=tuple(run.kinds),
        em_maps_at=tuple(run.maps_at),
    )
