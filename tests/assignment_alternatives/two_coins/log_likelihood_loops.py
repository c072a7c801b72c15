"""The log-likelihood set by set.

cell: a3-log-likelihood
"""


def coins_log_likelihood(heads, tosses, weights, thetas):
    return sum(
        logsumexp([np.log(w) + h * np.log(t) + (n - h) * np.log(1 - t) for w, t in zip(weights, thetas)])
        for h, n in zip(heads, tosses)
    )
