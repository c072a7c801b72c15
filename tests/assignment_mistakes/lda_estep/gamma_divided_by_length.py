"""The gamma update divides the expected counts by the document length.

cell: a5-gamma
hint: divided the expected counts by the document length
"""


def update_gamma(X, phi, alpha):
    lengths = np.maximum(X.sum(axis=1, keepdims=True), 1)
    return alpha + np.einsum("dv,dvk->dk", X, phi) / lengths
