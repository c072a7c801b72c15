"""The backward pass uses transmat.T.

cell: a2-backward
hint: transposed transition matrix
"""


def backward(x, transmat, emissionprob, scale):
    T, K = len(x), transmat.shape[0]
    beta = np.ones((T, K))
    for t in range(T - 2, -1, -1):
        beta[t] = transmat.T @ (emissionprob[:, x[t + 1]] * beta[t + 1]) / scale[t + 1]
    return beta
