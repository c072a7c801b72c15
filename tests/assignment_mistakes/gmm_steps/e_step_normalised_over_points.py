"""The E-step normalises each column (over the points) instead of each row.

cell: a1-e-step
hint: normalised over the points (axis 0)
"""


def e_step(X, weights, means, covariances):
    log_weighted = np.stack(
        [np.log(weights[k]) + log_gaussian(X, means[k], covariances[k]) for k in range(len(weights))],
        axis=1,
    )
    return np.exp(log_weighted - logsumexp(log_weighted, axis=0, keepdims=True))
