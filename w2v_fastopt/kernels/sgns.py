"""Skip-gram negative sampling (SGNS): the loss, its gradient by hand, and the SGD updates.

Notation (word2vec.c's): for a (center, context) pair the *input* vector is the context word's row
``u = syn0[word]``; the *outputs* are ``t_0 = syn1neg[center]`` (label y_0 = 1) and
``t_o = syn1neg[neg_o]`` for the negatives drawn from unigram^ns_exponent (label 0).  The pair's loss is

    L = -log σ(u·t_0) - Σ_{o>0} log σ(-u·t_o)

and with f_o = u·t_o, since dσ(f)/df = σ(f)(1-σ(f)):

    ∂L/∂f_o = σ(f_o) - y_o =: g_o
    ∂L/∂u = Σ_o g_o t_o            ∂L/∂t_o = g_o u

One sign convention everywhere (here, ``solvers.py`` and ``keras/model.py``): g is the derivative
σ - y, and every update *subtracts* a step, p <- p - α ∂L/∂p.  SGD with learning rate α:

    e = α Σ_o g_o t_o  (word2vec.c's ``neu1e``),   t_o <- t_o - α g_o u,   then u <- u - e

(word2vec.c writes g for α(y - σ) and adds; the same numbers bit for bit: negation is exact.)

The sigmoid: σ(f) = (1 + tanh(f/2)) / 2 with tanh as a [13/6] rational function (Eigen's float
tanh; |error| < 4e-7 on all of ℝ, see tests) instead of a libm exp and a division per dot product: it
is pure arithmetic, so the shared-negatives kernel computes a whole block of them in one vectorized
loop.  There is no table and no clamp to speak of (tanh is clamped at |f/2| = 9, where it equals 1 in
float32), so there is nothing to *saturate* (word2vec.c: beyond ±6 it uses the limit gradient) or to
*skip* (gensim: beyond ±6 it drops the sample): every pair gets its true gradient to float32 precision.

The loss is exact: -log σ(f) for positives and -log σ(-f) for negatives, summed in float64 as a
running product of probabilities that is turned into a log only when it gets small (one ``log`` per
~hundreds of terms).  A probability below 1e-6, where 1 - σ loses digits, is recomputed with exp.
It is computed only when asked (``compute_loss``): every rule's last compile-time size says so
(``rules.py``), and a kernel without it keeps only the divergence check the loss feeds
(``loss_term``).  What it costs each kernel is measured in bench/results/lab-notes.md.

A negative that equals the center word is skipped (word2vec.c and gensim do the same).

Threads: the kernels release the GIL; several threads update the shared ``syn0``/``syn1neg`` without
locks (Hogwild, as word2vec.c and gensim).  Each thread has its own RNG state (``rng[0]``), so with one
thread and a fixed seed a run is bit-identical; with several it is not.
"""
import math
from collections import namedtuple

import numpy as np
from numba import njit

from . import FASTMATH, KERNEL
from .hot import hot_load, hot_merge
from .prefetch import prefetch_row
from .rng import rng_next
from .sampling import draw_alias
from .walk import each_pair, prefetch_next_negatives, walk


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


@njit(inline="always", cache=True)
def computes_loss(sizes):
    """Whether the kernel computes the exact loss: its compile-time size ``loss``, (None,) or ()."""
    return len(sizes.loss) > 0


@njit(inline="always", cache=True)
def loss_term(sizes, prod, loss, f, sig, label):
    """One logit's share of the loss: ``log_accumulate`` when the kernel computes the exact loss
    (``computes_loss``); otherwise only a logit that is NaN or ±inf is folded in (loss += |f|), so
    that the returned loss still says when a run diverges.  Returns (prod, loss)."""
    if computes_loss(sizes):
        return log_accumulate(prod, loss, f, sig, label)
    if not abs(f) < np.inf:
        loss += abs(f)
    return prod, loss


@njit(inline="always", cache=True, fastmath=FASTMATH)
def logit(syn0, word, syn1neg, t, dim):
    """f = u·t for the input row syn0[word] and the output row syn1neg[t], in float32."""
    f = np.float32(0.0)
    for i in range(dim):
        f += syn0[word, i] * syn1neg[t, i]
    return f


