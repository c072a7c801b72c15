"""Uses the binomial's expected information n / (theta (1 - theta)), right only at a fixed point.

cell: a6-complete-information
hint: only at a fixed point of EM
"""


def complete_information(heads, tosses, resp, thetas):
    return np.diag(resp.T @ tosses / (thetas * (1 - thetas)))
