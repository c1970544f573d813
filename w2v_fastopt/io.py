"""Writing outputs: atomically, and in word2vec.c's vectors formats; reading a model archive's header.

Every output goes to a temporary file beside its target and is renamed over it: a failed or
interrupted write leaves no partial file and never destroys an earlier good output.
"""
import bz2
import contextlib
import errno
import fcntl
import gzip
import json
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile

import numpy as np

WRITE_ROWS = 4096


TEMPORARY_PREFIX = ".w2v-fastopt-"  # every temporary output (file or folder) starts with this
STALE_SECONDS = 60  # an unlocked temporary this old was left by a run that was killed: removed
WRITTEN = []  # the outputs this process has put in place (for the command line's last word)


def check_output(path, inputs=(), outputs=()):
    """Refuse, before any training, an output ``path`` that cannot be written or whose writing
    would destroy something: an input (``inputs``: the corpus, a checkpoint being resumed; the same
    file through any link) or another output of the run (``outputs``).  Raises ValueError/OSError
    naming the path.  A symbolic link is followed (its target is replaced, the link kept) unless
    ``check_links`` refuses it: a link planted by another user in a shared sticky folder."""
    path = _text_path(path)
    if path == "":
        raise ValueError("the output path is empty")
    if path == "-":
        raise ValueError("-: writing to standard output is not supported (outputs are written to a "
                         "temporary file and renamed into place); give a file path")
    if path.endswith(("/", os.sep)) and not os.path.isdir(path):
        raise IsADirectoryError(f"{path}: ends with '/': give a file path, not a directory")
    check_links(path)
    check_writable(path)
    if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{path}: not a regular file (a device, FIFO or socket); outputs are written "
                         "to a temporary file and renamed into place: give a file path")
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    name_max = os.pathconf(folder, "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
    if len(os.fsencode(name)) > name_max:
        raise ValueError(f"{path}: file name too long ({len(os.fsencode(name))} bytes; at most {name_max} here)")
    for other in inputs:
        if other is not None and _same_file(path, other):
            raise ValueError(f"{path}: is the input {_text_path(other)} (the same file); writing it would "
                             "destroy it: choose another output path")
    for other in outputs:
        if other is not None and (_same_file(path, other) or target == os.path.realpath(other)):
            raise ValueError(f"{path}: is also the path of another output of this run ({_text_path(other)})")


def _text_path(path):
    """``path`` (str, bytes or os.PathLike) as str; bytes that are not UTF-8 become surrogate escapes,
    as Python does for command-line arguments, and go back to the same bytes in every OS call."""
    return os.fsdecode(os.fspath(path))


def check_links(path):
    """Refuse to write through a symbolic link that another user planted in a shared sticky folder.

    The kernel's rule (``fs.protected_symlinks``), applied by us because we resolve the output's
    links ourselves (``realpath``) before renaming onto the target: a link in a sticky,
    world-writable folder (``/tmp``, mode 1777) is followed only if it belongs to us or to the
    folder's owner.  Every link on the way to ``path`` is checked, the last component's included.
    """
    path = os.path.abspath(_text_path(path))
    parts = path.split(os.sep)
    current = os.sep
    for depth, part in enumerate(parts[1:], start=1):
        if not part:
            continue
        candidate = os.path.join(current, part)
        try:
            info = os.lstat(candidate)
        except OSError:
            return  # from here on nothing exists: no link to follow
        if stat.S_ISLNK(info.st_mode):
            folder = os.stat(current)
            shared = folder.st_mode & stat.S_ISVTX and folder.st_mode & stat.S_IWOTH
            if shared and info.st_uid not in (os.geteuid(), folder.st_uid):
                where = candidate if candidate == path else f"{path}: {candidate}"
                raise PermissionError(
                    f"{where} is a symbolic link owned by another user (uid {info.st_uid}) in the shared "
                    f"sticky folder {current}; not followed (the kernel's protected_symlinks would not "
                    "follow it either): remove the link or choose another path")
            link = os.readlink(candidate)
            rest = os.sep.join(parts[depth + 1:])
            target = os.path.normpath(os.path.join(current, link, rest))
            if target != path:
                return check_links(target)
            return
        current = candidate


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_writable(path):
    """Fail early, before any training, if ``path`` cannot be written (ValueError/OSError with the path)."""
    path = _text_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, cannot write the output there")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: directory {folder} does not exist")
    try:  # os.access says yes to root even on a read-only file system: try it
        fd, probe = tempfile.mkstemp(prefix=TEMPORARY_PREFIX + "probe.", dir=folder)
    except OSError as err:
        raise PermissionError(f"{path}: directory {folder} is not writable ({err.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def _temporary_suffix(name):
    """The suffixes of ``name`` a temporary keeps (``.bin.gz``: writers that go by the name still see
    gzip), at most 16 bytes of them, so that the temporary's name is short whatever the target's."""
    stem, dot, suffixes = name.partition(".")
    while suffixes and len(os.fsencode(suffixes)) > 15:
        _, _, suffixes = suffixes.partition(".")
    return "." + suffixes if suffixes else ""


@contextlib.contextmanager
def held_temporary(folder, suffix="", directory=False):
    """A fresh temporary file (or folder) in ``folder``, named ``.w2v-fastopt-XXXXXXXX.tmp<suffix>``
    and locked (``flock``) by this process while it exists: ``remove_stale`` tells a killed run's
    leftovers (unlocked) from a running one's.  Yields (its path, its descriptor); closes the
    descriptor at the end, and removes the temporary unless it was renamed away."""
    remove_stale(folder)
    if directory:
        tmp = tempfile.mkdtemp(prefix=TEMPORARY_PREFIX, suffix=".tmp" + suffix, dir=folder)
        fd = os.open(tmp, os.O_RDONLY)
    else:
        fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=".tmp" + suffix, dir=folder)
    try:
        with contextlib.suppress(OSError):  # a file system without locks: it is only never called stale
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield tmp, fd
    finally:
        os.close(fd)
        if os.path.lexists(tmp):
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp) if directory else os.unlink(tmp)


