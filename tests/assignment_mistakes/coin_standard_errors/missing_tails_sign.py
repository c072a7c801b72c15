"""The score adds the tails term instead of subtracting it.

cell: a6-missing-information
hint: check the sign of the tails term
"""


def missing_information(heads, tosses, resp, thetas):
    g = heads[:, None] / thetas + (tosses - heads)[:, None] / (1 - thetas)
    mean = resp * g
    return np.diag(np.sum(resp * g**2, axis=0)) - mean.T @ mean
