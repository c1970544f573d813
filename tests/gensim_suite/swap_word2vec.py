"""A pytest plugin that runs gensim's own ``gensim/test/test_word2vec.py`` against
``w2v_fastopt.Word2Vec``: the test module's ``word2vec`` becomes a view of gensim's
module in which only ``Word2Vec`` is ours (gensim's own code keeps its class, so that a model gensim
saved still loads as gensim's and is converted by our ``load``).  No test and no argument changes.
At the end it prints how many training calls our kernels ran (the rest ran gensim's loops: hs=1).

    python -m pytest -p gensim_suite.swap_word2vec --pyargs gensim.test.test_word2vec
"""
import sys
import types

from gensim.models import word2vec as gensim_word2vec

from w2v_fastopt import Word2Vec

trainings = {"kernel": 0, "gensim": 0}
_check = Word2Vec._check_training_sanity


def _counted(self, *args, **kwargs):
    _check(self, *args, **kwargs)
    trainings["kernel" if self.__dict__.get("_prepared") is not None else "gensim"] += 1


class _Word2VecModule(types.ModuleType):
    def __getattr__(self, name):
        return getattr(gensim_word2vec, name)


def pytest_collection_modifyitems(session, config, items):
    Word2Vec._check_training_sanity = _counted
    view = _Word2VecModule("gensim.models.word2vec")
    view.Word2Vec = Word2Vec
    for name, module in list(sys.modules.items()):
        if name.endswith("test_word2vec") and getattr(module, "word2vec", None) is gensim_word2vec:
            module.word2vec = view


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"w2v_fastopt trainings: {trainings['kernel']} by our kernels, "
                                f"{trainings['gensim']} by gensim's loops")
