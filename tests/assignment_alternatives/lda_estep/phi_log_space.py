"""The phi update in log space with a softmax over the topics.

cell: a5-phi
"""
from scipy.special import softmax


def update_phi(gamma, topics):
    with np.errstate(divide="ignore"):
        log_unnormalised = expected_log_pi(gamma)[:, None, :] + np.log(topics).T[None, :, :]
    return softmax(log_unnormalised, axis=2)
