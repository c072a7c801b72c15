"""log_gaussian computes diff @ inv(cov) @ diff.T, an N x N matrix.

cell: a1-log-gaussian
hint: the quadratic form was computed for every pair of points
"""


def log_gaussian(X, mean, cov):
    d = X.shape[1]
    diff = X - mean
    mahalanobis = diff @ np.linalg.solve(cov, diff.T)
    return -0.5 * (d * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + mahalanobis)
