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

The arguments travel as named tuples (``Weights``, ``Tables``, ``Corpus``, ``Job``, ``Config``, ``Thread``,
``Sizes`` below; each rule's scratch is a named tuple beside its update): Numba compiles them into
plain structs, so ``config.window`` costs no more than a tuple's index and says what it is.

Notation: a pair's *input* row is the context word's ``syn0`` row; its *outputs* are the center word
(label 1) and the negatives (label 0), rows of ``syn1neg`` (word2vec.c's ``l1`` is a byte offset into
``syn0``; here ``word`` is the row index).  ``K1 = negative + 1`` slots hold the outputs.
"""
import math
from collections import namedtuple

import numpy as np
from numba import njit

from .prefetch import prefetch_row
from .rng import below, rng_next
from .sampling import draw_alias

MAX_SENTENCE = 10_000  # longest sentence a kernel sees; the corpus reader chunks longer lines

# The trained matrices, as the kernels index them (``rules.kernel_matrix``): float32[V, w], w >= d.
Weights = namedtuple("Weights", "syn0 syn1neg")
# ... and hierarchical softmax's: syn1 float32[V, w] (inner nodes; the last row unused) and gensim's
# Huffman tree, points int32[V, L], codes uint8[V, L], lengths int32[V] (``prep.huffman_tree``);
# syn1neg has 0 rows when no negatives are trained.
HSWeights = namedtuple("HSWeights", "syn0 syn1neg syn1 points codes lengths")
# keep uint64[V]: subsampling thresholds (word w is kept iff a 32-bit draw < keep[w]); negatives
# uint64[V]: the alias table of count^ns_exponent, packed (``sampling.pack_alias_table``).
Tables = namedtuple("Tables", "keep negatives")
# ids int32[N]: vocabulary indices; starts int64[S+1]: sentence boundaries into ids.
Corpus = namedtuple("Corpus", "ids starts")
# Sentences [first, end) of the corpus; the learning rate falls linearly from alpha0 at the job's
# first raw word to alpha1 after its last.
Job = namedtuple("Job", "first end alpha0 alpha1")
# The run's settings a kernel reads (``rules.kernel_config`` builds it from ``Params``): window, the
# negatives per example, CBOW's mean (1) or sum (0), shrink_windows (0: the whole window at every
# center, gensim's shrink_windows=False), threads: the run's worker threads (hot rows merged as
# their mean divide by it, ``hot.py``).
Config = namedtuple("Config", "window negative cbow_mean shrink_windows threads")
# One worker thread's own arrays (``rules.thread_arrays``): rng uint64[1] its generator state,
# sentence int32[MAX_SENTENCE] the subsampled sentence, outputs int64[2, K1] a pair's outputs and
# the next pair's, scratch the rule's named scratch.
Thread = namedtuple("Thread", "rng sentence outputs scratch")
# Compile-time sizes (``rules.sizes``): tuples of None whose *lengths* are the sizes, so that Numba
# compiles (and caches) one specialization per size with constant trip counts in the row loops
# (above ``rules.MAX_CONSTANT_DIM`` an int8 array, whose length is a runtime value).  dim: d;
# outputs: K1 = negative + 1 (rules that unroll over the outputs, else ()); combine: C, the centers
# of a combined block (else ()); loss: (None,) when the kernel computes the exact loss, () when not.
Sizes = namedtuple("Sizes", "dim outputs combine loss")


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
    job_words = max(starts[job.end] - starts[job.first], 1)
    return np.float32(job.alpha0 + (job.alpha1 - job.alpha0) * (starts[s] - starts[job.first]) / job_words)


@njit(inline="always", cache=True)
def reduced_window(state, window, c, n):
    """word2vec.c's dynamic window: reach b uniform in 1..window around position c of n.

    Returns (new rng state, first context position, end position)."""
    state, r = rng_next(state)
    reach = window - below(r, window)
    return state, max(0, c - reach), min(n, c + reach + 1)


@njit(inline="always", cache=True)
def draw_outputs(state, word, negative, table, outputs):
    """outputs[:m] = the center word, then the ``negative`` draws that are not the center word
    (word2vec.c skips those).  Returns (new rng state, m)."""
    outputs[0] = word
    m = 1
    for k in range(negative):
        state, r = rng_next(state)
        target = draw_alias(r, table)
        if target != word:
            outputs[m] = target
            m += 1
    return state, m


@njit(inline="always", cache=True)
def prefetch_next_negatives(state, shrink, negative, table, syn1neg, dim):
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
        prefetch_row(syn1neg, draw_alias(r, table), dim)


@njit(inline="always", cache=True)
def walk(center, update, weights, tables, corpus, job, config, thread, sizes):
    """Train the sentences of one job: ``center(update, ...)`` on every center word's window.

    weights (``Weights`` or ``HSWeights``) are updated in place; tables, corpus, job, config,
    thread and sizes as the named tuples above.
    Returns (pairs trained, summed pair loss, effective words after subsampling); the loss is summed
    as a running product of probabilities (``sgns.log_accumulate``); without the loss it is 0, or
    not finite when a logit was (the divergence check).
    """
    keep, ids, starts = tables.keep, corpus.ids, corpus.starts
    window, shrink = config.window, config.shrink_windows
    rng, sentence = thread.rng, thread.sentence
    state = rng[0]
    pairs = 0
    effective = 0
    loss = 0.0
    prod = 1.0
    for s in range(job.first, job.end):
        alpha = sentence_alpha(job, starts, s)
        n, state = subsample(ids, starts[s], starts[s + 1], keep, state, sentence)
        effective += n
        for c in range(n):
            if shrink:
                state, lo, hi = reduced_window(state, window, c, n)
            else:
                lo, hi = max(0, c - window), min(n, c + window + 1)
            state, trained, prod, loss = center(update, weights, tables, config, thread, sizes,
                                                c, n, lo, hi, alpha, state, prod, loss)
            pairs += trained
    rng[0] = state
    return pairs, loss - math.log(prod), effective


@njit(inline="always", cache=True)
def each_pair(update, weights, tables, config, thread, sizes, c, n, lo, hi, alpha, state, prod, loss):
    """word2vec.c's pair stream for the center at c: for each context a in [lo, hi), a != c, fresh
    outputs (``draw_outputs``), then ``update(weights, scratch, sizes, input row, outputs, m, alpha,
    prod, loss) -> (prod, loss)``.  Returns (rng state, pairs, prod, loss).

    One pair ahead: the next pair's outputs are drawn (into the other row of thread.outputs)
    and its rows prefetched (its input row, syn1neg's rows of its negatives) before this pair
    trains, so that their cache misses overlap this pair's arithmetic instead of following it.
    The draws are the same numbers in the same order (nothing else draws between two pairs of a
    center), so the pairs and the vectors are word2vec.c's, bit for bit as without the look-ahead.
    (It made ``sgns_word2vec`` much faster: bench/results/lab-notes.md.)"""
    table = tables.negatives
    negative = config.negative
    sentence, outputs, scratch = thread.sentence, thread.outputs, thread.scratch
    syn0, syn1neg = weights.syn0, weights.syn1neg
    dim = len(sizes.dim)
    word = sentence[c]
    a = lo if lo != c else lo + 1
    if a >= hi:
        return state, 0, prod, loss
    now, ahead = 0, 1
    state, m = draw_outputs(state, word, negative, table, outputs[now])
    while True:
        following = a + 1 if a + 1 != c else a + 2
        m_next = 0
        if following < hi:
            state, m_next = draw_outputs(state, word, negative, table, outputs[ahead])
            prefetch_row(syn0, sentence[following], dim)
            for o in range(1, m_next):
                prefetch_row(syn1neg, outputs[ahead, o], dim)
        prod, loss = update(weights, scratch, sizes, sentence[a], outputs[now], m, alpha, prod, loss)
        if following >= hi:
            return state, hi - lo - 1, prod, loss
        now, ahead = ahead, now
        m = m_next
        a = following
