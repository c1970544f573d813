"""The training driver: epochs, the learning-rate schedule, worker threads, progress and the exact loss.

The corpus is cut into jobs of about ``JOB_WORDS`` raw words at sentence boundaries.  ``workers``
Python threads take jobs in order from a shared counter and run a GIL-free kernel on each (Hogwild).
A job's learning rate is fixed by its position in the corpus, not by which thread runs it or when:
alpha falls linearly from ``alpha`` at the first word of epoch 1 to ``min_alpha`` after the last word
of the last epoch, exactly as if the corpus were read once per epoch by a single thread.

Stopping and resuming: the threads check a stop flag before every job (a job takes milliseconds), so
Ctrl-C or SIGTERM stops training within a job.  Jobs run in segments of ``SEGMENT_JOBS``; between
segments every thread is idle, and the whole state (weights, position, per-thread RNG states, the
epoch's running totals) is a ``Position`` plus the arrays, which a checkpoint saves.  Resumed from
there, one worker continues bit-identically.
"""
import itertools
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .kernels.rng import seed_states
from .kernels.sgns import MAX_SENTENCE, sgns_shared, sgns_word2vec
from .kernels.solvers import sgns_heun, sgns_runge_kutta, sgns_soft_batch, tableau_arrays

JOB_WORDS = 10_000
SEGMENT_JOBS = 256


@dataclass
class EpochStats:
    """One epoch's totals. loss: mean SGNS loss per (center, context) pair."""
    epoch: int
    raw_words: int
    effective_words: int
    pairs: int
    seconds: float
    loss: float

    @property
    def words_per_second(self):
        return self.effective_words / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class Position:
    """Where training stands: the next job of the current epoch, and what is done so far.

    rng_states: one xorshift state per worker thread.  totals: the current epoch's raw words,
    effective words, pairs, summed loss and seconds.  history: the finished epochs' EpochStats.
    """
    epoch: int
    job: int
    rng_states: list
    totals: list = field(default_factory=lambda: [0, 0, 0, 0.0, 0.0])
    history: list = field(default_factory=list)

    @classmethod
    def start(cls, seed, workers):
        return cls(0, 0, [int(s) for s in seed_states(seed, workers)])


class Stopped(Exception):
    """Training stopped at the user's request (Ctrl-C, SIGTERM, a set stop event) within a job."""


def job_boundaries(starts, job_words=JOB_WORDS):
    """Sentence indices cutting the corpus into jobs of ~job_words tokens: int64[J+1], from 0 to S."""
    n_sentences = starts.shape[0] - 1
    targets = np.arange(job_words, starts[-1], job_words)
    cuts = np.searchsorted(starts, targets, side="left")
    return np.unique(np.concatenate([[0], cuts, [n_sentences]])).astype(np.int64)


def private(shape, dtype, fill=0):
    """A thread's own array, alone on its cache lines (64-byte aligned, 64 bytes of padding after).

    Small per-thread buffers allocated one after the other share cache lines; two threads writing
    them in their inner loops (word2vec.c's ``neu1e``) would fight over the line on every update.
    """
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(nbytes + 192, dtype=np.uint8)
    start = -raw.ctypes.data % 64 + 64
    array = raw[start:start + nbytes].view(dtype).reshape(shape)
    array[...] = fill
    return array


class _Totals:
    """Counters the worker threads add to under a lock and the progress loop reads."""

    def __init__(self, raw=0, effective=0, pairs=0, loss=0.0):
        self.lock = threading.Lock()
        self.raw, self.effective, self.pairs, self.loss = raw, effective, pairs, loss
        self.error = None

    def add(self, raw, effective, pairs, loss):
        with self.lock:
            self.raw += raw
            self.effective += effective
            self.pairs += pairs
            self.loss += loss


