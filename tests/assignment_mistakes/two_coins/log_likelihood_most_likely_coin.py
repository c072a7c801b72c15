"""The log-likelihood keeps only the most likely coin of each set.

cell: a3-log-likelihood
hint: took the most likely coin's term
"""


def coins_log_likelihood(heads, tosses, weights, thetas):
    log_joint = (np.log(weights) + heads[:, None] * np.log(thetas)
                 + (tosses - heads)[:, None] * np.log1p(-thetas))
    return float(np.sum(log_joint.max(axis=1)))
