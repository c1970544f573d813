"""Slow, obviously right reference implementations the kernels are tested against.

Plain Python loops and NumPy, float64 where it costs nothing, the RNG replayed with Python integers,
the sigmoid from ``math.exp``.  Nothing here is imported by the package.
"""
import math

import numpy as np

MASK64 = (1 << 64) - 1


class XorShift:
    """xorshift64* with Python integers: the same stream as kernels/rng.py."""

    def __init__(self, state):
        self.state = int(state)

    def next(self):
        x = self.state
        x ^= x >> 12
        x ^= (x << 25) & MASK64
        x ^= x >> 27
        self.state = x
        return (x * 0x2545F4914F6CDD1D) & MASK64

    def below(self, n, r):
        return ((r >> 32) * n) >> 32


def alias_draw(r, accept, alias):
    """Walker's draw from an alias table as ``build_alias_table`` makes it (two arrays)."""
    i = ((r >> 32) * len(accept)) >> 32
    return i if (r & 0xFFFFFFFF) < int(accept[i]) else int(alias[i])


def unpacked(table):
    """(accept, alias) of a packed alias table (``pack_alias_table``: threshold high, alias low)."""
    table = np.asarray(table, dtype=np.uint64)
    return table >> np.uint64(32), (table & np.uint64(0xFFFFFFFF)).astype(np.int64)


def sigmoid(f):
    return 1.0 / (1.0 + math.exp(-f))


def word2vec_sigmoid(f):
    """σ as word2vec.c's and gensim's table gives it: entry int((f + 6) * 83) of the 1000 values
    σ((2 i / 1000 - 1) * 6) (83 is their EXP_TABLE_SIZE / MAX_EXP / 2 in C's integer division);
    None where |f| >= 6 (no step)."""
    if not -6.0 < f < 6.0:
        return None
    i = int((f + 6.0) * 83)
    return sigmoid((2.0 * i / 1000.0 - 1.0) * 6.0)


def sgns_loss(u, outputs, labels):
    """Sum over outputs t of -log σ(±u·t) for one input vector u (float64)."""
    total = 0.0
    for t, y in zip(outputs, labels):
        f = float(np.dot(u, t))
        total += -math.log(sigmoid(f) if y else sigmoid(-f))
    return total


def sgns_gradient(u, outputs, labels):
    """The hand-derived gradient of ``sgns_loss``: ∂L/∂u = Σ (σ(f)-y) t, ∂L/∂t = (σ(f)-y) u."""
    du = np.zeros_like(u)
    dts = []
    for t, y in zip(outputs, labels):
        coef = sigmoid(float(np.dot(u, t))) - y
        du += coef * t
        dts.append(coef * u)
    return du, dts


def sgd_outputs(u, word, outputs, alpha, syn1neg, hs=None):
    """word2vec.c's output step in float64 for the input u predicting ``word``: the nodes of its
    Huffman path (hs = (syn1, points, codes, lengths): label 1 - code; σ from word2vec.c's table,
    ``word2vec_sigmoid``), then, when syn1neg has rows, ``outputs`` (the first labelled 1; the exact
    σ), each row read as the previous ones left it and moved in place.  Returns (e = α Σ g t, the
    summed loss, exact)."""
    terms = []
    if hs is not None:
        syn1, points, codes, lengths = hs
        terms += [(syn1, int(points[word, b]), 1.0 - float(codes[word, b]), word2vec_sigmoid)
                  for b in range(lengths[word])]
    if len(syn1neg):
        terms += [(syn1neg, t, 1.0 if o == 0 else 0.0, sigmoid) for o, t in enumerate(outputs)]
    e, loss = np.zeros(len(u)), 0.0
    for rows, t, y, step_sigmoid in terms:
        t_row = rows[t].astype(np.float64)
        loss += sgns_loss(u, [t_row], [y])
        sig = step_sigmoid(float(np.dot(u, t_row)))
        g = 0.0 if sig is None else float(alpha) * (sig - y)
        e += g * t_row
        rows[t] -= (g * u).astype(np.float32)
    return e, loss


def hs_probabilities(u, syn1, points, codes, lengths):
    """p(w | u) for every word w of the tree: the product of σ(±u·v) along w's path (float64)."""
    return np.array([math.prod(sigmoid(float(np.dot(u, syn1[points[w, b]])) * (1 - 2 * int(codes[w, b])))
                               for b in range(lengths[w])) for w in range(len(lengths))])


