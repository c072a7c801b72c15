"""Redraw time of the EM explorer (emtutor.widgets.em_explorer) on the book's examples.

Goal: each slider move redraws in under 100 ms; fits are computed once per
setting.  Moves the iteration slider over every recorded iteration of each
example and prints the median and maximum redraw time (moving the artists,
blitting, PNG encoding), and the time of the one fit per setting for
comparison.  Run with:  .venv/bin/python benchmarks/explorer_redraw.py
(``--quick``: one pass over the iterations instead of three).
"""

import sys
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from emtutor import datasets  # noqa: E402
from emtutor.widgets import em_explorer  # noqa: E402


def faithful():
    raw = np.loadtxt(datasets.data_path("faithful.csv"), delimiter=",", skiprows=1)
    return (raw - raw.mean(axis=0)) / raw.std(axis=0)


def main(repeats: int = 3):
    examples = [
        ("three Gaussians, K=3", datasets.three_gaussians(), 3),
        ("Old Faithful, K=2", faithful(), 2),
        ("Old Faithful, K=6", faithful(), 6),
    ]
    print(f"{'example':24s} {'iterations':>10s} {'first draw':>11s} {'redraw median':>14s} "
          f"{'redraw max':>11s} {'fits':>5s}")
    for name, X, k in examples:
        start = time.perf_counter()
        explorer = em_explorer(X, n_components=k, seed=0)
        first = time.perf_counter() - start  # one fit + building the figure + first draw
        n_iter = explorer.iteration.max
        before = len(explorer.redraw_seconds)
        for _ in range(repeats):
            for t in list(range(1, n_iter + 1)) + [0]:
                explorer.iteration.value = t
        times = np.array(explorer.redraw_seconds[before:]) * 1e3
        print(f"{name:24s} {n_iter:10d} {first * 1e3:9.0f}ms {np.median(times):12.1f}ms "
              f"{times.max():9.1f}ms {explorer.n_fits:5d}")


if __name__ == "__main__":
    main(repeats=1 if "--quick" in sys.argv else 3)
