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
