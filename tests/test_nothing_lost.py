"""Nothing lost, round two: an input is never overwritten, NaN is never written, compiled code never
crashes or runs out of bounds; one line and a non-zero exit for each refusal, nothing touched.

Each command-line case runs in a real subprocess; the directory's files (and their bytes) must be
the same afterwards.
"""
import gzip
import hashlib
import os
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from test_errors import GOOD, assert_one_line_error, run
from w2v_fastopt import Trainer, load_corpus
from w2v_fastopt.evaluate import load_vectors
from w2v_fastopt.io import write_word2vec_format


def snapshot(folder):
    """{name: sha256 of its bytes, or the kind of a non-regular file} of every entry in ``folder``."""
    out = {}
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            out[name] = hashlib.sha256(open(path, "rb").read()).hexdigest()
        else:
            out[name] = stat.S_IFMT(st.st_mode)
    return out


# (case, set-up of the folder beyond c.txt and an earlier v.bin, arguments after "train", words)
DESTRUCTIVE = [
    ("output is the corpus", None, ["c.txt", "-o", "c.txt"], "is the input c.txt"),
    ("output is a hard link to the corpus", lambda d: os.link(d / "c.txt", d / "h.txt"),
     ["c.txt", "-o", "h.txt"], "is the input c.txt"),
    ("output is a symbolic link to the corpus", lambda d: os.symlink("c.txt", d / "s.txt"),
     ["c.txt", "-o", "s.txt"], "is the input c.txt"),
    ("checkpoint is the corpus", None, ["c.txt", "-o", "v.bin", "--checkpoint-every", "1", "--checkpoint", "c.txt"],
     "is the input c.txt"),
    ("checkpoint is the output", None, ["c.txt", "-o", "v.bin", "--checkpoint-every", "1", "--checkpoint", "v.bin"],
     "another output"),
    ("checkpoint without a schedule", None, ["c.txt", "-o", "v.bin", "--checkpoint", "s.ckpt"],
     "--checkpoint STATE needs --checkpoint-every"),
    ("output is a FIFO", lambda d: os.mkfifo(d / "fifo"), ["c.txt", "-o", "fifo"], "not a regular file"),
    ("output is /dev/null", None, ["c.txt", "-o", "/dev/null"], "not a regular file"),
    ("output is empty", None, ["c.txt", "-o", ""], "the output path is empty"),
    ("output is standard output", None, ["c.txt", "-o", "-"], "standard output is not supported"),
    ("output ends with a slash", None, ["c.txt", "-o", "newdir/"], "ends with '/'"),
    ("output name longer than the folder allows", None, ["c.txt", "-o", "x" * 256], "file name too long"),
    ("corpus is a symbolic-link loop", lambda d: (os.symlink("b", d / "a"), os.symlink("a", d / "b")),
     ["a", "-o", "v.bin"], "a loop of symbolic links"),
    ("UTF-16 with a byte-order mark", lambda d: (d / "u.txt").write_bytes(GOOD.encode("utf-16")),
     ["u.txt", "-o", "v.bin"], "UTF-16 text"),
    ("UTF-16 without a byte-order mark", lambda d: (d / "u.txt").write_bytes(GOOD.encode("utf-16-le")),
     ["u.txt", "-o", "v.bin"], "UTF-16 text"),
    ("a learning rate that diverges", None, ["c.txt", "-o", "v.bin", "--alpha", "10", "--sample", "0"],
     "training diverged in epoch 1"),
    ("no (center, context) pair: one word a line", lambda d: (d / "w.txt").write_text("a\nb\nc\n" * 30),
     ["w.txt", "-o", "v.bin", "--sample", "0"], "nothing to train"),
    ("no (center, context) pair: everything subsampled", None, ["c.txt", "-o", "v.bin", "--sample", "1e-300"],
     "nothing to train"),
    ("buffers larger than the memory", None,
     ["c.txt", "-o", "v.bin", "--optimizer", "softbatch", "--accumulate", "1048576", "--vector-size", "5000"],
     "out of memory: the soft batch buffers"),
    ("standard input with a second pass", None, ["-", "-o", "v.bin", "--max-vocab-size", "10"],
     "standard input can be read only once"),
]


@pytest.mark.parametrize("case,setup,args,expected", DESTRUCTIVE, ids=[c[0] for c in DESTRUCTIVE])
def test_refused_and_nothing_touched(tmp_path, case, setup, args, expected):
    (tmp_path / "c.txt").write_text(GOOD)
    (tmp_path / "v.bin").write_bytes(b"earlier good output")
    if setup is not None:
        setup(tmp_path)
    before = snapshot(tmp_path)
    # --quiet: no progress bar on stderr once training runs (a terminal would see it erased)
    result = run(["train", *args, "--min-count", "1", "--workers", "1", "--epochs", "2", "--quiet"], cwd=tmp_path)
    assert_one_line_error(result, expected)
    assert snapshot(tmp_path) == before
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_outputs_get_the_replaced_files_mode_or_the_umasks(tmp_path):
    vectors, words = np.ones((2, 3), np.float32), ["a", "b"]
    old = os.umask(0o027)
    try:
        write_word2vec_format(tmp_path / "new.bin", words, vectors)
        (tmp_path / "old.bin").write_bytes(b"x")
        os.chmod(tmp_path / "old.bin", 0o604)
        write_word2vec_format(tmp_path / "old.bin", words, vectors)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.bin").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "old.bin").st_mode) == 0o604


