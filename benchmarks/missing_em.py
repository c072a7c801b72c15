"""Speed of one EM iteration of emtutor.missing against simple references.

For n in {1e3, 1e4, 1e5} rows and d in {5, 20} features, 20% of the values
missing completely at random, time one iteration (E-step + M-step) of

* ``emtutor``: rows grouped by missingness pattern once, patterns with the
  same number of missing values handled as one stack (emtutor.missing);
* ``per-pattern loop``: a Python loop over the distinct patterns, each one
  vectorised over its rows (Sigma_oo factorised once per pattern);
* ``per-row loop``: the textbook reference, a Python loop over rows.

All three are run in the same process on the same data, their results are
checked to agree, and the script prints the ratios.  The goal (issue 7): at
n = 1e5, d = 20 emtutor is at least 20x faster than the per-row loop, and
its cost grows linearly in n.

Run: .venv/bin/python benchmarks/missing_em.py [--quick] [--no-write]
(timings are best-of-several for emtutor, a single run for the slow loops.)
It writes the table to ``book/data/missing_benchmark.csv`` and the machine's
description to ``book/data/missing_benchmark_env.txt`` for the Performance
page (``--no-write``: print only).
"""

from __future__ import annotations

import os
import sys
import time

# One BLAS thread for every implementation, so the ratios measure the
# algorithms and not the number of cores (on a busy machine, multithreaded
# BLAS on small matrices can also be slower by orders of magnitude).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import csv
from pathlib import Path

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from emtutor import missing

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gmm_vs_sklearn import ROOT, environment  # noqa: E402


def make_data(n, d, rate=0.2, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    cov = A @ A.T / d + 0.5 * np.eye(d)
    X = rng.multivariate_normal(rng.normal(size=d), cov, size=n)
    X[rng.random((n, d)) < rate] = np.nan
    return X


def iteration_emtutor(data, params):
    expectations, log_norm = missing.e_step(data, params)
    return missing.m_step(data, expectations), log_norm.sum()


def iteration_per_row(X, params):
    mean, cov = params
    n, d = X.shape
    X_hat = X.copy()
    correction = np.zeros((d, d))
    ll = 0.0
    used = 0
    for i in range(n):
        m = np.isnan(X[i])
        o = ~m
        if not o.any():
            X_hat[i] = mean
            continue
        used += 1
        factor = cho_factor(cov[np.ix_(o, o)], lower=True)
        z = X[i, o] - mean[o]
        ll -= 0.5 * (o.sum() * np.log(2 * np.pi) + 2 * np.log(np.diag(factor[0])).sum()
                     + z @ cho_solve(factor, z))
        if m.any():
            S_om = cov[np.ix_(o, m)]
            X_hat[i, m] = mean[m] + S_om.T @ cho_solve(factor, z)
            correction[np.ix_(m, m)] += cov[np.ix_(m, m)] - S_om.T @ cho_solve(factor, S_om)
    rows = X_hat[~np.isnan(X).all(axis=1)]
    new_mean = rows.mean(axis=0)
    c = rows - new_mean
    return (new_mean, (c.T @ c + correction) / used), ll


def iteration_per_pattern(X, params):
    mean, cov = params
    n, d = X.shape
    mask = np.isnan(X)
    patterns, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(patterns) + 1))
    X_hat = X.copy()
    correction = np.zeros((d, d))
    ll = 0.0
    for p, m in enumerate(patterns):
        rows = order[bounds[p] : bounds[p + 1]]
        o = ~m
        if not o.any():
            X_hat[rows] = mean
            continue
        factor = cho_factor(cov[np.ix_(o, o)], lower=True)
        Z = X[np.ix_(rows, o)] - mean[o]
        sol = cho_solve(factor, Z.T)
        ll -= 0.5 * (len(rows) * (o.sum() * np.log(2 * np.pi) + 2 * np.log(np.diag(factor[0])).sum())
                     + np.einsum("ij,ji->", Z, sol))
        if m.any():
            S_om = cov[np.ix_(o, m)]
            X_hat[np.ix_(rows, m)] = mean[m] + (S_om.T @ sol).T
            correction[np.ix_(m, m)] += len(rows) * (cov[np.ix_(m, m)] - S_om.T @ cho_solve(factor, S_om))
    used = ~mask.all(axis=1)
    new_mean = X_hat[used].mean(axis=0)
    c = X_hat[used] - new_mean
    return (new_mean, (c.T @ c + correction) / used.sum()), ll


def milliseconds(seconds):
    """A time in milliseconds, to three digits or so, without exponents (for the book's table)."""
    ms = 1e3 * seconds
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def best_time(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main(quick=False, write=True):
    env = environment()
    print("\n".join(env))
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    print(f"{'n':>7} {'d':>3} {'patterns':>8} {'group s':>8} {'emtutor s':>10} {'pattern s':>10} "
          f"{'row s':>8} {'row/emt':>8} {'pat/emt':>8} {'emt us/row':>10}")
    rows_out = []
    table = []
    for d in (5, 20):
        for n in sizes:
            X = make_data(n, d)
            t_group, data = best_time(lambda: missing.group_patterns(X), 1)
            params = missing.initial_params(data)
            reps = 7 if n <= 10_000 else 3
            t_emt, (p_emt, ll_emt) = best_time(lambda: iteration_emtutor(data, params), reps)
            t_pat, (p_pat, ll_pat) = best_time(lambda: iteration_per_pattern(X, params), 1 if n > 10_000 else 3)
            t_row, (p_row, ll_row) = best_time(lambda: iteration_per_row(X, params), 1)
            for other, ll in ((p_pat, ll_pat), (p_row, ll_row)):
                np.testing.assert_allclose(other[0], p_emt.mean, rtol=1e-9, atol=1e-9)
                np.testing.assert_allclose(other[1], p_emt.covariance, rtol=1e-9, atol=1e-9)
                assert abs(ll - ll_emt) <= 1e-9 * abs(ll_emt)
            rows_out.append((n, d, t_emt))
            table.append([n, d, data.n_patterns, milliseconds(t_emt), milliseconds(t_pat), milliseconds(t_row),
                          f"{t_pat / t_emt:.0f}", f"{t_row / t_emt:.0f}"])
            print(f"{n:>7} {d:>3} {data.n_patterns:>8} {t_group:>8.4f} {t_emt:>10.4f} {t_pat:>10.4f} "
                  f"{t_row:>8.3f} {t_row / t_emt:>8.1f} {t_pat / t_emt:>8.1f} {1e6 * t_emt / n:>10.2f}",
                  flush=True)
    print()
    for d in (5, 20):
        times = {n: t for n, dd, t in rows_out if dd == d}
        ns = sorted(times)
        growth = ", ".join(
            f"x{ns[i + 1] // ns[i]} rows -> x{times[ns[i + 1]] / times[ns[i]]:.1f} time" for i in range(len(ns) - 1)
        )
        print(f"d={d}: emtutor cost growth: {growth}")
    print("(results of the three implementations agree to 1e-9)")
    if not write:
        return
    data_dir = ROOT / "book" / "data"
    with open(data_dir / "missing_benchmark.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["n", "d", "patterns", "emtutor ms", "pattern loop ms", "row loop ms", "pattern loop / emtutor",
                         "row loop / emtutor"])
        writer.writerows(table)
    command = "python benchmarks/missing_em.py " + " ".join(sys.argv[1:])
    (data_dir / "missing_benchmark_env.txt").write_text("\n".join([command] + env) + "\n")
    print("wrote book/data/missing_benchmark.csv and book/data/missing_benchmark_env.txt")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv, write="--no-write" not in sys.argv)
