"""The E-step with the largest term subtracted by hand instead of logsumexp.

cell: a1-e-step
"""


def e_step(X, weights, means, covariances):
    ell = np.column_stack([np.log(w) + log_gaussian(X, m, c) for w, m, c in zip(weights, means, covariances)])
    ell -= ell.max(axis=1, keepdims=True)
    resp = np.exp(ell)
    return resp / resp.sum(axis=1, keepdims=True)
