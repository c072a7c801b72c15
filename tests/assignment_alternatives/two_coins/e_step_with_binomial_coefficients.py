"""The E-step with the binomial coefficients, which cancel (written with gammaln).

cell: a3-e-step
"""
from scipy.special import gammaln


def coins_e_step(heads, tosses, weights, thetas):
    log_binom = gammaln(tosses + 1) - gammaln(heads + 1) - gammaln(tosses - heads + 1)
    log_joint = (np.log(weights) + log_binom[:, None] + np.outer(heads, np.log(thetas))
                 + np.outer(tosses - heads, np.log(1 - thetas)))
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
