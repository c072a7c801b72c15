"""Online and incremental EM: EM that looks at a part of the data at a time.

EM's M-step needs the data only through expected **sufficient statistics**
``T``, sums over the observations (:eq:`online-statistics`); the M-step is a
fixed function ``theta = theta_M(T)`` of them.  Three algorithms exploit
that, each touching only a part of the data per step:

* **incremental EM** (Neal & Hinton 1998), :func:`fit_incremental`: the
  data are split into blocks, each block keeps the statistics of its last
  E-step, and a step redoes one block's E-step, swaps its statistics in the
  totals and runs the M-step (:eq:`online-incremental-step`).  Each step is
  a partial E-step followed by an M-step on the one objective
  ``L(q, theta)``, so ``L`` never decreases, and the fixed points are
  those of batch EM (:func:`emtutor.gmm.fit`);
* **stochastic (online) EM** (Cappé & Moulines 2009), :func:`fit_stochastic`
  and :func:`stochastic_step`: a running average of the statistics of
  mini-batches, ``S <- S + chi_t (T(batch; theta) / n_batch - S)``, then
  ``theta = theta_M(S)`` (:eq:`online-stochastic-step`), with step sizes
  ``chi_t = (t_0 + t) ** -upsilon`` (:eq:`online-step-sizes`);
* **online variational Bayes for LDA** (Hoffman, Blei & Bach 2010),
  :func:`fit_online_lda` and :func:`online_lda_step`: the same recursion on
  the topics' variational Dirichlet parameters (:eq:`online-lda-step`), with
  the per-document E-step of :func:`emtutor.lda.e_step`.

For the Gaussian mixture the statistics are those of the batch M-step,
:class:`emtutor.gmm.GMMStatistics` from :func:`emtutor.gmm.statistics`:
for component ``k``, ``N_k = sum_n r_nk``, ``sum_n r_nk x_n`` and ``sum_n
r_nk (x_n - c)(x_n - c)^T`` (only the diagonal for ``"diag"`` and
``"spherical"`` covariances), the second moments taken about a fixed point
``c`` (the ``centre``; the data mean, or the mean of the initial means) so
that data far from the origin lose no digits; the M-step is
:func:`emtutor.gmm.m_step_from_statistics`, for all four covariance types
of :data:`emtutor.gmm.COVARIANCE_TYPES`.

Step sizes.  :func:`check_learning_schedule` accepts ``learning_decay``
(``upsilon``) in ``(0.5, 1]`` and ``learning_offset`` (``t_0``) ``>= 0``:
then ``sum_t chi_t = inf`` (the steps can travel any distance, so the
recursion does not stall before the optimum) and ``sum_t chi_t**2 < inf``
(the noise of the mini-batches averages out), the conditions of Robbins &
Monro (1951) under which stochastic EM converges (:eq:`online-robbins-monro`).
The names are scikit-learn's (``LatentDirichletAllocation``), and mean the
same in :class:`emtutor.estimators.GaussianMixture` and
:class:`emtutor.estimators.LatentDirichletAllocation`.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import entr

from . import gmm, lda
from ._validation import as_data_matrix, as_rng, check_nonnegative, check_positive_int
from .em import EMResult, run_em

__all__ = [
    "IncrementalState",
    "OnlineResult",
    "check_learning_schedule",
    "step_size",
    "statistics_of_params",
    "free_energy",
    "incremental_e_step",
    "incremental_m_step",
    "initial_mixture",
    "fit_incremental",
    "stochastic_step",
    "fit_stochastic",
    "online_lda_step",
    "fit_online_lda",
]

_LOG_2PI = np.log(2.0 * np.pi)


# ---------------------------------------------------------------------------
# Step sizes
# ---------------------------------------------------------------------------


def check_learning_schedule(learning_decay, learning_offset) -> tuple[float, float]:
    """Validate the step-size schedule ``chi_t = (learning_offset + t) ** -learning_decay``.

    ``learning_decay`` (``upsilon``) must lie in ``(0.5, 1]`` and
    ``learning_offset`` (``t_0``) must be ``>= 0``: exactly the schedules
    with ``sum_t chi_t = inf`` and ``sum_t chi_t**2 < inf``
    (:eq:`online-robbins-monro`).  For ``upsilon <= 0.5`` the squares'
    sum diverges (the noise never averages out); for ``upsilon > 1`` the
    sum itself converges (the steps stop before reaching the optimum).
    scikit-learn's ``LatentDirichletAllocation`` accepts any decay in
    ``[0, 1]``; emtutor only those with that guarantee.

    Returns
    -------
    (learning_decay, learning_offset) as floats

    Raises
    ------
    ValueError
        Naming the argument that is out of range (or not a number).
    """
    values = []
    for name, value in (("learning_decay", learning_decay), ("learning_offset", learning_offset)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        values.append(float(value))
    decay, offset = values
    if not 0.5 < decay <= 1.0:
        raise ValueError(
            f"learning_decay must be in (0.5, 1] (then the step sizes sum to infinity and their "
            f"squares do not: the Robbins-Monro conditions), got {learning_decay!r}"
        )
    if offset < 0:
        raise ValueError(f"learning_offset must be >= 0, got {learning_offset!r}")
    return decay, offset


def step_size(t, learning_decay: float = 0.7, learning_offset: float = 10.0):
    """The step size ``chi_t = (t_0 + t) ** -upsilon`` of step ``t = 1, 2, ...`` (:eq:`online-step-sizes`).

    Validated by :func:`check_learning_schedule`: the schedules that meet
    the Robbins-Monro conditions :eq:`online-robbins-monro`.

    The first step is ``t = 1`` (scikit-learn's ``n_batch_iter_`` starts
    there too), so ``learning_offset = 0`` gives ``chi_1 = 1``: the first
    mini-batch replaces the initial statistics.

    Parameters
    ----------
    t : int or array of int, >= 1
    learning_decay : float in (0.5, 1], default 0.7
    learning_offset : float >= 0, default 10.0
        The defaults are scikit-learn's.

    Returns
    -------
    float or ndarray
    """
    decay, offset = check_learning_schedule(learning_decay, learning_offset)
    t = np.asarray(t)
    if t.dtype.kind not in "iuf" or np.any(t < 1):
        raise ValueError(f"t counts the steps from 1, got {t!r}")
    result = (offset + t) ** -decay
    return float(result) if result.ndim == 0 else result


# ---------------------------------------------------------------------------
# The Gaussian mixture's sufficient statistics
# ---------------------------------------------------------------------------


def _one_pass(far, far_means, diagonal=False):
    """The M-step's ``far_scatter`` for the online methods: no second pass (each point is seen once)."""
    return None


