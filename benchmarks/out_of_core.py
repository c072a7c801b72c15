"""Out-of-core EM: a Gaussian mixture fitted by map-reduce on data larger than the workers' memory.

Writes a data set to disk in chunks (one ``.npy`` file per chunk, read by the
task that needs it), builds a Dask array over the files, and on a
``dask.distributed.LocalCluster`` of two single-threaded worker processes,
each allowed ``--memory-limit`` of memory, runs

* ``emtutor.mapreduce.fit_gmm`` for a few EM iterations (d=16, k=8, full
  covariances, from given initial parameters), timed as a whole, and
* one more E-step pass alone (map over the chunks + tree sum, what one EM
  iteration costs; the M-step on the client is microseconds),

sampling the resident memory of both workers (psutil) every 0.1 s.  In the
same run it times one in-memory EM iteration (``gmm.e_step`` + ``gmm.m_step``,
BLAS on both cores: the same two cores the workers use) on an in-memory
array, and prints the per-point times and their ratio (goal: map-reduce
within 1.5x of in-memory).  The files are deleted at the end.

    python benchmarks/out_of_core.py            # --quick: 64 MB of data, a few seconds
    python benchmarks/out_of_core.py --full     # 8 GB of data, 2 GB per worker, several minutes

The operating system caches files in free RAM; after writing, the files'
cached pages are dropped (``posix_fadvise``), so the first pass reads the
disk, later ones may read the cache.  What is out of core is the workers:
neither holds more than a few chunks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emtutor import gmm, mapreduce  # noqa: E402
from emtutor.em import ConvergenceWarning  # noqa: E402

N_FEATURES, N_COMPONENTS = 16, 8


def true_params(rng):
    means = rng.normal(scale=4.0, size=(N_COMPONENTS, N_FEATURES))
    factors = rng.normal(scale=0.5, size=(N_COMPONENTS, N_FEATURES, N_FEATURES))
    covariances = factors @ factors.transpose(0, 2, 1) + np.eye(N_FEATURES)
    weights = rng.dirichlet(np.full(N_COMPONENTS, 5.0))
    return gmm.GMMParams(weights, means, covariances)


def sample(params, n_rows, rng):
    labels = rng.choice(N_COMPONENTS, size=n_rows, p=params.weights)
    chol = np.linalg.cholesky(params.covariances)
    z = rng.standard_normal((n_rows, N_FEATURES))
    return params.means[labels] + np.einsum("nij,nj->ni", chol[labels], z)


def write_chunks(directory: Path, params, n_chunks: int, rows: int, seed: int) -> list[Path]:
    paths = []
    for i in range(n_chunks):
        rng = np.random.default_rng([seed, i])
        path = directory / f"chunk-{i:05d}.npy"
        np.save(path, sample(params, rows, rng))
        with open(path, "rb") as f:  # drop the file's pages from the OS cache
            os.fsync(f.fileno())
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        paths.append(path)
    return paths


def dask_array(paths, rows):
    import dask
    import dask.array as da

    load = dask.delayed(np.load, pure=True)
    return da.concatenate([da.from_delayed(load(str(path)), shape=(rows, N_FEATURES), dtype=float)
                           for path in paths])


class MemorySampler:
    """The largest resident set size of each of the given processes, sampled every ``interval`` s."""

    def __init__(self, pids, interval=0.1):
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak = [0] * len(pids)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for i, process in enumerate(self.processes):
                try:
                    self.peak[i] = max(self.peak[i], process.memory_info().rss)
                except Exception:  # a worker restarting
                    pass
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def in_memory_seconds_per_point(params, n_rows, repeats, seed):
    X = sample(params, n_rows, np.random.default_rng([seed, 10**6]))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        resp, _ = gmm.e_step(X, params)
        gmm.m_step(X, resp, reg_covar=1e-6)
        best = min(best, time.perf_counter() - start)
    return best / n_rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="64 MB of data (the default)")
    mode.add_argument("--full", action="store_true", help="8 GB of data with a 2 GB limit per worker")
    parser.add_argument("--dir", default=None, help="where to write the chunks (default: a new temporary directory)")
    parser.add_argument("--iterations", type=int, default=3, help="EM iterations of the timed fit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import dask
    import distributed

    full = args.full
    rows = 500_000  # 64 MB per chunk
    n_chunks = 125 if full else 1  # 8.0 GB or 64 MB
    if not full:
        rows = 100_000
        n_chunks = 8
    memory_limit = "2GB"
    n_samples = rows * n_chunks
    data_gb = n_samples * N_FEATURES * 8 / 1e9
    rng = np.random.default_rng(args.seed)
    truth = true_params(rng)
    start_params = gmm.GMMParams(np.full(N_COMPONENTS, 1.0 / N_COMPONENTS),
                                 truth.means + rng.normal(scale=1.0, size=truth.means.shape),
                                 np.repeat(np.eye(N_FEATURES)[None] * 4.0, N_COMPONENTS, axis=0))

    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
          f" ({os.cpu_count()} cores)")
    directory = Path(args.dir or tempfile.mkdtemp(prefix="emtutor-out-of-core-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        paths = write_chunks(directory, truth, n_chunks, rows, args.seed)
        print(f"wrote {n_samples:,} points x {N_FEATURES} features = {data_gb:.2f} GB in {n_chunks} .npy chunks "
              f"of {rows:,} rows to {directory} in {time.perf_counter() - t0:.1f} s")

        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      memory_limit=memory_limit, dashboard_address=":0") as cluster, \
                distributed.Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
            X = dask_array(paths, rows)
            with MemorySampler(pids) as memory:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed number of iterations
                    result = mapreduce.fit_gmm(X, N_COMPONENTS, weights=start_params.weights,
                                               means=start_params.means, covariances=start_params.covariances,
                                               max_iter=args.iterations, tol=0.0)
                fit_seconds = time.perf_counter() - t0
                # one more E-step pass alone: what one EM iteration costs
                blocks = list(X.to_delayed()[:, 0])
                centre = result.expectations.centre
                t0 = time.perf_counter()
                stats, _ = dask.compute(mapreduce.gmm_e_step_graph(blocks, result.params, centre=centre))[0]
                gmm.m_step_from_statistics(stats, reg_covar=1e-6)
                pass_seconds = time.perf_counter() - t0
            limit = cluster.workers[0].memory_manager.memory_limit if hasattr(cluster.workers[0], "memory_manager") \
                else None
        passes = 1 + args.iterations + 1  # the checking pass, the first E-step, one per iteration
        print(f"map-reduce fit: {args.iterations} EM iterations ({passes} passes over the data) in "
              f"{fit_seconds:.1f} s, {passes * n_samples / fit_seconds:,.0f} points/s over all passes")
        print(f"one EM iteration (E-step pass + tree sum + M-step) on the cluster: {pass_seconds:.2f} s, "
              f"{n_samples / pass_seconds:,.0f} points/s, {pass_seconds / n_samples * 1e9:.0f} ns per point")
        print(f"peak resident memory per worker: {', '.join(f'{p / 1e9:.2f} GB' for p in memory.peak)} "
              f"(limit {memory_limit} each{'' if limit is None else f' = {limit / 1e9:.2f} GB'}; "
              f"data {data_gb:.2f} GB)")
        mem_rows = 1_000_000 if full else 200_000
        per_point = in_memory_seconds_per_point(result.params, mem_rows, 3, args.seed)
        print(f"in-memory EM iteration (gmm.e_step + gmm.m_step, {mem_rows:,} points in RAM): "
              f"{per_point * 1e9:.0f} ns per point, {1 / per_point:,.0f} points/s")
        ratio = (pass_seconds / n_samples) / per_point
        print(f"ratio map-reduce / in-memory per point: {ratio:.2f} (goal <= 1.5)")
        print(f"final log-likelihood per point: {result.objective / n_samples:.4f}")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        print(f"deleted {directory}")


if __name__ == "__main__":
    main()
