"""Resamples without replacement: every resample is the data itself.

cell: a6-bootstrap
hint: every replicate is the same
"""


def bootstrap_standard_errors(heads, tosses, fit, n_boot, random_state):
    rng = np.random.default_rng(random_state)
    N = len(heads)
    replicates = []
    for _ in range(n_boot):
        rows = rng.permutation(N)
        replicates.append(fit(heads[rows], tosses[rows]))
    return np.std(replicates, axis=0, ddof=1)
