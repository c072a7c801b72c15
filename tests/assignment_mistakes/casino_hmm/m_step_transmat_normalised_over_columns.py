"""The M-step normalises the expected transition counts over columns.

cell: a2-m-step
hint: expected transitions normalised over columns
"""


def m_step(x, r, xi, n_symbols):
    transitions = xi.sum(axis=0)
    counts = np.zeros((r.shape[1], n_symbols))
    for m in range(n_symbols):
        counts[:, m] = r[x == m].sum(axis=0)
    return (
        r[0],
        transitions / transitions.sum(axis=0, keepdims=True),
        counts / counts.sum(axis=1, keepdims=True),
    )
