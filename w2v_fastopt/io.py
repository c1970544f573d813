"""Writing outputs: atomically, and in word2vec.c's vectors formats; reading a model archive's header.

Every output goes to a temporary file beside its target and is renamed over it: a failed or
interrupted write leaves no partial file and never destroys an earlier good output.
"""
import bz2
import contextlib
import gzip
import json
import os
import re
import stat
import tempfile
import zipfile

import numpy as np

WRITE_ROWS = 4096


TEMPORARY_EXTRA_BYTES = 16  # what ``atomic_path``'s temporary sibling adds to the target's name


def check_output(path, inputs=(), outputs=()):
    """Refuse, before any training, an output ``path`` that cannot be written or whose writing
    would destroy something: an input (``inputs``: the corpus, a checkpoint being resumed; the same
    file through any link) or another output of the run (``outputs``).  Raises ValueError/OSError
    naming the path.  A symbolic link is followed: its target is replaced, the link kept."""
    path = os.fspath(path)
    if path == "":
        raise ValueError("the output path is empty")
    if path == "-":
        raise ValueError("-: writing to standard output is not supported (outputs are written to a "
                         "temporary file and renamed into place); give a file path")
    if path.endswith(("/", os.sep)) and not os.path.isdir(path):
        raise IsADirectoryError(f"{path}: ends with '/': give a file path, not a directory")
    check_writable(path)
    if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path}: not a regular file (a device, FIFO or socket); outputs are written "
                         "to a temporary file and renamed into place: give a file path")
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    name_max = os.pathconf(folder, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if len(name.encode()) + TEMPORARY_EXTRA_BYTES > name_max:
        raise ValueError(f"{path}: file name too long ({len(name.encode())} bytes; at most "
                         f"{name_max - TEMPORARY_EXTRA_BYTES} here, its temporary sibling needs "
                         f"{TEMPORARY_EXTRA_BYTES} more)")
    for other in inputs:
        if other is not None and _same_file(path, other):
            raise ValueError(f"{path}: is the input {other} (the same file); writing it would destroy "
                             "it: choose another output path")
    for other in outputs:
        if other is not None and (_same_file(path, other) or target == os.path.realpath(other)):
            raise ValueError(f"{path}: is also the path of another output of this run ({other})")


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


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
    On any exception the temporary file is removed and ``path`` is left as it was.  The file gets
    the mode of the file it replaces, or the umask's default for a new file (0644 with umask 022);
    a symbolic link at ``path`` keeps pointing to the new file.
    """
    path = os.fspath(path)
    check_output(path)
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    stem, dot, suffixes = name.partition(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{dot}{suffixes}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and not str(err).startswith(path):  # e.g. a full disk
            raise OSError(err.errno, f"{path}: write failed, earlier file kept: "
                                     f"{err.strerror or err}") from None
        raise


def _mode_for(target):
    """The permission bits a new file at ``target`` gets: those of the file it replaces, or
    0666 less the umask (what ``open`` gives a new file)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_word2vec_format(path, words, vectors, binary=True):
    """Write ``vectors`` (float32[V, d], any strides: a ``rules.padded_matrix`` is read a batch of rows
    at a time, never copied whole) for ``words`` (list of V str) as word2vec.c does, atomically.

    Header ``"V d\n"``; then per word, binary: the UTF-8 word, a space, d little-endian float32 and
    ``"\n"``; text: the word and d numbers with 9 significant digits (float32 round-trips exactly).
    Readable by gensim's ``KeyedVectors.load_word2vec_format`` and word2vec.c's tools.  Written here
    rather than through gensim so that ``w2v-fastopt train`` never imports gensim (~0.5 s).  A path
    ending in ``.gz`` or ``.bz2`` is compressed (as gensim's writer does).  Refused (ValueError):
    vectors that are not finite, and words with whitespace, which both formats use as separators.
    """
    n, dim = vectors.shape
    check_finite(vectors, path)
    bad = next((w for w in words if any(ch.isspace() for ch in w)), None) if _has_space(words) else None
    if bad is not None:
        raise ValueError(f"{path}: the word {bad!r} contains whitespace, which the word2vec formats use "
                         "between fields; replace it in the tokens (e.g. with '_')")
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(os.path.splitext(os.fspath(path))[1].lower(), open)
    with atomic_path(path) as tmp:
        with opener(tmp, "wb") as f:
            f.write(f"{n} {dim}\n".encode())
            row_format = " ".join(["%.9g"] * dim)
            stride = 4 * dim
            for first in range(0, n, WRITE_ROWS):  # in batches: no copy of the whole matrix
                batch = np.ascontiguousarray(vectors[first:first + WRITE_ROWS], dtype="<f4")
                batch_words = words[first:first + WRITE_ROWS]
                if binary:
                    rows = batch.tobytes()
                    f.write(b"".join(word.encode("utf-8") + b" " + rows[i * stride:(i + 1) * stride] + b"\n"
                                     for i, word in enumerate(batch_words)))
                else:
                    for word, row in zip(batch_words, batch.tolist()):
                        f.write(f"{word} {row_format % tuple(row)}\n".encode("utf-8"))
        _fsync(tmp)


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _has_space(words):
    """Whether any word has a whitespace character (one regular-expression pass over all words)."""
    return re.search(r"\s", "".join(words)) is not None


def check_finite(vectors, path):
    """ValueError naming ``path`` if any value of ``vectors`` is NaN or infinite: never written."""
    bad = sum(int((~np.isfinite(vectors[first:first + WRITE_ROWS]).all(axis=1)).sum())
              for first in range(0, len(vectors), WRITE_ROWS))  # in batches: no matrix-sized mask
    if bad:
        raise ValueError(f"{path}: {bad:,} of {len(vectors):,} vectors are not finite (NaN or inf)")


MODEL_FORMAT = "w2v_fastopt-model-1"


def read_header(path):
    """The JSON header of a file written by ``save`` (cheap: the arrays are not read)."""
    try:
        with zipfile.ZipFile(path) as z, z.open("header.npy") as f:
            return json.loads(np.lib.format.read_array(f, allow_pickle=False).tobytes().decode())
    except Exception as err:  # whatever a malformed archive raises, named as one
        raise ValueError(f"{path}: not a valid w2v_fastopt model file ({type(err).__name__}: {err})") from None


def is_model_file(path):
    """True if ``path`` is an archive written by ``Trainer.save``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return "header.npy" in z.namelist()
