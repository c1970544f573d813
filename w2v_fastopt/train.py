"""The training driver: epochs, the learning-rate schedule, worker threads, progress and the exact loss.

The corpus is cut into jobs of about ``JOB_WORDS`` raw words at sentence boundaries.  ``workers``
Python threads take jobs in order from a shared counter and run the rule's GIL-free kernel
(``rules.py``) on each (Hogwild).  A job's learning rate is fixed by its position in the corpus, not
by which thread runs it or when: alpha falls linearly from ``alpha`` at the first word of epoch 1 to
``min_alpha`` after the last word of the last epoch, exactly as if the corpus were read once per epoch
by a single thread.

Stopping and resuming: the threads check a stop flag before every job (a job takes milliseconds), so
Ctrl-C or SIGTERM stops training within a job.  Jobs run in segments of ``SEGMENT_JOBS``; between
segments every thread is idle, and the whole state (weights, position, per-thread RNG states, the
epoch's running totals) is a ``Position`` plus the arrays, which a checkpoint saves.  Resumed from
there, one worker continues bit-identically.
"""
import itertools
import math
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .kernels.rng import seed_states
from .kernels.walk import Job
from .params import check_memory
from .resident import hand_back_after_loading
from .rules import find_rule, kernel_config, kernel_weights, thread_arrays

JOB_WORDS = 10_000
SEGMENT_JOBS = 256


@dataclass
class EpochStats:
    """One epoch's totals. loss: mean loss per (center, context) pair (per example for CBOW); None
    when not computed (``Params.compute_loss`` False)."""
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
class EpochTotals:
    """The running totals of the epoch in progress (the worker threads add to them under
    ``Run.lock``).  raw, effective: words read and kept by subsampling; pairs: (center, context)
    pairs trained; loss: their summed loss; seconds: time spent in the epoch's segments."""
    raw: int = 0
    effective: int = 0
    pairs: int = 0
    loss: float = 0.0
    seconds: float = 0.0

    def to_dict(self):
        return asdict(self)


@dataclass
class Position:
    """Where training stands: the next job of the current epoch, and what is done so far.

    rng_states: one xorshift state per worker thread; totals: the current epoch's EpochTotals;
    history: the finished epochs' EpochStats.
    """
    epoch: int
    job: int
    rng_states: list
    totals: EpochTotals = field(default_factory=EpochTotals)
    history: list = field(default_factory=list)

    @classmethod
    def start(cls, seed, workers):
        return cls(0, 0, [int(s) for s in seed_states(seed, workers)])


class Stopped(Exception):
    """Training stopped at the user's request (Ctrl-C, SIGTERM, a set stop event) within a job."""


class Diverged(RuntimeError):
    """The loss of a job became NaN or infinite (a probability of 0 in float64: a logit beyond
    ±745, weights blown up; without ``compute_loss``, a logit that is NaN or ±inf, ``sgns.loss_term``):
    training stops at once, and no vector is written."""


@dataclass(frozen=True)
class Kernel:
    """A rule's kernel bound to a run: everything a job needs but the job and the thread.

    What every front end runs (the driver's threads for ``Trainer``, the command line and the
    drop-in's ``corpus_file``; gensim's job threads for the drop-in's iterables), so that all select
    the kernel, size its buffers, check memory and stop on divergence alike.  Made by
    ``prepare_kernel``.  rule: the ``rules.Rule``; weights, tables, config, sizes: the kernel's
    arguments of the same names (``walk.py``); params: the ``Params`` they came from.
    """
    rule: object
    weights: tuple
    tables: tuple
    config: tuple
    sizes: tuple
    params: object

    def new_thread(self, state):
        """A worker thread's arrays (``walk.Thread``), its generator at ``state`` (a non-zero uint64)."""
        return thread_arrays(self.rule, private, private(1, np.uint64, state), self.params)

    def run(self, corpus, job, thread, epoch=None):
        """Train one job (a ``walk.Job`` of the ``walk.Corpus`` ``corpus``) on ``thread``; returns
        (pairs, summed loss, effective words).  Raises ``Diverged`` (naming ``epoch`` when given) when
        the loss is not finite: the job's rows may hold NaN, and nothing more should be trained."""
        pairs, loss, effective = self.rule.kernel(self.weights, self.tables, corpus, job, self.config, thread,
                                                  self.sizes)
        if not math.isfinite(loss):
            what = "the loss" if self.params.compute_loss else "a logit"
            where = "" if epoch is None else f" in epoch {epoch + 1}"
            raise Diverged(f"training diverged{where} ({what} became {loss} at learning rate {job.alpha0:.3g}); "
                           f"use a smaller alpha (now {self.params.alpha:g})")
        return pairs, loss, effective

    def matrices(self):
        """The trained matrices (syn0, syn1neg, and hierarchical softmax's syn1), as the kernels index them."""
        return (self.weights.syn0, self.weights.syn1neg) + ((self.weights.syn1,) if self.rule.hs else ())


