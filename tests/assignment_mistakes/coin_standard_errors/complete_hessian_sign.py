"""Returns the Hessian of Q instead of minus the Hessian.

cell: a6-complete-information
hint: the information is minus the Hessian
"""


def complete_information(heads, tosses, resp, thetas):
    second = -heads[:, None] / thetas**2 - (tosses - heads)[:, None] / (1 - thetas) ** 2
    return np.diag(np.sum(resp * second, axis=0))
