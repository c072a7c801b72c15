"""The forward pass starts from the emission probabilities alone.

cell: a2-forward
hint: ignored startprob
"""


def forward(x, startprob, transmat, emissionprob):
    T, K = len(x), len(startprob)
    alpha, scale = np.empty((T, K)), np.empty(T)
    a = emissionprob[:, x[0]] / K
    for t in range(T):
        if t > 0:
            a = (alpha[t - 1] @ transmat) * emissionprob[:, x[t]]
        scale[t] = a.sum()
        alpha[t] = a / scale[t]
    return alpha, scale