def _full_scatter(covariance_type: str) -> bool:
    return covariance_type in ("full", "tied")


def statistics_of_params(params: gmm.GMMParams, centre, *, reg_covar: float = 0.0,
                         covariance_type: str = "full") -> gmm.GMMStatistics:
    """Statistics of one observation whose M-step gives back ``params``.

    The inverse of :func:`emtutor.gmm.m_step_from_statistics` (for
    statistics with ``n_samples = 1``): ``N_k = pi_k``, ``sums_k = pi_k
    mu_k``, ``scatter_k = pi_k (Sigma_k - reg_covar I + (mu_k - c)(mu_k -
    c)^T)`` about the point ``centre`` (``c``).  Stochastic EM starts its
    running average here, so that its first parameters are the initial ones.

    Returns
    -------
    emtutor.gmm.GMMStatistics
    """
    weights, means, covariances = params
    n_components, n_features = means.shape
    centre = np.asarray(centre, dtype=float)
    offset = means - centre
    full = gmm.full_covariances(covariances, n_components, n_features, covariance_type)
    full = full - reg_covar * np.eye(n_features)
    scatter = weights[:, None, None] * (full + offset[:, :, None] * offset[:, None, :])
    if not _full_scatter(covariance_type):
        scatter = np.diagonal(scatter, axis1=1, axis2=2).copy()
    return gmm.GMMStatistics(1.0, np.array(weights, dtype=float), weights[:, None] * means, centre, scatter)


def _combine(stats: gmm.GMMStatistics, weight_old: float, new: gmm.GMMStatistics,
             weight_new: float) -> gmm.GMMStatistics:
    """``weight_old * stats + weight_new * new``, field by field (about ``stats.centre``)."""
    return gmm.GMMStatistics(*(weight_old * a + weight_new * b for a, b in zip(stats, new)))._replace(
        centre=stats.centre)


