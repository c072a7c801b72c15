"""The M-step with np.bincount for the emission counts.

cell: a2-m-step
"""


def m_step(x, r, xi, n_symbols):
    counts = np.array([np.bincount(x, weights=r[:, k], minlength=n_symbols) for k in range(r.shape[1])])
    transitions = xi.sum(axis=0)
    return r[0].copy(), transitions / transitions.sum(axis=1)[:, None], counts / r.sum(axis=0)[:, None]
