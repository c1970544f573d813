"""SGNS update rules beyond SGD on word2vec.c's pair stream: Runge-Kutta steps and soft batch.

Each rule is a per-pair update for ``walk.each_pair`` (the same pairs as ``sgns.sgns_word2vec``:
fresh negatives per pair, a negative equal to the center word skipped) and a thin cached kernel.
Notation and sign convention as ``sgns.py``: for one pair the input row u = syn0[word], the output
rows t_0 = syn1neg[center] (label 1) and t_o = syn1neg[negatives] (label 0), g_o = σ(f_o) - y_o and

    ∂L/∂u = Σ_o g_o t_o =: k_u        ∂L/∂t_o = g_o u =: k_o

every step subtracting α times a gradient.

**Heun** (``heun_pair``): the same step as the Heun tableau, with the trial point's logits
computed from dot products instead of trial rows (SGNS is bilinear).

**Runge-Kutta** (``runge_kutta_pair``, used for RK4): gradient descent is Euler's method on
dp/dt = -∇L(p); an explicit tableau (a, b) with s stages takes, for the rows this pair touches
(u and the t_o),

    k^1 = ∇L(p),   k^i = ∇L(p - α Σ_{j<i} a_ij k^j),   p <- p - α Σ_i b_i k^i

Heun: a = [[1]], b = [1/2, 1/2]; RK4: the classical tableau.  Rows are moved as a scatter would move
them: an output row that occurs twice in the pair (two equal negatives) moves by the sum of both
occurrences' terms, at trial points and in the final step (as the Keras variant's analytic path,
``keras/model.py``, does for a batch; both are tested against one float64 reference).  A stage
evaluates only this pair's rows, so Heun costs about two SGD steps, RK4 about four.

**SGD plus Heun's radial term** (``radial_pair``): a control for measuring why Heun differs from
SGD, not an optimizer (``rules.CONTROLS``).

**Soft batch** (``soft_batch_pair``, ``soft_batch_flush``): the SGD steps of K consecutive pairs
(K = ``accumulate``) are computed at the same weights (nothing moves meanwhile), kept, and applied
together: Σ of K per-pair steps, each with its own α (word2vec's per-pair learning rate, so K = 1 is
plain SGD).  Accumulations do not cross jobs (~10,000 words): the last one of a job is applied short.

The loss is the pair's loss at the start point p (what SGD reports), exact as in ``sgns.py``.
"""
from collections import namedtuple

import numpy as np
from numba import njit

from . import FASTMATH, KERNEL
from .sgns import logit, loss_term, sigmoid
from .walk import each_pair, walk


@njit(inline="always", cache=True, fastmath=FASTMATH)
def stage_gradient(u, t, rows, m, st, ku, kt, sizes, prod, loss):
    """k^st at the point whose input row is u [d] and output rows t[rows[o]] (o < m): ku[st] = k_u,
    kt[st, o] = k_o; the loss of stage 0 is folded into (prod, loss)."""
    dim = len(sizes.dim)
    for i in range(dim):
        ku[st, i] = 0.0
    for o in range(m):
        r = rows[o]
        f = np.float32(0.0)
        for i in range(dim):
            f += u[i] * t[r, i]
        sig = sigmoid(f)
        label = o == 0
        if st == 0:
            prod, loss = loss_term(sizes, prod, loss, f, sig, label)
        g = sig - np.float32(label)
        for i in range(dim):
            ku[st, i] += g * t[r, i]
            kt[st, o, i] = g * u[i]
    return prod, loss


