"""The correction through the precision matrix: C_mm = inv(Lambda_mm).

cell: a4-conditional-cov
"""


def conditional_cov(x, mean, cov):
    m = np.isnan(x)
    C = np.zeros_like(cov)
    if m.any():
        C[np.ix_(m, m)] = np.linalg.inv(np.linalg.inv(cov)[np.ix_(m, m)])
    return C
