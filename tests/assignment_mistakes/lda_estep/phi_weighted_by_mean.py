"""The phi update weights the topics by the mean proportions gamma / sum gamma.

cell: a5-phi
hint: weighted the topics by the mean
"""


def update_phi(gamma, topics):
    weights = gamma / gamma.sum(axis=1, keepdims=True)
    unnormalised = weights[:, None, :] * topics.T[None, :, :]
    return unnormalised / unnormalised.sum(axis=2, keepdims=True)