def _m_step(stats: gmm.GMMStatistics, reg_covar: float, covariance_type: str) -> gmm.GMMParams:
    """:func:`emtutor.gmm.m_step_from_statistics` with no second pass over the data."""
    return gmm.m_step_from_statistics(stats, reg_covar=reg_covar, covariance_type=covariance_type,
                                      far_scatter=_one_pass)


def _expected_log_joint(stats: gmm.GMMStatistics, params: gmm.GMMParams, covariance_type: str) -> float:
    """``sum_n sum_k r_nk log(pi_k N(x_n | mu_k, Sigma_k))`` computed from the statistics."""
    weights, means, covariances = params
    counts, moments, centre = stats.counts, stats.scatter, stats.centre
    n_components, n_features = means.shape
    # sum_n r_nk (x_n - c) as N_k (xbar_k - c): no cancellation against sum_n r_nk x_n for data far from 0
    sums = counts[:, None] * (stats.sums / np.maximum(counts, gmm._COUNT_FLOOR)[:, None] - centre)
    d = means - centre
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    total = float(np.sum(np.where(counts > 0, counts * log_weights, 0.0)))
    if _full_scatter(covariance_type):
        full = gmm.full_covariances(covariances, n_components, n_features, covariance_type)
        chol = np.linalg.cholesky(full)
        log_det = 2 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        # scatter about mu_k: moments - sums d^T - d sums^T + N_k d d^T
        scatter = (moments - sums[:, :, None] * d[:, None, :] - d[:, :, None] * sums[:, None, :]
                   + counts[:, None, None] * d[:, :, None] * d[:, None, :])
        mahalanobis = np.trace(np.linalg.solve(full, scatter), axis1=1, axis2=2)
    else:
        variances = covariances[:, None] * np.ones(n_features) if covariance_type == "spherical" else covariances
        log_det = np.sum(np.log(variances), axis=1)
        scatter = moments - 2 * sums * d + counts[:, None] * d**2
        mahalanobis = np.sum(scatter / variances, axis=1)
    return total - 0.5 * float(np.sum(counts * (n_features * _LOG_2PI + log_det) + mahalanobis))


def free_energy(stats: gmm.GMMStatistics, entropy: float, params: gmm.GMMParams,
                covariance_type: str = "full") -> float:
    """The objective ``L(q, theta)`` of :eq:`elbo-definition` from ``q``'s statistics and entropy, :eq:`online-free-energy`.

    ``L(q, theta) = sum_n sum_k r_nk log(pi_k N(x_n | mu_k, Sigma_k)) +
    H(q)``: the first term depends on ``q`` only through the statistics
    :eq:`online-statistics` (the Gaussian's log density is quadratic in
    ``x``), the second is ``H(q) = -sum_n sum_k r_nk log r_nk``.  Neal and
    Hinton call ``-L`` the free energy; incremental EM never lowers ``L``.
    When ``q`` is the exact posterior under ``params``, ``L`` is the
    log-likelihood (:eq:`elbo-decomposition`).

    Parameters
    ----------
    stats : emtutor.gmm.GMMStatistics
        Sums over all observations (:func:`emtutor.gmm.statistics`).
    entropy : float
        ``H(q)``.
    params : GMMParams
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"

    Returns
    -------
    float
    """
    gmm._covariance_type(covariance_type)
    return _expected_log_joint(stats, params, covariance_type) + float(entropy)


# ---------------------------------------------------------------------------
# Incremental EM
# ---------------------------------------------------------------------------


class IncrementalState(NamedTuple):
    """What incremental EM keeps between its steps: ``q`` summarised block by block.

    Attributes
    ----------
    block_stats : emtutor.gmm.GMMStatistics
        Each field with a leading axis of length ``n_blocks``: the
        statistics of every block from its last E-step.
    entropies : ndarray of shape (n_blocks,)
        ``H(q)`` of every block from its last E-step.
    next_block : int
        The block the next E-step will redo (the blocks are visited in turn).
    """

    block_stats: gmm.GMMStatistics
    entropies: np.ndarray
    next_block: int

    def totals(self) -> gmm.GMMStatistics:
        """The statistics of the whole data: the sum over the blocks (in a fixed order)."""
        stats = self.block_stats
        return gmm.GMMStatistics(*(field.sum(axis=0) for field in stats))._replace(centre=stats.centre[0])


def _block_e_step(X, rows, params, centre, covariance_type):
    resp, _ = gmm.e_step(X[rows], params, covariance_type=covariance_type)
    return gmm.statistics(X[rows], resp, covariance_type=covariance_type, centre=centre), float(np.sum(entr(resp)))


