"""The standard deviation divides by n_boot.

cell: a6-bootstrap
hint: divided by n_boot
"""


def bootstrap_standard_errors(heads, tosses, fit, n_boot, random_state):
    rng = np.random.default_rng(random_state)
    N = len(heads)
    replicates = []
    for _ in range(n_boot):
        rows = rng.integers(0, N, size=N)
        replicates.append(fit(heads[rows], tosses[rows]))
    return np.std(replicates, axis=0)
