"""Writing outputs: atomically, and in word2vec.c's vectors formats; reading a model archive's header.

Every output goes to a temporary file beside its target and is renamed over it: a failed or
interrupted write leaves no partial file and never destroys an earlier good output.
"""
import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

WRITE_ROWS = 4096


def check_writable(path):
    """Fail early, before any training, if ``path`` cannot be written (ValueError/OSError with the path)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, cannot write the output there")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: directory {folder} does not exist")
    try:  # os.access says yes to root even on a read-only file system: try it
        fd, probe = tempfile.mkstemp(prefix=".w2v-fastopt-probe.", dir=folder)
    except OSError as err:
        raise PermissionError(f"{path}: directory {folder} is not writable ({err.strerror})") from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's directory; on success rename it to ``path``.

    The temporary name keeps the target's suffixes (``.bin.gz`` stays gzip for gensim/smart_open).
    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    check_writable(path)
    folder, name = os.path.split(os.path.abspath(path))
    stem, dot, suffixes = name.partition(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{dot}{suffixes}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and not str(err).startswith(path):  # e.g. a full disk
            raise OSError(err.errno, f"{path}: write failed, earlier file kept: "
                                     f"{err.strerror or err}") from None
        raise


def write_word2vec_format(path, words, vectors, binary=True):
    """Write ``vectors`` (float32[V, d]) for ``words`` (list of V str) as word2vec.c does, atomically.

    Header ``"V d\n"``; then per word, binary: the UTF-8 word, a space, d little-endian float32 and
    ``"\n"``; text: the word and d numbers with 9 significant digits (float32 round-trips exactly).
    Readable by gensim's ``KeyedVectors.load_word2vec_format`` and word2vec.c's tools.  Written here
    rather than through gensim so that ``w2v-fastopt train`` never imports gensim (~0.5 s).
    """
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    n, dim = vectors.shape
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(f"{n} {dim}\n".encode())
        if binary:
            for first in range(0, n, WRITE_ROWS):  # in batches: no copy of the whole matrix
                rows = vectors[first:first + WRITE_ROWS].tobytes()
                stride = 4 * dim
                f.write(b"".join(word.encode("utf-8") + b" " + rows[i * stride:(i + 1) * stride] + b"\n"
                                 for i, word in enumerate(words[first:first + WRITE_ROWS])))
        else:
            row_format = " ".join(["%.9g"] * dim)
            for word, row in zip(words, vectors.tolist()):
                f.write(f"{word} {row_format % tuple(row)}\n".encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


MODEL_FORMAT = "w2v_fastopt-model-1"


def read_header(path):
    """The JSON header of a file written by ``save`` (cheap: the arrays are not read)."""
    try:
        with zipfile.ZipFile(path) as z, z.open("header.npy") as f:
            return json.loads(np.lib.format.read_array(f, allow_pickle=False).tobytes().decode())
    except (KeyError, OSError, ValueError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a valid w2v_fastopt model file ({err})") from None


def is_model_file(path):
    """True if ``path`` is an archive written by ``Word2Vec.save``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return "header.npy" in z.namelist()
