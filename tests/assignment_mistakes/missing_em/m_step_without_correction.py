"""The M-step takes the covariance of the filled-in rows and drops the correction.

cell: a4-m-step
hint: the correction sum_n C_n is missing
"""


def m_step(X_hat, cov_correction):
    mean = X_hat.mean(axis=0)
    centred = X_hat - mean
    return mean, centred.T @ centred / len(X_hat)
