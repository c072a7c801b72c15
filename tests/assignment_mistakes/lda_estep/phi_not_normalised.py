"""The phi update is not normalised.

cell: a5-phi
hint: phi is not normalised
"""


def update_phi(gamma, topics):
    weights = np.exp(expected_log_pi(gamma))
    return weights[:, None, :] * topics.T[None, :, :]
