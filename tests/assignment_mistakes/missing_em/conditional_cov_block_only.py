"""The correction returns only the missing-by-missing block.

cell: a4-conditional-cov
hint: returned only the missing-by-missing block
"""


def conditional_cov(x, mean, cov):
    m = np.isnan(x)
    o = ~m
    S_mo = cov[np.ix_(m, o)]
    return cov[np.ix_(m, m)] - S_mo @ np.linalg.solve(cov[np.ix_(o, o)], S_mo.T)
