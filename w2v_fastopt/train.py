"""The training driver: epochs, the learning-rate schedule, worker threads, progress and the exact loss.

The corpus is cut into jobs of about ``JOB_WORDS`` raw words at sentence boundaries.  ``workers``
Python threads take jobs in order from a shared counter and run a GIL-free kernel on each (Hogwild).
A job's learning rate is fixed by its position in the corpus, not by which thread runs it or when:
alpha falls linearly from ``alpha`` at the first word of epoch 1 to ``min_alpha`` after the last word
of the last epoch, exactly as if the corpus were read once per epoch by a single thread.
"""
import itertools
import threading
import time
from dataclasses import dataclass

import numpy as np

from .kernels.rng import seed_states
from .kernels.sgns import MAX_SENTENCE, sgns_shared, sgns_word2vec

JOB_WORDS = 10_000


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


def job_boundaries(starts, job_words=JOB_WORDS):
    """Sentence indices cutting the corpus into jobs of ~job_words tokens: int64[J+1], from 0 to S."""
    n_sentences = starts.shape[0] - 1
    targets = np.arange(job_words, starts[-1], job_words)
    cuts = np.searchsorted(starts, targets, side="left")
    return np.unique(np.concatenate([[0], cuts, [n_sentences]])).astype(np.int64)


def private(shape, dtype, fill=0):
    """A thread's own array, alone on its cache lines (64-byte aligned, 64 bytes of padding after).

    Small per-thread buffers allocated one after the other share cache lines; two threads writing
    them in their inner loops (word2vec.c's ``neu1e``) then fight over the line on every update
    (measured here: 2 workers 1.17x one worker instead of ~2x).
    """
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(nbytes + 192, dtype=np.uint8)
    start = -raw.ctypes.data % 64 + 64
    array = raw[start:start + nbytes].view(dtype).reshape(shape)
    array[...] = fill
    return array


class _Totals:
    """Counters the worker threads add to under a lock and the progress loop reads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.raw = 0
        self.effective = 0
        self.pairs = 0
        self.loss = 0.0
        self.error = None

    def add(self, raw, effective, pairs, loss):
        with self.lock:
            self.raw += raw
            self.effective += effective
            self.pairs += pairs
            self.loss += loss


def train(syn0, syn1neg, tables, ids, starts, *, window, negative, alpha, min_alpha, epochs,
          workers, seed, shared_negatives, progress):
    """Train ``syn0``/``syn1neg`` (float32[V, d], in place) for ``epochs`` passes over the corpus.

    tables: (keep, accept, alias) sampling tables; ids/starts: the corpus as vocabulary ids.
    progress: an object with ``compiled(seconds)``, ``update(words_done, words_total, epoch, alpha,
    loss)`` and ``epoch_end(EpochStats)``, or None.
    Returns (list of EpochStats, seconds spent compiling or loading the kernel).
    """
    jobs = job_boundaries(starts)
    corpus_words = int(starts[-1])
    total_words = corpus_words * epochs
    weights = (syn0, syn1neg)
    corpus = (ids, starts)
    params = (int(window), int(negative))
    dim = syn0.shape[1]
    states = seed_states(seed, workers)
    if shared_negatives:
        kernel = sgns_shared
        sizes = ((None,) * dim, (None,) * (negative + 1))
        buffers = [(private(1, np.uint64, states[w]), private(MAX_SENTENCE, np.int32),
                    private(2 * window, np.int64), private(negative + 1, np.int64),
                    private((2 * window, negative + 1), np.float32),
                    private((2 * window, negative + 1), np.float32),
                    private((2 * window, dim), np.float32)) for w in range(workers)]
    else:
        kernel = sgns_word2vec
        sizes = ((None,) * dim,)
        buffers = [(private(1, np.uint64, states[w]), private(MAX_SENTENCE, np.int32),
                    private(dim, np.float32)) for w in range(workers)]

    # Compile (first run after install) or load from Numba's cache, outside the timed epochs.
    t0 = time.perf_counter()
    kernel(weights, tables, corpus, (0, 0, alpha, alpha), params, buffers[0], sizes)
    compile_seconds = time.perf_counter() - t0
    if progress is not None:
        progress.compiled(compile_seconds)

    def alpha_at(words_done):
        return alpha - (alpha - min_alpha) * (words_done / total_words)

    history = []
    for epoch in range(epochs):
        totals = _Totals()
        next_job = itertools.count()
        base = epoch * corpus_words

        def work(thread):
            try:
                for j in next_job:
                    if j >= len(jobs) - 1:
                        return
                    s0, s1 = jobs[j], jobs[j + 1]
                    w0, w1 = base + int(starts[s0]), base + int(starts[s1])
                    job = (s0, s1, alpha_at(w0), alpha_at(w1))
                    pairs, loss, effective = kernel(weights, tables, corpus, job, params, thread, sizes)
                    totals.add(w1 - w0, effective, pairs, loss)
            except BaseException as err:  # re-raised by the main thread
                totals.error = err

        t0 = time.perf_counter()
        threads = [threading.Thread(target=work, args=(buffers[w],), daemon=True)
                   for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.1)
                if progress is not None:
                    done = base + totals.raw
                    progress.update(done, total_words, epoch, alpha_at(done),
                                    totals.loss / max(totals.pairs, 1))
        if totals.error is not None:
            raise totals.error
        stats = EpochStats(epoch + 1, totals.raw, totals.effective, totals.pairs,
                           time.perf_counter() - t0, totals.loss / max(totals.pairs, 1))
        history.append(stats)
        if progress is not None:
            progress.epoch_end(stats)
    return history, compile_seconds
