"""The E-step written with phi kept between sweeps.

cell: a5-e-step
"""


def e_step(X, alpha, topics, n_sweeps):
    gamma = alpha + X.sum(axis=1)[:, None] / len(alpha)
    phi = update_phi(gamma, topics)
    for _ in range(n_sweeps):
        gamma = update_gamma(X, phi, alpha)
        phi = update_phi(gamma, topics)
    return gamma, phi
