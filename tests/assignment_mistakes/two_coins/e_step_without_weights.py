"""The E-step forgets the coin weights.

cell: a3-e-step
hint: forgot the coin weights
"""


def coins_e_step(heads, tosses, weights, thetas):
    log_lik = heads[:, None] * np.log(thetas) + (tosses - heads)[:, None] * np.log1p(-thetas)
    return np.exp(log_lik - logsumexp(log_lik, axis=1, keepdims=True))