def prepare_kernel(params, syn0, syn1neg, tables, hs_layer=None):
    """The ``Kernel`` of ``params`` (a ``Params``) over the weights ``syn0``/``syn1neg`` (float32[V, d],
    trained in place: C-contiguous, or ``rules.padded_matrix`` views) and the ``walk.Tables``; with
    ``params.hs``, ``hs_layer`` = (syn1 float32[V, d], points, codes, lengths: ``prep.huffman_tree``).
    MemoryError, before anything is allocated, when the buffers of ``params.workers`` threads would
    not fit."""
    rule = find_rule(params.optimizer, params.shared_negatives, params.sg, params.hs, params.combine)
    weights = kernel_weights(rule, syn0, syn1neg, params, hs_layer)
    sizes = []  # one thread's scratch, counted before anything is allocated

    def count(shape, dtype):
        sizes.append(int(np.prod(shape)) * np.dtype(dtype).itemsize)

    thread_arrays(rule, count, None, params)
    check_memory(params.workers * sum(sizes), f"the {rule.label} buffers of {params.workers} worker threads")
    return Kernel(rule, weights, tables, kernel_config(params), rule.sizes(params), params)


def nothing_trained(history, sample):
    """None, or the one line that says why no epoch of ``history`` had a (center, context) pair."""
    if history and all(stats.pairs == 0 for stats in history):
        return (f"nothing to train: no (center, context) pair in {len(history)} epoch(s) ({history[0].raw_words:,} "
                f"words, {history[0].effective_words:,} left after subsampling in epoch 1): every sentence has "
                f"fewer than two words left; give longer sentences, or a larger sample (now {sample:g})")
    return None


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


@dataclass
class Run:
    """What every job of a training run shares: the prepared kernel, the corpus and the threads.

    corpus: a ``walk.Corpus``; jobs: ``job_boundaries``; threads: one ``walk.Thread`` per worker;
    total_words: the raw words of all epochs (the learning rate's schedule); release: see ``train``."""
    kernel: Kernel
    corpus: tuple
    jobs: np.ndarray
    threads: list
    total_words: int
    stop: threading.Event
    release: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mean_loss(self, totals):
        """The mean loss per pair of ``totals``, None when not computed."""
        return totals.loss / max(totals.pairs, 1) if self.kernel.params.compute_loss else None

    def alpha_at(self, words_done):
        alpha, min_alpha = self.kernel.params.alpha, self.kernel.params.min_alpha
        return alpha - (alpha - min_alpha) * (words_done / self.total_words)

    def run_job(self, thread, epoch, j, totals):
        starts = self.corpus.starts
        base = epoch * int(starts[-1])
        s0, s1 = self.jobs[j], self.jobs[j + 1]
        w0, w1 = base + int(starts[s0]), base + int(starts[s1])
        job = Job(s0, s1, self.alpha_at(w0), self.alpha_at(w1))
        pairs, loss, effective = self.kernel.run(self.corpus, job, thread, epoch)
        with self.lock:
            totals.raw += w1 - w0
            totals.effective += effective
            totals.pairs += pairs
            totals.loss += loss
        if self.release is not None:
            self.release(s1, starts[s1], s0, starts[s0])


def run_segment(run, epoch, first, end, totals, progress=None):
    """Jobs [first, end) of ``epoch`` on all of ``run``'s threads, taken in order from a shared
    counter; returns when all are done, or stopped (``run.stop``); re-raises a thread's error."""
    corpus_words = int(run.corpus.starts[-1])
    base = epoch * corpus_words
    next_job = itertools.count(first)
    errors = []

    def work(thread):
        try:
            for j in next_job:
                if j >= end or run.stop.is_set():
                    return
                run.run_job(thread, epoch, j, totals)
        except BaseException as err:  # re-raised by the main thread
            errors.append(err)
            run.stop.set()

    workers = [threading.Thread(target=work, args=(t,), daemon=True) for t in run.threads]
    for w in workers:
        w.start()
    try:
        for w in workers:
            while w.is_alive():
                w.join(0.1)
                if progress is not None:
                    done = base + totals.raw
                    progress.update(done, run.total_words, epoch, run.alpha_at(done), run.mean_loss(totals))
    except BaseException:  # Ctrl-C or a signal handler's exception: let the threads finish
        run.stop.set()
        for w in workers:
            w.join()
        raise
    if errors:
        raise errors[0]


