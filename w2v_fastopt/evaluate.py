"""Quality of word vectors on gensim's bundled evaluation sets, through gensim's KeyedVectors.

WordSim-353 and SimLex-999: Spearman correlation between cosine similarity and human scores, over the
pairs whose words are both in the vocabulary.  Google analogies: accuracy of 3CosAdd over the questions
whose four words are in the vocabulary (gensim's ``evaluate_word_analogies`` convention).
"""
import logging
import os
import stat

from gensim.models import KeyedVectors
from gensim.utils import open as gensim_open
from gensim.test.utils import datapath

WORD_PAIRS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGIES = "questions-words.txt"


def evaluate(wv):
    """Scores of ``wv`` (KeyedVectors): dict of name -> value, plus each set's OOV share in percent.
    A word-pair set with fewer than two pairs in the vocabulary has no correlation: NaN."""
    gensim_log = logging.getLogger("gensim")
    level = gensim_log.level
    gensim_log.setLevel(logging.ERROR)  # gensim logs every OOV pair at INFO/WARNING
    try:
        scores = {}
        for name, filename in WORD_PAIRS.items():
            try:
                _, spearman, oov = wv.evaluate_word_pairs(datapath(filename))
                scores[name], scores[f"{name}_oov"] = float(spearman.statistic), float(oov)
            except ValueError:  # scipy: fewer than two pairs in the vocabulary
                scores[name], scores[f"{name}_oov"] = float("nan"), 100.0
        accuracy, sections = wv.evaluate_word_analogies(datapath(ANALOGIES))
        total = next(s for s in sections if s["section"] == "Total accuracy")
        scores["analogies"] = float(accuracy)
        scores["analogies_questions"] = len(total["correct"]) + len(total["incorrect"])
    finally:
        gensim_log.setLevel(level)
    return scores


def load_vectors(path):
    """KeyedVectors from a word2vec binary or text file, a saved ``Trainer`` model, or a gensim pickle.

    The format is read from the file (``vectors_format``).  A gensim pickle (``Word2Vec.save``,
    ``KeyedVectors.save``) is loaded by gensim's own ``load``, which, like any pickle, runs code
    from the file: load only files you trust.  Errors name the file.
    """
    from .io import check_finite
    from .trainer import Trainer

    path = os.fspath(path)
    kind = vectors_format(path)
    if kind == "model":
        wv = Trainer.load(path).wv
    elif kind == "pickle":
        from gensim.utils import SaveLoad
        try:
            obj = SaveLoad.load(path)
        except Exception as err:
            raise ValueError(f"{path}: not a loadable gensim model ({type(err).__name__}: {err})") from None
        wv = getattr(obj, "wv", obj)
        if not isinstance(wv, KeyedVectors):
            raise ValueError(f"{path}: a gensim {type(obj).__name__}, which holds no word vectors")
    else:
        try:
            wv = KeyedVectors.load_word2vec_format(path, binary=kind == "binary")
        except Exception as err:
            raise ValueError(f"{path}: not a valid word2vec {kind} vectors file ({err})") from None
    check_finite(wv.vectors, path)
    return wv


def vectors_format(path):
    """What ``path`` holds: "model" (``Trainer.save``), "pickle" (gensim's ``save``), "binary" or
    "text" (word2vec.c's formats: binary if the first record after the header is not text).
    Only "model" and "pickle" carry the words' true counts; gensim makes up counts for the others."""
    from .io import is_model_file

    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, not a vectors file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path}: not a regular file (a device, FIFO or socket); give a vectors file")
    if is_model_file(path):
        return "model"
    with open(path, "rb") as f:
        if f.read(1) == b"\x80":  # a pickle's PROTO opcode; no word2vec header starts with it
            return "pickle"
    return "binary" if _looks_binary(path) else "text"


def counts_known(path, wv):
    """True if ``wv`` (loaded from ``path``) holds the words' true counts: a ``Trainer.save`` model
    or a gensim pickle that has them; gensim makes counts up for word2vec files."""
    return vectors_format(path) in ("model", "pickle") and "count" in wv.expandos


def _looks_binary(path):
    with gensim_open(path, "rb") as f:  # decompresses .gz/.bz2 by suffix, as gensim's loader will
        head = f.read(4096)
    header, _, rest = head.partition(b"\n")
    _, _, values = rest.partition(b" ")
    return any(b > 127 or (b < 32 and b not in b"\n\r\t") for b in values[:64])
