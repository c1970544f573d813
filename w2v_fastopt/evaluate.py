"""Quality of word vectors on gensim's bundled evaluation sets, through gensim's KeyedVectors.

WordSim-353 and SimLex-999: Spearman correlation between cosine similarity and human scores, over the
pairs whose words are both in the vocabulary.  Google analogies: accuracy of 3CosAdd over the questions
whose four words are in the vocabulary (gensim's ``evaluate_word_analogies`` convention).
"""
import logging
import lzma
import os
import stat
import zlib

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


UNICODE_ERRORS = ("strict", "replace", "ignore")  # gensim's unicode_errors, for words that are not UTF-8


def load_vectors(path, unicode_errors="strict"):
    """KeyedVectors from a word2vec binary or text file, a saved ``Trainer`` model, or a gensim pickle.

    The format is read from the file (``vectors_format``).  A gensim pickle (``Word2Vec.save``,
    ``KeyedVectors.save``) is loaded by gensim's own ``load``, which, like any pickle, runs code
    from the file: load only files you trust.  ``unicode_errors``: what to do with a word whose
    bytes are not UTF-8 (gensim's argument: "strict" refuses the file, "replace" puts U+FFFD in
    their place, "ignore" drops them).  Refused, with one line naming the file: a truncated or
    corrupt compressed file, a header that declares more vectors than the file can hold (before
    anything is allocated), a word listed twice (with both line or record numbers), a file with no
    vectors, values that are not finite.
    """
    from .io import check_finite
    from .trainer import Trainer

    path = os.fsdecode(os.fspath(path))
    if unicode_errors not in UNICODE_ERRORS:
        raise ValueError(f"unicode_errors must be one of {', '.join(UNICODE_ERRORS)}, got {unicode_errors!r}")
    try:
        kind = vectors_format(path)
        if kind == "model":
            wv = Trainer.load(path).wv
        elif kind == "pickle":
            wv = _load_pickle(path)
        else:
            count, dim = _check_header(path, kind == "binary")
            try:
                wv = KeyedVectors.load_word2vec_format(path, binary=kind == "binary", unicode_errors=unicode_errors)
            except UnicodeDecodeError as err:
                raise ValueError(f"{path}: a word is not UTF-8 ({err.reason} at byte {err.start} of "
                                 f"{err.object[:40]!r}); --unicode-errors replace reads it with U+FFFD in "
                                 "place of the bad bytes (gensim's unicode_errors)") from None
            except (EOFError, zlib.error, OSError) as err:
                raise ValueError(f"{path}: truncated or corrupt ({type(err).__name__}: {err})") from None
            except Exception as err:
                raise ValueError(f"{path}: not a valid word2vec {kind} vectors file ({err})") from None
            if len(wv.key_to_index) != len(wv.index_to_key) or len(wv) != count:
                raise ValueError(_listed_twice(path, kind == "binary", dim, unicode_errors, count, len(wv)))
    except (EOFError, zlib.error, lzma.LZMAError, OSError) as err:  # reading a damaged .gz/.bz2
        if isinstance(err, OSError) and str(err).startswith(path):  # no such file, a directory, ...
            raise
        raise ValueError(f"{path}: truncated or corrupt compressed file ({type(err).__name__}: {err})") from None
    if len(wv) == 0:
        raise ValueError(f"{path}: holds no vectors")
    check_finite(wv.vectors, path)
    return wv


def _load_pickle(path):
    from gensim.utils import SaveLoad
    try:
        obj = SaveLoad.load(path)
    except Exception as err:
        raise ValueError(f"{path}: not a loadable gensim model ({type(err).__name__}: {err})") from None
    wv = getattr(obj, "wv", obj)
    if not isinstance(wv, KeyedVectors):
        raise ValueError(f"{path}: a gensim {type(obj).__name__}, which holds no word vectors")
    return wv


def _check_header(path, binary):
    """(vectors, dimensions) of a word2vec file's header, refused when the file cannot hold them:
    gensim allocates vectors x dimensions floats from the header before reading a row, so a
    10-byte file declaring a billion vectors would take all memory.  A plain file must have room
    for every row (binary: a 1-byte word, a space and 4 bytes a value; text: a word and, per value,
    a space and a digit); a compressed one's size is unknown until inflated: its declared matrix
    must fit in the available memory."""
    from .params import check_memory

    with gensim_open(path, "rb") as f:
        header = f.readline(256)
    try:
        count, dim = (int(x) for x in header.split())
        if count < 0 or dim < 1:
            raise ValueError
    except ValueError:
        if not header.strip():
            raise ValueError(f"{path}: is empty (a word2vec file starts with a line 'vectors dimensions')") from None
        raise ValueError(f"{path}: not a word2vec vectors file (its first line, {header[:60]!r}, is not "
                         "'vectors dimensions')") from None
    room = os.path.getsize(path) - len(header)
    smallest_row = 2 + 4 * dim if binary else 1 + 2 * dim
    if _compression(path) is None and count * smallest_row > room:
        raise ValueError(f"{path}: the header declares {count:,} vectors of {dim:,} dimensions, more than its "
                         f"{room:,} bytes can hold (truncated, or not a vectors file)")
    check_memory(4 * count * dim, f"{path}: {count:,} vectors of {dim:,} dimensions")
    return count, dim


def _compression(path):
    """"gz" or "bz2" by the name, as gensim's reader decides; None for a plain file."""
    ext = os.path.splitext(path)[1].lower()
    return {".gz": "gz", ".bz2": "bz2"}.get(ext)


def _listed_twice(path, binary, dim, unicode_errors, count, loaded):
    """The message for a file whose words are not distinct (gensim keeps one vector and leaves a
    None key and a zero row): the first word listed twice, with both line or record numbers."""
    seen = {}
    with gensim_open(path, "rb") as f:
        f.readline()
        for number in range(1, count + 1):
            if binary:
                word = b""
                while (ch := f.read(1)) not in (b" ", b""):
                    if ch != b"\n":
                        word += ch
                f.read(4 * dim)
            else:
                word = f.readline().split(b" ", 1)[0].rstrip()
            text = word.decode("utf-8", errors=unicode_errors)
            if text in seen:
                where = "records" if binary else "lines"
                first, second = (seen[text], number) if binary else (seen[text] + 1, number + 1)
                return (f"{path}: the word {text!r} is listed twice ({where} {first:,} and {second:,}); "
                        "each word must have one vector")
            seen[text] = number
    return f"{path}: {count:,} vectors declared, {loaded:,} distinct words read"


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
    """Whether the first record after the header is binary: in a text file the rest of its line,
    after the word, is numbers and spaces (the word itself may hold any byte)."""
    with gensim_open(path, "rb") as f:  # decompresses .gz/.bz2 by suffix, as gensim's loader will
        head = f.read(4096)
    header, _, rest = head.partition(b"\n")
    _, _, values = rest.partition(b" ")
    line = values.split(b"\n", 1)[0]
    return not line or bool(line.strip(b"0123456789+-.eEinfINFaA \t\r"))
