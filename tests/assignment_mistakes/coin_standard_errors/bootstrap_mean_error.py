"""Divides the standard deviation by sqrt(n_boot).

cell: a6-bootstrap
hint: standard error of the replicates' mean
"""


def bootstrap_standard_errors(heads, tosses, fit, n_boot, random_state):
    rng = np.random.default_rng(random_state)
    N = len(heads)
    replicates = np.empty((n_boot, 2))
    for b in range(n_boot):
        rows = rng.integers(0, N, size=N)
        replicates[b] = fit(heads[rows], tosses[rows])
    return replicates.std(axis=0, ddof=1) / np.sqrt(n_boot)
