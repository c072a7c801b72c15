"""The phi update normalises over the words instead of the topics.

cell: a5-phi
hint: normalised over the words v instead of over the topics k
"""


def update_phi(gamma, topics):
    weights = np.exp(expected_log_pi(gamma))
    unnormalised = weights[:, None, :] * topics.T[None, :, :]
    return unnormalised / unnormalised.sum(axis=1, keepdims=True)
