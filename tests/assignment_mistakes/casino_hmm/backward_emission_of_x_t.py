"""The backward pass uses the emission of x_t instead of x_{t+1}.

cell: a2-backward
hint: used the emission of x_t instead of x_{t+1}
"""


def backward(x, transmat, emissionprob, scale):
    T, K = len(x), transmat.shape[0]
    beta = np.ones((T, K))
    for t in range(T - 2, -1, -1):
        beta[t] = transmat @ (emissionprob[:, x[t]] * beta[t + 1]) / scale[t + 1]
    return beta
