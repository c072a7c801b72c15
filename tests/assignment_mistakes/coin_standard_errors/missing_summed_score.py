"""Subtracts the outer product of the total score instead of each set's.

cell: a6-missing-information
hint: subtracted the outer product of the score summed over the sets
"""


def missing_information(heads, tosses, resp, thetas):
    g = heads[:, None] / thetas - (tosses - heads)[:, None] / (1 - thetas)
    total = (resp * g).sum(axis=0)
    return np.diag(np.sum(resp * g**2, axis=0)) - np.outer(total, total)
