"""The missing information is E[s s^T], without subtracting the conditional mean's outer product.

cell: a6-missing-information
hint: returned E[s s^T]
"""


def missing_information(heads, tosses, resp, thetas):
    g = heads[:, None] / thetas - (tosses - heads)[:, None] / (1 - thetas)
    return np.diag(np.sum(resp * g**2, axis=0))
