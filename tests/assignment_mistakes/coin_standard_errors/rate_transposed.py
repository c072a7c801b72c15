"""Fills rows instead of columns.

cell: a6-rate-matrix
hint: rows and columns swapped
"""


def rate_matrix(em_map, thetas, h):
    P = len(thetas)
    DM = np.empty((P, P))
    for i in range(P):
        step = np.zeros(P)
        step[i] = h
        DM[i] = (em_map(thetas + step) - em_map(thetas - step)) / (2 * h)
    return DM