def _windows(sentence, window, rng, shrink=True):
    """Yield (center position, its context positions) with word2vec.c's reduced window (or the
    whole window, no draw, when not ``shrink``)."""
    n = len(sentence)
    for c in range(n):
        reach = window - rng.below(window, rng.next()) if shrink else window
        yield c, [a for a in range(max(0, c - reach), min(n, c + reach + 1)) if a != c]


def _subsample(ids, keep, rng):
    out = []
    for w in ids:
        k = int(keep[w])
        if k < (1 << 32) and (rng.next() >> 32) >= k:
            continue
        out.append(int(w))
    return out


def pair_stream(ids, starts, tables, window, negative, rng, jobs, shrink=True):
    """word2vec.c's pair stream, as the kernels walk it: yield (job index, alpha, context word, outputs)
    with outputs = [center] + the negatives not equal to the center (a skipped draw still costs
    one draw).  jobs: [(first sentence, end sentence, alpha0, alpha1)], alpha linear over each job's
    raw words."""
    keep, negatives = tables
    accept, alias = unpacked(negatives)
    for j, (s0, s1, alpha0, alpha1) in enumerate(jobs):
        total = max(int(starts[s1] - starts[s0]), 1)
        for s in range(s0, s1):
            alpha = np.float32(alpha0 + (alpha1 - alpha0) * (starts[s] - starts[s0]) / total)
            sentence = _subsample(ids[starts[s]:starts[s + 1]], keep, rng)
            for c, context in _windows(sentence, window, rng, shrink):
                word = sentence[c]
                for p in context:
                    draws = [alias_draw(rng.next(), accept, alias) for _ in range(negative)]
                    yield j, alpha, sentence[p], [word] + [t for t in draws if t != word]


def runge_kutta_step(U, T, x, y, h, method):
    """One explicit Runge-Kutta step of the gradient flow of the mean SGNS loss of the batch
    x = (inputs, outputs), labels y, step h; method: a name in ``tableaus.TABLEAUS``.  Float64,
    trial points as whole tables (``batch_gradient``): independent of both engines' shortcuts."""
    from w2v_fastopt.tableaus import TABLEAUS

    rows, b = TABLEAUS[method]
    U, T = U.astype(np.float64), T.astype(np.float64)
    ks = [batch_gradient(U, T, x[0], x[1], y)]
    for row in rows:
        ks.append(batch_gradient(U - h * sum(a * k[0] for a, k in zip(row, ks)),
                                 T - h * sum(a * k[1] for a, k in zip(row, ks)), x[0], x[1], y))
    return U - h * sum(w * k[0] for w, k in zip(b, ks)), T - h * sum(w * k[1] for w, k in zip(b, ks))


def train_pairs_reference(syn0, syn1neg, tables, ids, starts, window, negative, state, jobs, rule,
                          accumulate=1, shrink=True, hs=None):
    """The pair-stream rules over ``jobs``, updating float32 ``syn0``/``syn1neg`` in place:
    rule "sgd" (word2vec.c's step; with ``hs`` = (syn1, points, codes, lengths) hierarchical softmax's
    too, and negative sampling's only when syn1neg has rows), "heun"/"rk4" (``runge_kutta_step`` on
    each pair), "sgd+radial" (SGD plus Heun's radial terms, ``solvers.radial_pair``) or "softbatch"
    (the SGD steps of ``accumulate`` pairs taken at the same weights, applied together; what is
    left at the end of a job is applied then).  Returns (pairs, summed loss, final rng state)."""
    rng = XorShift(state)
    pairs, loss = 0, 0.0
    kept = []

    def flush():
        for word, outputs, du, dts in kept:
            syn0[word] -= du.astype(np.float32)
            for t, dt in zip(outputs, dts):
                syn1neg[t] -= dt.astype(np.float32)
        kept.clear()

    last_job = 0
    for j, alpha, word, outputs in pair_stream(ids, starts, tables, window, negative, rng, jobs, shrink):
        if j != last_job:
            flush()
            last_job = j
        labels = [1.0] + [0.0] * (len(outputs) - 1)
        pairs += 1
        if rule == "sgd":  # word2vec.c: each output row read as the previous ones left it, u at the end
            neu1e, pair_loss = sgd_outputs(syn0[word].astype(np.float64), outputs[0], outputs, alpha, syn1neg, hs)
            loss += pair_loss
            syn0[word] -= neu1e.astype(np.float32)
            continue
        u, T = syn0[word].astype(np.float64), syn1neg[outputs].astype(np.float64)
        loss += sgns_loss(u, T, labels)
        if rule in ("heun", "rk4"):
            x = (np.array([word]), np.array([outputs]))
            new0, new1 = runge_kutta_step(syn0, syn1neg, x, np.array([labels]), float(alpha), rule)
            syn0[word] = new0[word]
            syn1neg[outputs] = new1[outputs]
            continue
        du, dts = sgns_gradient(u, T, labels)
        if rule == "sgd+radial":  # SGD plus Heun's α²/2 G² row-lengthening terms, per distinct row
            rows = list(dict.fromkeys(outputs))
            g = [sigmoid(float(u @ t)) - y for t, y in zip(T, labels)]
            G = {r: sum(c for t, c in zip(outputs, g) if t == r) for r in rows}
            for r in rows:
                syn1neg[r] = ((1 + alpha ** 2 / 2 * G[r] ** 2) * syn1neg[r].astype(np.float64)
                              - alpha * G[r] * u).astype(np.float32)
            syn0[word] = ((1 + alpha ** 2 / 2 * sum(v ** 2 for v in G.values())) * u - alpha * du).astype(np.float32)
            continue
        step = (word, outputs, float(alpha) * du, [float(alpha) * dt for dt in dts])
        kept.append(step)
        if len(kept) == accumulate:
            flush()
    flush()
    return pairs, loss, rng.state


