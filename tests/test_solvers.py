"""Heun, RK4 and soft batch in the Numba engine: one step against the formula, against the Keras
variant on the same examples, and trained end to end."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

import keras
from w2v_fastopt import Word2Vec
from w2v_fastopt.keras import Heun, RK4, SkipGramModel, SoftBatch
from w2v_fastopt.kernels.solvers import (heun_example, runge_kutta_example, soft_batch_apply,
                                         soft_batch_keep, tableau_arrays)

V, D, K1 = 30, 8, 4


@njit
def _rk_examples(syn0, syn1neg, inputs, outputs, alpha, tableau, scratch, sizes):
    prod, loss = 1.0, 0.0
    for e in range(inputs.shape[0]):
        prod, loss = runge_kutta_example(syn0, syn1neg, inputs[e], outputs[e], outputs.shape[1], alpha,
                                         tableau, scratch, sizes, prod, loss)


@njit
def _heun_examples(syn0, syn1neg, inputs, outputs, alpha, scratch, sizes):
    prod, loss = 1.0, 0.0
    for e in range(inputs.shape[0]):
        prod, loss = heun_example(syn0, syn1neg, inputs[e], outputs[e], outputs.shape[1], alpha, scratch,
                                  sizes, prod, loss)


@njit
def _soft_batch_examples(syn0, syn1neg, inputs, outputs, alpha, steps, rows, deltas, width, sizes):
    kept = 0
    prod, loss = 1.0, 0.0
    for e in range(inputs.shape[0]):
        prod, loss = soft_batch_keep(syn0, syn1neg, inputs[e], outputs[e], outputs.shape[1], alpha, kept,
                                     rows, deltas, width, sizes, prod, loss)
        kept += 1
        if kept == steps:
            soft_batch_apply(syn0, syn1neg, rows, deltas, kept, width, sizes)
            kept = 0
    soft_batch_apply(syn0, syn1neg, rows, deltas, kept, width, sizes)


def numba_rk(syn0, syn1neg, inputs, outputs, alpha, method):
    """method: a tableau name (the generic kernel), or "heun-direct" (``heun_example``)."""
    if method == "heun-direct":
        scratch = (np.zeros(D, np.float32), np.zeros(D, np.float32)) + tuple(np.zeros(K1, np.float32)
                                                                              for _ in range(4))
        syn0, syn1neg = syn0.copy(), syn1neg.copy()
        _heun_examples(syn0, syn1neg, inputs, outputs, np.float32(alpha), scratch, ((None,) * D,))
        return syn0, syn1neg
    a, b = tableau_arrays(method)
    s = len(b)
    scratch = (np.zeros(D, np.float32), np.zeros((K1, D), np.float32), np.zeros((s, D), np.float32),
               np.zeros((s, K1, D), np.float32), np.zeros((K1, D), np.float32), np.zeros(K1, np.int64),
               np.zeros(K1, np.int64))
    syn0, syn1neg = syn0.copy(), syn1neg.copy()
    _rk_examples(syn0, syn1neg, inputs, outputs.astype(np.int64), np.float32(alpha), (a, b), scratch,
                 ((None,) * D,))
    return syn0, syn1neg


def examples(seed, n):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.4, (V, D)).astype(np.float32) for _ in range(2)]
    inputs = rng.integers(0, V, n).astype(np.int64)
    outputs = rng.integers(0, V, (n, K1)).astype(np.int64)
    outputs[0, 2] = outputs[0, 3]  # a repeated output row: its moves add up
    return weights, inputs, outputs


@pytest.mark.parametrize("method", ["heun", "heun-direct", "rk4"])
def test_one_step_is_the_formula(method):
    (U, T), inputs, outputs = examples(0, 1)
    labels = np.zeros((1, K1))
    labels[0, 0] = 1.0
    got = numba_rk(U, T, inputs, outputs, 0.5, method)
    # reference_step of test_keras, on one example (the batch mean of one is the pair's loss)
    from test_keras import reference_step
    want = reference_step(U, T, (inputs, outputs), labels, 0.5, method.split("-")[0])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=2e-6)


@pytest.mark.parametrize("method,optimizer", [("heun", Heun), ("heun-direct", Heun), ("rk4", RK4)])
def test_numba_and_keras_agree_on_the_same_examples(method, optimizer):
    """20 examples one after the other: the Numba step per example and Keras's fit with batches of
    one example (mean loss = the pair's loss) end at the same weights."""
    (U, T), inputs, outputs = examples(1, 20)
    numba_weights = numba_rk(U, T, inputs, outputs, 0.3, method)
    model = SkipGramModel(V, D)
    model.set_weights([U, T])
    model.compile(optimizer=optimizer(0.3))
    labels = np.zeros((1, K1), np.float32)
    labels[0, 0] = 1.0
    for e in range(len(inputs)):
        model.train_on_batch((inputs[e:e + 1].astype(np.int32), outputs[e:e + 1].astype(np.int32)), labels)
    for got, want in zip(model.get_weights(), numba_weights):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_soft_batch_numba_and_keras_agree():
    """K pairs' SGD steps at the same weights, applied together: Numba's sum with alpha equals Keras's
    SoftBatch(SGD(alpha * K), steps=K) on one-example batches (its mean over K)."""
    (U, T), inputs, outputs = examples(2, 12)
    steps, alpha = 4, 0.3
    rows = np.zeros((steps, K1 + 1), np.int64)
    deltas = np.zeros((steps, K1 + 1, D), np.float32)
    width = np.zeros(steps, np.int64)
    syn0, syn1neg = U.copy(), T.copy()
    _soft_batch_examples(syn0, syn1neg, inputs, outputs, np.float32(alpha), steps, rows, deltas, width,
                         ((None,) * D,))
    model = SkipGramModel(V, D)
    model.set_weights([U, T])
    model.compile(optimizer=SoftBatch(keras.optimizers.SGD(alpha * steps), steps=steps))
    labels = np.zeros((1, K1), np.float32)
    labels[0, 0] = 1.0
    for e in range(len(inputs)):
        model.train_on_batch((inputs[e:e + 1].astype(np.int32), outputs[e:e + 1].astype(np.int32)), labels)
    for got, want in zip(model.get_weights(), (syn0, syn1neg)):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["heun", "rk4", "softbatch"])
