"""The forward pass multiplies by the transposed transition matrix.

cell: a2-forward
hint: transposed transition matrix
"""


def forward(x, startprob, transmat, emissionprob):
    T, K = len(x), len(startprob)
    alpha, scale = np.empty((T, K)), np.empty(T)
    a = startprob * emissionprob[:, x[0]]
    for t in range(T):
        if t > 0:
            a = (transmat @ alpha[t - 1]) * emissionprob[:, x[t]]
        scale[t] = a.sum()
        alpha[t] = a / scale[t]
    return alpha, scale
