"""The resamples drawn with rng.choice (the same draws as rng.integers) and the spread computed by hand.

cell: a6-bootstrap
"""


def bootstrap_standard_errors(heads, tosses, fit, n_boot, random_state):
    rng = np.random.default_rng(random_state)
    N = len(heads)
    replicates = []
    for _ in range(n_boot):
        rows = rng.choice(N, size=N, replace=True)
        replicates.append(np.asarray(fit(heads[rows], tosses[rows])))
    replicates = np.array(replicates)
    centred = replicates - replicates.mean(axis=0)
    return np.sqrt((centred**2).sum(axis=0) / (n_boot - 1))
