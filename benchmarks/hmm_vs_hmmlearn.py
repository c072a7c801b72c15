"""Time per Baum–Welch iteration: emtutor (NumPy/SciPy) against hmmlearn (compiled).

Both start from the same parameters; one iteration is one E-step
(forward–backward and expected counts) and one M-step.  For hmmlearn that
is ``fit`` with ``n_iter=1`` and no initialisation, with its default
log-space implementation and with ``implementation="scaling"`` (its fastest).
Each time is the median of ``--repeat`` runs (ten times as many for
T <= 1e4), the three implementations
interleaved so that all see the same machine load; one BLAS thread.  The
goal (issue 17) is a ratio to hmmlearn's scaling implementation of at most 1
at T=1e5 with K=4 and K=8, categorical and Gaussian emissions.

    .venv/bin/python benchmarks/hmm_vs_hmmlearn.py            # full grid
    .venv/bin/python benchmarks/hmm_vs_hmmlearn.py --quick    # T=1e5, K=4 and 8 only

It writes the table to ``book/data/hmm_benchmark.csv``, the machine's
description to ``book/data/hmm_benchmark_env.txt`` and the figure
``book/figures/hmm_benchmark.png`` (``--no-write``: print only;
``--plot-only``: redraw the figure from the table).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from hmmlearn import hmm as hl
from threadpoolctl import threadpool_limits

from emtutor import hmm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gmm_vs_sklearn import ROOT, environment  # noqa: E402

N_SYMBOLS = 6
N_FEATURES = 2


def median_times(fns, repeat):
    """Median wall time of each function over ``repeat`` rounds, the functions interleaved."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, record in zip(fns, times):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [statistics.median(record) for record in times]


def problem(kind, T, K, seed=0):
    rng = np.random.default_rng(seed)
    transmat = 0.7 * np.eye(K) + 0.3 * rng.dirichlet(np.ones(K), size=K)
    startprob = np.full(K, 1.0 / K)
    if kind == "categorical":
        true = hmm.CategoricalHMMParams(startprob, transmat, rng.dirichlet(np.ones(N_SYMBOLS), size=K))
        X, _ = hmm.sample(true, T, rng)
        init = true._replace(emissionprob=rng.dirichlet(np.ones(N_SYMBOLS), size=K))
    else:
        true = hmm.GaussianHMMParams(startprob, transmat, 3.0 * rng.standard_normal((K, N_FEATURES)),
                                     np.ones((K, N_FEATURES)))
        X, _ = hmm.sample(true, T, rng)
        init = true._replace(means=true.means + rng.standard_normal((K, N_FEATURES)))
    return X, init


def emtutor_iteration(kind, X, init):
    data = hmm.as_sequences(X, kind=kind)
    reg = 0.0

    def run():
        stats, _ = hmm.e_step(data, init)
        hmm.m_step(data, stats, init, reg_covar=reg)

    return run


def hmmlearn_iteration(kind, X, init, implementation):
    K = len(init.startprob)
    if kind == "categorical":
        model = hl.CategoricalHMM(K, n_features=N_SYMBOLS, n_iter=1, init_params="", params="ste",
                                  implementation=implementation)
        model.emissionprob_ = init.emissionprob.copy()
        obs = X[:, None]
    else:
        model = hl.GaussianHMM(K, covariance_type="diag", n_iter=1, init_params="", params="stmc",
                               implementation=implementation, covars_prior=0.0)
        model.means_, model.covars_ = init.means.copy(), init.covariances.copy()
        obs = X
    model.startprob_, model.transmat_ = init.startprob.copy(), init.transmat.copy()

    def run():
        model.startprob_, model.transmat_ = init.startprob.copy(), init.transmat.copy()
        if kind == "categorical":
            model.emissionprob_ = init.emissionprob.copy()
        else:
            model.means_, model.covars_ = init.means.copy(), init.covariances.copy()
        model.fit(obs)

    return run