def incremental_e_step(X, params: gmm.GMMParams, previous: IncrementalState | None = None, *, blocks,
                       centre, covariance_type: str = "full") -> tuple[IncrementalState, float]:
    """A partial E-step (:eq:`online-incremental-step`): the exact posterior of one block.

    The E-step for :func:`emtutor.em.run_em`.  Without ``previous`` (the
    driver's first call) every block gets its E-step; afterwards only
    ``previous.next_block``, whose statistics and entropy replace that
    block's old ones, the others staying as they were.  Either way ``q``
    is changed only where it becomes the exact posterior under ``params``,
    which maximises ``L(q, params)`` over that block's ``q``: ``L`` does
    not decrease.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    params : GMMParams
    previous : IncrementalState or None
    blocks : list of slice
        The blocks of rows.
    centre : array of shape (n_features,)
        The point all blocks' second moments are taken about.
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"

    Returns
    -------
    state : IncrementalState
    objective : float
        ``L(q, params)`` (:func:`free_energy`) of the updated ``q``.
    """
    if previous is None:
        results = [_block_e_step(X, rows, params, centre, covariance_type) for rows in blocks]
        block_stats = gmm.GMMStatistics(*(np.stack(fields) for fields in zip(*(s for s, _ in results))))
        state = IncrementalState(block_stats, np.array([h for _, h in results]), 0)
    else:
        b = previous.next_block
        stats, entropy = _block_e_step(X, blocks[b], params, centre, covariance_type)
        block_stats = gmm.GMMStatistics(*(a.copy() for a in previous.block_stats))
        for field, value in zip(block_stats, stats):
            field[b] = value
        entropies = previous.entropies.copy()
        entropies[b] = entropy
        state = IncrementalState(block_stats, entropies, (b + 1) % len(blocks))
    return state, free_energy(state.totals(), state.entropies.sum(), params, covariance_type)


def incremental_m_step(X, state: IncrementalState, params: gmm.GMMParams | None = None, *,
                       reg_covar: float = 0.0, covariance_type: str = "full") -> gmm.GMMParams:
    """The M-step of incremental EM: :func:`emtutor.gmm.m_step_from_statistics` of the blocks' totals.

    ``X`` and ``params`` are unused (the driver's signature): the M-step
    needs the data only through the statistics.
    """
    return _m_step(state.totals(), reg_covar, covariance_type)


def initial_mixture(X, n_components, covariance_type, init, reg_covar, rng, weights=None, means=None,
                    covariances=None) -> gmm.GMMParams:
    """Checked settings and initial parameters, chosen as :func:`emtutor.gmm.fit` chooses them.

    ``X`` (validated) needs at least ``n_components`` distinct rows;
    ``reg_covar`` is already checked, ``rng`` a numpy Generator.
    """
    k = check_positive_int(n_components, "n_components", 1, len(X))
    gmm._covariance_type(covariance_type)
    gmm.check_init(init)
    gmm._check_enough_distinct(X, k)
    params = gmm._initial_params(X, k, covariance_type, init, reg_covar, rng, weights, means, covariances)
    return gmm.check_params(params, k, X.shape[1], covariance_type)


def _statistics_slack(X, state, old_params, new_params, *, reg_covar, covariance_type):
    """How far ``L`` may fall in one step: the regularisation bound plus the rounding of ``L``.

    With ``reg_covar > 0`` the M-step is allowed the bound :eq:`gmm-reg-bound`
    (:func:`emtutor.gmm.regularisation_slack`, with ``N_k`` from the
    statistics).  And ``L`` computed from statistics (:func:`free_energy`)
    carries the rounding of the scatter ``M_k`` it is built from, about
    ``eps N_k (lambda_max(Sigma_k) + |mu_k - c|^2)`` per entry, which
    ``inv(Sigma_k)`` magnifies: ``(1/2) tr(inv(Sigma_k) dM_k)``.  For a
    well-conditioned mixture that is far below the driver's relative
    tolerance; for a nearly collapsed component it is not, and a rounding
    error is not a bug.
    """
    totals = state.totals()
    counts = totals.counts
    bound = 0.0
    if reg_covar > 0:
        new_trace = gmm._precision_trace(new_params, covariance_type)
        old_trace = gmm._precision_trace(old_params, covariance_type)
        bound = -0.5 * reg_covar * float(counts @ (new_trace - old_trace))
    rounding = 0.0
    n_components, n_features = totals.sums.shape
    for params in (old_params, new_params):
        full = gmm.full_covariances(params.covariances, n_components, n_features, covariance_type)
        eigenvalues = np.linalg.eigvalsh(full)
        trace = np.sum(1.0 / eigenvalues, axis=1)
        spread = eigenvalues[:, -1] + np.max(np.abs(params.means - totals.centre), axis=1) ** 2
        rounding += 0.5 * 100 * n_features * np.finfo(float).eps * float(np.sum(counts * trace * spread))
    return bound + rounding


