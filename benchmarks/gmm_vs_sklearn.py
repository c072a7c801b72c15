"""Time per EM iteration and peak memory: emtutor.gmm against scikit-learn.

Both start from identical initial parameters on the same data and run the
same EM iterations; the script measures, in one run,

* the time of one EM iteration (an E-step followed by an M-step): for
  emtutor ``gmm.e_step`` + ``gmm.m_step``, exactly what ``run_em`` does per
  iteration; for scikit-learn ``_e_step`` + ``_m_step`` (private methods),
  exactly what ``GaussianMixture.fit`` does per iteration.  Each repeat times
  a few iterations; the median over repeats is reported, and the two
  libraries' repeats are interleaved so both see the same machine load;
* the peak memory allocated during one iteration (``tracemalloc``, which
  numpy reports its array buffers to), measured in separate runs;
* the log-likelihoods the two compute after the timed iterations, which must
  agree;
* at n = 1e4 only, the density-based implementation of the book's first
  chapter (``scipy.stats.multivariate_normal.pdf``, one loop per component).

* for full covariances, the *floor*: the two matrix products of that size
  that an iteration cannot do without, ``X [P_1 ... P_K]`` (n x d times
  d x kd, the E-step) and ``W^T X`` (kd x n times n x d, the M-step's
  weighted second moments), alone, in blocks of 1024 rows shared out among
  the same number of threads, each running BLAS single-threaded (a perfectly
  parallel product with nothing else to do).  emtutor's time is printed as a
  multiple of it.

It prints the ratio emtutor / scikit-learn per case and writes
``book/data/gmm_benchmark.csv``, ``book/data/gmm_benchmark_env.txt`` and the
figure ``book/figures/gmm_benchmark.png`` used by the book's Performance page.

Threads: the grid runs with one BLAS thread in both libraries (``--threads``
changes it).  On a machine shared with other jobs, OpenBLAS threads that
wait for a busy core make each matrix product cost milliseconds more, which
swamps per-iteration timings of many small products; one thread per process
measures the work itself.  The headline case, n=1e6, d=16, k=8 (full), is
then run again with every core (``--headline-threads``, default 1 and the
number of cores): scikit-learn's BLAS may use them all, and emtutor shares
its blocks out among as many threads.

Usage::

    python benchmarks/gmm_vs_sklearn.py            # the full grid (several minutes)
    python benchmarks/gmm_vs_sklearn.py --quick    # grid n <= 1e5, plus the headline case

Goals (issue 17): ratio <= 0.25 at n=1e6, d=16, k=8 (full) with one thread
and with all cores, <= 0.5 in every case, peak memory no larger than
scikit-learn's, and at most 2.5 times the floor.
"""

from __future__ import annotations

import argparse
import csv
from concurrent.futures import ThreadPoolExecutor
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky
from threadpoolctl import ThreadpoolController

from emtutor import gmm

ROOT = Path(__file__).resolve().parent.parent
REG_COVAR = 1e-6
HEADLINE = (1_000_000, 16, 8, "full")
GOAL_HEADLINE, GOAL_ALL, GOAL_FLOOR = 0.25, 0.5, 2.5
BLAS = ThreadpoolController()  # found once: finding the libraries takes tens of milliseconds