def remove_stale(folder):
    """Remove the temporaries of runs that were killed (SIGKILL, a power cut) before they could
    clean up: ours by name, owned by us, unlocked, and untouched for ``STALE_SECONDS``."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TEMPORARY_PREFIX) and ".tmp" in n]
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            info = os.lstat(path)
            if info.st_uid != os.geteuid() or time.time() - info.st_mtime < STALE_SECONDS:
                continue
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live writer: BlockingIOError
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            pass
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's directory; on success rename it to ``path``.

    The temporary name is short (``held_temporary``: any name the folder allows can be written) and
    keeps the target's last suffixes (``.bin.gz`` stays gzip for gensim/smart_open).  On any
    exception the temporary file is removed and ``path`` is left as it was.  The file gets the mode
    of the file it replaces, or the umask's default for a new file (0644 with umask 022); a
    symbolic link at ``path`` keeps pointing to the new file.  ``path`` is added to ``WRITTEN``
    once it is in place.
    """
    path = _text_path(path)
    check_output(path)
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    with held_temporary(folder, _temporary_suffix(name)) as (tmp, _):
        try:
            yield tmp
            os.chmod(tmp, _mode_for(target))
            os.replace(tmp, target)
            WRITTEN.append(path)
        except BaseException as err:
            if not os.path.lexists(tmp) and path not in WRITTEN:  # interrupted just after the rename
                WRITTEN.append(path)
            if isinstance(err, OSError) and not str(err).startswith(path):  # e.g. a full disk
                raise OSError(err.errno, f"{path}: write failed, earlier file kept: "
                                         f"{err.strerror or err}") from None
            raise


@contextlib.contextmanager
def atomic_folder(folder, names):
    """Yield a fresh temporary folder beside ``folder``; on success it takes ``folder``'s place in
    one rename, so that a set of files (``names``) changes all at once: a reader, a crash or a
    signal sees the old set or the new one, never a mix.

    ``folder`` may be missing, or a folder holding nothing but ``names`` (an earlier export); one
    holding anything else is refused (ValueError, before anything is written): its other files would
    go with the old folder.  An existing folder is swapped with ``renameat2(RENAME_EXCHANGE)``
    (Linux); where that is missing, renamed away first (a moment without ``folder``, never a mix).
    """
    folder = _text_path(folder)
    if folder == "":
        raise ValueError("the output folder's path is empty")
    check_links(folder)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"{folder}: exists and is not a directory; give a folder")
    exists = os.path.isdir(folder)
    if exists:
        others = sorted(set(os.listdir(folder)) - set(names))
        if others:
            raise ValueError(f"{folder}: holds files other than the {len(names)} this writes ({', '.join(others[:3])}"
                             f"{', ...' if len(others) > 3 else ''}); the folder is replaced as a whole: "
                             "choose a new or an empty folder")
    target = os.path.realpath(folder)
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"{folder}: directory {parent} does not exist")
    mode = stat.S_IMODE(os.stat(target).st_mode) if exists else 0o777 & ~current_umask(parent)
    try:
        with held_temporary(parent, directory=True) as (tmp, fd):
            try:
                yield tmp
                os.chmod(tmp, mode)
                if not (exists and _exchange(tmp, target)):
                    if exists:
                        with held_temporary(parent, directory=True) as (old, _):
                            os.rmdir(old)
                            os.rename(target, old)  # the old set, whole, under a temporary name
                    os.rename(tmp, target)
                WRITTEN.append(folder)
            except BaseException:
                with contextlib.suppress(OSError):
                    if os.path.samestat(os.stat(target), os.fstat(fd)) and folder not in WRITTEN:
                        WRITTEN.append(folder)  # interrupted just after the swap
                raise
        # leaving held_temporary removed the old set, now under the temporary name
    except OSError as err:
        if str(err).startswith(folder):
            raise
        raise OSError(err.errno, f"{folder}: write failed, earlier files kept: {err.strerror or err}") from None


