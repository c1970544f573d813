"""word2vec.c's corpus walk, written once: sentence -> subsample -> center -> reduced window -> update.

Every training kernel is ``walk(center, update, ...)`` with two statically known functions:

    for each sentence s of the job:           alpha from s's position (linear over the job)
        subsample s into ``sentence``          (word2vec.c's formula, thresholds in ``keep``)
        for each center c of the sentence:     reach b uniform in 1..window (or window: shrink off)
            center(update, ...)                one center word and its window [lo, hi)

``center`` decides what one center word's window trains: ``each_pair`` (below) draws fresh outputs
for every (center, context) pair and calls ``update`` once per pair, word2vec.c's pair stream, used
by SGD, Heun, Runge-Kutta and soft batch; ``sgns.shared_window`` draws one set of negatives per
center and calls ``update`` once on the whole window (a block).

``walk``, the centers and the updates are ``inline="always"``: Numba pastes them into the one thin
``cache=True`` kernel of each rule, so every call is direct, each kernel caches on its own, and no
update is compiled apart from its kernel.  (A plain ``@njit`` callee is compiled into a library of its
own *and* linked into its caller's as a weak symbol: in the process that compiled it, the caller's
call binds to the callee's own copy; loaded from the cache, to the caller's copy, which LLVM
optimized again inside the caller.  The two copies round differently under ``FASTMATH``: Heun, RK4
and soft batch used to give other vectors on the first run after a fresh cache than on later runs.)

Notation: a pair's *input* row is the context word's ``syn0`` row; its *outputs* are the center word
(label 1) and the negatives (label 0), rows of ``syn1neg`` (word2vec.c's ``l1`` is a byte offset into
``syn0``; here ``word`` is the row index).  ``K1 = negative + 1`` slots hold the outputs.
"""
import math

import numpy as np
from numba import njit

from .prefetch import prefetch_row
from .rng import below, rng_next
from .sampling import draw_alias

MAX_SENTENCE = 10_000  # longest sentence a kernel sees; the corpus reader chunks longer lines


@njit(inline="always", cache=True)
def subsample(ids, begin, end, keep, state, sentence):
    """Copy ``ids[begin:end]`` into ``sentence``, dropping word w with probability 1 - keep[w]/2^32.

    Returns ``(number kept, new rng state)``.  A word whose keep threshold is 2^32 costs no draw.
    """
    n = 0
    for p in range(begin, end):
        w = ids[p]
        k = keep[w]
        if k < np.uint64(4294967296):
            state, r = rng_next(state)
            if (r >> np.uint64(32)) >= k:
                continue
        sentence[n] = w
        n += 1
    return n, state


@njit(inline="always", cache=True)
def sentence_alpha(job, starts, s):
    """Learning rate for sentence s: linear from the job's first to its last raw word."""
    s_begin, s_end, alpha0, alpha1 = job
    job_words = max(starts[s_end] - starts[s_begin], 1)
    return np.float32(alpha0 + (alpha1 - alpha0) * (starts[s] - starts[s_begin]) / job_words)


@njit(inline="always", cache=True)
def reduced_window(state, window, c, n):
    """word2vec.c's dynamic window: reach b uniform in 1..window around position c of n.

    Returns (new rng state, first context position, end position)."""
    state, r = rng_next(state)
    reach = window - below(r, window)
    return state, max(0, c - reach), min(n, c + reach + 1)


@njit(inline="always", cache=True)
def draw_outputs(state, word, negative, accept, alias, outputs):
    """outputs[:m] = the center word, then the ``negative`` draws that are not the center word
    (word2vec.c skips those).  Returns (new rng state, m)."""
    outputs[0] = word
    m = 1
    for k in range(negative):
        state, r = rng_next(state)
        target = draw_alias(r, accept, alias)
        if target != word:
            outputs[m] = target
            m += 1
    return state, m


@njit(inline="always", cache=True)
def prefetch_next_negatives(state, shrink, negative, accept, alias, syn1neg, dim):
    """Prefetch the syn1neg rows of the next center's negatives, peeked at on a copy of the rng
    state: its window takes one draw (when windows shrink), its negatives the next ``negative``.
    For the shared-negatives rule, which draws a center's negatives in one go: called before
    the current center trains, so that those rows arrive meanwhile; the walk draws the same numbers
    again when it gets there (the stream is untouched).  At a sentence's end the peek is wrong (the
    next draws subsample the next sentence) and only costs a few useless prefetches."""
    if shrink:
        state, r = rng_next(state)
    for k in range(negative):
        state, r = rng_next(state)
        prefetch_row(syn1neg, draw_alias(r, accept, alias), dim)


