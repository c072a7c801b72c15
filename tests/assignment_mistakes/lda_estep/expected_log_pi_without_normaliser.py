"""E_q[log pi] without subtracting digamma of the sum.

cell: a5-expected-log-pi
hint: without subtracting digamma(sum_j gamma_dj)
"""


def expected_log_pi(gamma):
    return digamma(gamma)
