"""log_gaussian takes the log of np.linalg.det, which underflows in 50 dimensions.

cell: a1-log-gaussian
hint: the determinant is computed with np.linalg.det
"""


def log_gaussian(X, mean, cov):
    d = X.shape[1]
    diff = X - mean
    mahalanobis = np.sum(diff * np.linalg.solve(cov, diff.T).T, axis=1)
    return -0.5 * (d * np.log(2 * np.pi) + np.log(np.linalg.det(cov)) + mahalanobis)
