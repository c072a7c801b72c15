"""The missing information as a sum of per-set covariance matrices built from outer products.

cell: a6-missing-information
"""


def missing_information(heads, tosses, resp, thetas):
    K = len(thetas)
    total = np.zeros((K, K))
    for h, n, r in zip(heads, tosses, resp):
        scores = np.diag(h / thetas - (n - h) / (1 - thetas))  # row k: the score if coin k made the set
        mean = r @ scores
        total += sum(r[k] * np.outer(scores[k] - mean, scores[k] - mean) for k in range(K))
    return total