def fit_incremental(
    X,
    n_components: int,
    *,
    n_blocks: int = 10,
    covariance_type: str = "full",
    init: str = "k-means++",
    weights=None,
    means=None,
    covariances=None,
    reg_covar: float = 1e-6,
    tol: float = 1e-4,
    max_iter: int = 100,
    random_state=None,
    record: bool = False,
) -> EMResult:
    """Fit a Gaussian mixture by incremental EM (Neal & Hinton 1998).

    The rows of ``X`` are split into ``n_blocks`` consecutive blocks (of
    sizes differing by at most one; shuffle ``X`` first if its order means
    something).  After one E-step of every block, each step is an M-step
    from the totals of the blocks' statistics followed by the E-step of the
    next block in turn (:eq:`online-incremental-step`): a step costs
    ``1 / n_blocks`` of a batch E-step, and the parameters move after every
    block instead of once per pass.  ``n_blocks = 1`` is batch EM.

    The generic driver :func:`emtutor.em.run_em` runs it: one driver
    iteration is one such step (M-step, then one block's E-step), with
    :func:`incremental_m_step` and :func:`incremental_e_step`.  The
    objective it records and checks is ``L(q, theta)`` (:func:`free_energy`),
    which both half-steps maximise over their argument, so the driver's
    check that it never decreases is Neal and Hinton's theorem checked
    after every step (with ``reg_covar > 0`` the M-step is allowed the
    slack of :eq:`gmm-reg-bound`, with ``N_k`` from the statistics, and
    every step the rounding of ``L`` computed from statistics, which matters
    only for a nearly collapsed component; see ``_statistics_slack``).  It is
    not the log-likelihood while the blocks' ``q`` come from different
    parameters; at a fixed point it is, and the fixed points are batch EM's.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
    n_blocks : int, default 10
        Number of blocks, ``1 <= n_blocks <= n_samples``.
    covariance_type, init, weights, means, covariances, reg_covar, random_state
        As in :func:`emtutor.gmm.fit` (the initial parameters are chosen the same way).
    tol : float, default 1e-4
        Stop when one step changes ``L`` by less than ``tol`` per
        observation *of the block*: a step changes ``L`` through one block,
        about ``1 / n_blocks`` of what a batch iteration does, so this is
        the batch rule's meaning of ``tol`` (per observation per pass).
    max_iter : int, default 100
        Maximum number of passes over the data (``max_iter * n_blocks`` steps).
    record : bool, default False
        Keep the parameters and state of every step in ``result.history``.

    Returns
    -------
    EMResult
        ``result.objectives[t]`` is ``L`` after step ``t + 1`` (so
        ``(t + 1) / n_blocks`` passes), ``result.n_iter`` counts steps,
        ``result.expectations`` is the final :class:`IncrementalState`.
        ``result.params`` are the parameters of the last M-step, whose
        statistics ``result.expectations`` has updated by one more block;
        at convergence the difference is below ``tol``.
    """
    X = as_data_matrix(X)
    n_samples = len(X)
    n_blocks = check_positive_int(n_blocks, "n_blocks", 1, n_samples)
    max_iter = check_positive_int(max_iter, "max_iter")
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    params = initial_mixture(X, n_components, covariance_type, init, reg_covar, as_rng(random_state),
                             weights, means, covariances)
    edges = np.linspace(0, n_samples, n_blocks + 1).round().astype(int)
    blocks = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
    centre = X.mean(axis=0)
    slack = partial(_statistics_slack, reg_covar=reg_covar, covariance_type=covariance_type)
    return run_em(
        X, params,
        e_step=partial(incremental_e_step, blocks=blocks, centre=centre, covariance_type=covariance_type),
        m_step=partial(incremental_m_step, reg_covar=reg_covar, covariance_type=covariance_type),
        m_step_slack=slack,
        n_observations=n_samples / n_blocks,
        tol=tol, max_iter=max_iter * n_blocks, record=record, objective_name="ELBO",
    )


