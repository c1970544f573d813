"""Continuous bag of words (CBOW) with negative sampling: the loss, its gradient by hand, the update.

Notation as ``sgns.py``.  For the center word w at position c, with cw context positions a in the
reduced window (a != c), the input is the context's rows combined,

    h = Σ_a u_a                 (cbow_mean=0)
    h = (1/cw) Σ_a u_a          (cbow_mean=1, gensim's default and word2vec.c's ``-cbow 1``)

and the outputs are t_0 = syn1neg[w] (label 1) and t_o = syn1neg[neg_o] (label 0), so that the loss is
SGNS's with u replaced by h:

    L = -log σ(h·t_0) - Σ_{o>0} log σ(-h·t_o)
    g_o = σ(h·t_o) - y_o,    ∂L/∂h = Σ_o g_o t_o,    ∂L/∂t_o = g_o h,
    ∂L/∂u_a = ∂L/∂h (sum)    or    ∂L/∂h / cw (mean).

The update is word2vec.c's and gensim's (``fast_sentence_cbow_neg``), output rows in turn, then the
context rows:

    e = α Σ_o g_o t_o (``neu1e``),   t_o <- t_o - α g_o h,   then u_a <- u_a - s e for each context a

with s = 1 for the mean and s = 1/cw for the sum.  This is *not* α ∂L/∂u_a: with the mean each context
row moves by cw times its gradient, with the sum by 1/cw times it.  It is kept as theirs, so that the
learning rates people tuned for gensim and word2vec.c carry over; ``tests/test_kernels.py`` checks
∂L/∂h and ∂L/∂t_o against central differences and the kernel against this formula.  A word that
occurs twice in the window counts twice in h and moves twice, as in both.

A center with no context word (a one-word sentence after subsampling) trains nothing and draws no
negatives (word2vec.c's ``if (cw)``).

Two things make it faster than their loop, and neither changes a step (``cbow_outputs``): the m
logits h·t_o are computed first, all from the rows before the step, so that their dot products run
side by side instead of each waiting for the previous output's update (the same numbers as theirs
when no negative repeats: each t_o is read before any row moves but its own, which moves after;
when one repeats, the second read must see the first's step, and the loop runs in their order);
and the syn1neg rows of the most frequent words are the thread's own copy for the job, merged as
the sum of the threads' steps (``hot.py``, as skip-gram's shared-negatives kernel): with two
threads both wrote those rows on nearly every example.  Measured in bench/results/lab-notes.md:
faster at 1 and 2 workers, and the copies scored better at 2 (lost Hogwild writes, recovered).
"""
from collections import namedtuple

import numpy as np
from numba import njit

from . import FASTMATH, KERNEL
from .prefetch import prefetch_row
from .sgns import combined_windows, loss_term, sigmoid, walk_with_hot_rows
from .walk import draw_outputs


# cbow_word2vec's scratch: neu1 float32[d] (h), neu1e float32[d] (e), logits float32[K1] (f_o), hot_rows
# and hot_snapshot float32[HOT_ROWS, >= d] (as sgns.BlockScratch's).
CbowScratch = namedtuple("CbowScratch", "neu1 neu1e logits hot_rows hot_snapshot")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def row_dot(h, row, dim):
    """f = h·row for two float32 vectors of at least dim values."""
    f = np.float32(0.0)
    for i in range(dim):
        f += h[i] * row[i]
    return f


@njit(inline="always", cache=True, fastmath=FASTMATH)
def cbow_outputs(weights, scratch, sizes, outputs, m, alpha, prod, loss):
    """The output step for the input h = scratch.neu1: for each of outputs[:m] (the first labelled 1)
    in turn, f = h·t, g = α(σ(f) - y), e += g t, t -= g h; e is left in scratch.neu1e.  Every f is
    computed first (into scratch.logits) unless a negative repeats (see the module's docstring); a
    row t < H is the thread's copy scratch.hot_rows[t].  Returns (prod, loss)."""
    syn1neg, h, e, logits, local = weights.syn1neg, scratch.neu1, scratch.neu1e, scratch.logits, scratch.hot_rows
    hot = min(local.shape[0], syn1neg.shape[0])
    dim = len(sizes.dim)
    ahead = True
    for o in range(2, m):
        for q in range(1, o):
            if outputs[q] == outputs[o]:
                ahead = False
    if ahead:
        for o in range(m):
            t = outputs[o]
            row = local[t] if t < hot else syn1neg[t]
            logits[o] = row_dot(h, row, dim)
    for i in range(dim):
        e[i] = 0.0
    for o in range(m):
        t = outputs[o]
        row = local[t] if t < hot else syn1neg[t]
        f = logits[o] if ahead else row_dot(h, row, dim)
        sig = sigmoid(f)
        label = o == 0
        g = alpha * (sig - np.float32(label))
        prod, loss = loss_term(sizes, prod, loss, f, sig, label)
        for i in range(dim):
            e[i] += g * row[i]
            row[i] -= g * h[i]
    return prod, loss