def train_shared_reference(syn0, syn1neg, tables, ids, starts, window, negative, alpha0, alpha1, state,
                           shrink=True, width=1, cbow=None):
    """Shared negatives over one job of all sentences: the windows of ``width`` consecutive centers
    (the sentence's last group may be shorter) take the SGD steps of their pairs at the same point,
    against one set of negatives drawn after the group's windows (``width`` 1: a center's window).
    Each pair's loss and gradient are its own (``sgns_gradient``, a negative equal to the pair's
    center dropped), summed.  ``cbow`` 0 or 1 (CBOW's sum or mean): each center with a context is
    one example instead, h its context rows combined (``cbow_gradient``'s loss), every context row
    moving by word2vec.c's e (∂L/∂h, over cw for the sum; ``kernels/cbow.py``).
    Returns (pairs or examples, summed loss, effective words, final rng state)."""
    keep, negatives = tables
    accept, alias = unpacked(negatives)
    rng = XorShift(state)
    pairs, loss, effective = 0, 0.0, 0
    total = max(int(starts[-1] - starts[0]), 1)
    for s in range(len(starts) - 1):
        alpha = np.float32(alpha0 + (alpha1 - alpha0) * (starts[s] - starts[0]) / total)
        sentence = _subsample(ids[starts[s]:starts[s + 1]], keep, rng)
        effective += len(sentence)
        group = []
        for c, context in _windows(sentence, window, rng, shrink):
            group.append((c, context))
            if len(group) < width and c != len(sentence) - 1:
                continue
            centers, group = group, []
            if not any(context for _, context in centers):
                continue
            negatives = [alias_draw(rng.next(), accept, alias) for _ in range(negative)]
            outputs = [sentence[c] for c, _ in centers] + negatives
            inputs = sorted({p for _, context in centers for p in context})
            U = syn0[[sentence[p] for p in inputs]].astype(np.float64)
            T = syn1neg[outputs].astype(np.float64)
            dU = np.zeros_like(U)
            dT = np.zeros_like(T)
            for j, (c, context) in enumerate(centers):
                rows = [j] + [len(centers) + k for k, t in enumerate(negatives) if t != sentence[c]]
                labels = [1.0] + [0.0] * (len(rows) - 1)
                if cbow is not None:
                    if not context:
                        continue
                    at = [inputs.index(p) for p in context]
                    h = cbow_input(U[at], cbow)
                    loss += sgns_loss(h, T[rows], labels)
                    dh, dts = sgns_gradient(h, T[rows], labels)
                    for a in at:
                        dU[a] += dh if cbow else dh / len(context)
                    for row, dt in zip(rows, dts):
                        dT[row] += dt
                    pairs += 1
                    continue
                for p in context:
                    a = inputs.index(p)
                    loss += sgns_loss(U[a], T[rows], labels)
                    du, dts = sgns_gradient(U[a], T[rows], labels)
                    dU[a] += du
                    for row, dt in zip(rows, dts):
                        dT[row] += dt
                pairs += len(context)
            # Deltas are added row by row, so repeated words accumulate.
            for j, t in enumerate(outputs):
                syn1neg[t] += (-alpha * dT[j]).astype(np.float32)
            for a, p in enumerate(inputs):
                syn0[sentence[p]] += (-alpha * dU[a]).astype(np.float32)
    return pairs, loss, effective, rng.state


