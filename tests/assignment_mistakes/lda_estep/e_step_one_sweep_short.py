"""The E-step runs one sweep fewer than asked.

cell: a5-e-step
hint: one sweep too few
"""


def e_step(X, alpha, topics, n_sweeps):
    gamma = alpha + X.sum(axis=1, keepdims=True) / len(alpha)
    for _ in range(n_sweeps - 1):
        gamma = update_gamma(X, update_phi(gamma, topics), alpha)
    return gamma, update_phi(gamma, topics)
