"""The Keras 3 variant (TensorFlow backend): SGNS as a ``keras.Model``, trained by ``fit``.

    from w2v_fastopt import load_corpus
    from w2v_fastopt.keras import SkipGramModel, SoftBatch, Heun, skipgram_dataset
    corpus = load_corpus(corpus_file="data/enwiki-sample.txt", min_count=5)
    model = SkipGramModel(len(corpus.vocab), vector_size=100)
    model.compile(optimizer=SoftBatch(keras.optimizers.SGD(0.025 * 4096), accumulate=4))  # or Heun(25.6) ...
    model.fit(skipgram_dataset(corpus, batch_size=1024, window=5, negative=5), epochs=5)
    wv = model.to_keyed_vectors(corpus.vocab.words)

This is the only part of w2v_fastopt that imports TensorFlow.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF 2.21 prints its start-up INFO lines even at 2

from .dataset import SkipGramExamples, skipgram_dataset  # noqa: E402
from .model import SkipGramLoss, SkipGramModel  # noqa: E402
from ..tableaus import TABLEAUS  # noqa: E402
from .runge_kutta import RK4, Heun, RungeKutta, RungeKuttaMixin  # noqa: E402
from .soft_batch import SoftBatch  # noqa: E402

__all__ = ["SkipGramModel", "SkipGramLoss", "SkipGramExamples", "skipgram_dataset", "SoftBatch",
           "RungeKutta", "Heun", "RK4", "RungeKuttaMixin", "TABLEAUS"]
