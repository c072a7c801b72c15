"""The M-step divides the expected transitions by r summed over all T steps.

cell: a2-m-step
hint: expected transitions divided by r summed over all T steps
"""


def m_step(x, r, xi, n_symbols):
    counts = np.zeros((r.shape[1], n_symbols))
    for m in range(n_symbols):
        counts[:, m] = r[x == m].sum(axis=0)
    return (
        r[0],
        xi.sum(axis=0) / r.sum(axis=0)[:, None],
        counts / counts.sum(axis=1, keepdims=True),
    )
