"""log_gaussian puts the covariance, not its inverse, in the quadratic form.

cell: a1-log-gaussian
hint: the quadratic form uses the covariance where it needs its inverse
"""


def log_gaussian(X, mean, cov):
    d = X.shape[1]
    diff = X - mean
    mahalanobis = np.sum((diff @ cov) * diff, axis=1)
    return -0.5 * (d * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + mahalanobis)
