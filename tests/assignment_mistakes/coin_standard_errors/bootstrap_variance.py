"""Returns the variance of the replicates.

cell: a6-bootstrap
hint: returned the variance of the replicates
"""


def bootstrap_standard_errors(heads, tosses, fit, n_boot, random_state):
    rng = np.random.default_rng(random_state)
    N = len(heads)
    replicates = []
    for _ in range(n_boot):
        rows = rng.integers(0, N, size=N)
        replicates.append(fit(heads[rows], tosses[rows]))
    return np.var(replicates, axis=0, ddof=1)
