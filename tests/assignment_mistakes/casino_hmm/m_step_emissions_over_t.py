"""The M-step divides the expected emission counts by T.

cell: a2-m-step
hint: expected emission counts divided by the number of steps T
"""


def m_step(x, r, xi, n_symbols):
    transitions = xi.sum(axis=0)
    counts = np.zeros((r.shape[1], n_symbols))
    for m in range(n_symbols):
        counts[:, m] = r[x == m].sum(axis=0)
    return r[0], transitions / transitions.sum(axis=1, keepdims=True), counts / len(x)