def _exchange(a, b):
    """Swap the paths ``a`` and ``b`` in one step (Linux's renameat2 with RENAME_EXCHANGE); False
    where the system or the file system does not offer it."""
    import ctypes

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err))


def _mode_for(target):
    """The permission bits a new file at ``target`` gets: those of the file it replaces, or
    0666 less the umask (what ``open`` gives a new file)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask(os.path.dirname(target))


def current_umask(folder):
    """The process's umask, read without changing it: ``os.umask(0)`` and back would give files
    that other threads create meanwhile mode 0666.  Linux: /proc/self/status; elsewhere the mode
    of a probe file created in ``folder`` with 0777."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("Umask:")).split()[1], 8)
    fd, probe = tempfile.mkstemp(prefix=TEMPORARY_PREFIX + "probe.", dir=folder)
    try:
        os.close(fd)
        os.unlink(probe)
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o777)
        os.close(fd)
        return 0o777 & ~stat.S_IMODE(os.stat(probe).st_mode)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)


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
        fsync_file(tmp)


def fsync_file(path):
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


HEADER_BYTES = 1 << 26  # a model's JSON header is kilobytes (parameters, one line per epoch): 64 MB is a bomb
INFLATION = 64  # the most a member may inflate (Trainer.save stores its arrays uncompressed: 1x)


def read_header(path):
    """The JSON header of a file written by ``save`` (cheap: the arrays are not read)."""
    try:
        arrays = declared_arrays(path)
        if arrays.get("header", ((HEADER_BYTES + 1,), None))[0][0] > HEADER_BYTES:
            raise ValueError(f"header.npy declares {arrays['header'][0][0]:,} bytes" if "header" in arrays
                             else "no header.npy")
        with zipfile.ZipFile(path) as z, z.open("header.npy") as f:
            header = json.loads(np.lib.format.read_array(f, allow_pickle=False).tobytes().decode())
        if not isinstance(header, dict):
            raise ValueError("its header is not a JSON object")
        return header
    except Exception as err:  # whatever a malformed archive raises, named as one
        raise ValueError(f"{path}: not a valid w2v_fastopt model file ({type(err).__name__}: {err})") from None


def declared_arrays(path):
    """{name: (shape, dtype)} of the arrays of a model archive, from each member's .npy header,
    before any array is inflated.  ValueError where a member's declared size disagrees with its
    .npy header, or where it would inflate more than ``INFLATION`` times (an archive bomb: a few
    MB of zeros deflated that a loader would inflate to gigabytes)."""
    arrays = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = info.filename.removesuffix(".npy")
            if info.compress_type != zipfile.ZIP_STORED and info.file_size > INFLATION * info.compress_size + (1 << 20):
                raise ValueError(f"{info.filename} inflates {info.compress_size:,} bytes to {info.file_size:,}")
            with z.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
                if dtype.hasobject:
                    raise ValueError(f"{info.filename} holds Python objects")
                nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if f.tell() + nbytes != info.file_size:
                    raise ValueError(f"{info.filename} declares {shape} {dtype} ({nbytes:,} bytes) in "
                                     f"{info.file_size - f.tell():,} bytes")
            arrays[name] = (shape, dtype)
    return arrays


def is_model_file(path):
    """True if ``path`` is an archive written by ``Trainer.save``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return "header.npy" in z.namelist()
