"""The log-likelihood is averaged over the sets.

cell: a3-log-likelihood
hint: averaged over the sets
"""


def coins_log_likelihood(heads, tosses, weights, thetas):
    log_joint = (np.log(weights) + heads[:, None] * np.log(thetas)
                 + (tosses - heads)[:, None] * np.log1p(-thetas))
    return float(np.mean(logsumexp(log_joint, axis=1)))
