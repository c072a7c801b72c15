"""Time per iteration of the new latent-variable models against their scikit-learn peers.

* factor analysis (``emtutor.FactorAnalysis``, EM) against
  ``sklearn.decomposition.FactorAnalysis`` (an SVD-based iteration for the
  same likelihood);
* variational Bayes mixtures (``emtutor.BayesianGaussianMixture``) against
  ``sklearn.mixture.BayesianGaussianMixture`` (Dirichlet-distribution prior,
  full covariances), both started from the same responsibilities.

Each fit runs a fixed number of iterations (``tol=0``) and the time per
iteration includes each library's set-up divided among them. Both peers are
timed in the same run on the same data; the script prints the median of the
repetitions and the ratio emtutor / scikit-learn (goal, issue 19: at most
1). The mixture of Bernoullis has no scikit-learn counterpart and is not
timed here.

Run: .venv/bin/python benchmarks/latent_models_vs_sklearn.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
from sklearn.decomposition import FactorAnalysis as SklearnFA
from sklearn.mixture import BayesianGaussianMixture as SklearnBGMM

import emtutor
from emtutor import vbgmm


class _SklearnBGMMFromResp(SklearnBGMM):
    """scikit-learn's estimator started from given responsibilities (its private hook)."""

    def __init__(self, resp0=None, **kwargs):
        super().__init__(**kwargs)
        self.resp0 = resp0

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp0)


def _median_time(fit, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def factor_case(n, d, f, iterations, repeats):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, f)) @ rng.normal(size=(f, d)) + rng.normal(size=(n, d)) * rng.uniform(0.3, 2, d)
    ours = _median_time(lambda: emtutor.FactorAnalysis(f, tol=0.0, max_iter=iterations, random_state=0).fit(X),
                        repeats)
    peer = _median_time(lambda: SklearnFA(f, tol=0.0, max_iter=iterations, random_state=0).fit(X), repeats)
    return ours / iterations, peer / iterations


def vb_case(n, d, k, iterations, repeats):
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 4, size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    resp0 = rng.dirichlet(np.ones(k), size=n)
    ours = _median_time(lambda: vbgmm.fit(X, k, resp=resp0, tol=0.0, max_iter=iterations), repeats)
    peer = _median_time(lambda: _SklearnBGMMFromResp(resp0=resp0, n_components=k, tol=0.0, max_iter=iterations,
                                                     weight_concentration_prior_type="dirichlet_distribution").fit(X),
                        repeats)
    return ours / iterations, peer / iterations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repetitions")
    args = parser.parse_args()
    repeats = 3
    if args.quick:
        fa_grid, vb_grid = [(10_000, 20, 3)], [(10_000, 2, 6)]
    else:
        fa_grid = [(10_000, 20, 3), (100_000, 50, 5), (20_000, 200, 10)]
        vb_grid = [(10_000, 2, 6), (100_000, 8, 10), (20_000, 20, 5)]
    print(f"{'case':<36}{'emtutor ms/it':>15}{'sklearn ms/it':>15}{'ratio':>8}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both peers warn that tol=0 did not converge
        for n, d, f in fa_grid:
            ours, peer = factor_case(n, d, f, 50, repeats)
            print(f"{f'factor analysis n={n} d={d} F={f}':<36}{1e3 * ours:>15.3f}{1e3 * peer:>15.3f}{ours / peer:>8.2f}")
        for n, d, k in vb_grid:
            ours, peer = vb_case(n, d, k, 20, repeats)
            print(f"{f'VB mixture n={n} d={d} K={k}':<36}{1e3 * ours:>15.3f}{1e3 * peer:>15.3f}{ours / peer:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
