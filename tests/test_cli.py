"""``w2v-fastopt`` as a user runs it: real subprocesses, exit codes, one-line errors, atomic output."""
import os
import subprocess
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "w2v_fastopt", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_train_then_evaluate(small_corpus, tmp_path):
    out = tmp_path / "v.bin"
    r = run("train", small_corpus, "--output", out, "--epochs", "2", "--workers", "2", "--min-count", "3")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    summaries = [line for line in r.stderr.splitlines() if "effective words/s, mean loss" in line]
    assert len(summaries) == 2 and "raw words (" in summaries[0]
    assert "lr=" in r.stderr and "loss=" in r.stderr and "w/s" in r.stderr  # the progress line
    wv = KeyedVectors.load_word2vec_format(out, binary=True)
    assert wv.vector_size == 100 and len(wv) > 1000
    assert sorted(os.listdir(tmp_path)) == ["v.bin"]  # no temporary left behind

    e = run("evaluate", out)
    assert e.returncode == 0, e.stderr
    assert "wordsim353" in e.stdout and "simlex999" in e.stdout and "analogies" in e.stdout


@pytest.mark.slow
def test_keras_backend_writes_the_same_kind_of_output(small_corpus, tmp_path):
    """--backend keras: Heun's method through model.fit; progress on stderr, vectors gensim can load,
    the same vocabulary as the Numba engine's."""
    out, reference = tmp_path / "v.bin", tmp_path / "ref.bin"
    r = run("train", small_corpus, "--output", out, "--backend", "keras", "--optimizer", "heun",
            "--epochs", "2", "--min-count", "3", "--batch-size", "256")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and "Epoch 2/2" in r.stderr and "with Keras (heun, batch 256" in r.stderr
    assert run("train", small_corpus, "-o", reference, "--epochs", "1", "--min-count", "3",
               "--quiet").returncode == 0
    wv, ref = (KeyedVectors.load_word2vec_format(p, binary=True) for p in (out, reference))
    assert wv.index_to_key == ref.index_to_key and wv.vector_size == 100
    assert sorted(os.listdir(tmp_path)) == ["ref.bin", "v.bin"]


@pytest.mark.slow
def test_quiet_text_format_and_options(small_corpus, tmp_path):
    out = tmp_path / "v.txt"
    r = run("train", small_corpus, "-o", out, "--quiet", "--epochs", "1", "--vector-size", "20",
            "--window", "3", "--negative", "3", "--sample", "0", "--ns-exponent", "0.5", "--alpha", "0.05",
            "--min-alpha", "0.001", "--seed", "9", "--workers", "1", "--no-shared-negatives")
    assert r.returncode == 0 and r.stderr == "" and r.stdout == ""
    wv = KeyedVectors.load_word2vec_format(out, binary=False)
    assert wv.vector_size == 20
    assert run("evaluate", out).returncode == 0
    cbow = tmp_path / "cbow.txt"  # CBOW with a summed context, through the command line
    assert run("train", small_corpus, "-o", cbow, "--quiet", "--epochs", "1", "--vector-size", "20", "--seed", "9",
               "--workers", "1", "--sg", "0", "--cbow-mean", "0").returncode == 0
    assert KeyedVectors.load_word2vec_format(cbow, binary=False).index_to_key == wv.index_to_key
    combined = tmp_path / "combined.txt"  # context combining, and its refusal without shared negatives
    assert run("train", small_corpus, "-o", combined, "--quiet", "--epochs", "1", "--vector-size", "20",
               "--workers", "1", "--combine", "4").returncode == 0
    assert KeyedVectors.load_word2vec_format(combined, binary=False).index_to_key == wv.index_to_key
    r = run("train", small_corpus, "-o", tmp_path / "none.txt", "--combine", "4", "--no-shared-negatives")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "combine=4 shares negatives" in r.stderr
    assert not (tmp_path / "none.txt").exists()


