"""The M-step averages the per-set fractions h_i / n_i.

cell: a3-m-step
hint: averaged the per-set fractions
"""


def coins_m_step(heads, tosses, resp):
    return resp.T @ (heads / tosses) / resp.sum(axis=0)