@njit(inline="always", cache=True)
def walk(center, update, weights, tables, corpus, job, params, thread, sizes):
    """Train the sentences of one job: ``center(update, ...)`` on every center word's window.

    weights: (syn0 float32[V, d], syn1neg float32[V, d]), updated in place.
    tables:  (keep uint64[V], accept uint64[V], alias int32[V]) from ``vocab``/``sampling``.
    corpus:  (ids int32[N] vocabulary indices, starts int64[S+1] sentence boundaries into ids).
    job:     (first sentence, end sentence, alpha at the job's first word, alpha after its last word);
             alpha decays linearly over the job's raw words.
    params:  (window, negative, cbow_mean, shrink_windows, threads); cbow_mean is read by CBOW only;
             shrink_windows 0 takes the whole window at every center (gensim's shrink_windows=False);
             threads, the worker threads of the run, by the rules that average their hot rows (``hot.py``).
    thread:  (rng uint64[1], sentence int32[MAX_SENTENCE], outputs int64[2, K1], scratch): one thread's
             own arrays (``rules.thread_arrays``); ``scratch`` is the rule's.
    sizes:   compile-time sizes, tuples of None whose *lengths* are d (and K1 for the shared rule):
             Numba compiles (and caches) one specialization per size, with constant trip counts in
             the row loops (+15-20% words/s at d=100 over a runtime d, measured here).  The last
             is the loss switch (``rules.loss_switch``): (None,) computes the exact loss, () not.
    Returns (pairs trained, summed pair loss, effective words after subsampling); the loss is summed
    as a running product of probabilities (``sgns.log_accumulate``); without the loss it is 0, or
    not finite when a logit was (the divergence check).
    """
    keep = tables[0]
    ids, starts = corpus
    window, shrink = params[0], params[3]
    rng, sentence = thread[0], thread[1]
    state = rng[0]
    pairs = 0
    effective = 0
    loss = 0.0
    prod = 1.0
    for s in range(job[0], job[1]):
        alpha = sentence_alpha(job, starts, s)
        n, state = subsample(ids, starts[s], starts[s + 1], keep, state, sentence)
        effective += n
        for c in range(n):
            if shrink:
                state, lo, hi = reduced_window(state, window, c, n)
            else:
                lo, hi = max(0, c - window), min(n, c + window + 1)
            state, trained, prod, loss = center(update, weights, tables, params, thread, sizes,
                                                c, n, lo, hi, alpha, state, prod, loss)
            pairs += trained
    rng[0] = state
    return pairs, loss - math.log(prod), effective


@njit(inline="always", cache=True)
def each_pair(update, weights, tables, params, thread, sizes, c, n, lo, hi, alpha, state, prod, loss):
    """word2vec.c's pair stream for the center at c: for each context a in [lo, hi), a != c, fresh
    outputs (``draw_outputs``), then ``update(weights, scratch, sizes, input row, outputs, m, alpha,
    prod, loss) -> (prod, loss)``.  Returns (rng state, pairs, prod, loss).

    One pair ahead: the next pair's outputs are drawn (into the other row of thread[2], int64[2, K1])
    and its rows prefetched (its input row, syn1neg's rows of its negatives) before this pair
    trains, so that their cache misses overlap this pair's arithmetic instead of following it.
    The draws are the same numbers in the same order (nothing else draws between two pairs of a
    center), so the pairs and the vectors are word2vec.c's, bit for bit as without the look-ahead.
    Measured: +28% words/s for ``sgns_word2vec``, one worker (bench/results/lab-notes.md, 2026-12-02)."""
    accept, alias = tables[1], tables[2]
    negative = params[1]
    sentence, outputs, scratch = thread[1], thread[2], thread[3]
    syn0, syn1neg = weights[0], weights[1]
    dim = len(sizes[0])
    word = sentence[c]
    a = lo if lo != c else lo + 1
    if a >= hi:
        return state, 0, prod, loss
    now, ahead = 0, 1
    state, m = draw_outputs(state, word, negative, accept, alias, outputs[now])
    while True:
        following = a + 1 if a + 1 != c else a + 2
        m_next = 0
        if following < hi:
            state, m_next = draw_outputs(state, word, negative, accept, alias, outputs[ahead])
            prefetch_row(syn0, sentence[following], dim)
            for o in range(1, m_next):
                prefetch_row(syn1neg, outputs[ahead, o], dim)
        prod, loss = update(weights, scratch, sizes, sentence[a], outputs[now], m, alpha, prod, loss)
        if following >= hi:
            return state, hi - lo - 1, prod, loss
        now, ahead = ahead, now
        m = m_next
        a = following
