"""Say which OpenBLAS kernel and how many threads NumPy's BLAS uses here, and
(with --expect / --expect-threads) fail when it is not what was asked for.

OPENBLAS_CORETYPE forces a kernel only in OpenBLAS builds with DYNAMIC_ARCH
(NumPy's wheels are such builds); a misspelt name is silently ignored, so
`make test-kernels` checks with this script that the run it is about to do
really uses the kernel it names.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

import numpy as np  # noqa: F401  (loads NumPy's OpenBLAS)
import scipy.linalg  # noqa: F401  (loads SciPy's own OpenBLAS, which the chapters use too)
from threadpoolctl import threadpool_info

# OPENBLAS_CORETYPE names whose kernel OpenBLAS reports under another name
ALIASES = {"prescott": "katmai", "core2": "katmai", "zen": "haswell", "cooperlake": "skylakex"}


# Run by a child process: a kernel this CPU cannot execute (SkylakeX without
# AVX-512, say) dies with SIGILL on its first matrix product; without this check
# a notebook kernel would die that way and nbval would wait for it for ever.
SELF_TEST = """
import numpy as np, scipy.linalg
a = np.random.default_rng(0).random((256, 256))
scipy.linalg.cholesky(a @ a.T + 256 * np.eye(256))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--expect", help="the OPENBLAS_CORETYPE that should be in use")
    parser.add_argument("--expect-threads", type=int, help="the number of BLAS threads expected")
    args = parser.parse_args()
    blas = [lib for lib in threadpool_info() if lib.get("internal_api") == "openblas"]
    if not blas:
        print("NumPy does not use OpenBLAS here; kernels cannot be forced", file=sys.stderr)
        return 1
    ok = True
    done = subprocess.run([sys.executable, "-c", SELF_TEST])
    if done.returncode != 0:
        why = f"signal {signal.Signals(-done.returncode).name}" if done.returncode < 0 else f"exit {done.returncode}"
        print(f"a matrix product failed under this BLAS set-up ({why}): this CPU cannot run the kernel "
              f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}", file=sys.stderr)
        ok = False
    for lib in blas:
        kernel, threads = lib.get("architecture") or "?", lib["num_threads"]
        print(f"{lib['prefix']}: OpenBLAS {lib['version']}, kernel {kernel}, {threads} thread(s)")
        if args.expect and kernel.lower() != ALIASES.get(args.expect.lower(), args.expect.lower()):
            print(f"  expected kernel {args.expect}", file=sys.stderr)
            ok = False
        if args.expect_threads and threads != args.expect_threads:
            print(f"  expected {args.expect_threads} thread(s)", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
