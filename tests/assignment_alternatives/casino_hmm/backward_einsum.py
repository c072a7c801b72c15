"""The backward pass with einsum.

cell: a2-backward
"""


def backward(x, transmat, emissionprob, scale):
    beta = np.ones((len(x), transmat.shape[0]))
    for t in reversed(range(len(x) - 1)):
        beta[t] = np.einsum("ij,j->i", transmat, emissionprob[:, x[t + 1]] * beta[t + 1]) / scale[t + 1]
    return beta
