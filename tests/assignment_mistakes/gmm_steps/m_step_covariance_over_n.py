"""The M-step divides the covariance by N instead of N_k.

cell: a1-m-step
hint: covariance divided by N instead of N_k
"""


def m_step(X, resp):
    counts = resp.sum(axis=0)
    means = resp.T @ X / counts[:, None]
    covariances = np.stack(
        [(resp[:, k] * (X - means[k]).T) @ (X - means[k]) / len(X) for k in range(resp.shape[1])]
    )
    return counts / len(X), means, covariances
