"""EM-map evaluations and wall time of accelerated EM against plain EM, on every model of the book.

Every run starts from the same parameters and stops at the same rule: after
the first plain EM step that moves no parameter by ``XTOL`` or more (the
residual of the fixed-point equation ``M(theta) = theta``, the same rule
for every method, :func:`emtutor.accelerate.accelerated_em`'s ``xtol``).
Each accelerated run must reach plain EM's optimum to 1e-8 (every parameter,
relative to max(1, |value|), and the objective); the script fails if one
does not.  Plain EM is ``method="em"`` of the same wrapper, whose iterates
are those of :func:`emtutor.em.run_em` (``tests/test_accelerate.py`` checks
that); its count is the baseline of the ratios.

    .venv/bin/python benchmarks/accelerate.py

Wall times are the best of ``REPEATS`` runs on this machine (one BLAS thread).
"""

from __future__ import annotations

import os
import sys
import time
from functools import partial

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from emtutor import accelerate, coins, datasets, gmm, hmm, lda, missing  # noqa: E402

XTOL = 1e-11
MAX_ITER = 50_000
REPEATS = 3
METHODS = ("em", "aitken", "squarem", "quasi-newton")


def problems():
    """(name, data, start, e_step, m_step, m_step_slack, n_observations, covariance_type, objective name)."""
    rng = np.random.default_rng(2026)
    out = []
    # Gaussian mixtures: overlapping components (slow), every covariance type
    X = np.concatenate([rng.normal([0.0, 0.0], 1.0, size=(250, 2)),
                        rng.normal([1.5, 0.5], 1.0, size=(250, 2))])
    for cov in ("full", "diag", "spherical", "tied"):
        start = gmm.initial_params(X, 2, covariance_type=cov, reg_covar=0.0, random_state=1)
        out.append((f"GMM {cov}, overlapping", X, start, partial(gmm.e_step, covariance_type=cov),
                    partial(gmm.m_step, covariance_type=cov), None, len(X), cov, "log-likelihood"))
    faithful = datasets.old_faithful()
    start = gmm.initial_params(faithful, 2, random_state=0)
    out.append(("GMM full, Old Faithful, reg_covar=1e-6", faithful, start, gmm.e_step,
                partial(gmm.m_step, reg_covar=1e-6),
                partial(gmm.regularisation_slack, reg_covar=1e-6), len(faithful), "full", "log-likelihood"))
    # two coins: the chapter's five sets of ten tosses
    data = coins.as_coin_data([5, 9, 8, 4, 7], [10] * 5)
    start = coins.CoinParams(np.array([0.5, 0.5]), np.array([0.6, 0.5]))
    out.append(("coins (weights learned)", data, start, coins.e_step, coins.m_step, None, 5, None,
                "log-likelihood"))
    # categorical HMM: the occasionally dishonest casino
    true = hmm.CategoricalHMMParams(np.array([0.5, 0.5]), np.array([[0.95, 0.05], [0.1, 0.9]]),
                                    np.vstack([np.full(6, 1 / 6), [0.1] * 5 + [0.5]]))
    symbols, _ = hmm.sample(true, 1000, random_state=3)
    seq = hmm.as_sequences(symbols, [100] * 10, kind="categorical", n_symbols=6)
    start = hmm.initial_params(seq.X, 2, kind="categorical", n_symbols=6, random_state=4)
    out.append(("categorical HMM, casino", seq, start, hmm.e_step, hmm.m_step, None, len(seq.X), None,
                "log-likelihood"))
    # Gaussian HMM, diagonal covariances, two close states
    gtrue = hmm.GaussianHMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
                                  np.array([[0.0, 0.0], [1.0, 1.0]]), np.ones((2, 2)))
    Xg, _ = hmm.sample(gtrue, 1000, random_state=5)
    gseq = hmm.as_sequences(Xg, [100] * 10, kind="gaussian")
    start = hmm.initial_params(gseq.X, 2, kind="gaussian", covariance_type="diag", reg_covar=0.0, random_state=6)
    out.append(("Gaussian HMM diag", gseq, start, hmm.e_step, hmm.m_step, None, len(gseq.X), "diag",
                "log-likelihood"))
    # multivariate normal with 50% of the values missing
    Xm = rng.multivariate_normal(np.zeros(3), [[1.0, 0.7, 0.4], [0.7, 1.0, 0.5], [0.4, 0.5, 1.0]], size=500)
    Xm[rng.random(Xm.shape) < 0.5] = np.nan
    groups = missing.group_patterns(Xm)
    out.append(("missing-data normal, 50% missing", groups, missing.initial_params(groups), missing.e_step,
                missing.m_step, None, len(Xm), None, "log-likelihood"))
    # LDA: a small corpus of two topics over six words, variational EM on the ELBO
    # (a tight E-step, so that one EM iteration is a function of the topics alone)
    topics = np.array([[0.4, 0.3, 0.2, 0.05, 0.03, 0.02], [0.02, 0.03, 0.05, 0.2, 0.3, 0.4]])
    proportions = rng.dirichlet([0.5, 0.5], size=60)
    counts = lda.as_count_matrix(np.array([rng.multinomial(40, p @ topics) for p in proportions], dtype=float))
    start = lda.initial_params(counts, 2, alpha=0.5,
                               topic_word=np.random.default_rng(8).dirichlet(np.ones(6), size=2))
    out.append(("LDA, two topics (ELBO)", counts, start, partial(lda.e_step, tol=1e-13, max_iter=10_000),
                lda.m_step, None, float(counts.sum()), None, "ELBO"))
    return out


def run(problem, method):
    name, data, start, e_step, m_step, slack, n_obs, cov, objective = problem
    return accelerate.accelerated_em(data, start, e_step=e_step, m_step=m_step, m_step_slack=slack,
                                     n_observations=n_obs, covariance_type=cov, method=method, tol=0.0,
                                     xtol=XTOL, max_iter=MAX_ITER, objective_name=objective)


def same_optimum(a, b, pmap):
    x, y = pmap.pack(a.params), pmap.pack(b.params)
    return bool(np.all(np.abs(x - y) <= 1e-8 * np.maximum(1.0, np.abs(x))) and abs(a.objective - b.objective) < 1e-8)


def main():
    rows, failures = [], []
    for problem in problems():
        name, start, cov = problem[0], problem[2], problem[7]
        pmap = accelerate.parameter_map(start, cov)
        results, times = {}, {}
        for method in METHODS:
            best = np.inf
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                results[method] = run(problem, method)
                best = min(best, time.perf_counter() - t0)
            times[method] = best
        plain = results["em"]
        for method in METHODS:
            r = results[method]
            same = same_optimum(r, plain, pmap)
            if not (same and r.converged):
                failures.append(f"{name}: {method} converged={r.converged} same optimum={same}")
            rows.append((name, method, r.n_em_maps, r.n_e_steps, plain.n_em_maps / r.n_em_maps,
                         times[method], times["em"] / times[method], same))
    width = max(len(r[0]) for r in rows)
    print(f"stopping rule: first plain EM step moving no parameter by {XTOL:g}; same optimum: 1e-8")
    print(f"{'problem':<{width}}  {'method':<12} {'EM maps':>8} {'E-steps':>8} {'maps ratio':>10} "
          f"{'time (s)':>9} {'time ratio':>10}  same optimum")
    for name, method, maps, esteps, ratio, t, tratio, same in rows:
        print(f"{name:<{width}}  {method:<12} {maps:>8d} {esteps:>8d} {ratio:>10.1f} {t:>9.3f} {tratio:>10.1f}  {same}")
    if failures:
        print("FAILED:\n" + "\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
