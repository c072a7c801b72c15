"""The generic EM driver shared by every model in :mod:`emtutor`.

A model supplies two pure functions,

* ``e_step(data, params) -> (expectations, log_norm)``: the posterior
  expectations of the latent variables under ``params`` and the log
  normaliser of that posterior.  The normaliser of Bayes' rule *is* the
  log-likelihood of ``params`` (``np.sum(log_norm)`` is the total), so the
  E-step returns it for free;
* ``m_step(data, expectations) -> params``: the parameters maximising the
  expected complete-data log-likelihood,

and :func:`run_em` alternates them.  Each model module also exposes a
standalone ``log_likelihood(data, params)``; the tests check that it equals
the E-step's normaliser, so the driver never needs a third pass over the
data.  See the book's chapter "The EM algorithm" for the loop in words and
:eq:`em-monotone` for why the log-likelihood can never decrease.
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
    """EM stopped at ``max_iter`` before the log-likelihood settled."""


class NotFittedError(ValueError, AttributeError):
    """An estimator method that needs a fitted model was called before ``fit``.

    Shared by every estimator in :mod:`emtutor` (``GaussianMixture``,
    ``CategoricalHMM``, ``GaussianHMM``, ``MissingNormal``,
    ``LatentDirichletAllocation``).
    """


class LikelihoodDecreaseError(RuntimeError):
    r"""The log-likelihood went down during EM.

    EM's monotonicity theorem (:eq:`em-monotone`),
    :math:`\log p(x \mid \theta^{(t+1)}) \ge \log p(x \mid \theta^{(t)})`,
    says an exact E-step followed by an M-step that does not decrease the
    expected complete-data log-likelihood can never lower the
    log-likelihood.  A decrease beyond rounding is therefore a bug in the
    model's ``e_step`` or ``m_step``.
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
    log_likelihoods : ndarray of shape (n_iter,)
        Total log-likelihood after every M-step.
    initial_log_likelihood : float
        Log-likelihood of the initial parameters.
    n_iter : int
        Number of EM iterations (M-steps) performed.
    converged : bool
        Whether the stopping rule was met before ``max_iter``.
    history : EMHistory or None
        Per-iteration parameters and expectations when ``record=True``.
    """

    params: Any
    expectations: Any
    log_likelihoods: np.ndarray
    initial_log_likelihood: float
    n_iter: int
    converged: bool
    history: EMHistory | None = None

    @property
    def log_likelihood(self) -> float:
        """The final total log-likelihood."""
        if self.n_iter == 0:
            return self.initial_log_likelihood
        return float(self.log_likelihoods[-1])

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
    e_step: Callable[[Any, Any], tuple[Any, Any]],
    m_step: Callable[[Any, Any], Any],
    tol: float = 1e-4,
    max_iter: int = 100,
    record: bool = False,
    decrease_rtol: float = 1e-9,
    m_step_slack: Callable[[Any, Any, Any, Any], float] | None = None,
) -> EMResult:
    """Run EM from ``params`` until the log-likelihood settles.

    One iteration is an M-step followed by the E-step of the new
    parameters; that E-step's normaliser is the log-likelihood of the new
    parameters, recorded in ``log_likelihoods``.  From the second iteration
    on, EM stops when the absolute change of the total log-likelihood is
    below ``tol``.

    Parameters
    ----------
    data : object
        Passed unchanged to ``e_step`` and ``m_step``.
    params : NamedTuple
        Initial parameters.
    e_step : callable
        ``e_step(data, params) -> (expectations, log_norm)`` where
        ``np.sum(log_norm)`` is the total log-likelihood of ``params``.
    m_step : callable
        ``m_step(data, expectations) -> params``.
    tol : float, default 1e-4
        Stopping threshold on the absolute change of the *total*
        log-likelihood (not per sample): the rule :eq:`em-stop-total`.
    max_iter : int, default 100
        Maximum number of iterations; reaching it emits a
        :class:`ConvergenceWarning`.
    record : bool, default False
        Keep every iteration's parameters and expectations in
        ``result.history``.
    decrease_rtol : float, default 1e-9
        A decrease of the log-likelihood larger than
        ``decrease_rtol * max(1, |previous|)`` raises
        :class:`LikelihoodDecreaseError`; smaller ones are rounding.
    m_step_slack : callable, optional
        For an M-step that is not the exact maximiser of the expected
        complete-data log-likelihood ``Q`` (for example one that adds a
        regulariser to covariances):
        ``m_step_slack(data, expectations, old_params, new_params) -> float``,
        a bound such that EM still guarantees ``LL_new - LL_old >= -slack``
        for that step (for an exact M-step the bound is 0, which is
        :eq:`em-monotone`).  The check then allows a decrease of ``slack``
        on top of rounding; a negative slack demands a rise.  Without it,
        any decrease beyond rounding is an error.

    Returns
    -------
    EMResult

    Raises
    ------
    ValueError
        If ``tol`` or ``max_iter`` is invalid, or the log-likelihood is not
        finite.
    LikelihoodDecreaseError
        If the log-likelihood decreases (a bug in the model's steps).
    """
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not (np.isfinite(decrease_rtol) and decrease_rtol >= 0):
        raise ValueError(f"decrease_rtol must be a finite number >= 0, got {decrease_rtol!r}")

    expectations, log_norm = e_step(data, params)
    previous = _total(log_norm, 0)
    initial = previous
    history = EMHistory([params], [expectations]) if record else None
    log_likelihoods = []
    converged = False

    for iteration in range(1, max_iter + 1):
        old_params, params = params, m_step(data, expectations)
        slack = 0.0 if m_step_slack is None else m_step_slack(data, expectations, old_params, params)
        expectations, log_norm = e_step(data, params)
        current = _total(log_norm, iteration)
        log_likelihoods.append(current)
        if history is not None:
            history.params.append(params)
            history.expectations.append(expectations)

        change = current - previous
        if change < -(slack + decrease_rtol * max(1.0, abs(previous))):
            raise LikelihoodDecreaseError(
                f"log-likelihood decreased at iteration {iteration}: "
                f"{previous!r} -> {current!r} (change {change:.3e}, allowed slack "
                f"{slack:.3e}). EM cannot decrease it, so the model's e_step or "
                "m_step is wrong."
            )
        if iteration >= 2 and abs(change) < tol:
            converged = True
            break
        previous = current

    if not converged:
        warnings.warn(
            f"EM did not converge in max_iter={max_iter} iterations (last change "
            f"of the log-likelihood {change:.3e} >= tol={tol}); increase max_iter "
            "or tol, or check the initial parameters.",
            ConvergenceWarning,
            stacklevel=2,
        )

    return EMResult(
        params=params,
        expectations=expectations,
        log_likelihoods=np.asarray(log_likelihoods, dtype=float),
        initial_log_likelihood=initial,
        n_iter=len(log_likelihoods),
        converged=converged,
        history=history,
    )


def _total(log_norm: Any, iteration: int) -> float:
    total = float(np.sum(log_norm))
    if not np.isfinite(total):
        where = "the initial parameters" if iteration == 0 else f"iteration {iteration}"
        raise ValueError(
            f"the log-likelihood of {where} is {total}; the parameters give some "
            "point zero probability (or overflow). Check the data scale and the "
            "initial parameters."
        )
    return total
