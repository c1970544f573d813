"""Bad input, table-driven: one clear line naming the problem, a non-zero exit, nothing destroyed.

The command line is run as a user runs it (a subprocess); the library raises the specific exception
with the same message.  Every case starts with an earlier good output at the output path, which
must survive byte for byte, with no temporary file left beside it.
"""
import bz2
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from w2v_fastopt import Trainer
from w2v_fastopt.train import Stopped

GOOD = "the cat sat on the mat\nthe dog sat on the log\n" * 20
ONE_WORD = "spam spam spam\n" * 5

# (case, corpus bytes or None for no file or "dir" for a directory, flags, words the line must hold)
TRAIN_CASES = [
    ("missing corpus", None, [], "no such file"),
    ("corpus is a directory", "dir", [], "is a directory"),
    ("empty corpus", b"", [], "no tokens"),
    ("whitespace-only corpus", b"  \n\t\n \r\n", [], "no tokens"),
    ("binary garbage", b"\x7fELF\x02\x01\x01\x00\x00\x00garbage\nmore", [], "line 1: NUL byte"),
    ("NUL on a later line", GOOD.encode() + b"ok\x00no\n", [], "line 41: NUL byte"),
    ("truncated bzip2", bz2.compress(GOOD.encode())[:40], [], "cannot read corpus"),
    ("min_count empties the vocabulary", GOOD.encode(), ["--min-count", "1000"], "empty vocabulary"),
    ("window 0", GOOD.encode(), ["--window", "0"], "window must be"),
    ("window negative", GOOD.encode(), ["--window", "-1"], "window must be"),
    ("window huge", GOOD.encode(), ["--window", "1000000000"], "window must be"),
    ("vector size 0", GOOD.encode(), ["--vector-size", "0"], "vector_size must be"),
    ("vector size negative", GOOD.encode(), ["--vector-size", "-3"], "vector_size must be"),
    ("vector size huge", GOOD.encode(), ["--vector-size", "10000000"], "vector_size must be"),
    ("negative 0", GOOD.encode(), ["--negative", "0"], "negative must be"),
    ("negative huge", GOOD.encode(), ["--negative", "100000"], "negative must be"),
    ("alpha NaN", GOOD.encode(), ["--alpha", "nan"], "alpha must be a finite"),
    ("alpha inf", GOOD.encode(), ["--alpha", "inf"], "alpha must be a finite"),
    ("alpha 0", GOOD.encode(), ["--alpha", "0"], "alpha must be in (0, 10]"),
    ("alpha negative", GOOD.encode(), ["--alpha", "-0.1"], "alpha must be in"),
    ("min_alpha above alpha", GOOD.encode(), ["--min-alpha", "0.5"], "min_alpha must be in"),
    ("sample 1", GOOD.encode(), ["--sample", "1"], "sample must be in [0, 1)"),
    ("sample negative", GOOD.encode(), ["--sample", "-0.001"], "sample must be in"),
    ("ns_exponent NaN", GOOD.encode(), ["--ns-exponent", "nan"], "ns_exponent must be a finite"),
    ("epochs 0", GOOD.encode(), ["--epochs", "0"], "epochs must be"),
    ("epochs not a number", GOOD.encode(), ["--epochs", "two"], "--epochs: invalid int value"),
    ("window not an integer", GOOD.encode(), ["--window", "2.5"], "--window: invalid int value"),
    ("min_count 0", GOOD.encode(), ["--min-count", "0"], "min_count must be"),
    ("workers 0", GOOD.encode(), ["--workers", "0"], "workers must be"),
    ("workers huge", GOOD.encode(), ["--workers", "100000"], "workers must be"),
    ("seed negative", GOOD.encode(), ["--seed", "-1"], "seed must be"),
    ("max_vocab_size 0", GOOD.encode(), ["--max-vocab-size", "0"], "max_vocab_size must be"),
    ("unknown flag", GOOD.encode(), ["--size", "10"], "unrecognized arguments: --size"),
    ("bad checkpoint interval", GOOD.encode(), ["--checkpoint-every", "soon"], "checkpoint_every must"),
    ("resume from a missing state", GOOD.encode(), ["--resume", "nothing.ckpt"], "no such checkpoint"),
    ("accumulate without softbatch", GOOD.encode(), ["--accumulate", "3"], "needs optimizer='softbatch'"),
    ("accumulate 0", GOOD.encode(), ["--optimizer", "softbatch", "--accumulate", "0"], "accumulate must be"),
    ("cbow with heun", GOOD.encode(), ["--sg", "0", "--optimizer", "heun"], "CBOW (sg=0) trains with"),
    ("cbow-mean 2", GOOD.encode(), ["--sg", "0", "--cbow-mean", "2"], "--cbow-mean"),
    ("keras: cbow", GOOD.encode(), ["--backend", "keras", "--sg", "0"], "runs on the Numba engine"),
    ("keras: unknown optimizer", GOOD.encode(), ["--backend", "keras", "--optimizer", "adamw"],
     "invalid choice: 'adamw'"),
    ("keras: batch size 0", GOOD.encode(), ["--backend", "keras", "--batch-size", "0"], "batch_size must be"),
    ("keras: batch larger than an epoch", GOOD.encode(), ["--backend", "keras", "--batch-size", "100000"],
     "fewer than batch_size=100000 examples"),
    ("keras: accumulate without softbatch", GOOD.encode(), ["--backend", "keras", "--accumulate", "2"],
     "needs optimizer='softbatch'"),
    ("keras: accumulate 0", GOOD.encode(),
     ["--backend", "keras", "--optimizer", "softbatch", "--accumulate", "0"], "accumulate must be"),
    ("keras: checkpoints by time", GOOD.encode(), ["--backend", "keras", "--checkpoint-every", "10m"],
     "takes a number of epochs"),
    ("keras: a learning rate that diverges", GOOD.encode(),
     ["--backend", "keras", "--alpha", "10", "--batch-size", "4", "--epochs", "3", "--sample", "0", "--quiet"],
     "training diverged"),
]


