"""SGNS update rules beyond SGD, word2vec.c's pair stream: Runge-Kutta steps and soft batch.

Same pairs as ``sgns.sgns_word2vec`` (fresh negatives per pair, a negative equal to the center word
skipped), same notation: for one pair the input row u = syn0[context], the output rows
t_0 = syn1neg[center] (label 1) and t_1..t_m = syn1neg[negatives] (label 0), the pair's loss

    L(u, T) = -log σ(u·t_0) - Σ_o log σ(-u·t_o)
    ∂L/∂u = Σ_o (σ(f_o) - y_o) t_o =: k_u        ∂L/∂t_o = (σ(f_o) - y_o) u =: k_o

**Heun** (``sgns_heun``): the same step as the Heun tableau, with the trial point's logits
computed from dot products instead of trial rows (``heun_example``: SGNS is bilinear).

**Runge-Kutta** (``sgns_runge_kutta``, used for RK4): gradient descent is Euler's method on dp/dt = -∇L(p); an
explicit tableau (a, b) with s stages takes, for the rows this pair touches (u and the t_o),

    k^1 = ∇L(p),   k^i = ∇L(p - α Σ_{j<i} a_ij k^j),   p <- p - α Σ_i b_i k^i

Heun: a = [[1]], b = [1/2, 1/2]; RK4: the classical tableau.  Rows are moved as a scatter would move
them: an output row that occurs twice in the pair (two equal negatives) moves by the sum of both
occurrences' terms, at trial points and in the final step (as the Keras variant's analytic path,
``keras/model.py``, does for a batch; tested equal to 1e-5).  A stage evaluates only this pair's
rows, so Heun costs about two SGD steps, RK4 about four.

**Soft batch** (``sgns_soft_batch``): the SGD steps of K consecutive pairs are computed at the same
weights (nothing moves meanwhile), kept, and applied together: Σ of K per-pair steps, each with its
own α (word2vec's per-pair learning rate, so K = 1 is plain SGD).  Windows of K pairs do not cross
jobs (~10,000 words): the last window of a job is applied short.

The loss is the pair's loss at the start point p (what SGD reports), exact as in ``sgns.py``.
"""
import math

import numpy as np
from numba import njit

from . import FASTMATH
from .rng import rng_next
from .sampling import draw_alias
from .sgns import log_accumulate, reduced_window, sentence_alpha, sigmoid, subsample