def make_problem(n, d, k, covariance_type, seed=0):
    """Data from a k-component mixture and initial parameters shared by both libraries."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (k, d))
    labels = rng.integers(k, size=n)
    X = centres[labels] + rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, k)[labels, None]
    means = X[rng.choice(n, size=k, replace=False)]
    data_cov = np.cov(X, rowvar=False, bias=True) + REG_COVAR * np.eye(d)
    covariances = gmm.COVARIANCE_TYPES[covariance_type].from_full(data_cov, k)
    return X, gmm.GMMParams(np.full(k, 1.0 / k), means, covariances)


# --- one EM iteration in each implementation ---------------------------------


class Emtutor:
    def __init__(self, X, params, covariance_type):
        self.X, self.params, self.covariance_type = X, params, covariance_type

    def iterate(self):
        resp, log_norm = gmm.e_step(self.X, self.params, covariance_type=self.covariance_type)
        self.params = gmm.m_step(self.X, resp, reg_covar=REG_COVAR, covariance_type=self.covariance_type)
        return float(np.sum(log_norm))


class Sklearn:
    def __init__(self, X, params, covariance_type):
        self.X = X
        k = len(params.weights)
        precisions = np.linalg.inv(params.covariances) if covariance_type == "full" else 1 / params.covariances
        model = SklearnGaussianMixture(
            k, covariance_type=covariance_type, reg_covar=REG_COVAR, weights_init=params.weights,
            means_init=params.means, precisions_init=precisions, init_params="random_from_data",
            max_iter=1, tol=0.0, warm_start=True, random_state=0,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=SklearnConvergenceWarning)
            model.fit(X[: max(10 * k, 100)])  # validates the settings; parameters are reset below
        model.weights_, model.means_, model.covariances_ = params
        model.precisions_cholesky_ = _compute_precision_cholesky(params.covariances, covariance_type)
        self.model = model

    def iterate(self):
        log_prob_norm, log_resp = self.model._e_step(self.X)  # as in GaussianMixture.fit
        self.model._m_step(self.X, log_resp)
        return float(log_prob_norm) * len(self.X)


class Naive:
    """The book's first implementation: densities, one loop per component (full only)."""

    def __init__(self, X, params, covariance_type):
        self.X, (self.weights, self.means, self.covariances) = X, params

    def iterate(self):
        X, k = self.X, len(self.weights)
        weighted = np.column_stack([
            self.weights[i] * multivariate_normal.pdf(X, self.means[i], self.covariances[i]) for i in range(k)
        ])
        total = weighted.sum(axis=1)
        resp = weighted / total[:, None]
        counts = resp.sum(axis=0)
        self.weights = counts / len(X)
        self.means = np.array([resp[:, i] @ X / counts[i] for i in range(k)])
        self.covariances = np.array([
            (resp[:, i, None] * (X - self.means[i])).T @ (X - self.means[i]) / counts[i]
            + REG_COVAR * np.eye(X.shape[1])
            for i in range(k)
        ])
        return float(np.sum(np.log(total)))


# --- measuring ----------------------------------------------------------------


def seconds_per_iteration(runner, n_iter):
    start = time.perf_counter()
    for _ in range(n_iter):
        runner.iterate()
    return (time.perf_counter() - start) / n_iter


def peak_bytes_of_one_iteration(runner):
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    runner.iterate()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak


def floor_seconds(X, k, threads, rows=1024):
    """The two matrix products of one full-covariance iteration, and nothing else.

    ``X_b F`` with ``F`` of shape (d, k d) and ``W_b^T X_b`` with ``W_b`` of
    shape (rows, k d), for every block ``X_b`` of ``rows`` rows; the blocks
    are dealt out to ``threads`` threads, each with single-threaded BLAS and
    its own output arrays, allocated before the clock starts.
    """
    n, d = X.shape
    rng = np.random.default_rng(0)
    F = rng.normal(size=(d, k * d))
    starts = range(0, n, rows)
    shares = [(starts[i::threads], np.empty((rows, k * d)), rng.uniform(size=(rows, k * d)),
               np.zeros((k * d, d))) for i in range(threads)]

    def share(work):
        mine, projected, weighted, moments = work
        for start in mine:
            block = X[start : start + rows]
            np.matmul(block, F, out=projected[: len(block)])
            moments += weighted[: len(block)].T @ block

    with ThreadPoolExecutor(threads) as pool, BLAS.limit(limits=1, user_api="blas"):
        begin = time.perf_counter()
        list(pool.map(share, shares))
        return time.perf_counter() - begin


def iterations_for(n):
    return {10_000: 20, 100_000: 4}.get(n, 2)


def run_case(n, d, k, covariance_type, repeats, with_naive, threads=1):
    X, params = make_problem(n, d, k, covariance_type)
    n_iter = iterations_for(n)
    limits = BLAS.limit(limits=threads, user_api="blas")
    ours, theirs = Emtutor(X, params, covariance_type), Sklearn(X, params, covariance_type)
    ours.iterate(), theirs.iterate()  # warm-up, and both are now one iteration in
    times = {"emtutor": [], "sklearn": [], "floor": []}
    for _ in range(repeats):  # interleaved, so all see the same load
        times["emtutor"].append(seconds_per_iteration(ours, n_iter))
        times["sklearn"].append(seconds_per_iteration(theirs, n_iter))
        if covariance_type == "full":
            times["floor"].append(floor_seconds(X, k, threads))
    ll_ours, ll_theirs = ours.iterate(), theirs.iterate()  # same number of iterations each
    row = {
        "n": n, "d": d, "k": k, "covariance": covariance_type, "threads": threads,
        "emtutor_ms": 1e3 * statistics.median(times["emtutor"]),
        "sklearn_ms": 1e3 * statistics.median(times["sklearn"]),
    }
    row["time_ratio"] = row["emtutor_ms"] / row["sklearn_ms"]
    row["floor_ms"] = 1e3 * statistics.median(times["floor"]) if times["floor"] else ""
    row["floor_multiple"] = row["emtutor_ms"] / row["floor_ms"] if times["floor"] else ""
    row["emtutor_peak_mb"] = peak_bytes_of_one_iteration(ours) / 2**20
    row["sklearn_peak_mb"] = peak_bytes_of_one_iteration(theirs) / 2**20
    row["memory_ratio"] = row["emtutor_peak_mb"] / row["sklearn_peak_mb"]
    row["loglik_rel_diff"] = abs(ll_ours - ll_theirs) / abs(ll_theirs)
    row["naive_ms"] = ""
    if with_naive:
        naive = Naive(X, params, covariance_type)
        row["naive_ms"] = 1e3 * statistics.median(seconds_per_iteration(naive, 3) for _ in range(repeats))
    limits.restore_original_limits()
    return row


