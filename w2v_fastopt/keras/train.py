"""Train a ``SkipGramModel`` on a corpus with gensim's parameters: what ``--backend keras`` runs.

The learning rate: Keras's loss is the mean over the batch, so SGD with learning rate alpha * B moves
each example as word2vec's alpha does; with soft batch the mean is over B * accumulate examples.  It
decays linearly (``PolynomialDecay``) from alpha to min_alpha over the run's updates, as word2vec's.
Measured on data/ (5 epochs, seeds 1-4): batch 1024 with alpha 0.025 scores as the Numba engine in
word2vec.c mode (WordSim-353 0.21-0.23); alpha 0.05 is unstable at batch 1024 (two seeds in three
lose the run to spikes in the loss) and diverges at 4096; batch 256 is no better and 3x slower;
4096 scores lower (0.20).  Hence the defaults: batch_size 1024, the alpha the user gives (0.025).
"""
import json
import os
import tempfile
import time
import zipfile

import keras

from ..io import atomic_path
from ..params import KERAS_OPTIMIZERS, check_keras
from ..rules import ACCUMULATE
from .dataset import SkipGramExamples
from .model import SkipGramModel
from .runge_kutta import RK4, Heun
from .soft_batch import SoftBatch

STEPS_PER_EXECUTION = 32  # batches per call into the compiled step: Python overhead once per 32


def make_optimizer(name, learning_rate, accumulate=None):
    """The Keras optimizer for the rule called ``name`` (``params.KERAS_OPTIMIZERS``) with a learning
    rate or schedule; soft batch over ``accumulate`` batches (default ``rules.ACCUMULATE``)."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if name == "softbatch":
        return SoftBatch(keras.optimizers.SGD(learning_rate),
                         accumulate=ACCUMULATE if accumulate is None else accumulate)
    if name == "heun":
        return Heun(learning_rate)
    if name == "rk4":
        return RK4(learning_rate)
    raise ValueError(f"optimizer must be one of {', '.join(KERAS_OPTIMIZERS)}, got {name!r}")


class _EpochDraws(keras.callbacks.Callback):
    """Epoch e of ``fit`` draws epoch e's examples, also when ``fit`` starts at a later epoch."""

    def __init__(self, examples):
        super().__init__()
        self.examples = examples

    def on_epoch_begin(self, epoch, logs=None):
        self.examples.epoch = epoch


class EpochCheckpoint(keras.callbacks.Callback):
    """Every ``every`` epochs (not after the last), ``save_checkpoint(path, model, run)`` with the
    number of epochs done in ``run["epochs_done"]``."""

    def __init__(self, path, every, run):
        super().__init__()
        self.path, self.every, self.run = path, every, run

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 and epoch + 1 < self.run["params"]["epochs"]:
            save_checkpoint(self.path, self.model, dict(self.run, epochs_done=epoch + 1))


def save_checkpoint(path, model, run):
    """One zip, written atomically: ``model.keras`` (weights, optimizer state and config) and
    ``run.json`` (what the run was: corpus, output, parameters, epochs done)."""
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "model.keras")
        model.save(saved)
        with atomic_path(path) as out, zipfile.ZipFile(out, "w") as z:
            z.write(saved, "model.keras")
            z.writestr("run.json", json.dumps(run))


def load_checkpoint(path):
    """(model, run) from ``save_checkpoint``'s file; ValueError naming the file if it is not one."""
    try:
        with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as tmp:
            run = json.loads(z.read("run.json"))
            z.extract("model.keras", tmp)
            model = keras.models.load_model(os.path.join(tmp, "model.keras"))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a valid Keras training checkpoint ({err})") from None
    return model, run


def train_corpus(corpus, params, *, batch_size=1024, optimizer="sgd", accumulate=None, gradient="analytic",
                 verbose=1, callbacks=None, checkpoint=None, resume=None):
    """Fit a SkipGramModel on ``corpus`` (a ``TrainingCorpus``) with ``params`` (a ``Params``).

    checkpoint: None, or (path, every, run): ``EpochCheckpoint``.  resume: None, or (model,
    epochs done) from ``load_checkpoint``: training goes on from there to the same result.
    Returns (model, history, timings) with timings["train"] in seconds.
    """
    check_keras(params, optimizer)
    if accumulate is not None and optimizer != "softbatch":
        raise ValueError(f"accumulate={accumulate} needs optimizer='softbatch'")
    if accumulate is None:
        accumulate = ACCUMULATE if optimizer == "softbatch" else 1
    for name, value in (("batch_size", batch_size), ("accumulate", accumulate)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1 << 24:
            raise ValueError(f"{name} must be an integer between 1 and {1 << 24}, got {value!r}")
    examples = SkipGramExamples(corpus, corpus.vocab, batch_size=batch_size, window=params.window,
                                negative=params.negative, sample=params.sample,
                                ns_exponent=params.ns_exponent, seed=params.seed)
    per_update = batch_size * accumulate
    updates = max(examples.steps_per_epoch * params.epochs // accumulate, 1)
    schedule = keras.optimizers.schedules.PolynomialDecay(
        params.alpha * per_update, updates, params.min_alpha * per_update)
    if resume is not None:
        model, initial_epoch = resume
    else:
        model = SkipGramModel(len(corpus.vocab), params.vector_size, gradient=gradient, seed=params.seed)
        model.compile(optimizer=make_optimizer(optimizer, schedule, accumulate),
                      steps_per_execution=STEPS_PER_EXECUTION)
        initial_epoch = 0
    extra = [EpochCheckpoint(*checkpoint)] if checkpoint is not None else []
    t0 = time.perf_counter()
    history = model.fit(examples.dataset(), epochs=params.epochs, initial_epoch=initial_epoch,
                        verbose=verbose, shuffle=False,
                        callbacks=[_EpochDraws(examples), keras.callbacks.TerminateOnNaN(), *extra,
                                   *(callbacks or [])])
    return model, history, {"train": time.perf_counter() - t0, "examples": examples.examples_seen,
                            "words": examples.words_seen}
