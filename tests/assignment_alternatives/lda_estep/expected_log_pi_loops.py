"""E_q[log pi] document by document.

cell: a5-expected-log-pi
"""


def expected_log_pi(gamma):
    return np.array([digamma(g) - digamma(np.sum(g)) for g in gamma])