def environment():
    from threadpoolctl import threadpool_info

    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, {i['num_threads']} threads)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    import scipy
    import sklearn

    return [
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}",
        f"BLAS: {'; '.join(blas)}",
        f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}",
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}",
    ]


FIELDS = ["n", "d", "k", "covariance", "threads", "emtutor_ms", "sklearn_ms", "time_ratio", "floor_ms",
          "floor_multiple", "emtutor_peak_mb", "sklearn_peak_mb", "memory_ratio", "loglik_rel_diff", "naive_ms"]


def fmt(value):
    if isinstance(value, float):
        return f"{value:.3g}" if value < 1e-2 else f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def label(r):
    text = f"{r['covariance']} n={r['n']:.0e} d={r['d']} k={r['k']}".replace("+0", "")
    return text + (f", {r['threads']} threads" if int(r["threads"]) > 1 else "")


def plot(rows, path):
    """The book's figure: time (top) and memory (bottom) ratios, one bar per case.

    Stacked, not side by side, and saved at 200 dpi, so that the labels stay
    readable where the book shows it (a column about 730 px wide, on a phone
    390 px): the PNG is at least twice as wide as it is shown.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(2, 1, figsize=(7.5, 2.0 + 0.45 * len(rows)), sharey=True)
    y = np.arange(len(rows))
    colours = ["C0" if r["covariance"] == "full" else "C1" for r in rows]
    ax_t.barh(y, [r["time_ratio"] for r in rows], color=colours)
    ax_t.axvline(GOAL_ALL, color="k", ls="--", lw=1, label=f"goal {GOAL_ALL}")
    ax_t.axvline(GOAL_HEADLINE, color="r", ls=":", lw=1.5, label=f"goal {GOAL_HEADLINE} (n=1e6, d=16, k=8, full)")
    ax_t.axvline(1.0, color="grey", lw=0.8)
    ax_t.set_yticks(y, [label(r) for r in rows], fontsize=9)
    ax_t.invert_yaxis()
    ax_t.set_title("time per EM iteration, emtutor / scikit-learn", fontsize=11)
    ax_t.legend(fontsize=9, loc="lower right")
    ax_m.barh(y, [r["memory_ratio"] for r in rows], color=colours)
    ax_m.axvline(1.0, color="k", ls="--", lw=1, label="goal 1.0")
    ax_m.tick_params(axis="y", labelleft=True, labelsize=9)
    ax_m.set_title("peak memory of an iteration, emtutor / scikit-learn", fontsize=11)
    ax_m.legend(fontsize=9, loc="lower right")
    for ax in (ax_t, ax_m):
        ax.tick_params(axis="x", labelsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200)


def read_rows():
    """The rows of book/data/gmm_benchmark.csv, numbers parsed."""
    with open(ROOT / "book" / "data" / "gmm_benchmark.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for name in ("n", "d", "k", "threads"):
            r[name] = int(r[name])
        for name in ("time_ratio", "memory_ratio"):
            r[name] = float(r[name])
    return rows


def print_row(row):
    naive = f"{row['naive_ms'] / row['sklearn_ms']:8.1f}" if row["naive_ms"] != "" else ""
    floor = f"{row['floor_multiple']:6.2f}" if row["floor_multiple"] != "" else ""
    print(f"{row['covariance']:<5} n={row['n']:<8} d={row['d']:<3} k={row['k']:<3} t={row['threads']:<2} "
          f"{row['emtutor_ms']:11.2f} {row['sklearn_ms']:11.2f} {row['time_ratio']:6.3f} {floor:>6} "
          f"{row['memory_ratio']:9.3f} {row['loglik_rel_diff']:11.1e} {naive:>8}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="grid n in {1e4, 1e5} only (plus the headline case)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; do not update the book's data")
    parser.add_argument("--plot-only", action="store_true",
                        help="only redraw book/figures/gmm_benchmark.png from book/data/gmm_benchmark.csv")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads for both libraries on the grid (default 1: see the module docstring)")
    parser.add_argument("--headline-threads", type=int, nargs="*", default=None,
                        help="thread counts for the case n=1e6, d=16, k=8, full (default: 1 and all cores)")
    parser.add_argument("--types", nargs="+", default=["full", "diag"], choices=["full", "diag"],
                        help="covariance types to run; rows of other types already in the CSV are kept")
    parser.add_argument("--case", nargs=4, metavar=("N", "D", "K", "COV"), help="run one case only")
    args = parser.parse_args(argv)
    if args.plot_only:
        plot(read_rows(), ROOT / "book" / "figures" / "gmm_benchmark.png")
        print("wrote book/figures/gmm_benchmark.png")
        return
    if args.case:
        n, d, k, cov = args.case
        row = run_case(int(float(n)), int(d), int(k), cov, args.repeats, with_naive=False, threads=args.threads)
        print({key: fmt(value) for key, value in row.items()})
        return

    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    headline_threads = (sorted({1, os.cpu_count() or 1}) if args.headline_threads is None
                        else args.headline_threads)
    env = environment()
    print("\n".join(env))
    print(f"{'case':<32} {'emtutor ms':>11} {'sklearn ms':>11} {'ratio':>6} {'floor×':>6} {'mem ratio':>9} "
          f"{'ll rel diff':>11} {'naive/sk':>8}")
    rows = []
    for covariance_type in args.types:
        for n in sizes:
            for d in [2, 16]:
                for k in [3, 8]:
                    if (n, d, k, covariance_type) == HEADLINE and args.threads in headline_threads:
                        continue  # run below with the headline's thread counts
                    rows.append(run_case(n, d, k, covariance_type, args.repeats,
                                         with_naive=(n == 10_000 and covariance_type == "full"),
                                         threads=args.threads))
                    print_row(rows[-1])
    if "full" in args.types:
        for threads in headline_threads:
            rows.append(run_case(*HEADLINE, args.repeats, with_naive=False, threads=threads))
            print_row(rows[-1])

    worst = max(r["time_ratio"] for r in rows)
    print(f"worst time ratio {worst:.3f} (goal <= {GOAL_ALL}); largest memory ratio "
          f"{max(r['memory_ratio'] for r in rows):.3f} (goal <= 1)")
    for r in rows:
        if (r["n"], r["d"], r["k"], r["covariance"]) == HEADLINE:
            print(f"n=1e6, d=16, k=8, full, {r['threads']} thread(s): ratio {r['time_ratio']:.3f} "
                  f"(goal <= {GOAL_HEADLINE}), {r['floor_multiple']:.2f} times the floor (goal <= {GOAL_FLOOR})")
    if args.no_write:
        return
    data = ROOT / "book" / "data"
    table = [[fmt(r[name]) for name in FIELDS] for r in rows]
    if set(args.types) != {"full", "diag"} and (data / "gmm_benchmark.csv").exists():
        with open(data / "gmm_benchmark.csv", newline="") as f:
            kept = [line for line in list(csv.reader(f))[1:] if line[3] not in args.types]
        table = kept + table
    table.sort(key=lambda line: (line[3] != "full", int(line[0]), int(line[1]), int(line[2]), int(line[4])))
    with open(data / "gmm_benchmark.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        writer.writerows(table)
    command = "python benchmarks/gmm_vs_sklearn.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = "\n".join([f"rows {', '.join(args.types)}: {command}"] + env) + "\n"
    env_file = data / "gmm_benchmark_env.txt"
    if set(args.types) != {"full", "diag"} and env_file.exists():
        kept = env_file.read_text().split("\n\n")
        text = "\n".join(block.strip("\n") + "\n" for block in kept
                         if not block.startswith(f"rows {', '.join(args.types)}:")) + "\n" + text
    env_file.write_text(text)
    plot(read_rows(), ROOT / "book" / "figures" / "gmm_benchmark.png")
    print("wrote book/data/gmm_benchmark.csv, book/data/gmm_benchmark_env.txt, book/figures/gmm_benchmark.png")


if __name__ == "__main__":
    main()
