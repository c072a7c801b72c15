"""The conditional mean through the precision matrix: mu_m - inv(Lambda_mm) Lambda_mo (x_o - mu_o).

cell: a4-conditional-mean
"""


def conditional_mean(x, mean, cov):
    m = np.isnan(x)
    o = ~m
    precision = np.linalg.inv(cov)
    x_hat = np.array(x, dtype=float)
    x_hat[m] = mean[m] - np.linalg.solve(precision[np.ix_(m, m)], precision[np.ix_(m, o)] @ (x[o] - mean[o]))
    return x_hat
