"""Divides by theta_k and 1 - theta_k instead of their squares.

cell: a6-complete-information
hint: the powers of theta_k and 1 - theta_k are squared
"""


def complete_information(heads, tosses, resp, thetas):
    per_set = heads[:, None] / thetas + (tosses - heads)[:, None] / (1 - thetas)
    return np.diag(np.sum(resp * per_set, axis=0))