# runge_kutta_pair's scratch: the tableau a float32[s, s], b float32[s] (``tableaus.tableau_arrays``);
# a trial point's input row u float32[d] and output rows t float32[K1, d]; the stages' gradients
# ku float32[s, d], kt float32[s, K1, d]; move float32[K1, d] (a trial point's output steps); same
# int64[K1] (each output's first occurrence), order int64[K1] (0..K1-1).
RungeKuttaScratch = namedtuple("RungeKuttaScratch", "a b u t ku kt move same order")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def runge_kutta_pair(weights, scratch, sizes, word, outputs, m, alpha, prod, loss):
    """One Runge-Kutta step on one pair (input row ``word``, output rows outputs[:m], the first
    labelled 1).  scratch: a ``RungeKuttaScratch``.  The tables are not written until the final step,
    so stage 1 reads them directly.  Returns (prod, loss) with the pair's loss at the start point
    folded in."""
    syn0, syn1neg = weights.syn0, weights.syn1neg
    a, b, u, t, ku = scratch.a, scratch.b, scratch.u, scratch.t, scratch.ku
    kt, move, same, order = scratch.kt, scratch.move, scratch.same, scratch.order
    dim = len(sizes.dim)
    stages = b.shape[0]
    for o in range(m):
        order[o] = o
        same[o] = o
        for p in range(o):
            if outputs[p] == outputs[o]:
                same[o] = same[p]
                break
    prod, loss = stage_gradient(syn0[word], syn1neg, outputs, m, 0, ku, kt, sizes, prod, loss)
    for st in range(1, stages):
        # The trial point p - α Σ_j a[st, j] k^j: per occurrence, then each repeated row's terms
        # folded into its first occurrence.
        for i in range(dim):
            u[i] = syn0[word, i]
        for o in range(m):
            for i in range(dim):
                move[o, i] = 0.0
        for j in range(st):
            c = alpha * a[st, j]
            if c != 0.0:
                for i in range(dim):
                    u[i] -= c * ku[j, i]
                for o in range(m):
                    for i in range(dim):
                        move[o, i] += c * kt[j, o, i]
        for o in range(m):
            if same[o] != o:
                for i in range(dim):
                    move[same[o], i] += move[o, i]
        for o in range(m):
            r, f = outputs[o], same[o]
            for i in range(dim):
                t[o, i] = syn1neg[r, i] - move[f, i]
        prod, loss = stage_gradient(u, t, order, m, st, ku, kt, sizes, prod, loss)
    # p <- p - α Σ_i b_i k^i, occurrence by occurrence (repeated rows add up).
    for j in range(stages):
        c = alpha * b[j]
        if c != 0.0:
            for i in range(dim):
                syn0[word, i] -= c * ku[j, i]
            for o in range(m):
                r = outputs[o]
                for i in range(dim):
                    syn1neg[r, i] -= c * kt[j, o, i]
    return prod, loss


@njit(**KERNEL)
def sgns_runge_kutta(weights, tables, corpus, job, config, thread, sizes):
    """word2vec.c's pair stream, each pair updated by one Runge-Kutta step (``runge_kutta_pair``).

    Arguments and result as ``walk.walk``; scratch a ``RungeKuttaScratch``; sizes: dim, loss.
    """
    return walk(each_pair, runge_kutta_pair, weights, tables, corpus, job, config, thread, sizes)


# heun_pair's scratch: ku float32[d] (k_u), du float32[d] (u's step), logits, g, g2 (g̃), same_sum (G)
# float32[K1] each.
HeunScratch = namedtuple("HeunScratch", "ku du logits g g2 same_sum")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def heun_pair(weights, scratch, sizes, word, outputs, m, alpha, prod, loss):
    """Heun's step on one pair without building the trial rows: SGNS is bilinear, so the trial
    logits follow from dot products of the rows the pair already has.

    With u the input row, t_o the output rows (o < m), g_o = σ(u·t_o) - y_o, k_u = Σ_o g_o t_o and
    G_o = Σ of g over the occurrences of t_o's row (a repeated negative moves once per occurrence):

        trial rows      ũ = u - α k_u              t̃_o = t_o - α G_o u
        trial logits    ũ·t̃_o = u·t_o - α G_o |u|² - α k_u·t_o + α² G_o k_u·u
        g̃_o = σ(ũ·t̃_o) - y_o
        Heun            u   <- u - α/2 (Σ_o (g_o + g̃_o) t_o - α (Σ_o g̃_o G_o) u)
                        t_o <- t_o - α/2 ((g_o + g̃_o) u - α g̃_o k_u)      (per occurrence)

    which is p - α/2 (k¹ + k²) with k¹ = ∇L(p), k² = ∇L(p - α k¹), term by term: about five passes
    over the pair's rows against SGD's three, not twice SGD plus the trial rows.
    scratch: a ``HeunScratch``.
    """
    syn0, syn1neg = weights.syn0, weights.syn1neg
    ku, du, logits, g, g2, same_sum = scratch.ku, scratch.du, scratch.logits, scratch.g, scratch.g2, scratch.same_sum
    dim = len(sizes.dim)
    for o in range(m):
        t = outputs[o]
        f = logit(syn0, word, syn1neg, t, dim)
        sig = sigmoid(f)
        label = o == 0
        prod, loss = loss_term(sizes, prod, loss, f, sig, label)
        logits[o] = f
        g[o] = sig - np.float32(label)
    for i in range(dim):
        ku[i] = 0.0
    for o in range(m):
        t = outputs[o]
        for i in range(dim):
            ku[i] += g[o] * syn1neg[t, i]
    uu = np.float32(0.0)
    ku_u = np.float32(0.0)
    for i in range(dim):
        uu += syn0[word, i] * syn0[word, i]
        ku_u += ku[i] * syn0[word, i]
    c = np.float32(0.0)
    for o in range(m):
        same_sum[o] = 0.0
        for p in range(m):
            if outputs[p] == outputs[o]:
                same_sum[o] += g[p]
        t = outputs[o]
        ku_t = np.float32(0.0)
        for i in range(dim):
            ku_t += ku[i] * syn1neg[t, i]
        f2 = logits[o] - alpha * same_sum[o] * uu - alpha * ku_t + alpha * alpha * same_sum[o] * ku_u
        g2[o] = sigmoid(f2) - np.float32(o == 0)
        c += g2[o] * same_sum[o]
    # du from the rows as they were, then the output rows (from u as it was), then u.
    for i in range(dim):
        du[i] = -alpha * c * syn0[word, i]
    for o in range(m):
        t = outputs[o]
        h = g[o] + g2[o]
        for i in range(dim):
            du[i] += h * syn1neg[t, i]
    half = np.float32(0.5) * alpha
    for o in range(m):
        t = outputs[o]
        h = g[o] + g2[o]
        a2 = alpha * g2[o]
        for i in range(dim):
            syn1neg[t, i] -= half * (h * syn0[word, i] - a2 * ku[i])
    for i in range(dim):
        syn0[word, i] -= half * du[i]
    return prod, loss


