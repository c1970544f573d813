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


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, corpus_path):
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    with open(corpus_path) as src:
        path.write_text("".join(next(src) for _ in range(12)))
    return path


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


def test_quiet_text_format_and_options(small_corpus, tmp_path):
    out = tmp_path / "v.txt"
    r = run("train", small_corpus, "-o", out, "--quiet", "--epochs", "1", "--vector-size", "20",
            "--window", "3", "--negative", "3", "--sample", "0", "--ns-exponent", "0.5", "--alpha", "0.05",
            "--min-alpha", "0.001", "--seed", "9", "--workers", "1", "--no-shared-negatives")
    assert r.returncode == 0 and r.stderr == "" and r.stdout == ""
    wv = KeyedVectors.load_word2vec_format(out, binary=False)
    assert wv.vector_size == 20
    assert run("evaluate", out).returncode == 0


def test_train_imports_neither_tensorflow_nor_gensim(small_corpus, tmp_path):
    """TensorFlow costs seconds and hundreds of MB; gensim ~0.5 s: neither belongs to a train run."""
    code = ("import sys; from w2v_fastopt.cli import main; "
            f"main(['train', {str(small_corpus)!r}, '-o', {str(tmp_path / 'v.bin')!r}, '-q', '--epochs', '1']); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch', 'gensim')]; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_help_names_word2vec_and_fasttext_flags():
    r = run("train", "--help")
    assert r.returncode == 0
    for flag in ("--vector-size", "-size / -dim", "--no-shared-negatives", "-iter / -epoch", "--format"):
        assert flag in r.stdout


BAD = [
    # (name, arguments after the corpus, corpus content or None for a missing file, expected words)
    ("missing corpus", [], None, "no such file"),
    ("empty corpus", [], "", "no tokens"),
    ("whitespace-only corpus", [], "  \n\t\n \n", "no tokens"),
    ("min_count too high", ["--min-count", "1000"], "a b c\n", "empty vocabulary"),
    ("window zero", ["--window", "0"], "a b\n", "window"),
    ("negative vector size", ["--vector-size", "-3"], "a b\n", "vector_size"),
    ("nan alpha", ["--alpha", "nan"], "a b\n", "alpha"),
    ("sample one", ["--sample", "1"], "a b\n", "sample"),
    ("min_alpha above alpha", ["--min-alpha", "0.5"], "a b\n", "min_alpha"),
    ("workers zero", ["--workers", "0"], "a b\n", "workers"),
    ("epochs not a number", ["--epochs", "two"], "a b\n", "--epochs"),
    ("unknown flag", ["--size", "10"], "a b\n", "unrecognized"),
]


@pytest.mark.parametrize("name,extra,content,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_input_one_line_error_and_nothing_destroyed(tmp_path, name, extra, content, expected):
    corpus = tmp_path / "corpus.txt"
    if content is not None:
        corpus.write_text(content)
    out = tmp_path / "v.bin"
    out.write_bytes(b"earlier good output")
    r = run("train", corpus, "--output", out, "--min-count", "1", *extra)
    assert r.returncode in (1, 2)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("w2v-fastopt") and expected in lines[0]
    assert out.read_bytes() == b"earlier good output"
    assert sorted(os.listdir(tmp_path)) == sorted(["v.bin"] + (["corpus.txt"] if content is not None else []))


def test_unwritable_outputs(small_corpus, tmp_path):
    for out, expected in ((tmp_path / "missing" / "v.bin", "does not exist"), (tmp_path, "is a directory")):
        r = run("train", small_corpus, "--output", out, "--epochs", "1")
        assert r.returncode == 1 and expected in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_evaluate_rejects_corrupt_files(tmp_path):
    for content, expected in ((b"3 2\nab", "not a valid word2vec"), (b"PK\x03\x04garbage", "not a valid")):
        path = tmp_path / "broken.bin"
        path.write_bytes(content)
        r = run("evaluate", path)
        assert r.returncode == 1 and expected in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run("evaluate", tmp_path / "nothing.bin")
    assert r.returncode == 1 and "no such file" in r.stderr
