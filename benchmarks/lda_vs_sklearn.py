"""Time per EM iteration: emtutor.lda vs scikit-learn's batch LatentDirichletAllocation.

Both run variational EM with the same number of topics, the same prior on the
topic proportions (alpha) and on the topics (eta), and the same E-step budget
(at most ``inner`` coordinate-ascent sweeps per document, per-document
tolerance ``inner_tol`` on the mean change of gamma).  Two settings:

* ``tolerance``: inner_tol = 1e-3, inner = 100 (both libraries' defaults);
  both start every document afresh in every E-step (emtutor from
  alpha + N_d / K, scikit-learn from a random gamma), so the number of sweeps
  differs only through the starts;
* ``fixed``: inner_tol = 0, inner = 20: exactly 20 sweeps per document per
  iteration on both sides, so only the implementations differ.

Corpora: the bars data set (D = 2000, V = 25, K = 10) and a sparse synthetic
LDA corpus (D = 5000, V = 5000, K = 20, about 100 words per document).
emtutor runs one start with fresh E-steps (``n_init=1``; ``search`` lasts
all the iterations at ``tol=0``), scikit-learn's algorithm; the default
five starts would be five fits.
Goal: ratio = scikit-learn / emtutor >= 1 (emtutor no slower).

Run:  .venv/bin/python benchmarks/lda_vs_sklearn.py [--iters N] [--quick] [--no-write]
(``--quick``: one iteration per measurement.)  It writes the table to
``book/data/lda_benchmark.csv`` and the machine's description to
``book/data/lda_benchmark_env.txt`` for the Performance page
(``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import LatentDirichletAllocation as SklearnLDA

from emtutor import ConvergenceWarning, datasets, lda

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gmm_vs_sklearn import ROOT, environment  # noqa: E402


def synthetic_corpus(n_docs=5000, n_words=5000, n_topics=20, mean_length=100, seed=0):
    """Documents drawn from LDA itself (sparse topics, sparse proportions), as CSR counts."""
    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(n_words, 0.05), size=n_topics)
    theta = rng.dirichlet(np.full(n_topics, 0.1), size=n_docs)
    lengths = rng.poisson(mean_length, size=n_docs)
    docs = np.repeat(np.arange(n_docs), lengths)
    # a topic per token (inverse CDF of theta[doc]), then a word from that topic
    z = (rng.random(len(docs))[:, None] > np.cumsum(theta, axis=1)[docs]).sum(axis=1)
    z = np.minimum(z, n_topics - 1)
    cdf = np.cumsum(topics, axis=1)
    words = np.empty(len(docs), dtype=np.int64)
    for k in range(n_topics):
        mine = z == k
        words[mine] = np.minimum(np.searchsorted(cdf[k], rng.random(mine.sum())), n_words - 1)
    X = sp.csr_matrix((np.ones(len(docs)), (docs, words)), shape=(n_docs, n_words))
    X.sum_duplicates()
    return X


def time_emtutor(X, n_topics, n_iter, inner, inner_tol, alpha, eta):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = lda.fit(X, n_topics, alpha=alpha, eta=eta, tol=0.0, max_iter=n_iter, n_init=1,
                         e_step_tol=inner_tol, max_e_step_iter=inner, random_state=0)
    assert result.n_iter == result.n_search_iter == n_iter
    return (time.perf_counter() - start) / n_iter


def time_sklearn(X, n_topics, n_iter, inner, inner_tol, alpha, eta):
    model = SklearnLDA(n_topics, doc_topic_prior=alpha, topic_word_prior=eta, learning_method="batch",
                       max_iter=n_iter, max_doc_update_iter=inner, mean_change_tol=inner_tol,
                       evaluate_every=-1, random_state=0)
    start = time.perf_counter()
    model.fit(X)
    return (time.perf_counter() - start) / n_iter


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=3, help="EM iterations per measurement (default 3)")
    parser.add_argument("--quick", action="store_true", help="one EM iteration per measurement")
    parser.add_argument("--no-write", action="store_true", help="print only; do not update the book's data")
    args = parser.parse_args()
    env = environment()
    print("\n".join(env))
    table = []
    if args.quick:
        args.iters = 1

    bars, _, _ = datasets.bars(n_docs=2000, random_state=0)
    corpora = [
        ("bars D=2000 V=25 K=10", sp.csr_matrix(bars), 10, 1.0, 0.01),
        ("synthetic D=5000 V=5000 K=20", synthetic_corpus(), 20, 0.1, 0.05),
    ]
    settings = [("tolerance", 100, 1e-3), ("fixed", 20, 0.0)]
    print(f"time per EM iteration, mean of {args.iters} iterations (seconds)")
    print(f"{'corpus':30s} {'E-step':10s} {'emtutor':>9s} {'sklearn':>9s} {'ratio':>7s}")
    ratios = []
    for name, X, k, alpha, eta in corpora:
        for setting, inner, inner_tol in settings:
            ours = time_emtutor(X, k, args.iters, inner, inner_tol, alpha, eta)
            theirs = time_sklearn(X, k, args.iters, inner, inner_tol, alpha, eta)
            ratios.append(theirs / ours)
            table.append([name, setting, f"{1e3 * ours:.0f}", f"{1e3 * theirs:.0f}", f"{ours / theirs:.2f}"])
            print(f"{name:30s} {setting:10s} {ours:9.3f} {theirs:9.3f} {theirs / ours:7.1f}", flush=True)
    print(f"ratio = scikit-learn / emtutor; goal >= 1: {'met' if min(ratios) >= 1 else 'NOT met'} "
          f"(smallest {min(ratios):.1f})")
    if args.no_write:
        return
    data = ROOT / "book" / "data"
    with open(data / "lda_benchmark.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["corpus", "E-step", "emtutor ms", "scikit-learn ms", "emtutor / scikit-learn"])
        writer.writerows(table)
    command = "python benchmarks/lda_vs_sklearn.py " + " ".join(sys.argv[1:])
    (data / "lda_benchmark_env.txt").write_text("\n".join([command, f"mean of {args.iters} EM iterations per "
                                                           "measurement"] + env) + "\n")
    print("wrote book/data/lda_benchmark.csv and book/data/lda_benchmark_env.txt")


if __name__ == "__main__":
    main()
