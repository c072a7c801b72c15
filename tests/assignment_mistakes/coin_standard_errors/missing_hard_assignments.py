"""Uses hard assignments, so the variance of each set's score is zero.

cell: a6-missing-information
hint: used hard assignments
"""


def missing_information(heads, tosses, resp, thetas):
    hard = np.eye(resp.shape[1])[np.argmax(resp, axis=1)]
    g = heads[:, None] / thetas - (tosses - heads)[:, None] / (1 - thetas)
    mean = hard * g
    return np.diag(np.sum(hard * g**2, axis=0)) - mean.T @ mean
