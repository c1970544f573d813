"""Keras's own optimizer tests (keras/src/optimizers/optimizer_test.py, sgd_test.py,
optimizer_sparse_test.py), applied to SoftBatch (around SGD, SGD with momentum, Adam, AdamW) and
to Heun / RK4 (through a model with RungeKuttaMixin, and through SkipGramModel).

Where Keras has a reference (its own ``gradient_accumulation_steps``, a plain SGD step), ours is
compared with it; otherwise with numbers computed by hand in NumPy.
"""
import os

import numpy as np
import pytest

import keras
import tensorflow as tf
from keras.src.testing import TestCase

from test_keras import Quadratic, random_batch, random_model, weights
from w2v_fastopt.keras import RK4, Heun, RungeKutta, SoftBatch

SGD, Adam, AdamW = keras.optimizers.SGD, keras.optimizers.Adam, keras.optimizers.AdamW
INNER = {"sgd": lambda **kw: SGD(0.3, **kw), "momentum": lambda **kw: SGD(0.3, momentum=0.9, **kw),
         "adam": lambda **kw: Adam(0.05, **kw), "adamw": lambda **kw: AdamW(0.05, weight_decay=0.1, **kw)}


def dense_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def dense_batches(n, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(4, 3)).astype("f4"), rng.normal(size=(4, 2)).astype("f4")) for _ in range(n)]


def fit_batches(model, optimizer, batches, loss="mse"):
    model.compile(optimizer=optimizer, loss=loss)
    for x, y in batches:
        model.train_on_batch(x, y)
    return weights(model)


def assert_all_close(got, want, atol=1e-6):
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol)


@pytest.mark.parametrize("make", [
    lambda: SoftBatch(SGD(0.1), accumulate=3), lambda: SoftBatch(SGD(0.1, momentum=0.9, nesterov=True)),
    lambda: SoftBatch(Adam(0.01, clipnorm=1.0)), lambda: SoftBatch(AdamW(0.01, weight_decay=0.1)),
    lambda: Heun(0.5, momentum=0.5), lambda: RK4(0.1, global_clipnorm=2.0),
    lambda: RungeKutta(0.1, method={"a": [[0.5]], "b": [0.0, 1.0]})])
def test_config_round_trip(make):
    """Keras's run_class_serialization_test: get_config/from_config and serialize/deserialize
    give the same config and the same attributes."""
    TestCase("run_class_serialization_test").run_class_serialization_test(make())


def test_names_are_keras_unique_names():
    """Two optimizers of one kind get Keras's names (adam, adam_1 ...), not the same name."""
    names = [SoftBatch(SGD()).name, SoftBatch(SGD()).name, Heun().name, Heun().name, RK4().name, RK4().name]
    assert names[0] != names[1] and names[2] != names[3] and names[4] != names[5], names
    assert names[1].startswith("soft_batch") and names[3].startswith("heun") and names[5].startswith("rk4")
    assert SoftBatch(SGD(), name="mine").name == "mine"


def keras_step(name, p, g, state, t):
    """One update of Keras's formulas (its sgd.py, adam.py, adamw.py), by hand, float64."""
    lr = {"sgd": 0.3, "momentum": 0.3, "adam": 0.05, "adamw": 0.05}[name]
    if name == "sgd":
        return p - lr * g
    if name == "momentum":
        state["m"] = 0.9 * state.get("m", 0.0) - lr * g
        return p + state["m"]
    if name == "adamw":
        p = p - p * 0.1 * lr
    m = state.get("m", 0.0) + (g - state.get("m", 0.0)) * 0.1
    v = state.get("v", 0.0) + (g * g - state.get("v", 0.0)) * 0.001
    state.update(m=m, v=v)
    alpha = lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    return p - alpha * m / (np.sqrt(v) + 1e-7)


