"""Forward differences instead of central ones.

cell: a6-rate-matrix
hint: forward differences
"""


def rate_matrix(em_map, thetas, h):
    P = len(thetas)
    DM = np.empty((P, P))
    base = em_map(thetas)
    for i in range(P):
        step = np.zeros(P)
        step[i] = h
        DM[:, i] = (em_map(thetas + step) - base) / h
    return DM