@njit(inline="always", cache=True, fastmath=FASTMATH)
def dot(u, rows, t, dim):
    """f = u·rows[t] for the vector u [d] (a syn0 row, or CBOW's h), in float32."""
    f = np.float32(0.0)
    for i in range(dim):
        f += u[i] * rows[t, i]
    return f


@njit(inline="always", cache=True, fastmath=FASTMATH)
def output_row(rows, t, label, u, neu1e, alpha, sizes, prod, loss):
    """One output row's share of an SGD step for the input vector u [d]: f = u·t, g = α(σ(f) - y),
    e += g t, t -= g u, for the row t of ``rows`` (syn1neg, or hierarchical softmax's syn1) and
    its label y (True: 1).  Returns (prod, loss) with the term's loss folded in (``loss_term``)."""
    dim = len(sizes.dim)
    f = dot(u, rows, t, dim)
    sig = sigmoid(f)
    g = alpha * (sig - np.float32(label))
    prod, loss = loss_term(sizes, prod, loss, f, sig, label)
    for i in range(dim):
        neu1e[i] += g * rows[t, i]
        rows[t, i] -= g * u[i]
    return prod, loss


@njit(inline="always", cache=True, fastmath=FASTMATH)
def output_step(syn1neg, u, neu1e, outputs, m, alpha, sizes, prod, loss):
    """The output half of an SGD step for the input vector u [d] (a syn0 row, or CBOW's h): for
    each of outputs[:m] (the first labelled 1) in turn, ``output_row``; e is left in neu1e [d].
    Returns (prod, loss) with the loss folded in."""
    for i in range(len(sizes.dim)):
        neu1e[i] = 0.0
    for o in range(m):
        prod, loss = output_row(syn1neg, outputs[o], o == 0, u, neu1e, alpha, sizes, prod, loss)
    return prod, loss


# sgd_pair's scratch: neu1e float32[d], word2vec.c's e.
PairScratch = namedtuple("PairScratch", "neu1e")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def sgd_pair(weights, scratch, sizes, word, outputs, m, alpha, prod, loss):
    """One SGD step on one pair: input row ``word``, output rows outputs[:m] (the first labelled 1).

    As the derivation above, in word2vec.c's order: ``output_step`` (for each output, f = u·t,
    g = α(σ(f) - y), e += g t, t -= g u), then u -= e.  scratch: a ``PairScratch``.  Returns
    (prod, loss) with the pair's loss folded in (``log_accumulate``).
    """
    neu1e = scratch.neu1e
    dim = len(sizes.dim)
    u = weights.syn0[word]
    prod, loss = output_step(weights.syn1neg, u, neu1e, outputs, m, alpha, sizes, prod, loss)
    for i in range(dim):
        u[i] -= neu1e[i]
    return prod, loss


@njit(**KERNEL)
def sgns_word2vec(weights, tables, corpus, job, config, thread, sizes):
    """word2vec.c's SGNS exactly: fresh negatives for every (center, context) pair, ``sgd_pair``.

    Arguments and result as ``walk.walk``; scratch a ``PairScratch``; sizes: dim, loss.
    """
    return walk(each_pair, sgd_pair, weights, tables, corpus, job, config, thread, sizes)


@njit(inline="always", cache=True)
def shared_window(update, weights, tables, config, thread, sizes, c, n, lo, hi, alpha, state, prod, loss):
    """The center at c with one set of negatives for its whole window: contexts gathered into
    scratch.contexts, outputs = [center, K1 - 1 draws] (a draw equal to the center keeps its slot, with a
    zero gradient, so the block is always K1 wide), then ``update`` once on the block.  The next
    centers' negatives and the input row that enters the windows soon are prefetched meanwhile.
    Returns (rng state, pairs, prod, loss)."""
    table = tables.negatives
    sentence, outputs, scratch = thread.sentence, thread.outputs[0], thread.scratch
    contexts = scratch.contexts
    m = 0
    for a in range(lo, hi):
        if a != c:
            contexts[m] = sentence[a]
            m += 1
    if m == 0:
        return state, 0, prod, loss
    outputs[0] = sentence[c]
    for o in range(1, len(sizes.outputs)):
        state, r = rng_next(state)
        outputs[o] = draw_alias(r, table)
    prefetch_next_negatives(state, config.shrink_windows, len(sizes.outputs) - 1, table, weights.syn1neg,
                            len(sizes.dim))
    ahead = c + config.window + 2  # the input row that enters the windows soon (it may come from memory)
    if ahead < n:
        prefetch_row(weights.syn0, sentence[ahead], len(sizes.dim))
    prod, loss = update(weights, scratch, sizes, m, outputs, alpha, prod, loss)
    return state, m, prod, loss