# ---------------------------------------------------------------------------
# Stochastic (online) EM
# ---------------------------------------------------------------------------


class OnlineResult(NamedTuple):
    """What :func:`fit_stochastic` and :func:`fit_online_lda` return.

    Attributes
    ----------
    params : NamedTuple
        The final parameters (:class:`~emtutor.gmm.GMMParams` or :class:`~emtutor.lda.LDAParams`).
    statistics : object
        The final running statistics: :class:`~emtutor.gmm.GMMStatistics` (per
        observation) for the mixture; for LDA ``lambda`` (or, without
        ``eta``, the running expected topic-word counts).
    n_steps : int
        Number of mini-batch steps.
    objectives : ndarray of shape (n_epochs + 1,)
        The objective of the whole data before the first step and after
        every pass: the log-likelihood (mixture) or the ELBO (LDA).
    passes : ndarray of shape (n_epochs + 1,)
        ``0, 1, ..., n_epochs``: the passes over the data at which
        ``objectives`` were taken.
    """

    params: NamedTuple
    statistics: object
    n_steps: int
    objectives: np.ndarray
    passes: np.ndarray


def stochastic_step(X_batch, stats: gmm.GMMStatistics, params: gmm.GMMParams, chi: float, *,
                    reg_covar: float = 0.0, covariance_type: str = "full"):
    """One step of stochastic EM (:eq:`online-stochastic-step`) on a mini-batch.

    ``S <- (1 - chi) S + chi T(batch; theta) / n_batch``, with
    ``T(batch; theta)`` the statistics of the batch under ``params``
    (:func:`emtutor.gmm.statistics` of its E-step) and ``S`` the running statistics
    per observation, then ``theta = theta_M(S)``.

    Parameters
    ----------
    X_batch : array of shape (n_batch, n_features)
    stats : emtutor.gmm.GMMStatistics
        The running per-observation statistics (``n_samples`` about 1).
    params : GMMParams
        ``theta_M(stats)``: the parameters of the E-step.
    chi : float in (0, 1]
        The step size.
    reg_covar : float, default 0.0
    covariance_type : {"full", "diag", "spherical", "tied"}, default "full"

    Returns
    -------
    stats : emtutor.gmm.GMMStatistics
    params : GMMParams
    log_likelihood : float
        The batch's log-likelihood under the ``params`` given (a free
        by-product of the E-step).
    """
    resp, log_norm = gmm.e_step(X_batch, params, covariance_type=covariance_type)
    batch = gmm.statistics(X_batch, resp, covariance_type=covariance_type, centre=stats.centre)
    stats = _combine(stats, 1.0 - chi, batch, chi / len(X_batch))
    return stats, _m_step(stats, reg_covar, covariance_type), \
        float(np.sum(log_norm))


