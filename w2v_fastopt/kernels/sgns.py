"""Skip-gram negative-sampling (SGNS) update kernels: one kernel per update rule, gradients by hand.

Notation (word2vec.c's): for a (center, context) pair the *input* vector is the context word's row
``u = syn0[context]``; the *output* vectors are ``v = syn1neg[center]`` (label 1) and
``n_k = syn1neg[neg_k]`` for k negatives drawn from unigram^ns_exponent (label 0).  The pair's loss is

    L = -log σ(u·v) - Σ_k log σ(-u·n_k)

and with f = u·t for an output t and label y ∈ {1, 0}, since dσ(f)/df = σ(f)(1-σ(f)):

    ∂L/∂f = σ(f) - y
    ∂L/∂u = Σ_t (σ(f_t) - y_t) t        ∂L/∂t = (σ(f_t) - y_t) u

SGD with learning rate α moves every row against its gradient.  With ``g_t = α (y_t - σ(f_t))``:

    u += Σ_t g_t t        t += g_t u

(word2vec.c calls Σ_t g_t t ``neu1e`` and adds it to u after all outputs are updated; so do we.)

The sigmoid: σ(f) = (1 + tanh(f/2)) / 2 with tanh as a [13/6] rational function (Eigen's float
tanh; |error| < 4e-7 on all of ℝ, see tests) instead of a libm exp and a division per dot product: it
is pure arithmetic, so the shared-negatives kernel computes a whole block of them in one vectorized
loop.  There is no table and no clamp to speak of (tanh is clamped at |f/2| = 9, where it equals 1 in
float32), so there is nothing to *saturate* (word2vec.c: beyond ±6 it uses the limit gradient) or to
*skip* (gensim: beyond ±6 it drops the sample): every pair gets its true gradient to float32 precision.

The loss is exact: -log σ(f) for positives and -log σ(-f) for negatives, summed in float64 as a
running product of probabilities that is turned into a log only when it gets small (one ``log`` per
~hundreds of terms).  A probability below 1e-6, where 1 - σ loses digits, is recomputed with exp.

A negative that equals the center word is skipped (word2vec.c and gensim do the same).

Threads: the kernels release the GIL; several threads update the shared ``syn0``/``syn1neg`` without
locks (Hogwild, as word2vec.c and gensim).  Each thread has its own RNG state (``rng[0]``), so with one
thread and a fixed seed a run is bit-identical; with several it is not.
"""
import math

import numpy as np
from numba import njit

from . import FASTMATH
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


@njit(inline="always", cache=True, fastmath=FASTMATH)
def sigmoid(f):
    """σ(f) in float32 from a rational tanh (no exp, vectorizable); |error| < 4e-7."""
    x = min(max(np.float32(0.5) * f, np.float32(-9.0)), np.float32(9.0))
    x2 = x * x
    p = x2 * np.float32(-2.76076847742355e-16) + np.float32(2.00018790482477e-13)
    p = x2 * p + np.float32(-8.60467152213735e-11)
    p = x2 * p + np.float32(5.12229709037114e-08)
    p = x2 * p + np.float32(1.48572235717979e-05)
    p = x2 * p + np.float32(6.37261928875436e-04)
    p = x2 * p + np.float32(4.89352455891786e-03)
    q = x2 * np.float32(1.19825839466702e-06) + np.float32(1.18534705686654e-04)
    q = x2 * q + np.float32(2.26843463243900e-03)
    q = x2 * q + np.float32(4.89352518554385e-03)
    return np.float32(0.5) + np.float32(0.5) * (x * p / q)


