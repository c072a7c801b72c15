"""The generic EM driver shared by every model in :mod:`emtutor`.

EM is coordinate ascent on one function of two arguments, the objective
``L(q, theta)`` of the chapter "The EM algorithm": the E-step improves the
distribution ``q`` of the latent variables with the parameters ``theta``
fixed, the M-step improves ``theta`` with ``q`` fixed.  A model supplies the
two steps as pure functions, each given the current value of what it
updates, so nothing the next step needs hides anywhere else:

* ``e_step(data, params, previous) -> (expectations, objective)``: the
  expectations of the latent variables (``q``, in the form the M-step
  needs) under ``params``, and the objective at those expectations and
  ``params``, as an array whose sum is the total (one term per sample, or
  a single number).  ``previous`` is the previous E-step's expectations
  (``None`` the first time): an exact E-step ignores it, an iterative one
  (latent Dirichlet allocation's) starts from it;
* ``m_step(data, expectations, params) -> params``: new parameters that do
  not lower the objective at those expectations; ``params`` are the
  current ones (which the step keeps for parameters it does not learn and
  for empty components).

:func:`run_em` alternates them and keeps the record.  What the objective is
depends on the model, and each model names it:

* the **log-likelihood** ``log p(X | theta)`` for the models whose E-step is
  the exact posterior (Gaussian mixtures, the coins, hidden Markov models,
  the normal with missing values): the normaliser of Bayes' rule in the
  E-step *is* the log-likelihood of ``params`` (:eq:`em-e-step`), so it
  comes for free, and each of those modules' ``log_likelihood(data,
  params)`` returns the same number (the tests check it);
* the **evidence lower bound** (ELBO) ``L(q, theta)`` for latent Dirichlet
  allocation, whose E-step is variational (:eq:`lda-elbo`): there the
  log-likelihood is intractable and the module has no ``log_likelihood``.

EM never lowers the objective (:eq:`em-monotone`), so :func:`run_em` raises
:class:`LikelihoodDecreaseError` if it goes down, a sign of a wrong step.
An M-step that adds ``reg_covar`` to the covariances is not the exact
maximiser; for it the model also gives the bound of how far the
log-likelihood may fall (``m_step_slack``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = [
    "ConvergenceWarning",
    "LikelihoodDecreaseError",
    "NotFittedError",
    "EMHistory",
    "EMResult",
    "run_em",
]


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the objective settled."""


class NotFittedError(ValueError, AttributeError):
    """An estimator method that needs a fitted model was called before ``fit``.

    Shared by every estimator in :mod:`emtutor.estimators`; like
    scikit-learn's exception of the same name it is both a ``ValueError``
    and an ``AttributeError``.
    """


class LikelihoodDecreaseError(RuntimeError):
    r"""The objective (log-likelihood or ELBO) went down during EM.

    EM's monotonicity theorem (:eq:`em-monotone`),
    :math:`\log p(x \mid \theta^{(t+1)}) \ge \log p(x \mid \theta^{(t)})`,
    says an exact E-step followed by an M-step that does not decrease the
    expected complete-data log-likelihood can never lower the
    log-likelihood; the same holds for the ELBO when both steps are ascent
    steps on it.  A decrease beyond rounding (and beyond the slack a
    regularised M-step is allowed) is therefore a bug in the model's
    ``e_step`` or ``m_step``.
    """


@dataclass
class EMHistory:
    """Per-iteration record kept when ``record=True``.

    Attributes
    ----------
    params : list
        ``params[0]`` is the initial guess, ``params[t]`` the parameters
        after the ``t``-th M-step; length ``n_iter + 1``.
    expectations : list
        ``expectations[t]`` is the E-step output (for mixtures, the
        responsibilities) computed from ``params[t]``; length ``n_iter + 1``.
    """

    params: list = field(default_factory=list)
    expectations: list = field(default_factory=list)

    @property
    def resp(self) -> list:
        """Alias of ``expectations``, the name used for mixtures."""
        return self.expectations


