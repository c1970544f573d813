"""Atomic writes: every output goes to a temporary file beside its target and is renamed over it.

A failed or interrupted write leaves no partial file and never destroys an earlier good output.
"""
import contextlib
import os
import tempfile


def check_writable(path):
    """Fail early, before any training, if ``path`` cannot be written (ValueError/OSError with the path)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, cannot write the output there")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: directory {folder} is not writable")


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
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
