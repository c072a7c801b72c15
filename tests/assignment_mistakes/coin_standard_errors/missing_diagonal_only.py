"""Keeps only the diagonal, as if the coins' scores were uncorrelated.

cell: a6-missing-information
hint: kept only the diagonal
"""


def missing_information(heads, tosses, resp, thetas):
    g = heads[:, None] / thetas - (tosses - heads)[:, None] / (1 - thetas)
    return np.diag(np.sum(resp * g**2, axis=0) - np.sum((resp * g) ** 2, axis=0))
