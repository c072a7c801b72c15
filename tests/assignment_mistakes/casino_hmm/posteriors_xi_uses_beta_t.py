"""The pair posterior xi_t uses beta_t instead of beta_{t+1}.

cell: a2-posteriors
hint: used beta_t instead of beta_{t+1}
"""


def posteriors(x, startprob, transmat, emissionprob):
    alpha, scale = forward(x, startprob, transmat, emissionprob)
    beta = backward(x, transmat, emissionprob, scale)
    right = emissionprob[:, x[1:]].T * beta[:-1] / scale[1:, None]
    xi = alpha[:-1, :, None] * transmat[None] * right[:, None, :]
    return alpha * beta, xi
