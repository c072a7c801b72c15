"""The log-likelihood uses D log(2 pi) for every row, however many values it has.

cell: a4-log-likelihood
hint: the constant is D log(2 pi) for every row
"""


def log_likelihood(X, mean, cov):
    total = 0.0
    for x in X:
        o = ~np.isnan(x)
        diff = x[o] - mean[o]
        S_oo = cov[np.ix_(o, o)]
        total -= 0.5 * (len(x) * np.log(2 * np.pi) + np.linalg.slogdet(S_oo)[1]
                        + diff @ np.linalg.solve(S_oo, diff))
    return float(total)
