"""The log-likelihood point by point.

cell: a1-log-likelihood
"""


def log_likelihood(X, weights, means, covariances):
    total = 0.0
    ell = np.column_stack([np.log(w) + log_gaussian(X, m, c) for w, m, c in zip(weights, means, covariances)])
    for row in ell:
        top = row.max()
        total += top + np.log(np.sum(np.exp(row - top)))
    return total
