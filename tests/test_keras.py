"""The Keras 3 variant: hand gradient, soft batch, Runge-Kutta steps, the dataset, quality.

Each optimizer is checked against the formula computed independently (NumPy, float64, from
``reference.batch_gradient``), the Runge-Kutta family by its measured order of accuracy on a gradient
flow with a known exact solution, and the whole path by the quality of the vectors it trains.
"""
import subprocess
import sys

import numpy as np
import pytest

import keras
import tensorflow as tf

import reference
from w2v_fastopt import Trainer, load_corpus
from w2v_fastopt.evaluate import evaluate
from w2v_fastopt.keras import (RK4, Heun, RungeKutta, RungeKuttaMixin, SkipGramExamples,
                               SkipGramModel, SoftBatch, skipgram_dataset)
from w2v_fastopt.kernels.rng import seed_states

V, D, K = 40, 8, 3


def random_model(gradient="analytic", seed=0):
    """A SkipGramModel with random (not initial) weights, so every gradient term is non-zero."""
    model = SkipGramModel(V, D, gradient=gradient, seed=seed)
    rng = np.random.default_rng(seed)
    model.input_vectors.assign(rng.normal(0, 0.4, (V, D)).astype(np.float32))
    model.output_vectors.assign(rng.normal(0, 0.4, (V, D)).astype(np.float32))
    return model


def random_batch(rng, size):
    """Examples with many repeated rows (inputs from a quarter of the vocabulary)."""
    inputs = rng.integers(0, V // 4, size).astype(np.int32)
    outputs = rng.integers(0, V, (size, K + 1)).astype(np.int32)
    labels = np.zeros((size, K + 1), dtype=np.float32)
    labels[:, 0] = 1.0
    return (inputs, outputs), labels


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def dense(grad):
    return np.array(tf.convert_to_tensor(grad))


@pytest.mark.parametrize("gradient", ["analytic", "autodiff"])
def test_gradient_equals_reference(gradient):
    """Both the hand-written and the GradientTape gradient equal a float64 per-example computation."""
    x, y = random_batch(np.random.default_rng(1), 64)
    model = random_model(gradient)
    model.compile()
    loss, _, grads = model.loss_and_gradients(x, y, None)
    U, T = weights(model)
    g0, g1 = reference.batch_gradient(U, T, x[0], x[1], y)
    np.testing.assert_allclose(dense(grads[0]), g0, atol=1e-5)
    np.testing.assert_allclose(dense(grads[1]), g1, atol=1e-5)
    expected = np.mean([reference.sgns_loss(U[i].astype(np.float64), T[o].astype(np.float64), labels)
                        for i, o, labels in zip(x[0], x[1], y)])
    assert abs(float(loss) - expected) < 1e-5
    assert all(isinstance(g, tf.IndexedSlices) for g in grads)  # sparse end to end


def test_analytic_equals_autodiff_on_a_real_batch(corpus_path):
    """On the data's own batches (B=1024, frequent words repeated hundreds of times), to 1e-5."""
    corpus = load_corpus(corpus_file=corpus_path)
    examples = SkipGramExamples(corpus, corpus.vocab, batch_size=1024, seed=3)
    inputs, outputs = next(examples.batches(0))
    x, y = (inputs[0], outputs[0]), examples.labels()
    grads = {}
    for gradient in ("analytic", "autodiff"):
        model = SkipGramModel(len(corpus.vocab), 50, gradient=gradient, seed=1)
        model.output_vectors.assign(np.random.default_rng(0).normal(0, 0.3, (len(corpus.vocab), 50)))
        model.compile()
        grads[gradient] = [dense(g) for g in model.loss_and_gradients(x, y, None)[2]]
    for a, b in zip(grads["analytic"], grads["autodiff"]):
        np.testing.assert_allclose(a, b, atol=1e-5)


def dense_model(seed):
    model = keras.Sequential([keras.Input((5,)),
                              keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed))])
    return model