def test_engine_trains_with_each_rule(small_corpus, optimizer):
    """Through Word2Vec: reproducible with one worker, finite, the loss falls, vectors are usable."""
    runs = [Word2Vec(corpus_file=small_corpus, epochs=3, workers=1, seed=5, min_count=3, optimizer=optimizer)
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].vectors, runs[1].vectors)
    stats = runs[0].epoch_stats
    assert np.isfinite(runs[0].vectors).all() and stats[-1].loss < stats[0].loss
    assert runs[0].wv.most_similar("war", topn=1)


def test_overfit_experiment_runs_on_a_given_corpus(small_corpus, tmp_path):
    """bench/overfit_experiment.py --corpus: the CSV (optimizer x seed x epoch), three plots, a report."""
    script = os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench", "overfit_experiment.py")
    done = subprocess.run([sys.executable, script, "--corpus", str(small_corpus), "--epochs", "2",
                           "--seeds", "3", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(open(tmp_path / "overfit.csv")))
    assert [(r["optimizer"], r["epoch"]) for r in rows] == [(o, e) for o in ("sgd", "heun", "rk4", "softbatch")
                                                             for e in ("1", "2")]
    assert all(np.isfinite(float(r["heldout_loss"])) and float(r["heldout_loss"]) > 0 for r in rows)
    assert sorted(os.listdir(tmp_path)) == ["overfit.csv", "overfit.md", "overfit_loss.png",
                                            "overfit_quality.png", "overfit_quality_vs_time.png"]
    assert "## Verdict" in (tmp_path / "overfit.md").read_text()
