"""The E-step forgets the mixing weights.

cell: a1-e-step
hint: forgot the mixing weights
"""


def e_step(X, weights, means, covariances):
    log_dens = np.stack([log_gaussian(X, means[k], covariances[k]) for k in range(len(weights))], axis=1)
    return np.exp(log_dens - logsumexp(log_dens, axis=1, keepdims=True))