def cbow_input(U, mean):
    """h: the context rows U[cw, d] summed, or averaged (``mean``)."""
    return U.mean(axis=0) if mean else U.sum(axis=0)


def cbow_loss(U, outputs, labels, mean):
    """The CBOW loss: ``sgns_loss`` with the input h = ``cbow_input(U, mean)``."""
    return sgns_loss(cbow_input(U, mean), outputs, labels)


def cbow_gradient(U, outputs, labels, mean):
    """By hand: ∂L/∂u_a = ∂L/∂h (sum) or ∂L/∂h / cw (mean), the same for every a; ∂L/∂t = (σ-y) h."""
    dh, dts = sgns_gradient(cbow_input(U, mean), outputs, labels)
    return np.tile(dh / len(U) if mean else dh, (len(U), 1)), dts


def train_cbow_reference(syn0, syn1neg, tables, ids, starts, window, negative, state, jobs, mean, shrink=True,
                         hs=None):
    """word2vec.c's and gensim's CBOW update over ``jobs`` (kernels/cbow.py's formula: output rows in
    turn, ``sgd_outputs``, with ``hs`` as there, then every context row minus e, e / cw for the sum),
    float64 arithmetic on float32 tables.  Returns (examples, summed loss, final rng state)."""
    keep, negatives = tables
    accept, alias = unpacked(negatives)
    rng = XorShift(state)
    examples, loss = 0, 0.0
    for s0, s1, alpha0, alpha1 in jobs:
        total = max(int(starts[s1] - starts[s0]), 1)
        for s in range(s0, s1):
            alpha = float(np.float32(alpha0 + (alpha1 - alpha0) * (starts[s] - starts[s0]) / total))
            sentence = _subsample(ids[starts[s]:starts[s + 1]], keep, rng)
            for c, context in _windows(sentence, window, rng, shrink):
                if not context:
                    continue
                word = sentence[c]
                draws = [alias_draw(rng.next(), accept, alias) for _ in range(negative)]
                outputs = [word] + [t for t in draws if t != word]
                h = cbow_input(syn0[[sentence[a] for a in context]].astype(np.float64), mean)
                e, example_loss = sgd_outputs(h, word, outputs, alpha, syn1neg, hs)
                loss += example_loss
                if not mean:
                    e /= len(context)
                for a in context:
                    syn0[sentence[a]] -= e.astype(np.float32)
                examples += 1
    return examples, loss, rng.state


def batch_gradient(syn0, syn1neg, inputs, outputs, labels):
    """Dense float64 gradients (∂L/∂syn0, ∂L/∂syn1neg) of the mean SGNS loss of a batch of
    examples (inputs[e], outputs[e, :], labels[e, :]), from ``sgns_gradient`` one example at a time."""
    g0 = np.zeros(syn0.shape)
    g1 = np.zeros(syn1neg.shape)
    for e in range(len(inputs)):
        T = syn1neg[outputs[e]].astype(np.float64)
        du, dts = sgns_gradient(syn0[inputs[e]].astype(np.float64), T, labels[e])
        g0[inputs[e]] += du / len(inputs)
        for t, dt in zip(outputs[e], dts):
            g1[t] += dt / len(inputs)
    return g0, g1


def skipgram_examples(ids, starts, tables, window, negative, state):
    """The example stream of ``kernels.pairs.skipgram_examples`` over a whole corpus, in Python:
    (inputs list, outputs list of lists)."""
    keep, negatives = tables
    accept, alias = unpacked(negatives)
    rng = XorShift(state)
    inputs, outputs = [], []
    for s in range(len(starts) - 1):
        sentence = _subsample(ids[starts[s]:starts[s + 1]], keep, rng)
        for c, context in _windows(sentence, window, rng):
            word = sentence[c]
            for p in context:
                row = [word]
                for _ in range(negative):
                    target = word
                    while target == word:
                        target = alias_draw(rng.next(), accept, alias)
                    row.append(target)
                inputs.append(sentence[p])
                outputs.append(row)
    return inputs, outputs
