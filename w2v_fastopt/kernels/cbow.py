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
from .sgns import loss_term, sigmoid, walk_with_hot_rows
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
    for o in range(m):
        t = outputs[o]
        row = local[t] if t < hot else syn1neg[t]
        f = np.float32(0.0)
        for i in range(dim):
            f += h[i] * row[i]
        logits[o] = f
    for i in range(dim):
        e[i] = 0.0
    for o in range(m):
        f = logits[o]
        sig = sigmoid(f)
        label = o == 0
        g = alpha * (sig - np.float32(label))
        prod, loss = loss_term(sizes, prod, loss, f, sig, label)
        t = outputs[o]
        row = local[t] if t < hot else syn1neg[t]
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
    it: nothing else draws in between; faster, bench/results/lab-notes.md).
    Returns (rng state, examples trained: 0 or 1, prod, loss)."""
    syn0 = weights.syn0
    accept, alias = tables.accept, tables.alias
    negative, mean = config.negative, config.cbow_mean
    sentence, outputs, scratch = thread.sentence, thread.outputs[0], thread.scratch
    neu1, neu1e = scratch.neu1, scratch.neu1e
    dim = len(sizes.dim)
    cw = hi - lo - 1
    if cw == 0:
        return state, 0, prod, loss
    state, m = draw_outputs(state, sentence[c], negative, accept, alias, outputs)
    for o in range(1, m):
        prefetch_row(weights.syn1neg, outputs[o], dim)
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
