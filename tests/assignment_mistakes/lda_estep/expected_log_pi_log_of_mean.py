"""E_q[log pi] taken as the log of the mean, log(gamma / sum gamma).

cell: a5-expected-log-pi
hint: the log of the mean
"""


def expected_log_pi(gamma):
    return np.log(gamma / gamma.sum(axis=1, keepdims=True))
