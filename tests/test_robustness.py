"""Failures the user does not cause: a full disk, Hogwild races, an out-of-bounds index in a kernel;
and the memory a big corpus file may take."""
import os
import resource
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from w2v_fastopt import Trainer
from w2v_fastopt import rules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_full_disk_fails_cleanly_and_keeps_the_earlier_output(tmp_path, small_corpus):
    """A real write failure: the child may not write files over 6 MB (RLIMIT_FSIZE -> EFBIG, as a
    full disk gives ENOSPC); the token ids (4 MB) fit, the vectors (~14 MB) do not."""
    out = tmp_path / "v.bin"
    out.write_bytes(b"earlier good output")

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (6 << 20, 6 << 20))

    r = subprocess.run([sys.executable, "-m", "w2v_fastopt", "train", str(small_corpus), "-o", str(out),
                        "--epochs", "1", "--min-count", "2", "--vector-size", "1000", "--quiet"],
                       capture_output=True, text=True,
                       preexec_fn=limit, timeout=120)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "write failed, earlier file kept" in lines[0] and str(out) in lines[0]
    assert out.read_bytes() == b"earlier good output"
    assert sorted(os.listdir(tmp_path)) == ["v.bin"]  # no temporary file left


@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "word2vec"])
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_hogwild_races_stay_finite(small_corpus, shared, workers):
    """Many seeds, up to 4 racing threads on 2 cores, learning rates up to 4x word2vec.c's."""
    for seed in range(4):
        for alpha in (0.05, 0.1):
            model = Trainer(corpus_file=small_corpus, workers=workers, seed=seed, alpha=alpha,
                             epochs=2, min_count=1, window=8, shared_negatives=shared)
            assert np.isfinite(model.vectors).all() and np.isfinite(model.syn1neg).all()
            assert all(np.isfinite(s.loss) for s in model.epoch_stats)


@pytest.mark.slow
def test_kernels_in_bounds_under_numba_boundscheck():
    """The kernel and tokenizer tests again with NUMBA_BOUNDSCHECK=1: an out-of-bounds index would
    raise IndexError instead of silently corrupting memory.  Compiled with the checks into a cache of
    their own, beside the tests' cache and keyed like it on the kernels' sources (conftest.py): the
    first run compiles (~100 s), a rerun of the same sources loads."""
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=os.environ["NUMBA_CACHE_DIR"] + "-boundscheck")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/test_kernels.py", "tests/test_vocab.py", "-k",
                        "kernel_matches or compiled_tokenizer or long_lines or vocabulary_matches"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout and "failed" not in r.stdout


def _resident_kb(address):
    """Resident KB of the mapping holding ``address``, from /proc/self/smaps."""
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            if not line[0].isupper():  # a mapping's header line: start-end perms offset ... path
                start, end = (int(a, 16) for a in line.split()[0].split("-"))
                inside = start <= address < end
            elif inside and line.startswith("Rss:"):
                return int(line.split()[1])
    raise LookupError(f"no mapping holds {address:#x}")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux's /proc/self/smaps")
def test_training_hands_back_the_corpus_pages_job_by_job(tmp_path, corpus_path, monkeypatch):
    """The token ids (data/ 8 times: 14.5 MB) are read through a memory map; each thread gives back
    a job's pages, and those a fault mapped around them (up to a 2 MB page-cache folio), when it is
    done with the job, so what is resident stays a few folios however long a segment is.  Measured
    on this file: 0.2-0.3 MB (2-4 MB on the 100M-token corpus of bench_memory.py, whose page cache
    has 2 MB folios); with one segment per epoch (as here) and pages handed back only between
    segments, 14.2 MB; handing back only each job's own pages, 2.9 MB."""
    import w2v_fastopt.train
    monkeypatch.setattr(w2v_fastopt.train, "SEGMENT_JOBS", 1 << 30)
    path = tmp_path / "big.txt"
    with open(corpus_path, "rb") as src:
        path.write_bytes(src.read() * 8)
    model = Trainer(min_count=1, epochs=1, workers=2, seed=1)
    model.build_vocab(corpus_file=path)
    ids = model._corpus[0]
    assert ids.nbytes > 14_000_000
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(_resident_kb(ids.ctypes.data))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        model.train()
    finally:
        done.set()
        sampler.join()
    assert len(samples) > 20
    assert max(samples) < 7_000, f"{max(samples)} KB of the corpus resident during training"


