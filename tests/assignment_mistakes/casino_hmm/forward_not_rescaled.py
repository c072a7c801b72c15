"""The forward pass keeps the unscaled alpha_t, which underflows on 1000 rolls.

cell: a2-forward
hint: the forward pass is not rescaled
"""


def forward(x, startprob, transmat, emissionprob):
    T, K = len(x), len(startprob)
    alpha, scale = np.empty((T, K)), np.empty(T)
    alpha[0] = startprob * emissionprob[:, x[0]]
    scale[0] = alpha[0].sum()
    for t in range(1, T):
        alpha[t] = (alpha[t - 1] @ transmat) * emissionprob[:, x[t]]
        scale[t] = alpha[t].sum() / alpha[t - 1].sum()
    return alpha, scale