@njit(inline="always", cache=True)
def log_accumulate(prod, loss, f, sig, label):
    """Fold the probability of ``label`` (σ(f) for 1, 1 - σ(f) for 0) into ``prod``, a running product
    whose -log is moved into ``loss`` before it underflows.  Returns (prod, loss)."""
    p = np.float64(sig) if label else 1.0 - np.float64(sig)
    if p < 1e-6:  # 1 - σ has lost its digits, or σ is tiny: the exact value
        p = 1.0 / (1.0 + math.exp(-np.float64(f) if label else np.float64(f)))
    prod *= p
    if prod < 1e-200:
        loss -= math.log(prod)
        prod = 1.0
    return prod, loss


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def sgns_word2vec(weights, tables, corpus, job, params, thread, sizes):
    """word2vec.c's SGNS exactly: fresh negatives for every (center, context) pair.

    weights: (syn0 float32[V, d], syn1neg float32[V, d]), updated in place.
    tables:  (keep uint64[V], accept uint64[V], alias int32[V]) from ``vocab``/``sampling``.
    corpus:  (ids int32[N] vocabulary indices, starts int64[S+1] sentence boundaries into ids).
    job:     (first sentence, end sentence, alpha at the job's first word, alpha after its last word);
             alpha decays linearly over the job's raw words.
    params:  (window, negative).
    thread:  (rng uint64[1], sentence int32[MAX_SENTENCE], neu1e float32[d]) owned by one thread.
    sizes:   ((None,) * d,): d reaches the kernel as a tuple's *type*, so Numba compiles (and caches)
             one specialization per vector size, with constant trip counts in the row loops
             (measured here: +15-20% words/s at d=100 over a runtime d, whose loop remainders cost).
    Returns (pairs trained, summed pair loss, effective words after subsampling).
    """
    syn0, syn1neg = weights
    keep, accept, alias = tables
    ids, starts = corpus
    window, negative = params
    rng, sentence, neu1e = thread
    dim = len(sizes[0])
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
            word = sentence[c]
            state, lo, hi = reduced_window(state, window, c, n)
            for a in range(lo, hi):
                if a == c:
                    continue
                l1 = sentence[a]
                for i in range(dim):
                    neu1e[i] = 0.0
                for k in range(negative + 1):
                    if k == 0:
                        target = np.int64(word)
                    else:
                        state, r = rng_next(state)
                        target = draw_alias(r, accept, alias)
                        if target == word:
                            continue
                    f = np.float32(0.0)
                    for i in range(dim):
                        f += syn0[l1, i] * syn1neg[target, i]
                    sig = sigmoid(f)
                    label = k == 0
                    g = alpha * (np.float32(label) - sig)
                    prod, loss = log_accumulate(prod, loss, f, sig, label)
                    for i in range(dim):
                        neu1e[i] += g * syn1neg[target, i]
                        syn1neg[target, i] += g * syn0[l1, i]
                for i in range(dim):
                    syn0[l1, i] += neu1e[i]
                pairs += 1
    rng[0] = state
    return pairs, loss - math.log(prod), effective


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def sgns_shared(weights, tables, corpus, job, params, thread, sizes):
    """SGNS with one set of negatives per center word, shared by its whole window (pWord2Vec/HogBatch).

    For a center word with m context words (inputs U, m×d) and the outputs T = [center, n_1..n_k]
    ((k+1)×d), the m(k+1) pair losses above are one small dense block:

        F = U Tᵀ (m×(k+1)),   G = α (Y - σ(F))   with Y[:, 0] = 1, Y[:, 1:] = 0
        U += G T              T += Gᵀ U          (both from the values before this step)

    which is the sum of the per-pair SGD steps of the word2vec kernel taken at the same point (a
    mini-batch of the center's pairs).  Rows are updated by adding deltas, so repeated words in the
    window or among the negatives accumulate correctly, and concurrent Hogwild writes are not lost.

    Arguments as ``sgns_word2vec`` except ``sizes`` = ((None,) * d, (None,) * (negative + 1)), both
    compile-time constants, and ``thread``:
    (rng uint64[1], sentence int32[MAX_SENTENCE], contexts int64[2*window], outputs int64[negative+1],
     logits float32[2*window, negative+1], grad float32[2*window, negative+1],
     delta float32[2*window, d]).
    """
    syn0, syn1neg = weights
    keep, accept, alias = tables
    ids, starts = corpus
    window, negative = params
    rng, sentence, contexts, outputs, logits, grad, delta = thread
    dim = len(sizes[0])
    nout = len(sizes[1])  # negative + 1
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
            word = sentence[c]
            state, lo, hi = reduced_window(state, window, c, n)
            m = 0
            for a in range(lo, hi):
                if a != c:
                    contexts[m] = sentence[a]
                    m += 1
            if m == 0:
                continue
            # Outputs: the center word, then the negatives.  A negative that equals the center word
            # keeps its slot with a zero gradient, so that the block is always (k+1) wide.
            outputs[0] = word
            for o in range(1, nout):
                state, r = rng_next(state)
                outputs[o] = draw_alias(r, accept, alias)
            # Forward: F = U Tᵀ; then σ over the whole block in one vectorizable loop.
            for a in range(m):
                u = contexts[a]
                for o in range(nout):
                    t = outputs[o]
                    f = np.float32(0.0)
                    for i in range(dim):
                        f += syn0[u, i] * syn1neg[t, i]
                    logits[a, o] = f
            for a in range(m):
                for o in range(nout):
                    grad[a, o] = sigmoid(logits[a, o])
            # G = α (Y - σ(F)), and the loss.
            for a in range(m):
                for o in range(nout):
                    sig = grad[a, o]
                    label = o == 0
                    if o > 0 and outputs[o] == word:
                        grad[a, o] = 0.0
                        continue
                    grad[a, o] = alpha * (np.float32(label) - sig)
                    prod, loss = log_accumulate(prod, loss, logits[a, o], sig, label)
            # delta = G T (before T moves).
            for a in range(m):
                for i in range(dim):
                    delta[a, i] = 0.0
                for o in range(nout):
                    g = grad[a, o]
                    t = outputs[o]
                    for i in range(dim):
                        delta[a, i] += g * syn1neg[t, i]
            # T += Gᵀ U (U not yet moved).
            for o in range(nout):
                t = outputs[o]
                for a in range(m):
                    g = grad[a, o]
                    u = contexts[a]
                    for i in range(dim):
                        syn1neg[t, i] += g * syn0[u, i]
            # U += delta.
            for a in range(m):
                u = contexts[a]
                for i in range(dim):
                    syn0[u, i] += delta[a, i]
            pairs += m
    rng[0] = state
    return pairs, loss - math.log(prod), effective
