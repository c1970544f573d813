"""w2v_fastopt: skip-gram negative-sampling word2vec with hand-written gradients in Numba kernels.

``from w2v_fastopt import Word2Vec`` (see ``model.Word2Vec``).  Nothing here imports TensorFlow.
"""
from .model import Word2Vec
from .prepare import TrainingCorpus, load_corpus

__all__ = ["Word2Vec", "load_corpus", "TrainingCorpus"]
__version__ = "0.1.0"
