"""The E-step starts from gamma = alpha.

cell: a5-e-step
hint: started from gamma = alpha
"""


def e_step(X, alpha, topics, n_sweeps):
    gamma = np.tile(alpha, (len(X), 1))
    for _ in range(n_sweeps):
        gamma = update_gamma(X, update_phi(gamma, topics), alpha)
    return gamma, update_phi(gamma, topics)
