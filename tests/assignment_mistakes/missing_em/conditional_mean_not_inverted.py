"""The conditional mean multiplies by Sigma_oo instead of solving with it.

cell: a4-conditional-mean
hint: Sigma_oo is not inverted
"""


def conditional_mean(x, mean, cov):
    m = np.isnan(x)
    o = ~m
    x_hat = x.copy()
    if m.any():
        x_hat[m] = mean[m] + cov[np.ix_(m, o)] @ (x[o] - mean[o])
    return x_hat