@njit(**KERNEL)
def sgns_heun(weights, tables, corpus, job, config, thread, sizes):
    """word2vec.c's pair stream, each pair updated by Heun's method (``heun_pair``).

    Arguments and result as ``walk.walk``; scratch a ``HeunScratch``; sizes: dim, loss.
    """
    return walk(each_pair, heun_pair, weights, tables, corpus, job, config, thread, sizes)


# radial_pair's scratch: ku float32[d] (k_u), g float32[K1], same_sum float32[K1] (G; 0 for a repeated
# occurrence).
RadialScratch = namedtuple("RadialScratch", "ku g same_sum")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def radial_pair(weights, scratch, sizes, word, outputs, m, alpha, prod, loss):
    """SGD's step plus only the radial part of Heun's: a measurement control (``bench/heun_mechanism.py``
    asks whether this term is what makes Heun differ from SGD), not an optimizer.

    Heun's step expanded in α: k² = ∇L(p - α k¹) = k¹ - α H k¹ + O(α²), so

        p - α/2 (k¹ + k²) = p - α k¹ + α²/2 H k¹ + O(α³).

    For one pair, with s_o = σ'(f_o), G_r = Σ of g over the occurrences of output row r (Σ_r over
    the distinct rows) and k¹ = (k_u, G_r u), the Hessian's off-diagonal block being
    ∂²L/∂u∂t_o = g_o I + s_o t_o uᵀ:

        (H k¹)_u   = Σ_o s_o (k_u·t_o + G_o |u|²) t_o  +  (Σ_r G_r²) u
        (H k¹)_t_r = Σ_{o in r} s_o (k_u·t_o + G_r |u|²) u  +  G_r Σ_{p not in r} g_p t_p  +  G_r² t_r

    The last term of each is along the row itself with a positive coefficient: it lengthens every
    row the pair touches, by α²/2 times the squared gradient coefficient.  This rule takes SGD's step
    and only that term, everything at the start point (as Heun, unlike word2vec.c's SGD, which
    reads a repeated output row as the previous occurrence left it):

        t_r <- (1 + α²/2 G_r²) t_r - α G_r u               (each distinct row once)
        u   <- (1 + α²/2 Σ_r G_r²) u - α Σ_o g_o t_o

    scratch: a ``RadialScratch``.
    """
    syn0, syn1neg = weights.syn0, weights.syn1neg
    ku, g, same_sum = scratch.ku, scratch.g, scratch.same_sum
    dim = len(sizes.dim)
    for o in range(m):
        f = logit(syn0, word, syn1neg, outputs[o], dim)
        sig = sigmoid(f)
        label = o == 0
        prod, loss = loss_term(sizes, prod, loss, f, sig, label)
        g[o] = sig - np.float32(label)
    grow_u = np.float32(0.0)
    for o in range(m):
        same_sum[o] = 0.0
        first = True
        for p in range(o):
            if outputs[p] == outputs[o]:
                first = False
        if first:
            for p in range(o, m):
                if outputs[p] == outputs[o]:
                    same_sum[o] += g[p]
            grow_u += same_sum[o] * same_sum[o]
    for i in range(dim):
        ku[i] = 0.0
    for o in range(m):
        t = outputs[o]
        for i in range(dim):
            ku[i] += g[o] * syn1neg[t, i]
    half2 = np.float32(0.5) * alpha * alpha
    for o in range(m):
        if same_sum[o] != 0.0:
            t = outputs[o]
            scale = np.float32(1.0) + half2 * same_sum[o] * same_sum[o]
            step = alpha * same_sum[o]
            for i in range(dim):
                syn1neg[t, i] = scale * syn1neg[t, i] - step * syn0[word, i]
    scale = np.float32(1.0) + half2 * grow_u
    for i in range(dim):
        syn0[word, i] = scale * syn0[word, i] - alpha * ku[i]
    return prod, loss