def fit_stochastic(
    X,
    n_components: int,
    *,
    batch_size: int = 100,
    n_epochs: int = 5,
    learning_decay: float = 0.7,
    learning_offset: float = 10.0,
    covariance_type: str = "full",
    init: str = "k-means++",
    weights=None,
    means=None,
    covariances=None,
    reg_covar: float = 1e-6,
    random_state=None,
) -> OnlineResult:
    """Fit a Gaussian mixture by stochastic EM (Cappé & Moulines 2009).

    Every pass over the data visits the rows in a new random order (drawn
    with ``random_state``) in mini-batches of ``batch_size``, each one step
    of :func:`stochastic_step` with the step size ``chi_t`` of
    :func:`step_size`.  The running statistics start at
    :func:`statistics_of_params` of the initial parameters, about the
    centre ``c`` = the mean of the initial means.

    This is not the generic driver :func:`emtutor.em.run_em`: stochastic
    EM is not monotone.  A step moves the statistics towards those of one
    mini-batch, which can lower the log-likelihood of the whole data (a
    batch of unusual points pulls the parameters towards itself); only the
    average over many steps heads uphill, and the guarantee is
    convergence, with step sizes obeying :eq:`online-robbins-monro`, not
    a rise at every step.  Nor is there a stopping rule on the objective,
    whose changes are noise of the size ``chi_t``: it runs ``n_epochs``
    passes.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    n_components : int
    batch_size : int, default 100
    n_epochs : int, default 5
        Number of passes over the data.
    learning_decay, learning_offset : float, default 0.7 and 10.0
        ``upsilon`` in ``(0.5, 1]`` and ``t_0 >= 0`` of
        ``chi_t = (t_0 + t) ** -upsilon`` (see :func:`check_learning_schedule`).
    covariance_type, init, weights, means, covariances, reg_covar
        As in :func:`emtutor.gmm.fit`.
    random_state : int, numpy Generator or None
        Seed for the initial means and for the order of the rows: the same
        seed gives the same result.

    Returns
    -------
    OnlineResult
        ``objectives`` is the log-likelihood of all of ``X`` before the
        first step and after every pass (one more E-step per pass, only for
        the record).
    """
    X = as_data_matrix(X)
    n_samples = len(X)
    batch_size = check_positive_int(batch_size, "batch_size", 1)
    n_epochs = check_positive_int(n_epochs, "n_epochs", 1)
    decay, offset = check_learning_schedule(learning_decay, learning_offset)
    reg_covar = check_nonnegative(reg_covar, "reg_covar")
    rng = as_rng(random_state)
    params = initial_mixture(X, n_components, covariance_type, init, reg_covar, rng, weights, means, covariances)
    stats = statistics_of_params(params, params.means.mean(axis=0), reg_covar=reg_covar,
                                 covariance_type=covariance_type)
    objectives = [float(np.sum(gmm.e_step(X, params, covariance_type=covariance_type)[1]))]
    t = 0
    for _ in range(n_epochs):
        order = rng.permutation(n_samples)
        for start in range(0, n_samples, batch_size):
            t += 1
            chi = (offset + t) ** -decay
            stats, params, _ = stochastic_step(X[order[start : start + batch_size]], stats, params, chi,
                                               reg_covar=reg_covar, covariance_type=covariance_type)
        objectives.append(float(np.sum(gmm.e_step(X, params, covariance_type=covariance_type)[1])))
    return OnlineResult(params, stats, t, np.array(objectives), np.arange(n_epochs + 1, dtype=float))


# ---------------------------------------------------------------------------
# Online variational Bayes for LDA
# ---------------------------------------------------------------------------


def online_lda_step(X_batch, topic_word_stats, alpha, eta, chi: float, total_samples: float, *,
                    e_step_tol: float = 1e-3, max_e_step_iter: int = 100):
    """One step of online variational Bayes for LDA (Hoffman, Blei & Bach 2010), :eq:`online-lda-step`.

    The E-step of the mini-batch is :func:`emtutor.lda.e_step` (from its
    fresh start); its expected topic-word counts, scaled up to a corpus of
    ``total_samples`` documents, give the ``lambda`` that batch variational
    EM would compute if the corpus were that batch repeated,
    ``lambda_hat = eta + (total_samples / n_batch) sum_{d in batch} n_dv phi_dvk``,
    and ``lambda <- (1 - chi) lambda + chi lambda_hat``.

    With ``eta = None`` (no prior on the topics) the same recursion with
    ``eta = 0`` is stochastic EM (Cappé & Moulines 2009) for the
    maximum-likelihood topics: ``topic_word_stats`` is then the running
    estimate of the corpus' expected topic-word counts, and the topics are
    its rows normalised.

    Parameters
    ----------
    X_batch : array or sparse matrix of shape (n_batch, n_words)
    topic_word_stats : array of shape (n_components, n_words)
        ``lambda`` (or, without ``eta``, the running expected counts), all > 0.
    alpha : array of shape (n_components,)
    eta : float or None
    chi : float in (0, 1]
    total_samples : float
        ``M``, the number of documents of the corpus (scikit-learn's ``total_samples``).
    e_step_tol, max_e_step_iter
        As in :func:`emtutor.lda.fit`.

    Returns
    -------
    topic_word_stats : ndarray of shape (n_components, n_words)
    doc_elbo : float
        The documents' part of the ELBO of the batch under the topics given
        (a by-product of the E-step).
    """
    X_batch = X_batch if lda._is_canonical(X_batch) else lda.as_count_matrix(X_batch, "X_batch")
    expectations, _ = lda.e_step(X_batch, _lda_params(topic_word_stats, alpha, eta), tol=e_step_tol,
                                 max_iter=max_e_step_iter)
    target = (total_samples / X_batch.shape[0]) * expectations.topic_word_counts
    if eta is not None:
        target += eta
    return (1.0 - chi) * topic_word_stats + chi * target, float(expectations.doc_elbo.sum())


