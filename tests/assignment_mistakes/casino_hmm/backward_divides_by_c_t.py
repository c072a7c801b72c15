"""The backward pass divides step t by c_t instead of c_{t+1}.

cell: a2-backward
hint: divided by c_t instead of c_{t+1}
"""


def backward(x, transmat, emissionprob, scale):
    T, K = len(x), transmat.shape[0]
    beta = np.ones((T, K))
    for t in range(T - 2, -1, -1):
        beta[t] = transmat @ (emissionprob[:, x[t + 1]] * beta[t + 1]) / scale[t]
    return beta