@pytest.mark.parametrize("inner", INNER)
def test_steps_by_hand(inner):
    """Six batches, accumulate=3: two updates of the inner optimizer's formula with the mean
    gradient of each window; nothing moves in between; iterations counts updates."""
    rng = np.random.default_rng(3)
    p0 = rng.normal(size=(2, 3))
    grads = rng.normal(size=(6, 2, 3))
    variable = keras.Variable(p0.astype("f4"))
    optimizer = SoftBatch(INNER[inner](), accumulate=3)
    p, state, seen = p0.copy(), {}, []
    for i, g in enumerate(grads):
        optimizer.apply_gradients([(tf.constant(g, "float32"), variable)])
        if i % 3 == 2:
            p = keras_step(inner, p, grads[i - 2:i + 1].mean(0), state, i // 3 + 1)
        seen.append(keras.ops.convert_to_numpy(variable))
        np.testing.assert_allclose(seen[-1], p, rtol=1e-5, atol=1e-6)
    assert int(optimizer.iterations) == 2
    np.testing.assert_array_equal(seen[0], p0.astype("f4"))


def test_variables_begin_with_the_iteration_count_and_learning_rate():
    """Keras's sgd_test test_single_step reads ``variables[0]`` (updates applied) and ``[1]`` (the
    learning rate): SoftBatch's are the inner optimizer's (before: its own unused copies, 0 and 0.0);
    saved and loaded in that order."""
    optimizer = SoftBatch(SGD(learning_rate=0.5), accumulate=2)
    variable = keras.Variable([1.0, 2.0, 3.0, 4.0])
    optimizer.build([variable])
    for _ in range(2):
        optimizer.apply_gradients([(tf.constant([1.0, 6.0, 7.0, 2.0]), variable)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), [0.5, -1.0, -0.5, 3.0], atol=1e-6)
    assert int(optimizer.variables[0]) == 1 and float(optimizer.variables[1]) == 0.5
    assert optimizer.variables[0] is optimizer.iterations


def resumed_and_uninterrupted(tmp_path, new, batches, saved_after, fresh):
    """Train ``new()`` on ``batches``, saving a tf.train.Checkpoint after ``saved_after`` of them;
    restore it (into the same objects, or into a ``new()`` one when ``fresh``) and train the rest
    again.  Returns (the resumed model, the uninterrupted run's weights)."""
    model = new()
    for x, y in batches[:saved_after]:
        model.train_on_batch(x, y)
    path = tf.train.Checkpoint(model, optimizer=model.optimizer).save(os.fspath(tmp_path / "ckpt"))
    for x, y in batches[saved_after:]:
        model.train_on_batch(x, y)
    uninterrupted = weights(model)
    if fresh:
        model = new()
    tf.train.Checkpoint(model, optimizer=model.optimizer).restore(path)
    for x, y in batches[saved_after:]:
        model.train_on_batch(x, y)
    return model, uninterrupted


@pytest.mark.parametrize("inner", INNER)
@pytest.mark.parametrize("fresh", [False, True], ids=["same-objects", "new-objects"])
def test_tf_checkpoint_restores_a_window_in_progress(tmp_path, inner, fresh):
    """tf.train.Checkpoint (Keras's test_tf_checkpointing) saved after 4 batches of windows of 3
    (one batch into the second window), restored into the same or into new objects: training on
    gives the weights of the run that never stopped.  Before: the accumulators were not in the
    checkpoint (off by 0.09)."""
    def new():
        model = dense_model()
        model.compile(optimizer=SoftBatch(INNER[inner](), accumulate=3), loss="mse")
        return model

    model, uninterrupted = resumed_and_uninterrupted(tmp_path, new, dense_batches(7), 4, fresh)
    assert_all_close(weights(model), uninterrupted)
    assert int(model.optimizer.iterations) == 2


@pytest.mark.parametrize("fresh", [False, True], ids=["same-objects", "new-objects"])
def test_tf_checkpoint_restores_sparse_buffers(tmp_path, fresh):
    """The same through SkipGramModel, whose embeddings' gradients go to the sparse slot buffers."""
    def new():
        model = random_model()
        model.compile(optimizer=SoftBatch(Adam(0.05), accumulate=3))
        return model

    batches = [random_batch(np.random.default_rng(s), 16) for s in range(5)]
    model, uninterrupted = resumed_and_uninterrupted(tmp_path, new, batches, 2, fresh)
    assert_all_close(weights(model), uninterrupted)


def test_set_weights_copies_every_variable():
    """Keras's test_set_weights: refused before build; after build, a used optimizer's variables
    (accumulators included: 3 of 8 were copied before) make the same next update."""
    x = keras.Variable([[1.0, 2.0], [3.0, 4.0]])
    grads = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    first = SoftBatch(Adam(0.1), accumulate=2)
    first.apply_gradients([(grads, x)])
    second = SoftBatch(Adam(0.1), accumulate=2)
    with pytest.raises(ValueError, match="You are calling"):
        second.set_weights(first.variables)
    second.build([x])
    second.set_weights(first.variables)
    assert len(second.variables) == len(first.variables)
    assert_all_close(second.variables, first.variables, atol=0)
    before = keras.ops.convert_to_numpy(x)
    first.apply_gradients([(grads, x)])
    after_first = keras.ops.convert_to_numpy(x)
    x.assign(before)
    second.apply_gradients([(grads, x)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(x), after_first)
    assert not np.allclose(after_first, before)


def test_variables_are_one_list_from_build_on():
    """Keras's optimizers make their variables in ``build``; so does SoftBatch (before: 6 after build,
    7 after the first apply): a sparse and a dense variable's accumulators are made empty by build
    and sized by the first apply, the same objects.  A used optimizer's variables set into a built one,
    or the shorter list an earlier SoftBatch saved (only the buffers in use), give its next update."""
    table, dense = keras.Variable(np.ones((10, 3), "f4")), keras.Variable([1.0, 2.0])
    grads = [tf.IndexedSlices(tf.ones((4, 3)), tf.constant([1, 2, 2, 7]), tf.constant([10, 3])),
             tf.constant([0.5, -1.0])]
    first = SoftBatch(Adam(0.1), accumulate=2)
    first.build([table, dense])
    built = list(first.variables)
    first.apply_gradients(zip(grads, [table, dense]))
    assert len(first.variables) == len(built) == 12 and all(a is b for a, b in zip(first.variables, built))
    assert [np.shape(v.numpy()) for v in built[-4:]] == [(8,), (8, 3), (0,), (2,)]
    state = [v.numpy() for v in first.variables]
    old_format = state[:-2] + state[-1:]  # the dense variable's empty rows were not made
    start = [table.numpy(), dense.numpy()]
    first.apply_gradients(zip(grads, [table, dense]))
    want = [table.numpy(), dense.numpy()]
    for saved in (state, old_format):
        table.assign(start[0])
        dense.assign(start[1])
        second = SoftBatch(Adam(0.1), accumulate=2)
        second.build([table, dense])
        assert len(second.variables) == 12
        second.set_weights(saved)
        second.apply_gradients(zip(grads, [table, dense]))
        assert_all_close([table.numpy(), dense.numpy()], want, atol=0)


@pytest.mark.parametrize("name", ["adam", "sgd", "adamw", "adagrad", "rmsprop"])
def test_weight_decay_with_accumulation(name):
    """Keras's test_gradient_accumulation_with_weigth_decay: decay once per update, with the mean
    gradient, as Keras's own gradient_accumulation_steps=3."""
    ours = SoftBatch(keras.optimizers.get({"class_name": name, "config": {"weight_decay": 0.05}}), accumulate=3)
    keras_own = keras.optimizers.get({"class_name": name,
                                      "config": {"weight_decay": 0.05, "gradient_accumulation_steps": 3}})
    v1, v3 = keras.Variable([[0.9], [0.5]]), keras.Variable([[0.9], [0.5]])
    rng = np.random.default_rng(0)
    for _ in range(8):
        for g in rng.random([3, 2, 1]).astype("float32"):
            ours.apply_gradients([(tf.constant(g), v1)])
            keras_own.apply_gradients([(tf.constant(g), v3)])
    assert_all_close([v1], [v3])


def test_exclude_from_weight_decay_reaches_the_inner_optimizer():
    """Called on the wrapper, it excludes from the inner optimizer's decay (ignored before)."""
    kept, decayed = keras.Variable([[1.0, 2.0]]), keras.Variable([[1.0, 2.0]])
    optimizer = SoftBatch(AdamW(0.1, weight_decay=0.5), accumulate=1)
    optimizer.exclude_from_weight_decay(var_list=[kept])
    optimizer.apply_gradients([(tf.zeros((1, 2)), kept), (tf.zeros((1, 2)), decayed)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(kept), [[1.0, 2.0]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(decayed), [[0.95, 1.9]])


def test_overwrite_with_gradient_keeps_the_window_maximum():
    """Keras's test_overwrite_with_gradient_with_gradient_accumulation (float8 scales): the
    variable is overwritten with the maximum of its window's gradients (the mean before)."""
    v, v2 = keras.Variable([[1.0, 2.0], [3.0, 4.0]]), keras.Variable([[1.0, 2.0], [3.0, 4.0]])
    v.overwrite_with_gradient = True
    ones, twos = tf.ones((2, 2)), 2 * tf.ones((2, 2))
    optimizer = SoftBatch(SGD(1.0), accumulate=2)
    optimizer.apply_gradients([(ones, v), (ones, v2)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), [[1.0, 2.0], [3.0, 4.0]])
    optimizer.apply_gradients([(twos, v), (twos, v2)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), [[2.0, 2.0], [2.0, 2.0]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(v2), [[-0.5, 0.5], [1.5, 2.5]])
    optimizer.apply_gradients([(ones, v), (ones, v2)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), [[2.0, 2.0], [2.0, 2.0]])


@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"clipvalue": 0.1}, {"global_clipnorm": 0.5}],
                         ids=["clipnorm", "clipvalue", "global_clipnorm"])
def test_clipping_applies_to_the_mean_gradient(clip):
    """SoftBatch(SGD(clip...)) clips the window's mean gradient, as Keras's accumulation does."""
    batches = dense_batches(6)
    ours = fit_batches(dense_model(), SoftBatch(SGD(0.3, **clip), accumulate=3), batches)
    keras_own = fit_batches(dense_model(), SGD(0.3, gradient_accumulation_steps=3, **clip), batches)
    assert_all_close(ours, keras_own)


class PerUpdate(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` read at the update count of a Keras optimizer that accumulates ``every`` batches
    (its iterations count batches: the update after batch i reads schedule(i // every))."""

    def __init__(self, schedule, every):
        self.schedule, self.every = schedule, every

    def __call__(self, step):
        return self.schedule(step // self.every)


def test_a_learning_rate_schedule_advances_once_per_update():
    """Chosen and documented (README): SoftBatch's k-th update reads the inner schedule at k, the
    updates applied (Keras's own accumulation reads it at the batch count, 3k+2 here).  Checked
    against Keras's accumulation given the schedule at the update count; and, so that the test can
    fail, not equal to Keras's accumulation with the same schedule read per batch."""
    decay = keras.optimizers.schedules.ExponentialDecay(0.5, decay_steps=1, decay_rate=0.5)
    batches = dense_batches(9)
    ours = fit_batches(dense_model(), SoftBatch(SGD(decay), accumulate=3), batches)
    keras_own = fit_batches(dense_model(), SGD(PerUpdate(decay, 3), gradient_accumulation_steps=3), batches)
    assert_all_close(ours, keras_own)
    per_batch = fit_batches(dense_model(), SGD(decay, gradient_accumulation_steps=3), batches)
    assert max(np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in zip(ours, per_batch)) > 1e-3


def quadratic():
    A = np.diag([4.0, 1.0, 0.25])
    return A, np.array([1.0, -2.0, 3.0])


def heun_by_hand(A, p, h, field=lambda g: g):
    """p - h/2 (f(p) + f(p - h f(p))), f = field(A p)."""
    k1 = field(A @ p)
    k2 = field(A @ (p - h * k1))
    return p - h / 2 * (k1 + k2)


def clip_norm(c):
    return lambda g: g * min(1.0, c / np.linalg.norm(g))


def train_quadratic(optimizer, steps):
    A, p0 = quadratic()
    model = Quadratic(A, p0)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    for _ in range(steps):
        model.train_on_batch(np.zeros((1, 1)), np.zeros((1, 1)))
    return model


@pytest.mark.parametrize("clip, field", [
    ({"clipnorm": 1.5}, clip_norm(1.5)), ({"global_clipnorm": 1.5}, clip_norm(1.5)),
    ({"clipvalue": 0.7}, lambda g: np.clip(g, -0.7, 0.7))], ids=["clipnorm", "global_clipnorm", "clipvalue"])
def test_heun_solves_the_flow_of_the_clipped_gradient(clip, field):
    """Clipping applies to each stage (Heun's method on the clipped field), by hand, two steps."""
    A, p = quadratic()
    model = train_quadratic(Heun(0.4, **clip), 2)
    h = float(np.float32(0.4))  # Keras keeps the learning rate in a float32 variable
    for _ in range(2):
        p = heun_by_hand(A, p, h, field)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.p), p, rtol=1e-12)
    assert not np.allclose(p, heun_by_hand(A, heun_by_hand(A, quadratic()[1], 0.4), 0.4))


def test_heun_with_a_schedule_weight_decay_and_ema():
    """A LearningRateSchedule gives each step its h (trial point and update alike); weight decay
    (decoupled, once per step, before the update, as Keras's SGD) and EMA (once per step), by hand."""
    schedule = keras.optimizers.schedules.ExponentialDecay(0.4, decay_steps=1, decay_rate=0.5)
    model = train_quadratic(Heun(schedule, weight_decay=0.1, use_ema=True, ema_momentum=0.9), 3)
    A, p = quadratic()
    ema = None
    for step in range(3):
        h = float(np.float32(0.4) * np.float32(0.5) ** step)  # the schedule computes in float32
        p = heun_by_hand(A, p, h) - h * 0.1 * p
        ema = p if ema is None else 0.9 * ema + 0.1 * p
    # within float32 rounding of the schedule's and the decay's arithmetic; a wrong h is off by 1e-1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.p), p, rtol=1e-7)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.optimizer._model_variables_moving_average[0]),
                               ema, rtol=1e-7)


def test_soft_batch_with_a_schedule_and_ema():
    """The inner optimizer's schedule and EMA advance once per update (iterations counts updates)."""
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    variable = keras.Variable([[1.0, 2.0]])
    optimizer = SoftBatch(SGD(schedule, use_ema=True, ema_momentum=0.9), accumulate=2)
    grads = [tf.constant([[1.0, 0.0]]), tf.constant([[3.0, 2.0]]), tf.constant([[0.0, 4.0]]), tf.zeros((1, 2))]
    p, ema = np.array([[1.0, 2.0]]), None
    for i, g in enumerate(grads):
        optimizer.apply_gradients([(g, variable)])
        if i % 2:
            p = p - 0.5 ** (i // 2) * (np.array(grads[i - 1]) + np.array(g)) / 2
            ema = p if ema is None else 0.9 * ema + 0.1 * p
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), p, rtol=1e-6)
    average = optimizer.inner_optimizer._model_variables_moving_average[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(average), ema, rtol=1e-6)


@pytest.mark.parametrize("name", ["adam", *(pytest.param(n, marks=pytest.mark.slow) for n in ("adamw", "adagrad",
                                                                                             "rmsprop"))])
def test_sparse_correctness(name):
    """Keras's test_sparse_correctness, through SkipGramModel: sparse gradients whose rows repeat
    within and across the accumulated batches step as Keras's own dense accumulation."""
    batches = [random_batch(np.random.default_rng(s), 16) for s in (7, 8, 9, 10)]
    moved = []
    for optimizer in (SoftBatch(keras.optimizers.get({"class_name": name, "config": {"learning_rate": 0.05}}),
                                accumulate=2),
                      keras.optimizers.get({"class_name": name,
                                            "config": {"learning_rate": 0.05, "gradient_accumulation_steps": 2}})):
        moved.append(fit_batches(random_model(), optimizer, batches, loss=None))
    assert_all_close(*moved)


@pytest.mark.parametrize("make", [pytest.param(lambda: SoftBatch(SGD(0.5), accumulate=2), id="softbatch"),
                                  pytest.param(lambda: Heun(0.5), id="heun"),
                                  pytest.param(lambda: RK4(0.5), id="rk4", marks=pytest.mark.slow)])
def test_steps_per_execution(make):
    """fit with steps_per_execution=3 (several steps in one tf.function call, where the soft
    batch's buffers are made) moves the weights as one step per call does."""
    (inputs, outputs), labels = random_batch(np.random.default_rng(11), 48)
    moved = []
    for steps in (1, 3):
        model = random_model()
        model.compile(optimizer=make(), steps_per_execution=steps)
        model.fit((inputs, outputs), labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
        moved.append(weights(model))
    assert_all_close(*moved)


def test_skipgram_model_refuses_stage_clipping_on_the_analytic_gradient():
    """The analytic Runge-Kutta path does not clip each stage: refused, with the way that does."""
    with pytest.raises(ValueError, match="gradient='autodiff'"):
        random_model().compile(optimizer=Heun(0.5, clipnorm=1.0))
    random_model("autodiff").compile(optimizer=Heun(0.5, clipnorm=1.0))
