"""w2v_fastopt: word2vec with hand-written gradients in Numba kernels.

``from w2v_fastopt import Word2Vec``: gensim 4's ``Word2Vec`` trained by our kernels
(``gensim_word2vec.Word2Vec``; imported on first use, so that the command line, which does not need
gensim, starts without it).  ``Trainer``: the engine's own training run, which the command line uses
(``trainer.Trainer``).  Nothing here imports TensorFlow.
"""
from .prepare import TrainingCorpus, load_corpus
from .trainer import Trainer

__all__ = ["Word2Vec", "Trainer", "load_corpus", "TrainingCorpus"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "Word2Vec":
        from .gensim_word2vec import Word2Vec
        return Word2Vec
    raise AttributeError(f"module 'w2v_fastopt' has no attribute {name!r}")
