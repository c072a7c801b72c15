"""Fuzz every model with thousands of random problems and count what goes wrong.

Each problem (``tests/fuzz_problems.py``) fits a model with EM run by the
generic driver, which checks the objective after every step, and then uses
the fitted model (predict, score, impute, ...).  The rule: finite numbers or
a ValueError/TypeError.  The script prints, per model, how many problems

* ``ok``: gave finite answers;
* ``value_error``: raised a ValueError/TypeError (a collapsed component, a
  likelihood without a maximum, data out of range, ...; allowed);
* ``nonfinite``: returned NaN or inf somewhere;
* ``unrelated``: raised another exception (IndexError, LinAlgError, ...);
* ``decrease``: raised LikelihoodDecreaseError on valid input (a false "bug");
* ``warning``: emitted a warning other than ConvergenceWarning,

and for the table of bad arguments (every setting of every public function
and estimator, ``fuzz_problems.invalid_cases``) how many were silently
accepted or raised an error not naming the argument.  Targets (issue 16):
zero in every column but ``ok`` and ``value_error``.

Run: .venv/bin/python benchmarks/fuzz.py [--n 2000] [--models gmm lda ...]
Problems are seeded by (seed, model index), so a run is reproducible and a
reported seed can be replayed with ``--replay MODEL SEED``.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from fuzz_problems import OUTCOMES, PROBLEMS, classify, invalid_cases, problem_rng  # noqa: E402

BAD = ["nonfinite", "unrelated", "decrease", "warning"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="problems per model (default 2000)")
    parser.add_argument("--models", nargs="+", default=sorted(PROBLEMS), choices=sorted(PROBLEMS))
    parser.add_argument("--replay", nargs=2, metavar=("MODEL", "SEED"))
    args = parser.parse_args()
    if args.replay:
        model, seed = args.replay[0], int(args.replay[1])
        print(classify(PROBLEMS[model](problem_rng(model, seed))))
        return 0

    header = f"{'model':16s}" + "".join(f"{o:>12s}" for o in OUTCOMES[:2] + BAD) + f"{'seconds':>9s}"
    print(f"{args.n} random problems per model, EM step by step (the driver checks every step)")
    print(header)
    examples = {}
    failures = 0
    for model in args.models:
        counts = collections.Counter()
        start = time.perf_counter()
        for seed in range(args.n):
            outcome, detail = classify(PROBLEMS[model](problem_rng(model, seed)))
            counts[outcome] += 1
            if outcome in BAD:
                examples.setdefault((model, outcome), (seed, detail))
        failures += sum(counts[o] for o in BAD)
        print(f"{model:16s}" + "".join(f"{counts[o]:12d}" for o in OUTCOMES[:2] + BAD)
              + f"{time.perf_counter() - start:9.1f}", flush=True)

    cases = invalid_cases()
    counts = collections.Counter()
    for name, call, bad_name in cases:
        outcome, detail = classify(call, bad_name)
        counts[outcome] += 1
        if outcome != "ok":
            examples.setdefault(("bad arguments", outcome), (name, detail))
    print(f"\n{len(cases)} bad arguments: {counts['ok']} raised ValueError/TypeError naming the argument, "
          f"{counts['accepted']} silently accepted, {counts['wrong_name']} named something else, "
          f"{counts['unrelated']} unrelated exceptions, {counts['warning']} warnings")
    failures += len(cases) - counts["ok"]
    if examples:
        print("\nfirst example of each problem (replay with --replay MODEL SEED):")
        for (model, outcome), (seed, detail) in examples.items():
            print(f"  {model} {outcome} {seed}: {detail}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