def test_no_loss_trains_the_same_vectors_and_reports_no_loss(small_corpus, tmp_path):
    """--no-loss (hierarchical softmax's fast path, kernels/hs.py): the same vectors (to float32
    rounding: LLVM may order a sum differently without the loss's code), and no loss in the epoch
    lines, the progress line or the final line."""
    common = ["--epochs", "1", "--vector-size", "20", "--seed", "9", "--workers", "1", "--hs", "1", "--negative", "0",
              "--format", "text"]
    with_loss, without = run("train", small_corpus, "-o", tmp_path / "a.txt", *common), \
        run("train", small_corpus, "-o", tmp_path / "b.txt", *common, "--no-loss")
    assert with_loss.returncode == 0 and without.returncode == 0, with_loss.stderr + without.stderr
    a, b = (KeyedVectors.load_word2vec_format(tmp_path / name) for name in ("a.txt", "b.txt"))
    assert a.index_to_key == b.index_to_key
    np.testing.assert_allclose(a.vectors, b.vectors, rtol=0, atol=1e-5)
    assert "effective words/s, mean loss" in with_loss.stderr and "final mean loss" in with_loss.stderr
    assert "mean loss" not in without.stderr and "loss=" not in without.stderr
    assert "effective words/s" in without.stderr and "lr=" in without.stderr


def test_train_imports_neither_tensorflow_nor_gensim_nor_scipy_blas(small_corpus, tmp_path):
    """TensorFlow costs seconds and hundreds of MB; gensim ~0.5 s; SciPy's BLAS, which Numba imports
    for a probe, 15 MB: none belongs to a train run.  The probe's block is lifted afterwards: np.dot
    in jitted code still works."""
    code = ("import sys; from w2v_fastopt.cli import main; "
            f"sys.argv = ['w2v-fastopt', 'train', {str(small_corpus)!r}, '-o', {str(tmp_path / 'v.bin')!r}, '-q', "
            "'--epochs', '1']; main(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch', 'gensim') "
            "or m.startswith('scipy.linalg')]; "
            "assert not bad, bad; "
            "import numba, numpy as np; "
            "assert numba.njit(lambda a: np.dot(a, a))(np.ones(3)) == 3.0")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_help_names_word2vec_and_fasttext_flags():
    r = run("train", "--help")
    assert r.returncode == 0
    for flag in ("--vector-size", "-size / -dim", "--no-shared-negatives", "-iter / -epoch", "--format",
                 "--sg 0          -cbow 1 / cbow", "--hs 1          -hs 1 / -loss hs"):
        assert flag in r.stdout


COMPILES = """
import os, sys
from numba.core import event
compiled = []
class Count(event.Listener):
    def on_start(self, ev):
        pass
    def on_end(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__module__)
event.register("numba:compile", Count())
from gensim.models.word2vec import LineSentence
from w2v_fastopt import Trainer, Word2Vec
size, path = int(sys.argv[1]), sys.argv[2]
for sg in (0, 1):
    Trainer(corpus_file=path, vector_size=size, sg=sg, min_count=1, epochs=1, workers=2)
    Word2Vec(LineSentence(path), vector_size=size, sg=sg, min_count=1, epochs=1, workers=2)
print(sum(m.startswith("w2v_fastopt") for m in compiled))
"""


@pytest.mark.slow
def test_compile_fills_numbas_cache_for_the_default_calls(tmp_path):
    """``w2v-fastopt compile --vector-size 24`` compiles what the default calls at that size use: a
    later process training CBOW and skip-gram, from the command line's Trainer and from Word2Vec
    (with 2 workers: the kernels do not depend on it), compiles nothing of ours; at size 23 it does."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "w2v_fastopt", "compile", "--vector-size", "24"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "skip-gram, vector size 24" in done.stdout, done.stderr
    assert str(tmp_path / "cache") in done.stdout.splitlines()[-1]
    corpus = tmp_path / "c.txt"
    corpus.write_text("human interface computer\nsurvey user computer system response time\n" * 50)
    counts = [subprocess.run([sys.executable, "-c", COMPILES, str(size), str(corpus)], env=env, capture_output=True,
                             text=True, check=True).stdout.split()[-1] for size in (24, 23)]
    assert counts[0] == "0" and int(counts[1]) > 0, counts