@pytest.mark.slow
def test_writing_padded_vectors_copies_a_batch_not_the_matrix(tmp_path):
    """The trained matrices are padded views (not contiguous): writing them in either word2vec
    format takes a batch of rows at a time, never a matrix-sized copy or mask (which at 1.4M words
    added 700 MB to the whole job's peak).  The files hold the rows exactly."""
    import tracemalloc

    from gensim.models import KeyedVectors
    from w2v_fastopt.io import write_word2vec_format

    vectors = rules.padded_matrix(40_000, 100)  # 16 MB of rows, 17.9 MB with the padding
    vectors[...] = np.random.default_rng(0).standard_normal(vectors.shape, dtype=np.float32)
    words = [f"w{i}" for i in range(len(vectors))]
    # text: 10,000 rows (a whole copy as Python floats: 37 MB), with a batch's floats (13 MB) at most
    for binary, rows, most in ((True, len(vectors), 8_000_000), (False, 10_000, 24_000_000)):
        path = tmp_path / f"v{int(binary)}.bin"
        tracemalloc.start()
        write_word2vec_format(path, words[:rows], vectors[:rows], binary=binary)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < most, f"writing took {peak / 1e6:.1f} MB at its peak (binary={binary})"
        loaded = KeyedVectors.load_word2vec_format(path, binary=binary)
        assert loaded.index_to_key == words[:rows] and np.array_equal(loaded.vectors, vectors[:rows])


FRESH_AND_CACHED = """
import hashlib, sys
from w2v_fastopt import Trainer
from w2v_fastopt.rules import RULES
for rule in RULES:
    m = Trainer(corpus_file=sys.argv[1], epochs=1, workers=1, seed=7, min_count=2,
                 optimizer=rule.optimizer, shared_negatives=rule.shared_negatives, sg=int(rule.sg),
                 hs=int(rule.hs), combine=4 if rule.combines else 1)
    trained = m.vectors.tobytes() + m.syn1neg.tobytes() + (m.syn1.tobytes() if rule.hs else b"")
    print(rule.kernel.__name__, hashlib.sha256(trained).hexdigest())
"""


@pytest.mark.slow
def test_a_freshly_compiled_kernel_and_a_cached_one_give_the_same_bits(tmp_path, small_corpus):
    """Every rule, one worker, d = 100: the first process compiles the kernels into an empty Numba
    cache, the second loads them from it (each one: NUMBA_DEBUG_CACHE says so); same vectors to the
    bit.  Heun, RK4 and soft batch used to differ (a non-inlined update compiled apart from its
    kernel: kernels/walk.py says why)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", FRESH_AND_CACHED, str(small_corpus)], capture_output=True,
                           text=True, timeout=600, env=dict(env, NUMBA_DEBUG_CACHE=str(i)))
            for i in (0, 1)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    fresh, cached = ([line for line in r.stdout.splitlines() if not line.startswith("[cache]")] for r in runs)
    assert len(fresh) == len(rules.RULES) and fresh == cached
    loaded = [line for line in runs[1].stdout.splitlines() if line.startswith("[cache] data loaded")]
    for line in fresh:
        assert any(f".{line.split()[0]}-" in entry for entry in loaded), line


LLVM_AFTER_TRAINING = """
import sys
import numba
from w2v_fastopt import cli
from w2v_fastopt.prepare import load_corpus


def llvmlite_kb():
    kb, inside = {"Private_Clean:": 0, "Private_Dirty:": 0}, False
    for line in open("/proc/self/smaps"):
        fields = line.split()
        if "-" in fields[0] and not fields[0].endswith(":"):
            inside = fields[-1].endswith("/libllvmlite.so")
        elif inside and fields[0] in kb:
            kb[fields[0]] += int(fields[1])
    return kb["Private_Clean:"], kb["Private_Dirty:"]


load_corpus(corpus_file=sys.argv[1])
after_reading = llvmlite_kb()
sys.argv = ["w2v-fastopt", "train", sys.argv[1], "-o", sys.argv[2], "--epochs", "1", "--quiet"]
code = cli.main()
after_training = llvmlite_kb()


@numba.njit
def scaled(x):  # LLVM at work again: it faults back in the pages it needs
    return x * 2.5


print(code, after_reading[0], *after_training, scaled(2.0), *llvmlite_kb())
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux's /proc/self/smaps")
def test_llvms_code_is_not_resident_while_training_and_comes_back_when_needed(tmp_path, small_corpus):
    """llvmlite's code pages are handed back (``resident.hand_back_compiler_code``) once the
    tokenizer's kernel is loaded, once the training kernel is, and, on the command line, once Numba
    is imported.  Measured: after reading the corpus 5 MB of them are resident (29 MB without the
    tokenizer's hand-back); after the whole ``train`` none (5 MB without the training kernel's);
    its relocated (dirty) pages are kept; compiling a new function afterwards works."""
    run = subprocess.run([sys.executable, "-c", LLVM_AFTER_TRAINING, str(small_corpus), str(tmp_path / "v.bin")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    code, reading_kb, clean_kb, dirty_kb, scaled, clean_again_kb, dirty_again_kb = run.stdout.split()
    assert code == "0" and (tmp_path / "v.bin").stat().st_size > 0
    assert int(reading_kb) < 15_000, f"{reading_kb} KB of LLVM's code resident after reading"
    assert int(clean_kb) < 1_000, f"{clean_kb} KB of LLVM's code resident after training"
    assert int(dirty_kb) > 0 and dirty_again_kb == dirty_kb
    assert float(scaled) == 5.0 and int(clean_again_kb) > 10_000
