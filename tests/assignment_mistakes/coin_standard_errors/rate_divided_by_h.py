"""The central difference divided by h instead of 2 h.

cell: a6-rate-matrix
hint: divides by 2 h
"""


def rate_matrix(em_map, thetas, h):
    P = len(thetas)
    DM = np.empty((P, P))
    for i in range(P):
        step = np.zeros(P)
        step[i] = h
        DM[:, i] = (em_map(thetas + step) - em_map(thetas - step)) / h
    return DM
