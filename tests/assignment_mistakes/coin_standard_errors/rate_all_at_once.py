"""Moves every parameter at once.

cell: a6-rate-matrix
hint: moved every parameter at once
"""


def rate_matrix(em_map, thetas, h):
    P = len(thetas)
    DM = np.empty((P, P))
    for i in range(P):
        DM[:, i] = (em_map(thetas + h) - em_map(thetas - h)) / (2 * h)
    return DM