HOT_ROWS = 256  # syn1neg rows of the most frequent words each thread trains in its own copy (hot.py)


@njit(inline="always", cache=True)
def walk_with_hot_rows(center, update, weights, tables, corpus, job, config, thread, sizes):
    """``walk.walk`` with the syn1neg rows of the most frequent words (the vocabulary's first
    thread.scratch.hot_rows.shape[0]) trained in the thread's own copy for the job and merged as
    the sum of the threads' steps at its end (``hot.py``)."""
    syn1neg, local, snapshot = weights.syn1neg, thread.scratch.hot_rows, thread.scratch.hot_snapshot
    hot = min(local.shape[0], syn1neg.shape[0])
    hot_load(syn1neg, 0, hot, local, snapshot)
    result = walk(center, update, weights, tables, corpus, job, config, thread, sizes)
    hot_merge(syn1neg, 0, hot, local, snapshot, np.float32(1.0))  # the sum (hot.py)
    return result
# sgd_block's scratch: contexts int64[2 window] (the window's input rows), logits and grad
# float32[2 window, K1] (F and G), old float32[K1, >= d] (T_old), hot_rows and hot_snapshot
# float32[HOT_ROWS, >= d] (the thread's copy of the hottest syn1neg rows and that copy at the job's
# start, ``hot.py``).
BlockScratch = namedtuple("BlockScratch", "contexts logits grad old hot_rows hot_snapshot")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def sgd_block(weights, scratch, sizes, m, outputs, alpha, prod, loss):
    """The SGD step of a center's m pairs taken together (pWord2Vec/HogBatch).

    With the inputs U = syn0[contexts[:m]] (m×d) and the outputs T = syn1neg[outputs] (K1×d), the
    m K1 pair losses are one small dense block:

        F = U Tᵀ (m×K1),   G = α (σ(F) - Y)   with Y[:, 0] = 1, Y[:, 1:] = 0
        T <- T - Gᵀ U,     U <- U - G T      (both from the values before the step)

    the sum of the per-pair SGD steps at the same point (a mini-batch of the center's pairs).  Rows
    move by adding deltas, so repeated words in the window or among the negatives accumulate, and
    concurrent Hogwild writes are not lost.  A negative equal to the center gets G = 0.  An output
    row t < H is the thread's copy local[t] (``hot.py``: the most frequent words' rows).

    The output rows are copied into T_old (K1×d, contiguous) first: the forward reads them there,
    T moves in place, and U then takes G T_old in one pass per input row (K1 = negative + 1 is a
    compile-time size up to ``rules.MAX_CONSTANT_OUTPUTS``, so the sum over the outputs unrolls into
    registers).  T's update adds four
    inputs' terms per pass over a row (then two, then one).  Each row is thus read and written once
    per pass instead of once per (input, output) term, which takes less time than summing E = G T
    into a buffer one term at a time.
    σ and G run as flat loops over the m K1 contiguous logits, which LLVM vectorizes: the kernel is
    compiled with ``error_model="numpy"``, without which Numba guards σ's division against a zero
    denominator (it is > 0.0048 here) and the guard keeps the loop scalar.  (Both measured in
    bench/results/lab-notes.md.)  scratch: a ``BlockScratch``.
    """
    syn0, syn1neg = weights.syn0, weights.syn1neg
    contexts, logits, grad, old = scratch.contexts, scratch.logits, scratch.grad, scratch.old
    local = scratch.hot_rows
    hot = min(local.shape[0], syn1neg.shape[0])
    dim = len(sizes.dim)
    k1 = len(sizes.outputs)
    word = outputs[0]
    # T_old: the output rows before the step.
    for o in range(k1):
        t = outputs[o]
        row = local[t] if t < hot else syn1neg[t]
        for i in range(dim):
            old[o, i] = row[i]
    # Forward: F = U Tᵀ; then σ over the whole block in one vectorizable loop.
    for o in range(k1):
        for a in range(m):
            u = contexts[a]
            f = np.float32(0.0)
            for i in range(dim):
                f += syn0[u, i] * old[o, i]
            logits[a, o] = f
    # σ and G = α (σ(F) - Y) over the whole block in flat, vectorizable loops (m K1 contiguous
    # values; nested loops over (a, o) stay scalar), and the loss.
    flat_logits, flat_grad = logits.reshape(-1), grad.reshape(-1)
    if computes_loss(sizes):
        for j in range(m * k1):
            flat_grad[j] = sigmoid(flat_logits[j])
        for a in range(m):
            for o in range(k1):
                sig = grad[a, o]
                label = o == 0
                if o > 0 and outputs[o] == word:
                    grad[a, o] = 0.0
                    continue
                grad[a, o] = alpha * (sig - np.float32(label))
                prod, loss = loss_term(sizes, prod, loss, logits[a, o], sig, label)
    else:
        total = np.float32(0.0)  # not finite if a logit is not (the divergence check, ``loss_term``)
        for j in range(m * k1):
            flat_grad[j] = alpha * sigmoid(flat_logits[j])
            total += flat_logits[j]
        if not abs(total) < np.inf:
            loss += abs(total)
        for a in range(m):  # the positive column, label 1: σ again rather than a modulo in the loop
            grad[a, 0] = alpha * (sigmoid(logits[a, 0]) - np.float32(1.0))
        for o in range(1, k1):
            if outputs[o] == word:
                for a in range(m):
                    grad[a, o] = 0.0
    # T -= Gᵀ U (U not yet moved), four inputs per pass over the row, then two, then one.
    for o in range(k1):
        t = outputs[o]
        row = local[t] if t < hot else syn1neg[t]
        a = 0
        while a + 3 < m:
            g0, g1, g2, g3 = grad[a, o], grad[a + 1, o], grad[a + 2, o], grad[a + 3, o]
            u0, u1, u2, u3 = contexts[a], contexts[a + 1], contexts[a + 2], contexts[a + 3]
            for i in range(dim):
                row[i] -= (g0 * syn0[u0, i] + g1 * syn0[u1, i]) + (g2 * syn0[u2, i] + g3 * syn0[u3, i])
            a += 4
        while a + 1 < m:
            g0, g1 = grad[a, o], grad[a + 1, o]
            u0, u1 = contexts[a], contexts[a + 1]
            for i in range(dim):
                row[i] -= g0 * syn0[u0, i] + g1 * syn0[u1, i]
            a += 2
        if a < m:
            g0 = grad[a, o]
            u0 = contexts[a]
            for i in range(dim):
                row[i] -= g0 * syn0[u0, i]
    # U -= G T_old, one pass per input row.
    for a in range(m):
        u = contexts[a]
        for i in range(dim):
            e = np.float32(0.0)
            for o in range(k1):
                e += grad[a, o] * old[o, i]
            syn0[u, i] -= e
    return prod, loss


