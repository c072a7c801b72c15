"""log_gaussian through the Cholesky factor, one point at a time.

cell: a1-log-gaussian
"""


def log_gaussian(X, mean, cov):
    L = np.linalg.cholesky(cov)
    half_log_det = np.sum(np.log(np.diag(L)))
    out = np.empty(len(X))
    for n in range(len(X)):
        z = np.linalg.solve(L, X[n] - mean)
        out[n] = -0.5 * len(mean) * np.log(2 * np.pi) - half_log_det - 0.5 * z @ z
    return out
