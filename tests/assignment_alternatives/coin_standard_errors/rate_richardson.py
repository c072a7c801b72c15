"""Central differences improved by one Richardson extrapolation (steps h and h / 2).

cell: a6-rate-matrix
"""


def rate_matrix(em_map, thetas, h):
    P = len(thetas)

    def central(step_size):
        out = np.empty((P, P))
        for i in range(P):
            e = np.eye(P)[i] * step_size
            out[:, i] = (em_map(thetas + e) - em_map(thetas - e)) / (2 * step_size)
        return out

    return (4 * central(h / 2) - central(h)) / 3