@njit(inline="always", cache=True, fastmath=FASTMATH)
def cbow_window(update, weights, tables, config, thread, sizes, c, n, lo, hi, alpha, state, prod, loss):
    """The center at c as one CBOW example: fresh outputs (``draw_outputs``), h from the contexts in
    [lo, hi) (mean when config.cbow_mean), ``update`` (the output step, e in scratch.neu1e), then each
    context row minus e (e / cw for the sum).  The outputs are drawn first and the negatives' rows
    prefetched, so that their cache misses overlap the sum of h (the same draws as drawing after
    it: nothing else draws in between; faster, bench/results/lab-notes.md), as are the input row of
    the word that enters the window soon and the output row of the center two words on.
    Returns (rng state, examples trained: 0 or 1, prod, loss)."""
    syn0 = weights.syn0
    table = tables.negatives
    negative, mean = config.negative, config.cbow_mean
    sentence, outputs, scratch = thread.sentence, thread.outputs[0], thread.scratch
    neu1, neu1e = scratch.neu1, scratch.neu1e
    dim = len(sizes.dim)
    cw = hi - lo - 1
    if cw == 0:
        return state, 0, prod, loss
    state, m = draw_outputs(state, sentence[c], negative, table, outputs)
    for o in range(1, m):
        prefetch_row(weights.syn1neg, outputs[o], dim)
    ahead = c + config.window + 2  # the input row that enters the windows soon, from L3 or memory
    if ahead < n:
        prefetch_row(syn0, sentence[ahead], dim)
    if c + 2 < n:  # and the output row of a center to come (a rare word's is not in cache)
        prefetch_row(weights.syn1neg, sentence[c + 2], dim)
    for i in range(dim):
        neu1[i] = 0.0
    for a in range(lo, hi):
        if a != c:
            w = sentence[a]
            for i in range(dim):
                neu1[i] += syn0[w, i]
    count = np.float32(cw)
    if mean:
        for i in range(dim):
            neu1[i] /= count
    prod, loss = update(weights, scratch, sizes, outputs, m, alpha, prod, loss)
    if not mean:
        for i in range(dim):
            neu1e[i] /= count
    for a in range(lo, hi):
        if a != c:
            w = sentence[a]
            for i in range(dim):
                syn0[w, i] -= neu1e[i]
    return state, 1, prod, loss


@njit(**KERNEL)
def cbow_word2vec(weights, tables, corpus, job, config, thread, sizes):
    """word2vec.c's and gensim's CBOW with negative sampling (above), one example per center word.

    Arguments and result as ``walk.walk`` (the first result counts examples, one per center with a
    context); scratch a ``CbowScratch``; sizes: dim, loss.
    """
    return walk_with_hot_rows(cbow_window, cbow_outputs, weights, tables, corpus, job, config, thread, sizes)


