"""The M-step with explicit sums of outer products.

cell: a1-m-step
"""


def m_step(X, resp):
    N, K = resp.shape
    weights, means, covariances = [], [], []
    for k in range(K):
        Nk = resp[:, k].sum()
        mu = sum(resp[n, k] * X[n] for n in range(N)) / Nk
        cov = sum(resp[n, k] * np.outer(X[n] - mu, X[n] - mu) for n in range(N)) / Nk
        weights.append(Nk / N)
        means.append(mu)
        covariances.append(cov)
    return np.array(weights), np.array(means), np.array(covariances)