@njit(**KERNEL)
def sgns_shared(weights, tables, corpus, job, config, thread, sizes):
    """SGNS with one set of negatives per center word, shared by its whole window (``sgd_block``).

    Arguments and result as ``walk.walk``; scratch a ``BlockScratch``; sizes: dim, outputs, loss.
    The syn1neg rows of the HOT_ROWS most frequent words are the thread's own copy for the job
    (``walk_with_hot_rows``).
    """
    return walk_with_hot_rows(shared_window, sgd_block, weights, tables, corpus, job, config, thread, sizes)


@njit(inline="always", cache=True)
def combined_windows(update, weights, tables, config, thread, sizes, c, n, lo, hi, alpha, state, prod, loss):
    """Context combining (pSGNScc, Rengasamy et al. 2017): the windows of C = len(sizes.combine)
    consecutive centers of a sentence share one set of N = len(sizes.outputs) - 1 negatives.  Each
    center's window is noted in scratch.bounds as it comes; at the group's last center (every C-th, or
    the sentence's last) the outputs (scratch.outputs) are the group's centers then N draws, and
    ``update(weights, scratch, sizes, config, sentence, first, g, outputs, alpha, prod, loss) -> (prod,
    loss, trained)`` trains the group's g centers as one block (skip-gram's pairs, ``sgd_combined``;
    CBOW's examples, ``cbow.sgd_cbow_block``).  A group without a context word draws nothing.  For
    skip-gram C = 1 is ``shared_window``'s stream and vectors, bit for bit.
    Returns (rng state, what the update trained, prod, loss)."""
    table = tables.negatives
    sentence, scratch = thread.sentence, thread.scratch
    bounds, outputs = scratch.bounds, scratch.outputs
    width = len(sizes.combine)
    negs = len(sizes.outputs) - 1
    j = c % width
    bounds[j, 0] = lo
    bounds[j, 1] = hi
    ahead = c + config.window + 2  # the input row that enters the windows soon (as cbow_window)
    if ahead < n:
        prefetch_row(weights.syn0, sentence[ahead], len(sizes.dim))
    if j != width - 1 and c != n - 1:
        return state, 0, prod, loss
    first = c - j
    pairs = 0
    for k in range(j + 1):
        outputs[k] = sentence[first + k]
        pairs += bounds[k, 1] - bounds[k, 0] - 1
    if pairs == 0:
        return state, 0, prod, loss
    for o in range(negs):
        state, r = rng_next(state)
        outputs[width + o] = draw_alias(r, table)
    # The next group's negatives, peeked at on a copy of the state (its windows draw first when
    # they shrink), arrive while this group trains (as ``prefetch_next_negatives``).
    peek = state
    if config.shrink_windows:
        for k in range(width):
            peek, r = rng_next(peek)
    prefetch_next_negatives(peek, False, negs, table, weights.syn1neg, len(sizes.dim))
    prod, loss, trained = update(weights, scratch, sizes, config, sentence, first, j + 1, outputs, alpha, prod,
                                 loss)
    return state, trained, prod, loss


