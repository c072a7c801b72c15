"""The posteriors with r and every xi_t normalised explicitly (no division by c_{t+1}).

cell: a2-posteriors
"""


def posteriors(x, startprob, transmat, emissionprob):
    alpha, scale = forward(x, startprob, transmat, emissionprob)
    beta = backward(x, transmat, emissionprob, scale)
    r = alpha * beta
    r /= r.sum(axis=1, keepdims=True)
    xi = np.empty((len(x) - 1, len(startprob), len(startprob)))
    for t in range(len(x) - 1):
        m = np.outer(alpha[t], emissionprob[:, x[t + 1]] * beta[t + 1]) * transmat
        xi[t] = m / m.sum()
    return r, xi