@njit(**KERNEL)
def sgns_radial(weights, tables, corpus, job, config, thread, sizes):
    """word2vec.c's pair stream, each pair updated by SGD plus Heun's radial term (``radial_pair``).

    Arguments and result as ``walk.walk``; scratch a ``RadialScratch``; sizes: dim, loss.
    """
    return walk(each_pair, radial_pair, weights, tables, corpus, job, config, thread, sizes)


# The soft batch's scratch: rows int64[K, K1 + 1] (each kept step's input row, then its output rows),
# deltas float32[K, K1 + 1, d] (their steps), width int64[K] (each step's rows), kept int64[1] (the
# number of steps kept so far).
SoftBatchScratch = namedtuple("SoftBatchScratch", "rows deltas width kept")


@njit(inline="always", cache=True, fastmath=FASTMATH)
def soft_batch_flush(weights, scratch, sizes):
    """Apply the kept steps and empty the accumulation: kept pair e moves syn0[rows[e, 0]] by
    -deltas[e, 0] and syn1neg[rows[e, o]] by -deltas[e, o] for o = 1..width[e]-1."""
    syn0, syn1neg = weights.syn0, weights.syn1neg
    rows, deltas, width, kept = scratch.rows, scratch.deltas, scratch.width, scratch.kept
    dim = len(sizes.dim)
    for e in range(kept[0]):
        w = rows[e, 0]
        for i in range(dim):
            syn0[w, i] -= deltas[e, 0, i]
        for o in range(1, width[e]):
            t = rows[e, o]
            for i in range(dim):
                syn1neg[t, i] -= deltas[e, o, i]
    kept[0] = 0


@njit(inline="always", cache=True, fastmath=FASTMATH)
def soft_batch_pair(weights, scratch, sizes, word, outputs, m, alpha, prod, loss):
    """Compute one pair's SGD step at the current weights and keep it: rows [word, outputs[:m]],
    deltas [α Σ_o g_o t_o, α g_o u ...] with g_o = σ(u·t_o) - y_o; apply the K kept steps when the
    K-th arrives.  scratch: a ``SoftBatchScratch``."""
    syn0, syn1neg = weights.syn0, weights.syn1neg
    rows, deltas, width, kept = scratch.rows, scratch.deltas, scratch.width, scratch.kept
    dim = len(sizes.dim)
    slot = kept[0]
    rows[slot, 0] = word
    for i in range(dim):
        deltas[slot, 0, i] = 0.0
    for o in range(m):
        t = outputs[o]
        rows[slot, o + 1] = t
        f = np.float32(0.0)
        for i in range(dim):
            f += syn0[word, i] * syn1neg[t, i]
        sig = sigmoid(f)
        label = o == 0
        prod, loss = loss_term(sizes, prod, loss, f, sig, label)
        g = alpha * (sig - np.float32(label))
        for i in range(dim):
            deltas[slot, 0, i] += g * syn1neg[t, i]
            deltas[slot, o + 1, i] = g * syn0[word, i]
    width[slot] = m + 1
    kept[0] = slot + 1
    if kept[0] == rows.shape[0]:
        soft_batch_flush(weights, scratch, sizes)
    return prod, loss


@njit(**KERNEL)
def sgns_soft_batch(weights, tables, corpus, job, config, thread, sizes):
    """word2vec.c's pair stream with the steps of K consecutive pairs applied together
    (``soft_batch_pair``); what a job leaves kept is applied at its end (``soft_batch_flush``).

    Arguments and result as ``walk.walk``; scratch a ``SoftBatchScratch``; sizes: dim, loss.
    """
    result = walk(each_pair, soft_batch_pair, weights, tables, corpus, job, config, thread, sizes)
    soft_batch_flush(weights, thread.scratch, sizes)
    return result
