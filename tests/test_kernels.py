"""The SGNS kernels against independent computations: finite differences and a naive reference."""
import math

import numpy as np
import pytest

from reference import MASK64, XorShift, sgns_gradient, sgns_loss, train_reference
from w2v_fastopt.corpus import tokenize
from w2v_fastopt.kernels.rng import rng_next, seed_states
from w2v_fastopt.kernels.sgns import MAX_SENTENCE, sgns_shared, sgns_word2vec, sigmoid
from w2v_fastopt.vocab import build_vocab


def test_sigmoid_matches_exp_everywhere():
    xs = np.concatenate([np.linspace(-40, 40, 4001), [-1e30, -88.0, 0.0, 88.0, 1e30]])
    exact = [math.exp(-math.log1p(math.exp(-x))) if x > -700 else 0.0 for x in xs]
    ours = [sigmoid(np.float32(x)) for x in xs]
    assert np.abs(np.array(ours) - exact).max() < 4e-7


@pytest.mark.parametrize("seed", range(5))
def test_hand_gradient_matches_central_differences(seed):
    """∂L/∂u = Σ (σ(u·t)-y) t and ∂L/∂t = (σ(u·t)-y) u, checked in float64 to relative 1e-6."""
    rng = np.random.default_rng(seed)
    d, k = 7, 4
    u = rng.normal(0, 0.8, d)
    outputs = rng.normal(0, 0.8, (k + 1, d))
    labels = [1.0] + [0.0] * k
    du, dts = sgns_gradient(u, outputs, labels)
    h = 1e-6

    def numeric(f, x):
        g = np.zeros_like(x)
        for i in range(x.size):
            e = np.zeros_like(x)
            e.flat[i] = h
            g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
        return g

    num_u = numeric(lambda x: sgns_loss(x, outputs, labels), u)
    num_t = numeric(lambda x: sgns_loss(u, x, labels), outputs)
    assert np.linalg.norm(du - num_u) / np.linalg.norm(num_u) < 1e-6
    assert np.linalg.norm(np.array(dts) - num_t) / np.linalg.norm(num_t) < 1e-6


def test_rng_matches_python_replay():
    state = seed_states(7, 1)[0]
    ref = XorShift(state)
    s = state
    for _ in range(1000):
        s, r = rng_next(np.uint64(s))
        assert int(r) & MASK64 == ref.next()
    assert int(s) & MASK64 == ref.state


def _tiny_problem(seed, vocab_size=25, dim=16, sample=0.02):
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, vocab_size + 1)
    sentences = [[f"w{w}" for w in rng.choice(vocab_size, size=rng.integers(1, 16), p=zipf / zipf.sum())]
                 for _ in range(60)]
    vocab, ids, starts = build_vocab(tokenize(sentences), 1)
    tables = (vocab.keep_thresholds(sample),) + tuple(vocab.negative_table(0.75))
    syn0 = ((rng.random((len(vocab), dim)) - 0.5) / dim).astype(np.float32)
    syn1neg = (rng.normal(0, 0.1, (len(vocab), dim))).astype(np.float32)
    return tables, ids, starts, syn0, syn1neg


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "word2vec"])
@pytest.mark.parametrize("seed", range(3))
def test_kernel_matches_naive_reference(shared, seed):
    """Same RNG stream, same corpus: the kernel's vectors, pair count, loss and RNG state match."""
    window, negative, alpha0, alpha1 = 3, 4, 0.05, 0.01
    tables, ids, starts, syn0, syn1neg = _tiny_problem(seed)
    dim = syn0.shape[1]
    state = seed_states(seed, 1)
    ref0, ref1 = syn0.copy(), syn1neg.copy()
    pairs_ref, loss_ref, eff_ref, state_ref = train_reference(
        ref0, ref1, tables, ids, starts, window, negative, alpha0, alpha1, state[0], shared)

    job = (0, len(starts) - 1, alpha0, alpha1)
    sentence = np.empty(MAX_SENTENCE, np.int32)
    if shared:
        thread = (state, sentence, np.empty(2 * window, np.int64), np.empty(negative + 1, np.int64),
                  np.empty((2 * window, negative + 1), np.float32),
                  np.empty((2 * window, negative + 1), np.float32),
                  np.empty((2 * window, dim), np.float32))
        pairs, loss, eff = sgns_shared((syn0, syn1neg), tables, (ids, starts), job, (window, negative),
                                       thread, ((None,) * dim, (None,) * (negative + 1)))
    else:
        thread = (state, sentence, np.empty(dim, np.float32))
        pairs, loss, eff = sgns_word2vec((syn0, syn1neg), tables, (ids, starts), job,
                                         (window, negative), thread, ((None,) * dim,))
    assert (pairs, eff, int(state[0])) == (pairs_ref, eff_ref, state_ref)
    assert pairs > 200
    assert math.isclose(loss, loss_ref, rel_tol=1e-5)
    moved = np.abs(ref0 - _tiny_problem(seed)[3]).max()
    assert moved > 1e-2  # the comparison below is not vacuous
    np.testing.assert_allclose(syn0, ref0, rtol=0, atol=2e-6)
    np.testing.assert_allclose(syn1neg, ref1, rtol=0, atol=2e-6)
