"""The M-step uses np.cov with aweights, which makes an unbiased correction.

cell: a1-m-step
hint: np.cov with aweights makes an unbiased correction
"""


def m_step(X, resp):
    counts = resp.sum(axis=0)
    means = resp.T @ X / counts[:, None]
    covariances = np.stack(
        [np.atleast_2d(np.cov(X, rowvar=False, aweights=resp[:, k])) for k in range(resp.shape[1])]
    )
    return counts / len(X), means, covariances
