"""The M-step from the expected second moments, E[x x^T] - mu mu^T.

cell: a4-m-step
"""


def m_step(X_hat, cov_correction):
    N = len(X_hat)
    mean = X_hat.sum(axis=0) / N
    second = (X_hat.T @ X_hat + cov_correction) / N
    return mean, second - np.outer(mean, mean)