# sgd_combined's scratch: positions, counts int64[C + 2 window] (the block's inputs and their pairs),
# logits, grad float32[C + 2 window, C + N], delta float32[C + 2 window, d] (E), bounds int64[C, 2]
# (each center's window), outputs int64[C + N] (the centers, then the negatives), hot_rows and
# hot_snapshot as ``BlockScratch``'s.
CombinedScratch = namedtuple("CombinedScratch", "positions counts logits grad delta bounds outputs hot_rows "
                             "hot_snapshot")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def sgd_combined(weights, scratch, sizes, config, sentence, first, g, outputs, alpha, prod, loss):
    """The SGD step of the pairs of g consecutive centers (positions first..first+g-1) taken together,
    with one set of N negatives shared by all of them (context combining).

    The inputs are the positions p in the union of the windows, each with count_p, the number of
    the group's centers whose window holds p (p != the center).  Pair (p, center j) has the loss
    -log σ(u_p·t_j) - Σ_n log σ(-u_p·t_n); summed over the group's pairs with the same negatives,

        L = Σ_{(p,j)} -log σ(u_p·t_j) - Σ_p w_pn Σ_n log σ(-u_p·t_n),

    w_pn = count_p less the p's centers whose word is n (word2vec.c skips a negative equal to the
    center).  So the block is F = U Tᵀ over the inputs × (centers, negatives), computed only where a
    pair is, G = α (σ(F) - Y) with a negative's column weighted by w_pn, then E = G T, T <- T - Gᵀ U,
    U <- U - E from the values before the step: the exact sum of the pairs' SGD steps at one point,
    each input row meeting the negatives once per group instead of once per pair.
    What C costs in quality and gains in speed is measured in bench/results/lab-notes.md (C = 8
    trains much faster and scores lower on analogies).  scratch: a ``CombinedScratch``.
    Returns (prod, loss, pairs trained).
    """
    syn0, syn1neg = weights.syn0, weights.syn1neg
    positions, counts, logits, grad = scratch.positions, scratch.counts, scratch.logits, scratch.grad
    delta, bounds, local = scratch.delta, scratch.bounds, scratch.hot_rows
    hot = min(local.shape[0], syn1neg.shape[0])
    dim = len(sizes.dim)
    negs = len(sizes.outputs) - 1
    width = len(sizes.combine)
    # The inputs: positions in the union of the windows, with their number of pairs.
    left, right = bounds[0, 0], bounds[0, 1]
    for j in range(1, g):
        left = min(left, bounds[j, 0])
        right = max(right, bounds[j, 1])
    m = 0
    for p in range(left, right):
        count = 0
        for j in range(g):
            if bounds[j, 0] <= p < bounds[j, 1] and p != first + j:
                count += 1
        if count:
            positions[m] = p
            counts[m] = count
            m += 1
    # Forward: F where a pair is (centers), and against every negative: one output row at a time.
    for o in range(width + negs):
        if g <= o < width:
            continue
        t = outputs[o]
        row = local[t] if t < hot else syn1neg[t]
        for a in range(m):
            p = positions[a]
            f = np.float32(0.0)
            if o >= width or (bounds[o, 0] <= p < bounds[o, 1] and p != first + o):
                u = sentence[p]
                for i in range(dim):
                    f += syn0[u, i] * row[i]
            logits[a, o] = f
    flat_logits, flat_grad = logits.reshape(-1), grad.reshape(-1)  # σ in one vectorizable loop
    for j in range(m * (width + negs)):
        flat_grad[j] = sigmoid(flat_logits[j])
    # G = α (σ(F) - Y), weighted per negative; masked entries 0; and the loss.
    for a in range(m):
        p = positions[a]
        for j in range(width):
            if j < g and bounds[j, 0] <= p < bounds[j, 1] and p != first + j:
                sig = grad[a, j]
                grad[a, j] = alpha * (sig - np.float32(1.0))
                prod, loss = loss_term(sizes, prod, loss, logits[a, j], sig, True)
            else:
                grad[a, j] = 0.0
        for o in range(negs):
            t = outputs[width + o]
            w = counts[a]
            for j in range(g):
                if outputs[j] == t and bounds[j, 0] <= p < bounds[j, 1] and p != first + j:
                    w -= 1
            sig = grad[a, width + o]
            grad[a, width + o] = alpha * sig * np.float32(w)
            for _ in range(w):
                prod, loss = loss_term(sizes, prod, loss, logits[a, width + o], sig, False)
    # E = G T (before T moves).
    for a in range(m):
        for i in range(dim):
            delta[a, i] = 0.0
        for o in range(width + negs):
            gr = grad[a, o]
            if gr == 0:
                continue
            t = outputs[o]
            row = local[t] if t < hot else syn1neg[t]
            for i in range(dim):
                delta[a, i] += gr * row[i]
    # T -= Gᵀ U (U not yet moved).
    for o in range(width + negs):
        if o >= g and o < width:
            continue
        t = outputs[o]
        row = local[t] if t < hot else syn1neg[t]
        for a in range(m):
            gr = grad[a, o]
            if gr == 0:
                continue
            u = sentence[positions[a]]
            for i in range(dim):
                row[i] -= gr * syn0[u, i]
    # U -= E.
    pairs = 0
    for a in range(m):
        u = sentence[positions[a]]
        for i in range(dim):
            syn0[u, i] -= delta[a, i]
        pairs += counts[a]
    return prod, loss, pairs


@njit(**KERNEL)
def sgns_combined(weights, tables, corpus, job, config, thread, sizes):
    """SGNS with context combining: one set of negatives per C consecutive centers (``sgd_combined``).

    Arguments and result as ``walk.walk``; scratch a ``CombinedScratch``; sizes: dim, outputs, combine
    (one specialization per C), loss.  Hot rows as ``sgns_shared``.
    """
    return walk_with_hot_rows(combined_windows, sgd_combined, weights, tables, corpus, job, config, thread, sizes)