def run(args, cwd):
    return subprocess.run([sys.executable, "-m", "w2v_fastopt", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def assert_one_line_error(result, expected):
    assert result.returncode in (1, 2), result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("w2v-fastopt") and expected in lines[0], lines[0]


# Slow: the Keras cases that import TensorFlow in their process (seconds each), and the command line's
# numeric parameters but a few (test_every_numeric_parameter_refuses_each_kind_of_bad_value checks each
# parameter in process).
SLOW_CASES = {"keras: batch size 0", "keras: batch larger than an epoch", "keras: accumulate without softbatch",
              "keras: accumulate 0", "keras: a learning rate that diverges", "window negative", "window huge",
              "vector size 0", "vector size negative", "vector size huge", "negative 0", "negative huge",
              "alpha inf", "alpha 0", "alpha negative", "sample 1", "sample negative", "ns_exponent NaN",
              "epochs 0", "window not an integer", "min_count 0", "workers 0", "workers huge", "seed negative",
              "max_vocab_size 0"}
assert SLOW_CASES <= {c[0] for c in TRAIN_CASES}


@pytest.mark.parametrize("case,corpus,flags,expected", [
    pytest.param(*c, id=c[0], marks=[pytest.mark.slow] if c[0] in SLOW_CASES else []) for c in TRAIN_CASES])
def test_train_rejects_bad_input(tmp_path, case, corpus, flags, expected):
    path = tmp_path / "corpus.txt"
    if corpus == "dir":
        path.mkdir()
    elif corpus is not None:
        path.write_bytes(corpus)
    out = tmp_path / "v.bin"
    out.write_bytes(b"earlier good output")
    before = sorted(os.listdir(tmp_path))
    result = run(["train", path.name, "--output", out.name, "--min-count", "1", *flags], cwd=tmp_path)
    assert_one_line_error(result, expected)
    assert out.read_bytes() == b"earlier good output"
    assert sorted(os.listdir(tmp_path)) == before


OUTPUT_CASES = [
    ("output in a missing directory", "missing/v.bin", "does not exist"),
    ("output is a directory", ".", "is a directory"),
    ("output on a read-only file system", "/proc/v.bin", "is not writable"),
]


@pytest.mark.parametrize("case,output,expected", OUTPUT_CASES, ids=[c[0] for c in OUTPUT_CASES])
def test_train_rejects_unwritable_outputs_before_training(tmp_path, case, output, expected):
    (tmp_path / "c.txt").write_text(GOOD)
    result = run(["train", "c.txt", "--output", output, "--min-count", "1"], cwd=tmp_path)
    assert_one_line_error(result, expected)
    assert "epoch 1/" not in result.stderr  # refused before any training


EVALUATE_CASES = [
    ("missing vectors", None, "no such file"),
    ("vectors path is a directory", "dir", "is a directory"),
    ("truncated binary vectors", b"3 2\nab", "can hold (truncated, or not a vectors file)"),
    ("text vectors with a short row", b"2 3\nab 1 2 3\ncd 1 2\n", "not a valid word2vec"),
    ("corrupt model archive", b"PK\x03\x04garbage", "not a word2vec vectors file"),
    ("empty file", b"", "is empty"),
]


@pytest.mark.parametrize("case,content,expected", [
    pytest.param(*c, id=c[0], marks=[pytest.mark.slow] if c[0] in ("vectors path is a directory", "empty file",
                                                                   "text vectors with a short row") else [])
    for c in EVALUATE_CASES])
def test_evaluate_rejects_bad_files(tmp_path, case, content, expected):
    path = tmp_path / "v.bin"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    assert_one_line_error(run(["evaluate", path.name], cwd=tmp_path), expected)


def test_resume_rejects_a_vectors_file_and_a_changed_corpus(tmp_path):
    (tmp_path / "c.txt").write_text(GOOD)
    model = Trainer(corpus_file=tmp_path / "c.txt", min_count=1, epochs=1, workers=1)
    model.save(tmp_path / "m.w2v")
    assert_one_line_error(run(["train", "--resume", "m.w2v"], cwd=tmp_path), "not a training checkpoint")

    class StopAfterFirstEpoch:  # a progress reporter that asks to stop once epoch 1 is saved
        def compiled(self, seconds): pass
        def update(self, *args): pass
        def epoch_end(self, stats): stop.set()

    stop = threading.Event()
    model = Trainer(min_count=1, epochs=2, workers=1, progress=StopAfterFirstEpoch())
    model.build_vocab(corpus_file=tmp_path / "c.txt")
    with pytest.raises(Stopped):
        model.train(checkpoint_path=tmp_path / "s.ckpt", checkpoint_every=1, stop=stop,
                    checkpoint_notes={"output": {"path": str(tmp_path / "v.bin"), "binary": True}})
    (tmp_path / "c.txt").write_text(GOOD.replace("dog", "fox"))
    assert_one_line_error(run(["train", "--resume", "s.ckpt"], cwd=tmp_path), "not the corpus")
    assert not (tmp_path / "v.bin").exists()


def truncated_model(tmp_path):
    model = Trainer([["a", "b", "c"]] * 3, min_count=1, epochs=1, workers=1, progress=False)  # False: no bar
    model.save(tmp_path / "m.w2v")
    data = (tmp_path / "m.w2v").read_bytes()
    (tmp_path / "cut.w2v").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.w2v"


# The library: (case, call, exception type, words of the message)
API_CASES = [
    ("sentences is a string", lambda p: Trainer("a b c"), TypeError, "iterable of token lists"),
    ("tokens are not strings", lambda p: Trainer([[1, 2, 3]]), TypeError, "str tokens"),
    ("tokens unhashable", lambda p: Trainer([[["a"], ["b"]]]), TypeError, "lists of str tokens"),
    ("both corpus kinds", lambda p: Trainer().build_vocab([["a"]], corpus_file="x"), TypeError, "exactly one"),
    ("missing corpus_file", lambda p: Trainer(corpus_file=p / "none.txt"), FileNotFoundError, "no such file"),
    ("vector_size 0", lambda p: Trainer(vector_size=0), ValueError, "vector_size must be"),
    ("window a bool", lambda p: Trainer(window=True), TypeError, "window must be an integer"),
    ("negative a float", lambda p: Trainer(negative=1.5), TypeError, "negative must be an integer"),
    ("alpha a string", lambda p: Trainer(alpha="0.1"), TypeError, "alpha must be a number"),
    ("shared_negatives not a bool", lambda p: Trainer(shared_negatives=1), TypeError, "True or False"),
    ("combine without shared negatives", lambda p: Trainer(shared_negatives=False, combine=8), ValueError,
     "combine=8 shares negatives across centers"),
    ("combine 0", lambda p: Trainer(combine=0), ValueError, "combine must be between 1 and 64"),
    ("unknown parameter", lambda p: Trainer(size=100), TypeError, "size"),
    ("max_vocab_size with sentences", lambda p: Trainer([["a"]], max_vocab_size=5), ValueError,
     "needs corpus_file"),
    ("train before build_vocab", lambda p: Trainer().train(), RuntimeError, "build_vocab"),
    ("load a truncated model", lambda p: Trainer.load(truncated_model(p)), ValueError, "not a valid"),
    ("load a missing model", lambda p: Trainer.load(p / "none.w2v"), FileNotFoundError, "no such file"),
    ("unknown word in most_similar",
     lambda p: Trainer([["a", "b"]] * 3, min_count=1, workers=1).wv.most_similar("zebra"), KeyError, "zebra"),
]


@pytest.mark.parametrize("case,call,error,expected", API_CASES, ids=[c[0] for c in API_CASES])
def test_library_raises_specific_errors(tmp_path, case, call, error, expected):
    with pytest.raises(error) as info:
        call(tmp_path)
    assert expected in str(info.value)


EDGE_CASES = [
    ("window larger than any sentence", "a b c\nd e\n" * 10, dict(window=50)),
    ("negative larger than the vocabulary", "a b c\nd e\n" * 10, dict(negative=40)),
    ("a one-word vocabulary", ONE_WORD, dict()),
    ("one enormous line with no newline", " ".join(["w%d" % (i % 50) for i in range(25_000)]), dict()),
    ("invalid UTF-8 inside words", "caf\udce9 ok\n".encode("utf-8", "surrogateescape").decode("latin-1") * 5,
     dict()),
]


@pytest.mark.parametrize("case,text,params", EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "word2vec"])
def test_edge_inputs_train_to_finite_vectors(tmp_path, case, text, params, shared):
    path = tmp_path / "c.txt"
    path.write_bytes(text.encode("latin-1") if case.startswith("invalid") else text.encode())
    model = Trainer(corpus_file=path, min_count=1, epochs=2, workers=2, shared_negatives=shared, sample=0,
                     **params)
    assert np.isfinite(model.vectors).all() and np.isfinite(model.training_loss)
    assert model.epoch_stats[-1].pairs > 0  # trained something (sample=0: tiny corpora are all subsampled)
    if case.startswith("invalid"):
        assert model.invalid_tokens == 5 and "caf\ufffd" in model.wv.key_to_index


# Every numeric parameter against each kind of bad value: (parameter, values that must be refused)
COMMON_BAD = [10**30, float("nan"), float("inf"), "5"]
BAD_NUMBERS = {
    **{name: COMMON_BAD + [-10**6, None, 0, 2.0]
       for name in ("vector_size", "window", "negative", "min_count", "epochs", "workers")},
    "max_vocab_size": COMMON_BAD + [-10**6, 0, 2.0],  # None: no pruning
    "seed": COMMON_BAD + [-10**6, None, 1.0],
    "sample": COMMON_BAD + [-10**6, None, 1],
    "alpha": COMMON_BAD + [-10**6, None, 0],
    "min_alpha": COMMON_BAD + [-10**6, None, 1],
    "ns_exponent": COMMON_BAD + [-100, None],         # any exponent in [-10, 10] is valid
}


@pytest.mark.parametrize("name", BAD_NUMBERS)
def test_every_numeric_parameter_refuses_each_kind_of_bad_value(name):
    """0, negative, huge, NaN, inf, a string, None, a float for an integer: each refused with a
    ValueError or TypeError whose message starts with the parameter's name and says what it got."""
    for value in BAD_NUMBERS[name]:
        with pytest.raises((ValueError, TypeError)) as info:
            Trainer(**{name: value})
        message = str(info.value)
        assert message.startswith(name + " must be ") and ", got " in message, (value, message)
