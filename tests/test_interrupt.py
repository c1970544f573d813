"""Interruptions with real processes and signals: fast stop, exit 130/143, nothing lost; resume."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import w2v_fastopt.train as train_module
from w2v_fastopt import Trainer


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory, corpus_path):
    """data/ four times: several seconds of training, so a signal lands mid-run."""
    path = tmp_path_factory.mktemp("long") / "corpus.txt"
    text = open(corpus_path, "rb").read()
    path.write_bytes(text * 4)
    return path


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "w2v_fastopt", "train", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("signum,code", [pytest.param(signal.SIGINT, 130, id="SIGINT"),
                                         pytest.param(signal.SIGTERM, 143, id="SIGTERM", marks=pytest.mark.slow)])
def test_signal_stops_fast_and_leaves_earlier_output(long_corpus, tmp_path, signum, code):
    out = tmp_path / "v.bin"
    out.write_bytes(b"earlier good vectors")
    child = start(long_corpus, "--output", out, "--epochs", "20", "--workers", "2")
    interrupt(child, signum, code, lambda line: "epoch 1/20:" in line and "mean loss" in line)
    assert out.read_bytes() == b"earlier good vectors"
    assert sorted(os.listdir(tmp_path)) == ["v.bin"]


def interrupt(child, signum, code, ready):
    """Send ``signum`` once a stderr line satisfies ``ready``; the child must exit with ``code``
    within 2 s, its last line saying so, with no traceback."""
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(child.stderr), daemon=True)
    reader.start()
    wait_for(lambda: any(ready(line) for line in lines))
    sent = time.monotonic()
    child.send_signal(signum)
    assert child.wait(timeout=30) == code
    assert time.monotonic() - sent < 2.0
    reader.join(5)
    assert "interrupted by" in lines[-1] and "Traceback" not in "".join(lines)


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
@pytest.mark.slow
def test_signal_stops_keras_training_too(small_corpus, tmp_path, signum, code):
    """--backend keras: the signal lands between two compiled calls (32 batches, milliseconds)."""
    out = tmp_path / "v.bin"
    out.write_bytes(b"earlier good vectors")
    child = start(small_corpus, "--output", out, "--epochs", "1000", "--backend", "keras", "--min-count", "1")
    interrupt(child, signum, code, lambda line: "Epoch 3/1000" in line)
    assert out.read_bytes() == b"earlier good vectors"
    assert sorted(os.listdir(tmp_path)) == ["v.bin"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numba", "keras"])
def test_checkpoint_and_resume_match_an_uninterrupted_run(long_corpus, small_corpus, tmp_path, backend):
    """Checkpoint every epoch, SIGINT, --resume: the uninterrupted run's file byte for byte.

    numba: one worker (bit-identical).  keras: a zip of the Keras model (optimizer state included)
    and the run's settings, written atomically; 1,164 batches an epoch and soft batches of 5, so
    every checkpoint holds a window's first batches in its buffers."""
    if backend == "numba":
        corpus, common = long_corpus, ["--epochs", "3", "--workers", "1", "--seed", "11", "--quiet"]
    else:
        corpus, common = small_corpus, ["--backend", "keras", "--epochs", "4", "--batch-size", "256",
                                        "--optimizer", "softbatch", "--accumulate", "5", "--min-count", "3",
                                        "--quiet"]
    reference = tmp_path / "reference.bin"
    assert start(corpus, "--output", reference, *common).wait(timeout=300) == 0

    out, state = tmp_path / "v.bin", tmp_path / "state.ckpt"
    child = start(corpus, "--output", out, "--checkpoint-every", "1", "--checkpoint", state, *common)
    wait_for(state.exists)
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=30) == 130
    assert not out.exists() and state.exists()

    resumed = subprocess.run([sys.executable, "-m", "w2v_fastopt", "train", "--resume", state, "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == reference.read_bytes()
    assert not state.exists()  # removed once training has ended


def test_mid_epoch_checkpoint_resumes_bit_identical(corpus_path, tmp_path, monkeypatch):
    """Checkpoints between segments (time-based), stop right after one, resume: same vectors."""
    monkeypatch.setattr(train_module, "SEGMENT_JOBS", 4)
    reference = Trainer(corpus_file=corpus_path, workers=1, epochs=2, seed=3)
    state = tmp_path / "state.ckpt"
    saves = []
    stop = threading.Event()
    model = Trainer(workers=1, epochs=2, seed=3)
    model.build_vocab(corpus_file=corpus_path)
    real_save = model.save

    def save_then_stop(path, _extra=None):
        real_save(path, _extra)
        saves.append(_extra["position"])
        if len(saves) == 13:  # in the middle of epoch 2
            stop.set()

    model.save = save_then_stop
    with pytest.raises(train_module.Stopped):
        model.train(checkpoint_path=state, checkpoint_every="0s", stop=stop)
    assert saves[-1]["epoch"] == 1 and saves[-1]["job"] > 0
    resumed = Trainer.resume(state)
    assert (resumed.vectors == reference.vectors).all() and (resumed.syn1neg == reference.syn1neg).all()
    assert [s.pairs for s in resumed.epoch_stats] == [s.pairs for s in reference.epoch_stats]
    assert resumed.training_loss == reference.training_loss
