"""Oracles shared by several test modules (plain functions, not fixtures)."""

import numpy as np

from emtutor import gmm


def regularised_bound(history, reg_covar, covariance_type, responsibilities=lambda expectations: expectations):
    """The lower bound (gmm-reg-bound) on each recorded iteration's change of the log-likelihood.

    ``responsibilities(expectations)`` gives the array of shape (n_samples,
    n_components) the M-step used: the E-step output itself for a mixture,
    its ``resp`` field (the state posteriors) for an HMM.
    """
    k, d = history.params[0].means.shape
    bounds = []
    for t in range(1, len(history.params)):
        old, new = (gmm.full_covariances(history.params[s].covariances, k, d, covariance_type) for s in (t - 1, t))
        traces = [np.trace(np.linalg.inv(c), axis1=1, axis2=2) for c in (old, new)]
        counts = responsibilities(history.expectations[t - 1]).sum(axis=0)
        bounds.append(0.5 * reg_covar * counts @ (traces[1] - traces[0]))
    return np.array(bounds)


def numerical_hessian(f, x, steps):
    """Hessian of a scalar function ``f`` at ``x`` by central differences with one
    Richardson extrapolation (error of order ``h^4``; rounding of order ``eps |f| / h^2``).

    Entry ``(i, j)`` is ``[f(x + u + v) - f(x + u - v) - f(x - u + v) + f(x - u - v)] / (4 h_i h_j)``
    with ``u = h_i e_i``, ``v = h_j e_j`` (for ``i = j`` the second difference with step
    ``2 h_i``), computed with steps ``h`` and ``h / 2`` and combined as ``(4 H(h / 2) - H(h)) / 3``.
    Independent of emtutor: it only evaluates ``f``.
    """
    x = np.asarray(x, dtype=float)
    steps = np.asarray(steps, dtype=float)
    n = len(x)

    def at_step(h):
        hess = np.empty((n, n))
        for i in range(n):
            for j in range(i, n):
                u = np.zeros(n)
                v = np.zeros(n)
                u[i] = h[i]
                v[j] = h[j]
                value = (f(x + u + v) - f(x + u - v) - f(x - u + v) + f(x - u - v)) / (4 * h[i] * h[j])
                hess[i, j] = hess[j, i] = value
        return hess

    return (4 * at_step(steps / 2) - at_step(steps)) / 3
