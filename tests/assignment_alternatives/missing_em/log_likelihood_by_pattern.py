"""The observed-data log-likelihood pattern by pattern, vectorised within each.

cell: a4-log-likelihood
"""


def log_likelihood(X, mean, cov):
    observed = ~np.isnan(X)
    total = 0.0
    for pattern in np.unique(observed, axis=0):
        rows = X[(observed == pattern).all(axis=1)][:, pattern] - mean[pattern]
        S = cov[np.ix_(pattern, pattern)]
        maha = np.sum(rows * np.linalg.solve(S, rows.T).T, axis=1)
        total += np.sum(-0.5 * (pattern.sum() * np.log(2 * np.pi) + np.linalg.slogdet(S)[1] + maha))
    return total
