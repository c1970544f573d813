"""The Keras optimizers under ``tf.distribute.MirroredStrategy`` on 2 logical CPU devices, for
tests/test_keras_mirrored.py (TensorFlow's devices are fixed when it starts: a process of its own).

Each scenario trains the same model twice from the same weights on the same 32 examples, batch 8
(the global batch): on one device, and on two replicas of 4 examples each.  Writes, as JSON to the
path given, per scenario: the largest difference of the weights, the logged losses of both runs, or
the error raised.  Usage: python tests/keras_mirrored.py RESULTS.json
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)
import keras  # noqa: E402
import numpy as np  # noqa: E402

from w2v_fastopt.keras import RK4, Heun, RungeKuttaMixin, SkipGramModel, SoftBatch  # noqa: E402

V, D, K = 50, 8, 3
MIRRORED = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])  # one for the process: TF's advice


class Dense2(RungeKuttaMixin, keras.Model):
    """Two dense layers, tanh between: a model with RungeKuttaMixin and autodiff gradients."""

    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(4, activation="tanh", kernel_initializer=keras.initializers.GlorotUniform(1))
        self.out = keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(2))

    def call(self, x):
        return self.out(self.hidden(x))


def dense_data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 3)).astype("f4"), rng.normal(size=(32, 2)).astype("f4")


def skipgram_data():
    rng = np.random.default_rng(1)
    outputs = rng.integers(0, V, (32, K + 1)).astype(np.int32)
    labels = np.zeros((32, K + 1), np.float32)
    labels[:, 0] = 1
    return (rng.integers(0, V // 4, 32).astype(np.int32), outputs), labels  # many repeated rows


SKIPGRAM_WEIGHTS = [np.random.default_rng(2).normal(0, 0.4, (V, D)).astype("f4") for _ in range(2)]
OPTIMIZERS = {"sgd": lambda: keras.optimizers.SGD(0.5), "heun": lambda: Heun(0.5), "rk4": lambda: RK4(0.5),
              "heun_clipped": lambda: Heun(0.5, clipnorm=1.0),
              "softbatch_1": lambda: SoftBatch(keras.optimizers.SGD(0.5), accumulate=1),
              "softbatch_2": lambda: SoftBatch(keras.optimizers.SGD(0.5), accumulate=2),
              "softbatch_adam_2": lambda: SoftBatch(keras.optimizers.Adam(0.05), accumulate=2)}


def train(strategy, model_name, optimizer_name):
    with strategy.scope():
        if model_name == "dense":
            model = Dense2()
            model.build((None, 3))
            (x, y), loss = dense_data(), "mse"
        else:
            model = SkipGramModel(V, D, gradient=model_name.split("_")[1])
            model.set_weights(SKIPGRAM_WEIGHTS)
            (x, y), loss = skipgram_data(), None
        model.compile(optimizer=OPTIMIZERS[optimizer_name](), loss=loss)
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return [np.array(w) for w in model.weights], history.history["loss"]


def main(out):
    results = {}
    for model_name in ("dense", "skipgram_autodiff", "skipgram_analytic"):
        for optimizer_name in OPTIMIZERS:
            name = f"{model_name}/{optimizer_name}"
            try:
                one, one_loss = train(tf.distribute.get_strategy(), model_name, optimizer_name)
                two, two_loss = train(MIRRORED, model_name, optimizer_name)
                results[name] = {"diff": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
                                 "loss_one": one_loss, "loss_two": two_loss}
            except Exception as err:  # the test asserts on which error
                results[name] = {"error": f"{type(err).__name__}: {err}"}
            print(name, results[name], flush=True)
    for optimizer_name in ("heun", "softbatch_adam_2"):  # under mixed precision: a LossScaleOptimizer around
        name = f"mixed_float16/{optimizer_name}"
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            one, one_loss = train(tf.distribute.get_strategy(), "skipgram_autodiff", optimizer_name)
            two, two_loss = train(MIRRORED, "skipgram_autodiff", optimizer_name)
            results[name] = {"diff": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
                             "loss_one": one_loss, "loss_two": two_loss}
        except Exception as err:  # the test asserts on which error
            results[name] = {"error": f"{type(err).__name__}: {err}"}
        finally:
            keras.mixed_precision.set_global_policy("float32")
        print(name, results[name], flush=True)
    try:  # last: it configures the process's collective ops
        train(tf.distribute.MultiWorkerMirroredStrategy(), "dense", "heun")
        results["multi_worker"] = {"error": None}
    except Exception as err:
        results["multi_worker"] = {"error": f"{type(err).__name__}: {err}"}
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