def train(model, optimizer, batches, **compile_args):
    model.compile(optimizer=optimizer, **compile_args)
    for x, y in batches:
        model.train_on_batch(x, y)
    return weights(model)


def small_batches(kind, n, size, seed=2):
    rng = np.random.default_rng(seed)
    if kind == "skipgram":
        return [random_batch(rng, size) for _ in range(n)]
    return [(rng.normal(size=(size, 5)).astype(np.float32), rng.normal(size=(size, 3)).astype(np.float32))
            for _ in range(n)]


def make(kind):
    return (random_model(), {}) if kind == "skipgram" else (dense_model(3), {"loss": "mse"})


def joined(batches, steps):
    """Every `steps` consecutive batches as one."""
    out = []
    for i in range(0, len(batches), steps):
        group = batches[i:i + steps]
        x = tuple(np.concatenate(p) for p in zip(*[b[0] for b in group])) if isinstance(group[0][0], tuple) \
            else np.concatenate([b[0] for b in group])
        out.append((x, np.concatenate([b[1] for b in group])))
    return out


@pytest.mark.parametrize("kind", ["skipgram", "dense"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_soft_batch_equals_one_big_batch(kind, momentum):
    """steps batches of size b == one batch of steps*b (mean loss), sparse and dense gradients."""
    steps = 4
    batches = small_batches(kind, 3 * steps, 16)
    model, args = make(kind)
    soft = train(model, SoftBatch(keras.optimizers.SGD(0.5, momentum=momentum), accumulate=steps), batches, **args)
    assert int(model.optimizer.iterations) == 3
    model, args = make(kind)
    big = train(model, keras.optimizers.SGD(0.5, momentum=momentum), joined(batches, steps), **args)
    for a, b in zip(soft, big):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("kind", ["skipgram", "dense"])
def test_soft_batch_agrees_with_keras_gradient_accumulation(kind):
    """Same weights and iterations as Keras's own gradient_accumulation_steps, also mid-window."""
    batches = small_batches(kind, 10, 16)
    model, args = make(kind)
    ours = train(model, SoftBatch(keras.optimizers.SGD(0.3, momentum=0.5), accumulate=4), batches, **args)
    ours_iterations = int(model.optimizer.iterations)
    model, args = make(kind)
    builtin = train(model, keras.optimizers.SGD(0.3, momentum=0.5, gradient_accumulation_steps=4),
                    batches, **args)
    assert ours_iterations == int(model.optimizer.iterations) == 2
    for a, b in zip(ours, builtin):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("optimizer", [
    lambda: SoftBatch(keras.optimizers.SGD(0.5, momentum=0.9), accumulate=4),
    lambda: Heun(0.5, momentum=0.5),
    lambda: RungeKutta(0.25, method={"a": [[0.5]], "b": [0.0, 1.0]}),
], ids=["softbatch", "heun", "custom-tableau"])
def test_save_load_round_trip(tmp_path, optimizer):
    """model.save / load_model keep weights, the optimizer's config and its state (a soft batch saved
    mid-window goes on to the same update)."""
    batches = small_batches("skipgram", 8, 16)
    model = random_model()
    model.compile(optimizer=optimizer())
    for x, y in batches[:6]:
        model.train_on_batch(x, y)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is SkipGramModel and type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(weights(model), weights(loaded)):
        np.testing.assert_array_equal(a, b)
    for x, y in batches[6:]:
        model.train_on_batch(x, y)
        loaded.train_on_batch(x, y)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    for a, b in zip(weights(model), weights(loaded)):
        np.testing.assert_allclose(a, b, atol=1e-7)


LOAD_FRESH = """
import sys
import keras
if sys.argv[1] == "import":
    import w2v_fastopt.keras  # noqa: F401
for path in sys.argv[2:]:
    try:
        model = keras.models.load_model(path)
    except TypeError as err:
        print(err)
    else:
        print("loaded", type(model).__name__, type(model.optimizer).__name__)
"""


@pytest.mark.slow
def test_a_fresh_process_loads_a_saved_model_or_says_what_to_install(tmp_path):
    """Keras imports no module outside Keras when it loads: in a fresh process that did not import
    w2v_fastopt.keras, its error ("Could not locate class") now names the pip package and the import
    (the model's config, the optimizer's when only the optimizer is ours); after the import, the
    model loads with its optimizer."""
    model = random_model()
    model.compile(optimizer=SoftBatch(keras.optimizers.SGD(0.1), accumulate=2))
    model.train_on_batch(*random_batch(np.random.default_rng(0), 8))
    model.save(tmp_path / "skipgram.keras")
    stock = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    stock.compile(optimizer=RK4(0.1), loss="mse")
    stock.save(tmp_path / "stock.keras")
    paths = [str(tmp_path / "skipgram.keras"), str(tmp_path / "stock.keras")]
    for mode, expected in (("no-import", ["pip install 'w2v-fastopt[keras]', then import w2v_fastopt.keras"] * 2),
                           ("import", ["loaded SkipGramModel SoftBatch", "loaded Sequential RK4"])):
        done = subprocess.run([sys.executable, "-c", LOAD_FRESH, mode, *paths], capture_output=True, text=True,
                              timeout=300)
        lines = done.stdout.splitlines()
        assert len(lines) == 2 and all(e in line for e, line in zip(expected, lines)), \
            (mode, done.stdout[-3000:], done.stderr[-2000:])


@pytest.mark.parametrize("gradient", ["analytic", "autodiff"])
@pytest.mark.parametrize("method", ["heun", "rk4"])
def test_one_step_is_the_formula(gradient, method):
    """analytic: trial rows computed from the gathered rows; autodiff: the generic path, which moves
    the variables to each trial point and back.  Both equal the hand-written formula."""
    x, y = random_batch(np.random.default_rng(4), 32)
    model = random_model(gradient)
    U, T = weights(model)
    model.compile(optimizer=Heun(2.0) if method == "heun" else RK4(2.0))
    model.train_on_batch(x, y)
    expected = reference.runge_kutta_step(U, T, x, y, 2.0, method)
    for got, want in zip(weights(model), expected):
        np.testing.assert_allclose(got, want, atol=2e-6)
    assert int(model.optimizer.iterations) == 1


class Quadratic(RungeKuttaMixin, keras.Model):
    """L(p) = ½ pᵀAp in float64: the gradient flow dp/dt = -Ap ends at p(T) = exp(-AT) p0."""

    def __init__(self, A, p0):
        super().__init__()
        self.A = tf.constant(A)
        self.p = self.add_weight(shape=p0.shape, dtype="float64",
                                 initializer=keras.initializers.Constant(p0))

    def loss_and_gradients(self, x, y, sample_weight):
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.tensordot(self.p, tf.linalg.matvec(self.A, self.p), 1)
        return loss, tf.reshape(loss, [1, 1]), tape.gradient(loss, [self.p])


def test_order_of_accuracy():
    """Halving the step at fixed T divides the error by 2^order: Euler 1, Heun 2, RK4 4 (±10%), at
    every halving from h = 1/8 to 1/128 where the error is above 1e-12 (float64 throughout: the
    tableau's weights used to pass through float32, an error floor of 7e-9 for RK4)."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    lam = np.array([0.5, 1.0, 2.0])
    A = Q @ np.diag(lam) @ Q.T
    p0 = np.array([1.0, -0.5, 0.25])
    horizon = 2.0
    exact = Q @ (np.exp(-lam * horizon) * (Q.T @ p0))
    x, y = np.zeros((1, 1)), np.zeros((1, 1))

    def error(method, h):
        model = Quadratic(A, p0)
        model.compile(optimizer=RungeKutta(h, method=method), loss="mse", jit_compile=False)
        for _ in range(round(horizon / h)):
            model.train_on_batch(x, y)
        return np.linalg.norm(keras.ops.convert_to_numpy(model.p) - exact)

    for method, order in (("euler", 1), ("heun", 2), ("rk4", 4)):
        errors = [error(method, 2.0 ** -k) for k in range(3, 8)]
        for coarse, fine in zip(errors, errors[1:]):
            if fine > 1e-12:
                measured = np.log2(coarse / fine)
                assert abs(measured - order) < 0.1 * order, (method, errors)


@pytest.mark.parametrize("gradient", ["analytic", "autodiff"])
def test_rk4_through_a_float64_skipgram_model_has_order_4(gradient):
    """The gradient flow of one batch's SGNS loss, solved by scipy's DOP853 (the gradient in NumPy,
    float64; to ~3e-15): RK4 through a float64 SkipGramModel converges at order 4 (±10%) on both
    gradient paths, at every halving from h = 1/8 (error 2e-10) to 1/64 (7e-13).  Before: the
    autodiff path stalled at 1.2e-8 (its loss computed in Keras's floatx, float32)."""
    from scipy.integrate import solve_ivp
    (inputs, outputs), y = random_batch(np.random.default_rng(1), 16)
    rng = np.random.default_rng(0)
    start = [rng.normal(0, 0.4, (V, D)) for _ in range(2)]

    def flow(_, p):
        U, T = p[:V * D].reshape(V, D), p[V * D:].reshape(V, D)
        u, t = U[inputs], T[outputs]
        d = (1 / (1 + np.exp(-np.einsum("bd,bjd->bj", u, t))) - y) / len(inputs)  # ∂L/∂z
        grad_u, grad_t = np.zeros((V, D)), np.zeros((V, D))
        np.add.at(grad_u, inputs, np.einsum("bj,bjd->bd", d, t))
        np.add.at(grad_t, outputs.ravel(), (d[:, :, None] * u[:, None, :]).reshape(-1, D))
        return -np.concatenate([grad_u.ravel(), grad_t.ravel()])

    exact = solve_ivp(flow, (0.0, 1.0), np.concatenate([w.ravel() for w in start]), method="DOP853",
                      rtol=1e-12, atol=1e-14).y[:, -1]

    def error(h):
        model = SkipGramModel(V, D, gradient=gradient, dtype="float64")
        model.set_weights(start)
        model.compile(optimizer=RK4(h), jit_compile=False)
        for _ in range(round(1.0 / h)):
            model.train_on_batch((inputs, outputs), y.astype(np.float64))
        return np.abs(np.concatenate([w.ravel() for w in weights(model)]) - exact).max()

    errors = [error(2.0 ** -k) for k in range(3, 7)]
    for coarse, fine in zip(errors, errors[1:]):
        assert abs(np.log2(coarse / fine) - 4) < 0.4, errors


def test_runge_kutta_refuses_a_stock_train_step():
    model = dense_model(0)
    model.compile(optimizer=Heun(0.1), loss="mse")
    with pytest.raises(TypeError, match="needs 2 gradient evaluations"):
        model.train_on_batch(np.zeros((2, 5)), np.zeros((2, 3)))


def test_examples_are_word2vec_windows_and_unigram_negatives():
    """The compiled example stream equals a Python replay of the same RNG (subsampling, reduced
    windows, negatives redrawn when they hit the center word); every epoch has the same length."""
    rng = np.random.default_rng(5)
    sentences = [[f"w{int(v)}" for v in rng.zipf(1.5, rng.integers(1, 30)) if v < 60] for _ in range(200)]
    corpus = load_corpus(sentences, min_count=2)
    examples = SkipGramExamples(corpus, corpus.vocab, batch_size=16, window=3, negative=4,
                                sample=1e-2, seed=9)
    chunks = list(examples.batches(0))
    inputs = np.concatenate([c[0] for c in chunks]).ravel()
    outputs = np.concatenate([c[1] for c in chunks]).reshape(-1, 5)
    want_in, want_out = reference.skipgram_examples(corpus.ids, corpus.starts, examples.tables, 3, 4,
                                                    int(seed_states(9, 1)[0]))
    assert len(inputs) == len(want_in) // 16 * 16 == examples.steps_per_epoch * 16
    np.testing.assert_array_equal(inputs, want_in[:len(inputs)])
    np.testing.assert_array_equal(outputs, np.array(want_out[:len(inputs)]))
    assert not np.any(outputs[:, 1:] == outputs[:, :1])
    for epoch in (1, 2):
        assert sum(c[0].shape[0] for c in examples.batches(epoch)) == examples.steps_per_epoch
    dataset = skipgram_dataset(corpus, batch_size=16, window=3, negative=4, sample=1e-2, seed=9)
    (i, o), labels = next(iter(dataset))
    assert i.shape == (16,) and o.shape == (16, 5) and labels.numpy().tolist() == [[1, 0, 0, 0, 0]] * 16
    assert int(dataset.cardinality()) == examples.steps_per_epoch


@pytest.mark.slow
def test_quality_close_to_the_numba_engine(corpus_path):
    """fit (SGD, batch 1024, lr 0.025 * 1024, 5 epochs) on data/ scores within the calibrated margin of
    the Numba engine's (word2vec.c mode) for the same epochs; fit's history and callbacks work.

    Calibration, seeds 1-4 (keras / engine with workers=1): WordSim-353 0.212-0.227 / 0.215-0.226,
    analogies 0.014-0.016 / 0.012-0.017; keras minus engine, seed by seed: WordSim -0.009..+0.012,
    analogies -0.001..+0.003.  Margins: 0.04 and 0.005.
    """
    corpus = load_corpus(corpus_file=corpus_path)
    examples = SkipGramExamples(corpus, corpus.vocab, batch_size=1024, seed=1)
    steps = examples.steps_per_epoch * 5
    model = SkipGramModel(len(corpus.vocab), 100, seed=1)
    lr = keras.optimizers.schedules.PolynomialDecay(0.025 * 1024, steps, 0.025 * 1024 * 1e-4)
    model.compile(optimizer=keras.optimizers.SGD(lr), steps_per_execution=32)
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["loss"]))
    history = model.fit(examples.dataset(), epochs=5, verbose=0, shuffle=False, callbacks=[callback])
    assert history.history["loss"] == seen and seen[-1] < seen[0] - 0.2
    assert int(model.optimizer.iterations) == steps
    ours = evaluate(model.to_keyed_vectors(corpus.vocab.words, corpus.vocab.counts))
    engine = evaluate(Trainer(corpus_file=corpus_path, epochs=5, seed=1, workers=1,
                               shared_negatives=False).wv)
    assert ours["wordsim353"] > engine["wordsim353"] - 0.04, (ours, engine)
    assert ours["analogies"] > engine["analogies"] - 0.005, (ours, engine)


SCALED = {"sgd": lambda **kw: keras.optimizers.SGD(0.5, **kw), "heun": lambda **kw: Heun(0.5, **kw),
          "rk4": lambda **kw: RK4(0.5, **kw),
          "softbatch": lambda **kw: SoftBatch(keras.optimizers.SGD(0.5, **kw), accumulate=1)}


class DenseWithStages(RungeKuttaMixin, keras.Model):
    """A dense model (dense gradients) that runs multi-stage optimizers."""

    def __init__(self, seed=0):
        super().__init__()
        self.layer = keras.layers.Dense(3, kernel_initializer=keras.initializers.GlorotUniform(seed))

    def call(self, x):
        return self.layer(x)


@pytest.mark.parametrize("name", SCALED)
@pytest.mark.parametrize("model_kind", ["analytic", pytest.param("dense", marks=pytest.mark.slow),
                                        pytest.param("autodiff", marks=pytest.mark.slow)])
def test_loss_scaling_does_not_change_the_step(model_kind, name):
    """A LossScaleOptimizer around the optimizer (what compile makes under mixed precision) and, for
    dense gradients, loss_scale_factor=128 move the weights as the unscaled optimizer does: the
    train step scales the loss (or the gradient), the optimizer unscales it.  Before: 128x too small
    (SGD, Heun, RK4 through the mixin; SoftBatch, which did not pass scale_loss on)."""
    make = SCALED[name]
    if model_kind == "dense":
        x = np.random.default_rng(5).normal(size=(16, 5)).astype(np.float32)
        y = np.random.default_rng(6).normal(size=(16, 3)).astype(np.float32)
        variants = (make(), make(loss_scale_factor=128.0),
                    keras.optimizers.LossScaleOptimizer(make(), initial_scale=256.0))
    else:
        x, y = random_batch(np.random.default_rng(5), 16)
        variants = (make(), keras.optimizers.LossScaleOptimizer(make(), initial_scale=256.0))
    moved = []
    for optimizer in variants:
        model = DenseWithStages() if model_kind == "dense" else random_model(model_kind)
        if model_kind == "dense":
            model(x[:1])  # built: the stages move variables that exist
        model.compile(optimizer=optimizer, loss="mse" if model_kind == "dense" else None)
        model.train_on_batch(x, y)
        moved.append(weights(model))
    for scaled in moved[1:]:
        for got, want in zip(scaled, moved[0]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_skipgram_model_refuses_a_loss_scale_factor_keras_cannot_apply():
    """Keras's optimizer divides gradients by loss_scale_factor, which an embedding's sparse
    gradient (IndexedSlices) does not support: refused at compile with what to use instead."""
    with pytest.raises(ValueError, match="LossScaleOptimizer"):
        random_model().compile(optimizer=keras.optimizers.SGD(0.5, loss_scale_factor=128.0))
    with pytest.raises(ValueError, match="LossScaleOptimizer"):
        random_model().compile(optimizer=SoftBatch(keras.optimizers.SGD(0.5, loss_scale_factor=8.0)))


def test_soft_batch_refuses_a_loss_scale_optimizer_that_would_unscale_twice():
    """Under mixed_float16, compile wraps a LossScaleOptimizer around SoftBatch(LossScaleOptimizer(SGD)):
    the loss was scaled once, the gradients unscaled twice (weights moved 6.9e-6 instead of 0.13).
    Refused with the right spelling; SoftBatch(SGD) under the same policy moves the weights as
    float32 does (to float16's precision); SoftBatch(LossScaleOptimizer(SGD)) in float32 still works."""
    x, y = random_batch(np.random.default_rng(7), 16)
    moved = {}
    for policy, make in (("float32", lambda: SoftBatch(keras.optimizers.SGD(0.5), accumulate=1)),
                         ("mixed_float16", lambda: SoftBatch(keras.optimizers.SGD(0.5), accumulate=1)),
                         ("float32", lambda: SoftBatch(keras.optimizers.LossScaleOptimizer(
                             keras.optimizers.SGD(0.5)), accumulate=1)),
                         ("mixed_float16", lambda: SoftBatch(keras.optimizers.LossScaleOptimizer(
                             keras.optimizers.SGD(0.5)), accumulate=1))):
        keras.mixed_precision.set_global_policy(policy)
        try:
            model = random_model("autodiff")
            model.compile(optimizer=make())
            if len(moved) == 3:
                with pytest.raises(ValueError, match="the gradients would be unscaled twice"):
                    model.train_on_batch(x, y)
                continue
            model.train_on_batch(x, y)
            moved[len(moved)] = weights(model)
        finally:
            keras.mixed_precision.set_global_policy("float32")
    for other in (moved[1], moved[2]):
        for got, want in zip(other, moved[0]):
            np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-3)


def test_soft_batch_refuses_a_runge_kutta_method_inside():
    """SoftBatch(Heun) once ran as something else than Heun (each batch's stages at its own trial
    point, averaged); refused, wrapped in a LossScaleOptimizer too.  Euler (one stage) is SGD."""
    for inner in (Heun(0.5), RK4(0.5), keras.optimizers.LossScaleOptimizer(Heun(0.5))):
        with pytest.raises(ValueError, match=r"SoftBatch\((Heun|RK4)\): a (2|4)-stage Runge-Kutta method"):
            SoftBatch(inner)
    SoftBatch(RungeKutta(0.5, method="euler"))


def test_heun_under_mixed_precision_runs_its_stages():
    """compile() wraps the optimizer in a LossScaleOptimizer under mixed_float16: Heun still takes
    its two-stage step (found inside the wrapper), as in float32 up to float16's precision."""
    x, y = random_batch(np.random.default_rng(6), 16)
    results = []
    for policy in ("float32", "mixed_float16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            model = random_model("autodiff")
            model.compile(optimizer=Heun(2.0))
            model.train_on_batch(x, y)
            results.append(weights(model))
        finally:
            keras.mixed_precision.set_global_policy("float32")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    U, T = weights(random_model("autodiff"))
    expected = reference.runge_kutta_step(U, T, x, y, 2.0, "heun")
    for got, want in zip(results[1], expected):
        np.testing.assert_allclose(got, want, atol=2e-3)
    for got, want in zip(results[0], expected):
        np.testing.assert_allclose(got, want, atol=2e-6)


class BatchNormWithStages(RungeKuttaMixin, keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(4, kernel_initializer=keras.initializers.GlorotUniform(3))
        self.norm = keras.layers.BatchNormalization(momentum=0.5)

    def call(self, x, training=False):
        return self.norm(self.dense(x), training=training)


@pytest.mark.parametrize("make", [lambda: Heun(0.1), lambda: RK4(0.1)], ids=["heun", "rk4"])
def test_multi_stage_steps_update_batch_statistics_once(make):
    """A BatchNormalization's moving statistics move once per step, from the evaluation at the
    current point, exactly as in a one-stage SGD step from the same weights; the trial stages'
    forward passes leave no trace (they moved them 1.89x / 3.43x before)."""
    x = np.random.default_rng(9).normal(size=(32, 5)).astype(np.float32)
    y = np.random.default_rng(10).normal(size=(32, 4)).astype(np.float32)
    stats = []
    for optimizer in (keras.optimizers.SGD(0.1), make()):
        model = BatchNormWithStages()
        model(x[:2])
        model.compile(optimizer=optimizer, loss="mse")
        model.train_on_batch(x, y)
        stats.append([np.array(v) for v in model.norm.non_trainable_variables])
    assert np.abs(stats[0][0]).max() > 1e-3  # the moving mean did move
    for got, want in zip(stats[1], stats[0]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_soft_batch_fits_arrays_whose_length_is_not_a_multiple_of_the_batch():
    """fit on 37 examples in batches of 8 (the last one of 5): the rows per batch are not fixed, so
    SoftBatch sums the sparse gradients densely, and steps as Keras's own accumulation does.
    Before: TypeError: 'NoneType' * 'int'."""
    (inputs, outputs), labels = random_batch(np.random.default_rng(11), 37)
    moved = []
    for optimizer in (SoftBatch(keras.optimizers.SGD(0.5), accumulate=2),
                      keras.optimizers.SGD(0.5, gradient_accumulation_steps=2)):
        model = random_model()
        model.compile(optimizer=optimizer)
        model.fit((inputs, outputs), labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
        moved.append(weights(model))
    for got, want in zip(*moved):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_soft_batch_refuses_all_none_gradients_at_once():
    optimizer = SoftBatch(keras.optimizers.SGD(0.5), accumulate=3)
    variable = keras.Variable(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="No gradients provided"):
        optimizer.apply([None], [variable])


def test_a_used_soft_batch_pickles_as_keras_optimizers_do():
    """pickle goes through Keras's saving: an unbuilt copy skips the saved state with Keras's own
    warning, as a used Adam does (it raised IndexError before); its config is kept."""
    import pickle
    x, y = random_batch(np.random.default_rng(12), 8)
    model = random_model()
    model.compile(optimizer=SoftBatch(keras.optimizers.Adam(0.01), accumulate=3))
    model.train_on_batch(x, y)
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        copy = pickle.loads(pickle.dumps(model.optimizer))
    assert copy.accumulate == 3 and isinstance(copy.inner_optimizer, keras.optimizers.Adam)
