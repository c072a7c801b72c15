"""The gamma update with loops over documents and words.

cell: a5-gamma
"""


def update_gamma(X, phi, alpha):
    gamma = np.tile(np.asarray(alpha, dtype=float), (len(X), 1))
    for d in range(len(X)):
        for v in range(X.shape[1]):
            gamma[d] += X[d, v] * phi[d, v]
    return gamma
