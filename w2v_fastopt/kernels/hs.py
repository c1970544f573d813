"""Hierarchical softmax (HS): the loss over a word's path in the Huffman tree, its gradient by hand,
the SGD updates of skip-gram and CBOW.

Notation as ``sgns.py``.  The vocabulary's Huffman tree (``prep.huffman_tree``, gensim's node for
node; the drop-in reads gensim's own) has V - 1 inner nodes, each with an output row v_n = syn1[n].
The output word w is reached from the root by the path n_0, ..., n_{L-1} (``points[w, :L]``),
taking branch c_b (``codes[w, b]``) at n_b.  Given the input vector u (a context word's row for
skip-gram, CBOW's h), each branch is a logistic choice, so that

    p(w | u) = Π_b σ(u·v_b)^{y_b} σ(-u·v_b)^{1-y_b}        with y_b = 1 - c_b
    L = -log p(w | u) = Σ_b -log σ(±u·v_b)

which is the negative-sampling loss of ``sgns.py`` with the path's rows as outputs and y_b as their
labels (word2vec.c: ``g = (1 - code - f) * alpha``).  The gradient is therefore the same:

    g_b = σ(u·v_b) - y_b,    ∂L/∂u = Σ_b g_b v_b,    ∂L/∂v_b = g_b u

and so is the SGD step (``sgns.output_row`` on each node in turn, then the input): e = α Σ_b g_b v_b,
v_b <- v_b - α g_b u, u <- u - e.  The probabilities of all V words sum to 1 (each inner node splits
its mass in two), so the loss is a true softmax's over the vocabulary at O(log V) per example.

The step's σ is word2vec.c's and gensim's, not the exact one: a table of 1,000 values of σ over
(-6, 6), entry int((f + 6) * 83), and no step at a node with |f| >= 6 (``EXP_TABLE``).  Their
``EXP_TABLE_SIZE / MAX_EXP / 2`` is C's integer division, 83 and not 83.33, so the entry is
σ(0.996 f - 0.024) rounded down to the table's step of 0.012: every logit is offset by about
-0.03.  It is kept because it is what a gensim user trains: with it the drop-in's vectors are
gensim's to 1e-4 when nothing is random (``tests/test_gensim_word2vec.py``; several % apart with
the exact σ), and it costs nothing measurable in speed or scores (bench/results/lab-notes.md).
The loss reported is the exact one: the exact σ of every node is computed for it alone, which costs
a large share of skip-gram HS's training time, so it is computed only when asked (``compute_loss``,
gensim's switch: the compile-time size ``loss``, ``rules.py``, so that the kernel without it has no
trace of it).  Without it
the divergence check the loss feeds is kept: a logit that is NaN or ±inf (it fails the table's range
test, so it costs nothing on the step's path) makes the returned loss non-finite.  Negative sampling
keeps the exact σ (``sgns.sigmoid``): its step needs it.

With ``negative > 0`` as well, both losses are trained on the same example: e gathers the path's
terms, then the negatives' (fresh outputs, as ``walk.draw_outputs``), and the input moves once, as
word2vec.c does (gensim applies the two steps one after the other, the second from the input the
first has moved: the same step to first order in α).  With ``negative = 0`` the kernels receive an
empty syn1neg (0 rows) and train the path alone.

CBOW: u is h, the mean or sum of the context rows, and every context row takes e (e / cw for the
sum), as ``cbow.py``'s negative-sampling update.

The top of the tree, per thread (``hot.py``): every example's path starts at the root, so with
two threads both write the top rows on nearly every example (without the copies, 2 workers trained
fewer words/s than 1).  Each thread trains its own copy of the ``HOT_NODES`` most visited inner nodes for
the length of a job.  The nodes made last are the most visited (``prep.huffman_tree`` makes them in
increasing count, the root last), so the hot nodes are the last ones, rows [V - 1 - HOT_NODES,
V - 1) of syn1: no map is needed, a node t >= first is local[t - first].  At the job's end
skip-gram adds the thread's step to syn1's top, CBOW adds the threads' mean step (it trains better
so at two workers, ``hot.py``).
"""
from collections import namedtuple

import numpy as np
from numba import njit

from . import FASTMATH, KERNEL
from .cbow import cbow_window
from .hot import hot_load, hot_merge
from .prefetch import prefetch_row
from .sgns import computes_loss, log_accumulate, output_row, sigmoid
from .walk import each_pair, walk

