"""The conditional mean regresses on x_o instead of x_o - mu_o.

cell: a4-conditional-mean
hint: the observed values are not centred
"""


def conditional_mean(x, mean, cov):
    m = np.isnan(x)
    o = ~m
    x_hat = x.copy()
    if m.any():
        x_hat[m] = mean[m] + cov[np.ix_(m, o)] @ np.linalg.solve(cov[np.ix_(o, o)], x[o])
    return x_hat
