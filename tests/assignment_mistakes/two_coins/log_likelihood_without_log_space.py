"""The log-likelihood takes the log of a product of probabilities (-inf for 2000 tosses).

cell: a3-log-likelihood
hint: underflow to 0 for long sets
"""


def coins_log_likelihood(heads, tosses, weights, thetas):
    joint = weights * thetas ** heads[:, None] * (1 - thetas) ** (tosses - heads)[:, None]
    return float(np.sum(np.log(joint.sum(axis=1))))
