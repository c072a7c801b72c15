"""Differentiates the step M(theta) - theta instead of the map.

cell: a6-rate-matrix
hint: differentiated M(theta) - theta
"""


def rate_matrix(em_map, thetas, h):
    P = len(thetas)
    DM = np.empty((P, P))
    for i in range(P):
        step = np.zeros(P)
        step[i] = h
        up, down = thetas + step, thetas - step
        DM[:, i] = ((em_map(up) - up) - (em_map(down) - down)) / (2 * h)
    return DM