MAX_EXP = 6.0  # word2vec.c's and gensim's σ table spans (-MAX_EXP, MAX_EXP) ...
EXP_TABLE_SIZE = 1000
TABLE_SCALE = float(EXP_TABLE_SIZE // int(MAX_EXP) // 2)  # ... indexed by (f + 6) * 83: C's integer division


def word2vec_sigmoid_table():
    """float32[EXP_TABLE_SIZE]: entry i is σ((2 i / EXP_TABLE_SIZE - 1) MAX_EXP), as word2vec.c's
    ``expTable`` and gensim's ``EXP_TABLE`` (the exponential in double, the rest in float32)."""
    x = (np.arange(EXP_TABLE_SIZE, dtype=np.float32) / np.float32(EXP_TABLE_SIZE) * np.float32(2)
         - np.float32(1)) * np.float32(MAX_EXP)
    e = np.exp(x.astype(np.float64)).astype(np.float32)
    return e / (e + np.float32(1))


EXP_TABLE = word2vec_sigmoid_table()  # a global array: Numba compiles it in as a constant
PATH_CHUNK = 64  # path nodes per sweep (a Huffman path of 64 nodes needs a corpus of ~2^44 words)
HOT_NODES = 256  # inner nodes nearest the root each thread trains in its own copy (2 x 100 KB at d=100)


@njit(inline="always", cache=True, fastmath=FASTMATH)
def hot_first(syn1, local):
    """The first of the hot inner nodes: syn1 [V, d] has V - 1 inner nodes (its last row is
    unused), the last local.shape[0] of them (all when fewer) are hot."""
    return max(syn1.shape[0] - 1 - local.shape[0], 0)


@njit(inline="always", cache=True, fastmath=FASTMATH)
def hot_count(syn1, first):
    """How many hot nodes from ``first``: the inner nodes up to V - 1 (syn1's last row is unused)."""
    return syn1.shape[0] - 1 - first


@njit(inline="always", cache=True, fastmath=FASTMATH)
def hs_path(syn1, local, points, codes, length, u, neu1e, logits, alpha, sizes, prod, loss):
    """The path's share of an SGD step for the input u [d]: e += Σ_b g_b v_b, v_b -= g_b u over the
    ``length`` nodes points[:length] (labels 1 - codes), PATH_CHUNK nodes at a time in three sweeps:
    all the chunk's logits (independent dot products, which the CPU overlaps), then σ and g, then the
    row updates.  The same numbers as one node after the other (``sgns.output_row`` on each): the
    nodes of a path are distinct rows and u does not move until the step ends, so no dot product
    reads a row another node of the pair has moved.  A hot node t (>= ``hot_first``) is the
    thread's local[t - first], taken as a row view, the choice written out in both sweeps (choosing
    between the two matrices instead and indexing the choice, or the same view returned by a helper
    function, made the row loops slower: bench/results/lab-notes.md).  logits: float32[2, PATH_CHUNK]
    scratch.  When the kernel computes the exact loss (``sgns.computes_loss``), every node's is
    folded into (prod, loss); otherwise only a non-finite logit (loss += |f|: the divergence check).
    Returns (prod, loss)."""
    dim = len(sizes.dim)
    exact_loss = computes_loss(sizes)
    first = hot_first(syn1, local)
    for start in range(0, length, PATH_CHUNK):
        n = min(PATH_CHUNK, length - start)
        for b in range(n):
            t = points[start + b]
            row = local[t - first] if t >= first else syn1[t]
            f = np.float32(0.0)
            for i in range(dim):
                f += u[i] * row[i]
            logits[0, b] = f
        if exact_loss:
            for b in range(n):
                logits[1, b] = sigmoid(logits[0, b])
        for b in range(n):
            label = codes[start + b] == 0
            f = logits[0, b]
            if exact_loss:
                prod, loss = log_accumulate(prod, loss, f, logits[1, b], label)
            g = np.float32(0.0)
            if -MAX_EXP < f < MAX_EXP:  # word2vec.c's and gensim's step: none where σ saturates
                g = alpha * (EXP_TABLE[int((f + MAX_EXP) * TABLE_SCALE)] - np.float32(label))
            elif not exact_loss and not abs(f) < np.inf:  # NaN or ±inf: the loss becomes so
                loss += abs(f)
            logits[1, b] = g
        for b in range(n):
            g = logits[1, b]
            t = points[start + b]
            row = local[t - first] if t >= first else syn1[t]
            for i in range(dim):
                neu1e[i] += g * row[i]
                row[i] -= g * u[i]
    return prod, loss


@njit(inline="always", cache=True, fastmath=FASTMATH)
def hs_outputs(weights, u, neu1e, logits, local, outputs, m, alpha, sizes, prod, loss):
    """e (neu1e [d]) and the output rows' steps for the input u [d] predicting w = outputs[0]: the
    nodes of w's path (``hs_path``, the hot ones in local), then, when syn1neg has rows, outputs[:m]
    as negative sampling's.  weights: a ``walk.HSWeights``.  Returns (prod, loss)."""
    syn1neg = weights.syn1neg
    word = outputs[0]
    for i in range(len(sizes.dim)):
        neu1e[i] = 0.0
    prod, loss = hs_path(weights.syn1, local, weights.points[word], weights.codes[word], weights.lengths[word], u,
                         neu1e, logits, alpha, sizes, prod, loss)
    if syn1neg.shape[0] > 0:
        for o in range(m):
            prod, loss = output_row(syn1neg, outputs[o], o == 0, u, neu1e, alpha, sizes, prod, loss)
    return prod, loss


# sg_hs's scratch: neu1e float32[d] (e), logits float32[2, PATH_CHUNK] (``hs_path``'s), hot_rows and
# hot_snapshot float32[HOT_NODES, >= d] (the thread's copy of the top of the tree, ``hot.py``).
HSPairScratch = namedtuple("HSPairScratch", "neu1e logits hot_rows hot_snapshot")
# cbow_hs's scratch: neu1 float32[d] (h), then as ``HSPairScratch``.
CbowHSScratch = namedtuple("CbowHSScratch", "neu1 neu1e logits hot_rows hot_snapshot")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def hs_pair(weights, scratch, sizes, word, outputs, m, alpha, prod, loss):
    """One skip-gram pair: input row ``word``, output word outputs[0] (the center) by its path (and
    the negatives outputs[1:m] when negative > 0), then u -= e.  scratch: an ``HSPairScratch``."""
    neu1e = scratch.neu1e
    dim = len(sizes.dim)
    u = weights.syn0[word]
    prod, loss = hs_outputs(weights, u, neu1e, scratch.logits, scratch.hot_rows, outputs, m, alpha, sizes, prod,
                            loss)
    for i in range(dim):
        u[i] -= neu1e[i]
    return prod, loss


@njit(inline="always", cache=True, fastmath=FASTMATH)
def cbow_hs_outputs(weights, scratch, sizes, outputs, m, alpha, prod, loss):
    """CBOW's output step for h = scratch.neu1: ``hs_outputs``, e left in scratch.neu1e (a
    ``CbowHSScratch``)."""
    return hs_outputs(weights, scratch.neu1, scratch.neu1e, scratch.logits, scratch.hot_rows, outputs, m, alpha,
                      sizes, prod, loss)


@njit(inline="always", cache=True)
def cbow_hs_window(update, weights, tables, config, thread, sizes, c, n, lo, hi, alpha, state, prod, loss):
    """``cbow.cbow_window`` with the center's path prefetched first: its rows in syn1 (the hot ones
    are the thread's, in cache) arrive while h is summed (faster, bench/results/lab-notes.md;
    skip-gram needs none: a center's path serves its whole window)."""
    syn1, points, lengths = weights.syn1, weights.points, weights.lengths
    word = thread.sentence[c]
    first = hot_first(syn1, thread.scratch.hot_rows)
    for b in range(lengths[word]):
        if points[word, b] < first:
            prefetch_row(syn1, points[word, b], len(sizes.dim))
    return cbow_window(update, weights, tables, config, thread, sizes, c, n, lo, hi, alpha, state, prod, loss)


@njit(**KERNEL)
def sg_hs(weights, tables, corpus, job, config, thread, sizes):
    """Skip-gram with hierarchical softmax (and negative sampling when syn1neg has rows), word2vec.c's
    pair stream (``walk.each_pair``).  Arguments and result as ``walk.walk``, weights a
    ``walk.HSWeights``; scratch an ``HSPairScratch`` (the hot nodes loaded at the job's start and
    merged at its end); sizes: dim, loss."""
    syn1, local, snapshot = weights.syn1, thread.scratch.hot_rows, thread.scratch.hot_snapshot
    first = hot_first(syn1, local)
    hot_load(syn1, first, hot_count(syn1, first), local, snapshot)
    result = walk(each_pair, hs_pair, weights, tables, corpus, job, config, thread, sizes)
    hot_merge(syn1, first, hot_count(syn1, first), local, snapshot, np.float32(1.0))  # the sum (hot.py)
    return result


@njit(**KERNEL)
def cbow_hs(weights, tables, corpus, job, config, thread, sizes):
    """CBOW with hierarchical softmax (and negative sampling when syn1neg has rows), one example per
    center word (``cbow_hs_window``).  Arguments and result as ``walk.walk``, weights a
    ``walk.HSWeights``; scratch a ``CbowHSScratch`` (hot nodes as ``sg_hs``, but merged as the mean of
    the config.threads threads' steps); sizes as ``sg_hs``."""
    syn1, local, snapshot = weights.syn1, thread.scratch.hot_rows, thread.scratch.hot_snapshot
    first = hot_first(syn1, local)
    hot_load(syn1, first, hot_count(syn1, first), local, snapshot)
    result = walk(cbow_hs_window, cbow_hs_outputs, weights, tables, corpus, job, config, thread, sizes)
    share = np.float32(1.0) / np.float32(config.threads)  # the threads' mean, not their sum (hot.py)
    hot_merge(syn1, first, hot_count(syn1, first), local, snapshot, share)
    return result