def train(kernel, corpus, position, *, progress=None, checkpoint=None, stop=None, release=None, until_epoch=None):
    """Train the weights of ``kernel`` (a ``Kernel``, ``prepare_kernel``) on ``corpus`` (a
    ``walk.Corpus`` of vocabulary ids) from ``position`` to the end of ``kernel.params.epochs``.

    position: a Position (``Position.start(seed, workers)`` for a new run), updated as training goes.
    progress: None, or an object with ``compiled(seconds)``, ``update(words_done, words_total,
    epoch, alpha, loss)`` (loss None when not computed) and ``epoch_end(EpochStats)``.
    checkpoint: None, or an object with ``due(position, epoch_ended) -> bool`` and
    ``save(position)``, asked between segments and at every epoch end but the last.
    stop: a threading.Event; when set (or on KeyboardInterrupt in this thread) the workers finish
    their current job and ``Stopped`` is raised.
    release: None, or ``release(end_sentence, end_token, start_sentence, start_token)``, which hands
    back the resident pages of a memory-mapped corpus (``corpus.CorpusStore.release``): called by
    each thread after each job on the job's pages, so the corpus costs a few jobs' worth of memory.
    until_epoch: stop after this many epochs (default ``params.epochs``); the learning rate still
    follows the schedule over ``params.epochs`` (gensim's train() runs one epoch at a time).
    Returns (list of EpochStats of all epochs, seconds spent compiling or loading the kernel).
    """
    params = kernel.params
    run = prepare_run(kernel, corpus, position, stop, release)
    t0 = time.perf_counter()  # compile (first run after install) or load from Numba's cache
    kernel.run(corpus, Job(0, 0, params.alpha, params.alpha), run.threads[0])
    compile_seconds = time.perf_counter() - t0
    hand_back_after_loading(kernel.rule.kernel)  # LLVM linked the kernel; not called again while training
    if progress is not None:
        progress.compiled(compile_seconds)
    n_jobs = len(run.jobs) - 1
    while position.epoch < (params.epochs if until_epoch is None else until_epoch):
        totals = position.totals
        while position.job < n_jobs:
            end = min(position.job + SEGMENT_JOBS, n_jobs)
            t0 = time.perf_counter()
            try:
                run_segment(run, position.epoch, position.job, end, totals, progress)
            except KeyboardInterrupt:
                raise Stopped("interrupted") from None
            finally:
                totals.seconds += time.perf_counter() - t0
            if run.stop.is_set():
                raise Stopped("stopped")
            position.job = end
            if release is not None:  # whatever the jobs' hand-backs missed
                release(run.jobs[end], corpus.starts[run.jobs[end]])
            position.rng_states = [int(t.rng[0]) for t in run.threads]
            if end < n_jobs and checkpoint is not None and checkpoint.due(position, False):
                checkpoint.save(position)
        stats = EpochStats(position.epoch + 1, totals.raw, totals.effective, totals.pairs,
                           totals.seconds, run.mean_loss(totals))
        position.history.append(stats)
        position.epoch, position.job, position.totals = position.epoch + 1, 0, EpochTotals()
        if progress is not None:
            progress.epoch_end(stats)
        if checkpoint is not None and position.epoch < params.epochs and checkpoint.due(position, True):
            checkpoint.save(position)
    if not all(np.isfinite(rows).all() for rows in kernel.matrices()):
        raise Diverged("training diverged: some vectors are not finite; use a smaller alpha "
                       f"(now {params.alpha:g})")
    return position.history, compile_seconds


def prepare_run(kernel, corpus, position, stop, release):
    """The ``Run`` of ``train``'s arguments: the jobs and each worker's arrays."""
    params = kernel.params
    if len(position.rng_states) != params.workers:
        raise ValueError(f"the saved state has {len(position.rng_states)} worker RNG states; "
                         f"resume with workers={len(position.rng_states)}")
    jobs = job_boundaries(corpus.starts)
    if release is not None:  # the binary searches touched pages all over a memory-mapped ``starts``
        release(len(corpus.starts), 0)
    threads = [kernel.new_thread(state) for state in position.rng_states]
    return Run(kernel, corpus, jobs, threads, int(corpus.starts[-1]) * params.epochs,
               stop if stop is not None else threading.Event(), release)
