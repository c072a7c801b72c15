"""The state posteriors are the filtered alpha_t (no backward pass).

cell: a2-posteriors
hint: forgot the backward pass
"""


def posteriors(x, startprob, transmat, emissionprob):
    alpha, scale = forward(x, startprob, transmat, emissionprob)
    beta = backward(x, transmat, emissionprob, scale)
    right = emissionprob[:, x[1:]].T * beta[1:] / scale[1:, None]
    xi = alpha[:-1, :, None] * transmat[None] * right[:, None, :]
    return alpha, xi
