"""Returns the diagonal as a vector.

cell: a6-complete-information
hint: returned the diagonal only
"""


def complete_information(heads, tosses, resp, thetas):
    per_set = heads[:, None] / thetas**2 + (tosses - heads)[:, None] / (1 - thetas) ** 2
    return np.sum(resp * per_set, axis=0)
