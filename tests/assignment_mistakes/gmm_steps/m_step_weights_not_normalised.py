"""The M-step returns the counts N_k as mixing weights.

cell: a1-m-step
hint: mixing weights not divided by N
"""


def m_step(X, resp):
    counts = resp.sum(axis=0)
    means = resp.T @ X / counts[:, None]
    covariances = np.stack(
        [(resp[:, k] * (X - means[k]).T) @ (X - means[k]) / counts[k] for k in range(resp.shape[1])]
    )
    return counts, means, covariances
