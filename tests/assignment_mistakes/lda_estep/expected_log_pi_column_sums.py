"""E_q[log pi] subtracts digamma of the sums over documents.

cell: a5-expected-log-pi
hint: subtracted digamma of the column sums
"""


def expected_log_pi(gamma):
    return digamma(gamma) - digamma(gamma.sum(axis=0))
