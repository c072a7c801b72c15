"""The log-likelihood adds the binomial coefficients (the likelihood of the counts).

cell: a3-log-likelihood
hint: added the binomial coefficients
"""
from scipy.special import gammaln


def coins_log_likelihood(heads, tosses, weights, thetas):
    log_binomial = gammaln(tosses + 1) - gammaln(heads + 1) - gammaln(tosses - heads + 1)
    log_joint = (np.log(weights) + heads[:, None] * np.log(thetas)
                 + (tosses - heads)[:, None] * np.log1p(-thetas))
    return float(np.sum(log_binomial + logsumexp(log_joint, axis=1)))