def test_no_nan_and_no_whitespace_words_are_written(tmp_path):
    with pytest.raises(ValueError, match="1 of 2 vectors are not finite"):
        write_word2vec_format(tmp_path / "v.bin", ["a", "b"], np.array([[1, np.nan], [1, 2]], np.float32))
    model = Trainer([["hello world", "x", "y"]] * 20, min_count=1, workers=1, epochs=1, sample=0)
    with pytest.raises(ValueError, match="'hello world' contains whitespace"):
        model.save_word2vec_format(tmp_path / "v.txt", binary=False)
    assert os.listdir(tmp_path) == []
    with pytest.raises(RuntimeError, match="training diverged"):
        Trainer([GOOD.split()] * 5, min_count=1, workers=1, epochs=2, sample=0, alpha=10)


def test_compressed_outputs_standard_input_and_a_byte_order_mark(tmp_path):
    """-o v.txt.gz writes gzip, which gensim and our evaluate read; a corpus piped on standard input
    trains the same vectors as the file; a UTF-8 byte-order mark is not part of the first word."""
    (tmp_path / "c.txt").write_text(GOOD)
    common = ["--min-count", "1", "--workers", "1", "--epochs", "1", "--quiet"]
    assert run(["train", "c.txt", "-o", "v.txt.gz", *common], cwd=tmp_path).returncode == 0
    assert gzip.open(tmp_path / "v.txt.gz").readline() == b"7 100\n"  # the, cat, sat, on, mat, dog, log
    from_file = load_vectors(tmp_path / "v.txt.gz")
    piped = subprocess.run([sys.executable, "-m", "w2v_fastopt", "train", "-", "-o", "p.txt.gz", *common],
                           input=GOOD, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert np.array_equal(load_vectors(tmp_path / "p.txt.gz").vectors, from_file.vectors)
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_corpus(corpus_file=tmp_path / "bom.txt", min_count=1).vocab.words == from_file.index_to_key


@pytest.mark.slow
def test_evaluate_refuses_what_it_cannot_score(tmp_path):
    (tmp_path / "nan.txt").write_text("2 3\na nan nan nan\nb 1 2 3\n")
    assert_one_line_error(run(["evaluate", "nan.txt"], cwd=tmp_path), "1 of 2 vectors are not finite")
    assert_one_line_error(run(["evaluate", "/dev/zero"], cwd=tmp_path), "not a regular file")
    with zipfile.ZipFile(tmp_path / "bad.w2v", "w") as z:  # a model archive whose header is not JSON
        z.writestr("header.npy", b"\x93NUMPY garbage")
    assert_one_line_error(run(["evaluate", "bad.w2v"], cwd=tmp_path), "not a valid w2v_fastopt model file")
    with pytest.raises(ValueError, match="not a valid w2v_fastopt model file"):
        Trainer.load(tmp_path / "bad.w2v")


@pytest.mark.slow
def test_evaluate_into_a_closed_pipe_or_a_full_disk(tmp_path):
    words = "tiger cat king queen man woman money bank computer keyboard".split()  # pairs of WordSim-353
    rows = np.random.default_rng(0).normal(size=(len(words), 3))
    write_word2vec_format(tmp_path / "v.txt", words, rows, binary=False)
    read, write = os.pipe()
    os.close(read)
    closed = subprocess.run([sys.executable, "-m", "w2v_fastopt", "evaluate", "v.txt"], stdout=write,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=120)
    os.close(write)
    assert closed.returncode == 141 and closed.stderr == ""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "w2v_fastopt", "evaluate", "v.txt"], stdout=full,
                                stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=120)
    assert_one_line_error(result, "cannot write to standard output: No space left on device")


def test_large_vector_sizes_train_in_bounded_time_and_memory(tmp_path):
    """d = 10,000 under a 3 GB address-space limit: the runtime-size kernel (rules.MAX_CONSTANT_DIM);
    fully unrolled, LLVM took 75 s and 7.4 GB to compile it."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    (tmp_path / "c.txt").write_text(GOOD)
    result = subprocess.run([sys.executable, "-m", "w2v_fastopt", "train", "c.txt", "-o", "v.bin",
                             "--vector-size", "10000", "--min-count", "1", "--epochs", "1", "--quiet"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300, preexec_fn=limit)
    assert result.returncode == 0, result.stderr[-2000:]
    assert load_vectors(tmp_path / "v.bin").vector_size == 10000


NO_CACHE = """
import sys
from numba.core import caching
impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
user_dir = getattr(caching, "UserProvidedCacheLocator", None) or caching._UserProvidedCacheLocator  # numba < 0.61
impl._locator_classes = [user_dir]  # as on a read-only install, no home
from w2v_fastopt.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_no_writable_numba_cache_compiles_in_memory_with_a_notice(tmp_path):
    (tmp_path / "c.txt").write_text(GOOD)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    result = subprocess.run([sys.executable, "-c", NO_CACHE, "train", "c.txt", "-o", "v.bin", "--min-count", "1",
                             "--epochs", "1", "--workers", "1", "--vector-size", "8", "--quiet"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        "w2v-fastopt: notice: no writable Numba cache directory (read-only install? set NUMBA_CACHE_DIR to "
        "keep compiled kernels); compiling the kernels for this run only"]


def test_checkpoints_record_absolute_paths(tmp_path, monkeypatch):
    (tmp_path / "c.txt").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    model = Trainer(min_count=1, workers=1).build_vocab(corpus_file="c.txt")
    assert model.corpus_file == str(tmp_path / "c.txt")
