"""The pair posteriors are not divided by c_{t+1}.

cell: a2-posteriors
hint: xi_t not divided by c_{t+1}
"""


def posteriors(x, startprob, transmat, emissionprob):
    alpha, scale = forward(x, startprob, transmat, emissionprob)
    beta = backward(x, transmat, emissionprob, scale)
    right = emissionprob[:, x[1:]].T * beta[1:]
    xi = alpha[:-1, :, None] * transmat[None] * right[:, None, :]
    return alpha * beta, xi
