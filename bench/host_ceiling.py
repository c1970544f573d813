"""The host's own 1-to-N thread scaling, now: what a program's worker scaling is read against.

    python bench/host_ceiling.py [--workers 2] [--seconds 2]

Two loads, each run by one thread and then by ``--workers`` threads at once, every thread on its own
data (nothing shared, not even a cache line; only the GIL, taken for a moment between steps of a few
ms), so that nothing in a program's design can limit their scaling: what is left is the host (its
cores, their clock, the cache and memory other tenants leave us; a cloud vCPU can be half of a core, or
share it with a neighbour's busy hour).

- compute: the kernels' arithmetic without their memory traffic (``dot_axpy``: a dot product and an
  update of 100-float rows, as the kernels do per output, over a block of 8 rows that stays in L1):
  cores and clock.
- rows: random rows read and written (``touch_rows``) of a float32 matrix the size of the engine
  table's syn0 + syn1neg (``ROWS`` rows of 100: 27 MB, from L3), one matrix per thread: the training
  kernels' row traffic without their arithmetic.

One thread, then N threads, three times by turns, each thread doing the work one thread did in a third
of ``--seconds``; a load's scaling is N x one thread's time over the N threads' time.  Prints one
JSON line: {"compute": x, "rows": x}.  Neither is a strict ceiling: a kernel that mixes both kinds of
work can scale above the compute load (the README's scaling table).
The host moves from minute to minute: read these beside a program's ratios measured in the same
minutes (``bench_engine.py`` runs this between its scaling pairs), not against another hour's.
"""
import argparse
import json
import threading
import time

import numpy as np
from numba import njit

from w2v_fastopt.train import private

ROWS = 2 * 34_212  # syn0 + syn1neg of data/ x10 (bench_engine.py's corpus): 34,212 words
DIM = 100
BATCH = 20_000  # rows per touch_rows call


@njit(cache=True, fastmath=True, nogil=True)
def dot_axpy(block, steps):
    """``steps`` times, for each row k > 0 of ``block`` (float32[8, d]): f = u . block[k], then
    block[k] += c u with u = block[0] and c = +-1/1024 by turns (the rows stay where they were, no
    value drifts towards a denormal): the kernels' per-output work (``sgns.py``), in L1.  Returns
    the sum of the f's (so that none is dropped)."""
    u = block[0]
    total = np.float32(0.0)
    for step in range(steps):
        c = np.float32(1.0 / 1024) if step % 2 else np.float32(-1.0 / 1024)
        for k in range(1, block.shape[0]):
            f = np.float32(0.0)
            for i in range(block.shape[1]):
                f += u[i] * block[k, i]
            total += f
            for i in range(block.shape[1]):
                block[k, i] += c * u[i]
    return total


@njit(cache=True, fastmath=True, nogil=True)
def touch_rows(rows, order):
    """Read and write every row in ``order`` (rows[r] += 1e-7): the kernels' row traffic, no math.
    rows: float32[R, d]; order: int64[n], each in [0, R)."""
    for r in order:
        for i in range(rows.shape[1]):
            rows[r, i] += np.float32(1e-7)


def compute_step(data):
    dot_axpy(data, 100_000)  # a few ms: a step holds the GIL only to start


def rows_step(data):
    rows, order = data
    touch_rows(rows, order)


def thread_data(load, seed):
    """One thread's own arrays for ``load``."""
    rng = np.random.default_rng(seed)
    if load == "compute":
        block = private((8, DIM), np.float32)  # alone on its cache lines, as the kernels' buffers
        block[...] = rng.random((8, DIM), dtype=np.float32)
        return block
    return np.zeros((ROWS, DIM), np.float32), rng.integers(0, ROWS, BATCH)


def run_threads(step, datas, steps):
    """Wall seconds for len(datas) threads each doing ``steps`` steps on its own data."""
    def work(data):
        for _ in range(steps):
            step(data)

    threads = [threading.Thread(target=work, args=(data,)) for data in datas]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def scaling(load, workers, seconds, turns=3):
    """(N threads' rate) / (one thread's rate) for ``load``: one thread, then N threads, ``turns``
    times by turns, each thread doing one thread's ``seconds`` / ``turns`` of work each time."""
    step = compute_step if load == "compute" else rows_step
    datas = [thread_data(load, seed) for seed in range(workers)]
    step(datas[0])  # load the kernel, touch the pages
    t0, steps = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds / turns:
        step(datas[0])
        steps += 1
    one = many = 0.0
    for _ in range(turns):
        one += run_threads(step, datas[:1], steps)
        many += run_threads(step, datas, steps)
    return workers * one / many


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seconds", type=float, default=2.0,
                   help="one thread's work per load and thread count (%(default)s s)")
    a = p.parse_args()
    print(json.dumps({load: round(scaling(load, a.workers, a.seconds), 4) for load in ("compute", "rows")}))


if __name__ == "__main__":
    main()
