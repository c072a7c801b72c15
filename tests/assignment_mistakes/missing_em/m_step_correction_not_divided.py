"""The M-step adds the summed correction without dividing it by N.

cell: a4-m-step
hint: the correction is not divided by N
"""


def m_step(X_hat, cov_correction):
    mean = X_hat.mean(axis=0)
    centred = X_hat - mean
    return mean, centred.T @ centred / len(X_hat) + cov_correction