def train(syn0, syn1neg, tables, ids, starts, *, window, negative, alpha, min_alpha, epochs,
          workers, shared_negatives, position, progress=None, checkpoint=None, stop=None,
          release=None, optimizer="sgd", accumulate=None):
    """Train ``syn0``/``syn1neg`` (float32[V, d], in place) from ``position`` to the end of ``epochs``.

    tables: (keep, accept, alias) sampling tables; ids/starts: the corpus as vocabulary ids.
    position: a Position (``Position.start(seed, workers)`` for a new run); updated as training goes.
    progress: an object with ``compiled(seconds)``, ``update(words_done, words_total, epoch, alpha,
    loss)`` and ``epoch_end(EpochStats)``, or None.
    checkpoint: None, or ``(should_save(position, epoch_ended) -> bool, save(position))``, asked
    between segments and at every epoch end.
    stop: a threading.Event; when set (or on KeyboardInterrupt in this thread) the workers finish
    their current job and ``Stopped`` is raised.
    release: None, or ``release(end_sentence, end_token, start_sentence, start_token)``, which hands
    back the resident pages of a memory-mapped corpus (``corpus.CorpusStore.release``): called by
    each thread after each job on the job's pages, so the corpus costs a few jobs' worth of memory
    (measured: 2-4 MB of token ids resident at 100M tokens).
    optimizer: "sgd" (the kernel ``shared_negatives`` picks), "heun" or "rk4" (a Runge-Kutta step
    per pair: ``sgns_heun``, ``sgns_runge_kutta``) or "softbatch" (the steps of ``accumulate`` pairs applied together, default 4); the
    last three run on word2vec.c's pair stream (kernels/solvers.py), whatever ``shared_negatives``.
    Returns (list of EpochStats of all epochs, seconds spent compiling or loading the kernel).
    """
    if len(position.rng_states) != workers:
        raise ValueError(f"the saved state has {len(position.rng_states)} worker RNG states; "
                         f"resume with workers={len(position.rng_states)}")
    jobs = job_boundaries(starts)
    if release is not None:  # the binary searches touched pages all over a memory-mapped ``starts``
        release(len(starts), 0)
    n_jobs = len(jobs) - 1
    corpus_words = int(starts[-1])
    total_words = corpus_words * epochs
    weights = (syn0, syn1neg)
    corpus = (ids, starts)
    params = (int(window), int(negative))
    dim = syn0.shape[1]
    stop = stop if stop is not None else threading.Event()
    k1 = negative + 1
    if optimizer == "heun":
        kernel = sgns_heun
        sizes = ((None,) * dim,)
        buffers = [(private(1, np.uint64, r), private(MAX_SENTENCE, np.int32), private(k1, np.int64),
                    (private(dim, np.float32), private(dim, np.float32), private(k1, np.float32),
                     private(k1, np.float32), private(k1, np.float32), private(k1, np.float32)))
                   for r in position.rng_states]
    elif optimizer == "rk4":
        kernel = sgns_runge_kutta
        a, b = tableau_arrays(optimizer)
        params = params + ((a, b),)
        sizes = ((None,) * dim,)
        s = len(b)
        buffers = [(private(1, np.uint64, r), private(MAX_SENTENCE, np.int32), private(k1, np.int64),
                    (private(dim, np.float32), private((k1, dim), np.float32),
                     private((s, dim), np.float32), private((s, k1, dim), np.float32),
                     private((k1, dim), np.float32), private(k1, np.int64), private(k1, np.int64)))
                   for r in position.rng_states]
    elif optimizer == "softbatch":
        kernel = sgns_soft_batch
        steps = 4 if accumulate is None else int(accumulate)
        params = params + (steps,)
        sizes = ((None,) * dim,)
        buffers = [(private(1, np.uint64, r), private(MAX_SENTENCE, np.int32), private(k1, np.int64),
                    private((steps, k1 + 1), np.int64), private((steps, k1 + 1, dim), np.float32),
                    private(steps, np.int64)) for r in position.rng_states]
    elif shared_negatives:
        kernel = sgns_shared
        sizes = ((None,) * dim, (None,) * (negative + 1))
        buffers = [(private(1, np.uint64, s), private(MAX_SENTENCE, np.int32),
                    private(2 * window, np.int64), private(negative + 1, np.int64),
                    private((2 * window, negative + 1), np.float32),
                    private((2 * window, negative + 1), np.float32),
                    private((2 * window, dim), np.float32)) for s in position.rng_states]
    else:
        kernel = sgns_word2vec
        sizes = ((None,) * dim,)
        buffers = [(private(1, np.uint64, s), private(MAX_SENTENCE, np.int32),
                    private(dim, np.float32)) for s in position.rng_states]

    # Compile (first run after install) or load from Numba's cache, outside the timed epochs.
    t0 = time.perf_counter()
    kernel(weights, tables, corpus, (0, 0, alpha, alpha), params, buffers[0], sizes)
    compile_seconds = time.perf_counter() - t0
    if progress is not None:
        progress.compiled(compile_seconds)

    def alpha_at(words_done):
        return alpha - (alpha - min_alpha) * (words_done / total_words)

    def run_segment(epoch, first, end, totals):
        """Jobs [first, end) of ``epoch`` on all threads; returns when all are done or stopped."""
        base = epoch * corpus_words
        next_job = itertools.count(first)

        def work(thread):
            try:
                for j in next_job:
                    if j >= end or stop.is_set():
                        return
                    s0, s1 = jobs[j], jobs[j + 1]
                    w0, w1 = base + int(starts[s0]), base + int(starts[s1])
                    job = (s0, s1, alpha_at(w0), alpha_at(w1))
                    pairs, loss, effective = kernel(weights, tables, corpus, job, params, thread, sizes)
                    totals.add(w1 - w0, effective, pairs, loss)
                    if release is not None:
                        release(s1, starts[s1], s0, starts[s0])
            except BaseException as err:  # re-raised by the main thread
                totals.error = err
                stop.set()

        threads = [threading.Thread(target=work, args=(b,), daemon=True) for b in buffers]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.1)
                    if progress is not None:
                        done = base + totals.raw
                        progress.update(done, total_words, epoch, alpha_at(done),
                                        totals.loss / max(totals.pairs, 1))
        except BaseException:  # Ctrl-C or a signal handler's exception: let the threads finish
            stop.set()
            for t in threads:
                t.join()
            raise
        if totals.error is not None:
            raise totals.error

    while position.epoch < epochs:
        epoch = position.epoch
        raw, effective, pairs, loss, seconds = position.totals
        totals = _Totals(raw, effective, pairs, loss)
        while position.job < n_jobs:
            end = min(position.job + SEGMENT_JOBS, n_jobs)
            t0 = time.perf_counter()
            try:
                run_segment(epoch, position.job, end, totals)
            except KeyboardInterrupt:
                raise Stopped("interrupted") from None
            finally:
                seconds += time.perf_counter() - t0
            if stop.is_set():
                raise Stopped("stopped")
            position.job = end
            if release is not None:  # whatever the jobs' hand-backs missed
                release(jobs[end], starts[jobs[end]])
            position.rng_states = [int(b[0][0]) for b in buffers]
            position.totals = [totals.raw, totals.effective, totals.pairs, totals.loss, seconds]
            if end < n_jobs and checkpoint is not None and checkpoint[0](position, False):
                checkpoint[1](position)
        stats = EpochStats(epoch + 1, totals.raw, totals.effective, totals.pairs, seconds,
                           totals.loss / max(totals.pairs, 1))
        position.history.append(stats)
        position.epoch, position.job, position.totals = epoch + 1, 0, [0, 0, 0, 0.0, 0.0]
        if progress is not None:
            progress.epoch_end(stats)
        if checkpoint is not None and position.epoch < epochs and checkpoint[0](position, True):
            checkpoint[1](position)
    return position.history, compile_seconds