def plot(path):
    """The book's figure: emtutor's time over hmmlearn's ``scaling`` time, one bar per case.

    Read from the table (its first three columns and its last), saved at
    300 dpi, at least twice the width the book shows it (1800 px), so that the labels
    stay readable on a phone.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(ROOT / "book" / "data" / "hmm_benchmark.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    fig, ax = plt.subplots(figsize=(6.0, 1.2 + 0.3 * len(rows)))
    y = np.arange(len(rows))
    ratios = [float(r[-1]) for r in rows]
    ax.barh(y, ratios, color=["C0" if r[0] == "categorical" else "C1" for r in rows])
    ax.axvline(1.0, color="k", ls="--", lw=1, label="hmmlearn scaling = 1")
    ax.set_yticks(y, [f"{r[0][:5]}. T={int(r[1]):.0e} K={r[2]}".replace("e+0", "e") for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16, 32) if min(ratios) / 2 <= t <= 2 * max(ratios)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_title("Baum-Welch iteration, emtutor / hmmlearn (scaling)", fontsize=10)
    ax.legend(fontsize=9, loc="upper right")
    ax.tick_params(axis="x", labelsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=300)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only T=1e5 with K=4 and K=8")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; do not update the book's data")
    parser.add_argument("--plot-only", action="store_true", help="redraw the book's figure from the table")
    args = parser.parse_args()
    figure = ROOT / "book" / "figures" / "hmm_benchmark.png"
    if args.plot_only:
        plot(figure)
        return
    threadpool_limits(1, user_api="blas")
    grid = [(10**5, 4), (10**5, 8)] if args.quick else [(T, K) for T in (10**3, 10**4, 10**5) for K in (2, 4, 8)]
    warnings.simplefilter("ignore")  # hmmlearn warns that one iteration does not converge
    env = environment()
    print("\n".join(env))
    rows = []
    print(f"{'emission':<12}{'T':>8}{'K':>4}{'emtutor s':>12}{'hmmlearn s':>12}{'ratio':>8}"
          f"{'scaling s':>12}{'ratio':>8}")
    for kind in ("categorical", "gaussian"):
        for T, K in grid:
            X, init = problem(kind, T, K)
            # short cases are repeated more (up to 10x): a load spike then moves the median less
            repeat = args.repeat * min(10, 10**5 // T)
            ours, theirs, scaling = median_times([emtutor_iteration(kind, X, init),
                                                  hmmlearn_iteration(kind, X, init, "log"),
                                                  hmmlearn_iteration(kind, X, init, "scaling")], repeat)
            print(f"{kind:<12}{T:>8}{K:>4}{ours:>12.4f}{theirs:>12.4f}{ours / theirs:>8.2f}"
                  f"{scaling:>12.4f}{ours / scaling:>8.2f}", flush=True)
            rows.append([kind, T, K, f"{1e3 * ours:.2f}", f"{1e3 * theirs:.2f}", f"{ours / theirs:.2f}",
                         f"{1e3 * scaling:.2f}", f"{ours / scaling:.2f}"])
    print("ratio = emtutor time / hmmlearn time per Baum-Welch iteration (lower is better); "
          "goal: scaling ratio <= 1 at T=100000, K=4 and 8")
    if args.no_write:
        return
    data = ROOT / "book" / "data"
    with open(data / "hmm_benchmark.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emission", "T", "K", "emtutor ms", "hmmlearn log ms", "ratio to log",
                         "hmmlearn scaling ms", "ratio to scaling"])
        writer.writerows(rows)
    command = "python benchmarks/hmm_vs_hmmlearn.py " + " ".join(sys.argv[1:])
    (data / "hmm_benchmark_env.txt").write_text("\n".join([command] + env) + "\n")
    plot(figure)
    print("wrote book/data/hmm_benchmark.csv, book/data/hmm_benchmark_env.txt and book/figures/hmm_benchmark.png")


if __name__ == "__main__":
    main()