def _lda_params(topic_word_stats, alpha, eta) -> lda.LDAParams:
    """The parameters of the running statistics: ``lambda`` itself with a prior, normalised without."""
    if eta is None:
        totals = topic_word_stats.sum(axis=1, keepdims=True)
        if not np.all(totals > 0):
            empty = np.flatnonzero(~(totals[:, 0] > 0)).tolist()
            raise ValueError(f"topics {empty} received no words; use fewer topics, a learning_offset > 0 "
                             "(so that the first step keeps some of the start), or set eta "
                             "(topic_word_prior) > 0")
        return lda.LDAParams(alpha, topic_word_stats / totals, None)
    return lda.LDAParams(alpha, topic_word_stats, eta)


def fit_online_lda(
    X,
    n_components: int,
    *,
    alpha=None,
    eta: float | None = None,
    batch_size: int = 128,
    n_epochs: int = 5,
    learning_decay: float = 0.7,
    learning_offset: float = 10.0,
    total_samples=None,
    topic_word=None,
    e_step_tol: float = 1e-3,
    max_e_step_iter: int = 100,
    shuffle: bool = True,
    random_state=None,
) -> OnlineResult:
    """Fit LDA by online variational Bayes (Hoffman, Blei & Bach 2010).

    Each pass visits the documents in mini-batches of ``batch_size`` (in a
    new random order if ``shuffle``), each one :func:`online_lda_step`
    with ``chi_t`` of :func:`step_size`.  Not the generic driver, for the
    reason given in :func:`fit_stochastic`: a step need not raise the
    corpus' ELBO.

    Parameters
    ----------
    X : array or sparse matrix of shape (n_docs, n_words)
    n_components : int
    alpha : float or array, optional
        Default ``1 / n_components``.
    eta : float or None, default None
        The topics' Dirichlet prior (online variational Bayes); None fits
        maximum-likelihood topics by stochastic EM (see :func:`online_lda_step`).
    batch_size : int, default 128
    n_epochs : int, default 5
    learning_decay, learning_offset : float, default 0.7 and 10.0
    total_samples : float, optional
        ``M`` in :eq:`online-lda-step`; default the number of documents of ``X``.
    topic_word : array of shape (n_components, n_words), optional
        The initial ``lambda``; default drawn as in :func:`emtutor.lda.fit`.
    e_step_tol, max_e_step_iter
        As in :func:`emtutor.lda.fit`.
    shuffle : bool, default True
    random_state : int, numpy Generator or None

    Returns
    -------
    OnlineResult
        ``objectives`` is the ELBO (:eq:`lda-elbo`) of all of ``X`` before
        the first step and after every pass.
    """
    X = lda.as_count_matrix(X)
    n_docs = X.shape[0]
    n_components = check_positive_int(n_components, "n_components")
    batch_size = check_positive_int(batch_size, "batch_size", 1)
    n_epochs = check_positive_int(n_epochs, "n_epochs", 1)
    decay, offset = check_learning_schedule(learning_decay, learning_offset)
    total_samples = float(n_docs) if total_samples is None else check_nonnegative(total_samples, "total_samples")
    if total_samples <= 0:
        raise ValueError(f"total_samples must be > 0, got {total_samples!r}")
    rng = as_rng(random_state)
    params = lda._initial_params(X, n_components, alpha, eta, topic_word, rng)
    stats = params.topic_word
    elbo_args = {"tol": e_step_tol, "max_iter": max_e_step_iter}
    objectives = [lda.elbo(X, params, **elbo_args)]
    t = 0
    for _ in range(n_epochs):
        order = rng.permutation(n_docs) if shuffle else np.arange(n_docs)
        for start in range(0, n_docs, batch_size):
            t += 1
            stats, _ = online_lda_step(X[order[start : start + batch_size]], stats, params.alpha, eta,
                                       (offset + t) ** -decay, total_samples, e_step_tol=e_step_tol,
                                       max_e_step_iter=max_e_step_iter)
        params = _lda_params(stats, params.alpha, eta)
        objectives.append(lda.elbo(X, params, **elbo_args))
    return OnlineResult(params, stats, t, np.array(objectives), np.arange(n_epochs + 1, dtype=float))