# sgd_cbow_block's scratch: hidden, delta float32[C, d] (each center's h and e), logits, grad
# float32[C, K1] (F and G: column 0 the center's own word, then the N negatives), old float32[N, >= d]
# (the negatives' rows before the step), bounds int64[C, 2] (each center's window), outputs
# int64[C + N] (the centers, then the negatives), hot_rows and hot_snapshot as ``CbowScratch``'s.
CbowBlockScratch = namedtuple("CbowBlockScratch", "hidden delta logits grad old bounds outputs hot_rows hot_snapshot")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def sgd_cbow_block(weights, scratch, sizes, config, sentence, first, g, outputs, alpha, prod, loss):
    """The CBOW steps of g consecutive centers (positions first..first+g-1) taken together, with one
    set of N negatives shared by all of them (pSGNScc's context combining, applied to CBOW's one
    example per center).

    Center j's example is word2vec.c's (above) with its own input h_j (its window's rows, summed or
    averaged) and its outputs t_{c_j} (label 1) and the group's N negatives (label 0; one equal to
    c_j is left out, as word2vec.c skips it).  With H the g inputs (g×d) and T_N the negatives' rows,

        F = [h_j·t_{c_j} | H T_Nᵀ] (g×(1+N)),   G = α (σ(F) - Y),
        E_j = G_j0 t_{c_j} + Σ_n G_jn t_n,   t_{c_j} <- t_{c_j} - G_j0 h_j,   t_n <- t_n - Σ_j G_jn h_j,
        u_a <- u_a - s E_j for every context a of center j (s = 1 for the mean, 1/cw_j for the sum)

    all from the values before the step: the sum of the g examples' steps at one point, so a
    negative's row is read and written once per group instead of once per center, and the group's
    (1+N) g logits are independent (their dot products and σ run side by side).  A center without a
    context word trains nothing.  Rows move by adding deltas, so repeated words accumulate.  A row
    t < H is the thread's copy (``hot.py``).  scratch: a ``CbowBlockScratch``.
    Returns (prod, loss, examples trained).
    """
    syn0, syn1neg = weights.syn0, weights.syn1neg
    hidden, delta, logits, grad, old = scratch.hidden, scratch.delta, scratch.logits, scratch.grad, scratch.old
    bounds, local = scratch.bounds, scratch.hot_rows
    hot = min(local.shape[0], syn1neg.shape[0])
    dim = len(sizes.dim)
    k1 = len(sizes.outputs)
    width = len(sizes.combine)
    # H: each center's input (0 for a center without context: its row of G is 0 too).
    examples = 0
    for j in range(g):
        lo, hi = bounds[j, 0], bounds[j, 1]
        for i in range(dim):
            hidden[j, i] = 0.0
        for a in range(lo, hi):
            if a != first + j:
                w = sentence[a]
                for i in range(dim):
                    hidden[j, i] += syn0[w, i]
        if hi - lo > 1:
            examples += 1
            if config.cbow_mean:
                count = np.float32(hi - lo - 1)
                for i in range(dim):
                    hidden[j, i] /= count
    # The negatives' rows before the step, contiguous.
    for o in range(1, k1):
        t = outputs[width + o - 1]
        row = local[t] if t < hot else syn1neg[t]
        for i in range(dim):
            old[o - 1, i] = row[i]
    # F, then σ over the block in one flat, vectorizable loop.
    for j in range(g):
        t = outputs[j]
        row = local[t] if t < hot else syn1neg[t]
        f = np.float32(0.0)
        for i in range(dim):
            f += hidden[j, i] * row[i]
        logits[j, 0] = f
        for o in range(1, k1):
            f = np.float32(0.0)
            for i in range(dim):
                f += hidden[j, i] * old[o - 1, i]
            logits[j, o] = f
    flat_logits, flat_grad = logits.reshape(-1), grad.reshape(-1)
    for q in range(g * k1):
        flat_grad[q] = sigmoid(flat_logits[q])
    # G = α (σ(F) - Y), 0 for a center without context and for a negative equal to the center; the loss.
    for j in range(g):
        trains = bounds[j, 1] - bounds[j, 0] > 1
        for o in range(k1):
            sig = grad[j, o]
            label = o == 0
            if not trains or (o > 0 and outputs[width + o - 1] == outputs[j]):
                grad[j, o] = 0.0
                continue
            grad[j, o] = alpha * (sig - np.float32(label))
            prod, loss = loss_term(sizes, prod, loss, logits[j, o], sig, label)
    # E (before any output row moves).
    for j in range(g):
        t = outputs[j]
        row = local[t] if t < hot else syn1neg[t]
        scale = np.float32(1.0)
        if not config.cbow_mean:
            scale /= np.float32(max(bounds[j, 1] - bounds[j, 0] - 1, 1))
        for i in range(dim):
            e = grad[j, 0] * row[i]
            for o in range(1, k1):
                e += grad[j, o] * old[o - 1, i]
            delta[j, i] = scale * e
    # T: each center's row, then each negative's row, four centers per pass over it, then one.
    for j in range(g):
        t = outputs[j]
        row = local[t] if t < hot else syn1neg[t]
        gr = grad[j, 0]
        for i in range(dim):
            row[i] -= gr * hidden[j, i]
    for o in range(1, k1):
        t = outputs[width + o - 1]
        row = local[t] if t < hot else syn1neg[t]
        j = 0
        while j + 3 < g:
            g0, g1, g2, g3 = grad[j, o], grad[j + 1, o], grad[j + 2, o], grad[j + 3, o]
            for i in range(dim):
                row[i] -= (g0 * hidden[j, i] + g1 * hidden[j + 1, i]) + (g2 * hidden[j + 2, i] + g3 * hidden[j + 3, i])
            j += 4
        while j < g:
            g0 = grad[j, o]
            for i in range(dim):
                row[i] -= g0 * hidden[j, i]
            j += 1
    # The context rows.
    for j in range(g):
        for a in range(bounds[j, 0], bounds[j, 1]):
            if a != first + j:
                w = sentence[a]
                for i in range(dim):
                    syn0[w, i] -= delta[j, i]
    return prod, loss, examples


@njit(**KERNEL)
def cbow_combined(weights, tables, corpus, job, config, thread, sizes):
    """CBOW with one set of negatives per C consecutive centers (``sgd_cbow_block``).

    Arguments and result as ``walk.walk`` (the first result counts examples); scratch a
    ``CbowBlockScratch``; sizes: dim, outputs, combine (one specialization per C), loss.  Hot rows as
    ``cbow_word2vec``.
    """
    return walk_with_hot_rows(combined_windows, sgd_cbow_block, weights, tables, corpus, job, config, thread, sizes)
