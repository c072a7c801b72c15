"""The complete-data information does not weight the sets by the responsibilities.

cell: a6-complete-information
hint: the sets are not weighted by the responsibilities
"""


def complete_information(heads, tosses, resp, thetas):
    per_set = heads[:, None] / thetas**2 + (tosses - heads)[:, None] / (1 - thetas) ** 2
    return np.diag(per_set.sum(axis=0))