@dataclass
class EMResult:
    """What :func:`run_em` returns.

    The fields of ``params`` (a named tuple) are also readable directly, so
    ``result.means`` is ``result.params.means``.

    Attributes
    ----------
    params : NamedTuple
        The final parameters.
    expectations : object
        E-step output for the final parameters (responsibilities for a
        mixture), so it is consistent with ``params``.
    objectives : ndarray of shape (n_iter,)
        The total objective after every iteration (after the E-step that
        follows each M-step).
    initial_objective : float
        The objective at the initial parameters.
    n_iter : int
        Number of EM iterations (M-steps) performed, at least 1.
    converged : bool
        Whether the stopping rule was met before ``max_iter``.
    objective_name : str
        What the objective is: ``"log-likelihood"`` or ``"ELBO"``.
    history : EMHistory or None
        Per-iteration parameters and expectations when ``record=True``.
    """

    params: Any
    expectations: Any
    objectives: np.ndarray
    initial_objective: float
    n_iter: int
    converged: bool
    objective_name: str = "objective"
    history: EMHistory | None = None

    @property
    def objective(self) -> float:
        """The final total objective, ``objectives[-1]``."""
        return float(self.objectives[-1])

    @property
    def resp(self):
        """Alias of ``expectations``, the name used for mixtures."""
        return self.expectations

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: forward to the parameters.
        params = self.__dict__.get("params")
        if params is not None and name in getattr(params, "_fields", ()):
            return getattr(params, name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")


def run_em(
    data: Any,
    params: Any,
    *,
    e_step: Callable[[Any, Any, Any], tuple[Any, Any]],
    m_step: Callable[[Any, Any, Any], Any],
    n_observations: float,
    tol: float = 1e-4,
    max_iter: int = 100,
    record: bool = False,
    objective_name: str = "log-likelihood",
    decrease_rtol: float = 1e-9,
    m_step_slack: Callable[[Any, Any, Any, Any], float] | None = None,
    previous_expectations: Any = None,
    monotone: bool = True,
) -> EMResult:
    """Run EM from ``params`` until the objective settles.

    One iteration is an M-step followed by the E-step of the new
    parameters; that E-step's objective is recorded in
    ``result.objectives``.  From the second iteration on, EM stops when the
    objective *per observation* changes by less than ``tol``:
    ``|L_t - L_{t-1}| / N < tol`` with ``N = n_observations`` (the rule
    :eq:`em-stop-total` with the total threshold ``tol * N``).  A decrease
    never counts as convergence: it raises.

    Parameters
    ----------
    data : object
        Passed unchanged to ``e_step`` and ``m_step``.
    params : NamedTuple
        Initial parameters.
    e_step : callable
        ``e_step(data, params, previous) -> (expectations, objective)``
        where ``np.sum(objective)`` is the total objective at
        ``expectations`` and ``params``, and ``previous`` the previous
        E-step's expectations (``None`` for the first E-step).
    m_step : callable
        ``m_step(data, expectations, params) -> params``, given the current
        parameters.
    n_observations : float
        ``N``, the number of observations the objective is a sum over, that
        ``tol`` is per: the data points (rows of ``X``) of a mixture or of
        the missing-data normal, the sets of tosses of the coins, the time
        steps of all sequences of an HMM, the tokens (word occurrences) of
        LDA's corpus.
    tol : float, default 1e-4
        Stopping threshold on the change of the objective per observation.
    max_iter : int, default 100
        Maximum number of iterations; reaching it emits a
        :class:`ConvergenceWarning`.
    record : bool, default False
        Keep every iteration's parameters and expectations in
        ``result.history``.
    objective_name : str, default "log-likelihood"
        What the model's objective is (``"log-likelihood"`` or
        ``"ELBO"``); used in messages and stored in the result.
    decrease_rtol : float, default 1e-9
        A decrease of the objective larger than
        ``decrease_rtol * max(1, |previous|)`` raises
        :class:`LikelihoodDecreaseError`; smaller ones are rounding.
    m_step_slack : callable, optional
        For an M-step that is not the exact maximiser of the expected
        complete-data log-likelihood ``Q`` (for example one that adds
        ``reg_covar`` to covariances):
        ``m_step_slack(data, expectations, old_params, new_params) -> float``,
        a bound such that EM still guarantees ``L_new - L_old >= -slack``
        for that step (for an exact M-step the bound is 0, which is
        :eq:`em-monotone`).  The check then allows a decrease of ``slack``
        on top of rounding; a negative slack demands a rise.  Without it,
        any decrease beyond rounding is an error.
    previous_expectations : object, optional
        What the first E-step gets as ``previous`` (default None): the last
        expectations of an earlier run that this one continues from its final
        ``params``, so that an E-step that uses them (LDA's keeps, per
        document, the better of a fresh start and the previous ``gamma``)
        carries on from where that run stopped.
    monotone : bool, default True
        Whether the steps guarantee a rising objective, so that a decrease
        means a bug.  False for an E-step that is *not* a maximisation over
        the latent distribution given the previous one: LDA's fresh E-step
        restarts every document's ascent from the same start and may end
        below where the previous ``q`` was (Blei, Ng & Jordan 2003's
        algorithm, as in scikit-learn).  No decrease raises then, and EM stops
        when the objective per observation changes by less than ``tol`` in
        either direction.

    Returns
    -------
    EMResult

    Raises
    ------
    ValueError
        If ``tol``, ``max_iter`` or ``n_observations`` is invalid, or the
        objective is not finite.
    LikelihoodDecreaseError
        If the objective decreases (a bug in the model's steps), unless
        ``monotone=False``.
    """
    check_driver_settings(tol, max_iter, n_observations, decrease_rtol)

    expectations, objective = e_step(data, params, previous_expectations)
    previous = _total(objective, 0, objective_name)
    initial = previous
    history = EMHistory([params], [expectations]) if record else None
    objectives = []
    converged = False

    for iteration in range(1, max_iter + 1):
        old_params, params = params, m_step(data, expectations, params)
        slack = 0.0 if m_step_slack is None else m_step_slack(data, expectations, old_params, params)
        expectations, objective = e_step(data, params, expectations)
        current = _total(objective, iteration, objective_name)
        objectives.append(current)
        if history is not None:
            history.params.append(params)
            history.expectations.append(expectations)

        change = current - previous
        if monotone and change < -(slack + decrease_rtol * max(1.0, abs(previous))):
            raise LikelihoodDecreaseError(
                f"the {objective_name} decreased at iteration {iteration}: "
                f"{previous!r} -> {current!r} (change {change:.3e}, allowed slack "
                f"{slack:.3e}). EM cannot decrease it, so the model's e_step or "
                "m_step is wrong."
            )
        if iteration >= 2 and abs(change) < tol * n_observations:
            converged = True
            break
        previous = current

    if not converged:
        warnings.warn(
            f"EM did not converge in max_iter={max_iter} iterations (last change of the "
            f"{objective_name} per observation {change / n_observations:.3e} >= tol={tol}); increase "
            "max_iter or tol, or check the initial parameters.",
            ConvergenceWarning,
            stacklevel=2,
        )

    return EMResult(
        params=params,
        expectations=expectations,
        objectives=np.asarray(objectives, dtype=float),
        initial_objective=initial,
        n_iter=len(objectives),
        converged=converged,
        objective_name=objective_name,
        history=history,
    )


def check_driver_settings(tol, max_iter, n_observations, decrease_rtol) -> None:
    """Validate the settings :func:`run_em` shares with :func:`emtutor.accelerate.accelerated_em`."""
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if isinstance(n_observations, bool) or not isinstance(n_observations, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(n_observations) and n_observations > 0):
        raise ValueError(f"n_observations must be a finite number > 0, got {n_observations!r}")
    if not (np.isfinite(decrease_rtol) and decrease_rtol >= 0):
        raise ValueError(f"decrease_rtol must be a finite number >= 0, got {decrease_rtol!r}")


def _total(objective: Any, iteration: int, objective_name: str) -> float:
    total = float(np.sum(objective))
    if not np.isfinite(total):
        where = "the initial parameters" if iteration == 0 else f"iteration {iteration}"
        raise ValueError(
            f"the {objective_name} of {where} is {total}; the parameters give some "
            "point zero probability (or overflow). Check the data scale and the "
            "initial parameters."
        )
    return total
