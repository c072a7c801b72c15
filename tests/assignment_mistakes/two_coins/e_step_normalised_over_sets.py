"""The E-step normalises over the sets (axis 0).

cell: a3-e-step
hint: normalised over the sets (axis 0)
"""


def coins_e_step(heads, tosses, weights, thetas):
    log_joint = (np.log(weights) + heads[:, None] * np.log(thetas)
                 + (tosses - heads)[:, None] * np.log1p(-thetas))
    return np.exp(log_joint - logsumexp(log_joint, axis=0, keepdims=True))
