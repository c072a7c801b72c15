"""The complete-data information set by set, coin by coin.

cell: a6-complete-information
"""


def complete_information(heads, tosses, resp, thetas):
    K = len(thetas)
    info = np.zeros((K, K))
    for h, n, r in zip(heads, tosses, resp):
        for k in range(K):
            info[k, k] += r[k] * (h / thetas[k] ** 2 + (n - h) / (1 - thetas[k]) ** 2)
    return info