# Butcher tableaus of explicit Runge-Kutta methods for an autonomous ODE: (a rows 2..s, b).
TABLEAUS = {
    "euler": ((), (1.0,)),
    "heun": (((1.0,),), (0.5, 0.5)),
    "midpoint": (((0.5,),), (0.0, 1.0)),
    "rk4": (((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)),
}


def tableau_arrays(method):
    """(a float32[s, s] strictly lower triangular, b float32[s]) of a method in TABLEAUS."""
    rows, weights = TABLEAUS[method]
    a = np.zeros((len(weights), len(weights)), dtype=np.float32)
    for i, row in enumerate(rows):
        a[i + 1, :len(row)] = row
    return a, np.array(weights, dtype=np.float32)


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _stage_gradient(u, t, rows, m, st, ku, kt, sizes, prod, loss):
    """k^st at the point whose input row is u [d] and output rows t[rows[o]] (o < m); the loss of
    stage 0 is folded into (prod, loss)."""
    dim = len(sizes[0])
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
            prod, loss = log_accumulate(prod, loss, f, sig, label)
        g = sig - np.float32(label)
        for i in range(dim):
            ku[st, i] += g * t[r, i]
            kt[st, o, i] = g * u[i]
    return prod, loss


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


@njit(cache=True, fastmath=FASTMATH)
def runge_kutta_example(syn0, syn1neg, word, outputs, m, alpha, tableau, scratch, sizes, prod, loss):
    """One Runge-Kutta step on the example (input row ``word``, output rows outputs[:m], the first
    labelled 1).  tableau: (a float32[s, s], b float32[s]).  scratch: (u [d], t [K1, d],
    ku [s, d], kt [s, K1, d], move [K1, d], same int64[K1], order int64[K1]).  The tables are not
    written until the final step, so stage 1 reads them directly.  Returns (prod, loss) with the
    example's loss at the start point folded in (``log_accumulate``)."""
    a, b = tableau
    u, t, ku, kt, move, same, order = scratch
    dim = len(sizes[0])
    stages = b.shape[0]
    for o in range(m):
        order[o] = o
        same[o] = o
        for p in range(o):
            if outputs[p] == outputs[o]:
                same[o] = same[p]
                break
    prod, loss = _stage_gradient(syn0[word], syn1neg, outputs, m, 0, ku, kt, sizes, prod, loss)
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
        prod, loss = _stage_gradient(u, t, order, m, st, ku, kt, sizes, prod, loss)
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


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def sgns_runge_kutta(weights, tables, corpus, job, params, thread, sizes):
    """word2vec.c's pair stream, each pair updated by one Runge-Kutta step (module docstring).

    As ``sgns.sgns_word2vec`` except params = (window, negative, (a float32[s, s], b float32[s]))
    and thread = (rng uint64[1], sentence int32[MAX_SENTENCE], outputs int64[K1], scratch of
    ``runge_kutta_example``).  Returns (pairs, summed pair loss at the start points, effective words).
    """
    syn0, syn1neg = weights
    keep, accept, alias = tables
    ids, starts = corpus
    window, negative, tableau = params
    rng, sentence, outputs, scratch = thread
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
                state, m = draw_outputs(state, word, negative, accept, alias, outputs)
                prod, loss = runge_kutta_example(syn0, syn1neg, sentence[a], outputs, m, alpha, tableau,
                                                 scratch, sizes, prod, loss)
                pairs += 1
    rng[0] = state
    return pairs, loss - math.log(prod), effective


@njit(cache=True, fastmath=FASTMATH)
def heun_example(syn0, syn1neg, word, outputs, m, alpha, scratch, sizes, prod, loss):
    """Heun's step on one example without building the trial rows: SGNS is bilinear, so the trial
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
    scratch: (k_u float32[d], du float32[d], logits, g, g̃, G float32[K1] each).
    """
    ku, du, logits, g, g2, same_sum = scratch
    dim = len(sizes[0])
    for o in range(m):
        t = outputs[o]
        f = np.float32(0.0)
        for i in range(dim):
            f += syn0[word, i] * syn1neg[t, i]
        sig = sigmoid(f)
        label = o == 0
        prod, loss = log_accumulate(prod, loss, f, sig, label)
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


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def sgns_heun(weights, tables, corpus, job, params, thread, sizes):
    """word2vec.c's pair stream, each pair updated by Heun's method (``heun_example``).

    As ``sgns.sgns_word2vec`` except thread = (rng uint64[1], sentence int32[MAX_SENTENCE],
    outputs int64[K1], scratch of ``heun_example``).
    """
    syn0, syn1neg = weights
    keep, accept, alias = tables
    ids, starts = corpus
    window, negative = params
    rng, sentence, outputs, scratch = thread
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
                state, m = draw_outputs(state, word, negative, accept, alias, outputs)
                prod, loss = heun_example(syn0, syn1neg, sentence[a], outputs, m, alpha, scratch, sizes,
                                          prod, loss)
                pairs += 1
    rng[0] = state
    return pairs, loss - math.log(prod), effective


@njit(cache=True, fastmath=FASTMATH)
def soft_batch_apply(syn0, syn1neg, window_rows, deltas, count, width, sizes):
    """Add the kept steps of ``count`` pairs: pair e moves syn0[window_rows[e, 0]] by deltas[e, 0]
    and syn1neg[window_rows[e, o]] by deltas[e, o] for o = 1..width[e]-1."""
    dim = len(sizes[0])
    for e in range(count):
        w = window_rows[e, 0]
        for i in range(dim):
            syn0[w, i] += deltas[e, 0, i]
        for o in range(1, width[e]):
            t = window_rows[e, o]
            for i in range(dim):
                syn1neg[t, i] += deltas[e, o, i]


@njit(cache=True, fastmath=FASTMATH)
def soft_batch_keep(syn0, syn1neg, word, outputs, m, alpha, slot, window_rows, deltas, width, sizes,
                    prod, loss):
    """Compute the SGD step of one example at the current weights and keep it in ``slot``:
    rows [word, outputs[:m]], deltas [α Σ_o g_o t_o, g_o u ...] with g_o = α (y_o - σ(u·t_o))."""
    dim = len(sizes[0])
    window_rows[slot, 0] = word
    for i in range(dim):
        deltas[slot, 0, i] = 0.0
    for o in range(m):
        t = outputs[o]
        window_rows[slot, o + 1] = t
        f = np.float32(0.0)
        for i in range(dim):
            f += syn0[word, i] * syn1neg[t, i]
        sig = sigmoid(f)
        label = o == 0
        prod, loss = log_accumulate(prod, loss, f, sig, label)
        g = alpha * (np.float32(label) - sig)
        for i in range(dim):
            deltas[slot, 0, i] += g * syn1neg[t, i]
            deltas[slot, o + 1, i] = g * syn0[word, i]
    width[slot] = m + 1
    return prod, loss


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def sgns_soft_batch(weights, tables, corpus, job, params, thread, sizes):
    """word2vec.c's pair stream with the steps of K consecutive pairs applied together.

    As ``sgns.sgns_word2vec`` except params = (window, negative, K) and thread = (rng uint64[1],
    sentence int32[MAX_SENTENCE], outputs int64[K1], window_rows int64[K, K1 + 1],
    deltas float32[K, K1 + 1, d], width int64[K]).
    """
    syn0, syn1neg = weights
    keep, accept, alias = tables
    ids, starts = corpus
    window, negative, steps = params
    rng, sentence, outputs, window_rows, deltas, width = thread
    state = rng[0]
    pairs = 0
    effective = 0
    loss = 0.0
    prod = 1.0
    kept = 0
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
                state, m = draw_outputs(state, word, negative, accept, alias, outputs)
                prod, loss = soft_batch_keep(syn0, syn1neg, sentence[a], outputs, m, alpha, kept,
                                             window_rows, deltas, width, sizes, prod, loss)
                kept += 1
                pairs += 1
                if kept == steps:
                    soft_batch_apply(syn0, syn1neg, window_rows, deltas, kept, width, sizes)
                    kept = 0
    soft_batch_apply(syn0, syn1neg, window_rows, deltas, kept, width, sizes)
    rng[0] = state
    return pairs, loss - math.log(prod), effective
