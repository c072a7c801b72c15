"""The forward pass in log space, converted to the scaled quantities at the end.

cell: a2-forward
"""


def forward(x, startprob, transmat, emissionprob):
    log_a = np.log(startprob) + np.log(emissionprob[:, x[0]])
    log_alpha = [log_a]
    for t in range(1, len(x)):
        log_a = logsumexp(log_a[:, None] + np.log(transmat), axis=0) + np.log(emissionprob[:, x[t]])
        log_alpha.append(log_a)
    log_alpha = np.array(log_alpha)
    log_px = logsumexp(log_alpha, axis=1)  # log p(x_1..x_t)
    return np.exp(log_alpha - log_px[:, None]), np.exp(np.diff(log_px, prepend=0.0))


from scipy.special import logsumexp  # noqa: E402
