"""Faults in the middle of a write, files changed under the reader, planted links: nothing lost.

Each case runs the way it happens: real signals to real processes (SIGKILL included), a real tmpfs
that fills up (in a private mount namespace: root only, as CI runs), a link owned by another user
in a sticky world-writable folder, a process that runs as an unprivileged user.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from test_errors import GOOD, assert_one_line_error, run
from w2v_fastopt import Trainer, io, load_corpus
from w2v_fastopt import corpus as corpus_module
from w2v_fastopt.io import write_word2vec_format

ROOT = os.geteuid() == 0


def make_vectors(path, n):
    words = [f"w{i}" for i in range(n)]
    write_word2vec_format(path, words, np.random.default_rng(n).random((n, 4), dtype=np.float32))


def projector_rows(folder):
    """(rows of vectors.tsv, rows of metadata.tsv less its header)."""
    with open(folder / "vectors.tsv") as v, open(folder / "metadata.tsv") as m:
        return sum(1 for _ in v), sum(1 for _ in m) - 1


def make_stale(path):
    """A temporary as a killed run leaves it: old enough that a later run calls it stale."""
    os.utime(path, (0, 0))


EXPORT_INTERRUPTED = """
import os, signal, sys
from w2v_fastopt import cli, io
real = io._exchange
def exchange(a, b):
    if {when!r} == "before":
        os.kill(os.getpid(), signal.{signal})
    done = real(a, b)
    if {when!r} == "after":
        os.kill(os.getpid(), signal.{signal})
    return done
io._exchange = exchange
sys.exit(cli.main(["export", "v.bin", "--projector", "P", "--limit", "50"]))
"""


FAST_CASES = {("after", "SIGTERM")}  # the others run in the full suite


@pytest.mark.parametrize("when,signum", [
    pytest.param(when, signum, id=f"{when}-{signum}", marks=[] if (when, signum) in FAST_CASES else [pytest.mark.slow])
    for signum in ("SIGKILL", "SIGTERM", "SIGHUP") for when in ("before", "after")])
def test_a_projector_export_changes_all_its_files_at_once(tmp_path, when, signum):
    """An export over an earlier one, killed just before or just after its one rename: the folder
    holds the old set or the new one, never a mix, and the last line says which."""
    make_vectors(tmp_path / "v.bin", 200)
    assert run(["export", "v.bin", "--projector", "P", "-q"], cwd=tmp_path).returncode == 0
    assert projector_rows(tmp_path / "P") == (200, 200)
    child = subprocess.run([sys.executable, "-c", EXPORT_INTERRUPTED.format(when=when, signal=signum)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert projector_rows(tmp_path / "P") == ((200, 200) if when == "before" else (50, 50))
    assert sorted(os.listdir(tmp_path / "P")) == ["metadata.tsv", "projector_config.pbtxt", "vectors.tsv"]
    if signum == "SIGKILL":
        assert child.returncode == -signal.SIGKILL
    else:
        assert child.returncode == 128 + getattr(signal, signum)
        said = child.stderr.strip().splitlines()[-1]
        assert said.startswith(f"w2v-fastopt: interrupted by {signum}: ")
        assert ("nothing written" in said) == (when == "before") and ("P written" in said) == (when == "after")
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(io.TEMPORARY_PREFIX)]
    assert len(leftovers) == (1 if signum == "SIGKILL" else 0)  # a SIGKILL cannot be cleaned up after
    for name in leftovers:
        make_stale(tmp_path / name)
    assert run(["export", "v.bin", "--projector", "P", "-q", "--limit", "7"], cwd=tmp_path).returncode == 0
    assert projector_rows(tmp_path / "P") == (7, 7)
    assert sorted(os.listdir(tmp_path)) == ["P", "v.bin"]  # the killed run's temporary is gone


def test_a_projector_export_without_an_atomic_swap_and_a_folder_it_does_not_own(tmp_path, monkeypatch):
    """Without renameat2 (not Linux, or a file system without it) the old folder is renamed away
    first; a folder holding anything besides the three files is refused before any work."""
    from w2v_fastopt.evaluate import load_vectors
    from w2v_fastopt.projector import export_projector

    make_vectors(tmp_path / "v.bin", 30)
    wv = load_vectors(tmp_path / "v.bin")
    export_projector(wv, tmp_path / "P")
    monkeypatch.setattr(io, "_exchange", lambda a, b: False)
    export_projector(wv, tmp_path / "P", limit=5)
    assert projector_rows(tmp_path / "P") == (5, 5) and sorted(os.listdir(tmp_path)) == ["P", "v.bin"]
    (tmp_path / "P" / "events.out.tfevents").write_bytes(b"the user's own")
    with pytest.raises(ValueError, match="holds files other than the 3 this writes .events.out.tfevents"):
        export_projector(wv, tmp_path / "P")
    assert projector_rows(tmp_path / "P") == (5, 5)


def test_sighup_stops_training_like_sigterm(tmp_path, corpus_path):
    """A closed terminal or a dropped ssh session: exit 129, no temporary file, the earlier output kept."""
    (tmp_path / "c.txt").write_bytes(open(corpus_path, "rb").read() * 4)
    out = tmp_path / "v.bin"
    out.write_bytes(b"earlier good vectors")
    child = subprocess.Popen([sys.executable, "-m", "w2v_fastopt", "train", "c.txt", "-o", "v.bin",
                              "--epochs", "20", "--workers", "2"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(child.stderr), daemon=True)
    reader.start()
    from test_interrupt import wait_for
    wait_for(lambda: any("epoch 1/20:" in line and "mean loss" in line for line in lines))
    child.send_signal(signal.SIGHUP)
    assert child.wait(timeout=30) == 129
    reader.join(5)
    assert "interrupted by SIGHUP: nothing written" in lines[-1] and "Traceback" not in "".join(lines)
    assert out.read_bytes() == b"earlier good vectors" and sorted(os.listdir(tmp_path)) == ["c.txt", "v.bin"]


WRITE_INTERRUPTED = """
import os, signal, sys
from w2v_fastopt import cli, io
real = io.fsync_file
def fsync_then_hang_up(path):  # the terminal closes while the vectors are being written
    os.kill(os.getpid(), signal.SIGHUP)
    real(path)
io.fsync_file = fsync_then_hang_up
sys.exit(cli.main(["train", "c.txt", "-o", "v.bin", "--min-count", "1", "--epochs", "1", "-q"]))
"""


def test_sighup_during_the_final_write_leaves_no_temporary(tmp_path):
    """The process once died there, leaving a 4 MB .v.*.tmp.txt beside the output."""
    (tmp_path / "c.txt").write_text(GOOD)
    (tmp_path / "v.bin").write_bytes(b"earlier good vectors")
    child = subprocess.run([sys.executable, "-c", WRITE_INTERRUPTED], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 129, child.stderr
    assert child.stderr.strip().splitlines()[-1] == ("w2v-fastopt: interrupted by SIGHUP: nothing written, "
                                                     "earlier outputs left as they were")
    assert (tmp_path / "v.bin").read_bytes() == b"earlier good vectors"
    assert sorted(os.listdir(tmp_path)) == ["c.txt", "v.bin"]


def can_mount():
    if not ROOT or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not can_mount(), reason="needs root and mount namespaces (unshare -m), as CI has")
def test_a_full_tmpdir_is_one_line_not_sigbus(tmp_path, corpus_path):
    """The token ids spill to TMPDIR; a tmpfs too small for them is said before it is written to
    (the mapping once died by SIGBUS, exit -7, silently), and leaves nothing behind."""
    (tmp_path / "c.txt").write_bytes(open(corpus_path, "rb").read() * 8)  # ~4.6M tokens: 18 MB of ids
    small = tmp_path / "small"
    small.mkdir()
    (tmp_path / "v.bin").write_bytes(b"earlier good vectors")
    script = (f"mount -t tmpfs -o size=10m tmpfs {small} && TMPDIR={small} {sys.executable} -m w2v_fastopt "
              f"train c.txt -o v.bin --workers 1 --quiet; code=$?; ls -A {small}; exit $code")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert_one_line_error(result, "no room for the token ids")
    assert f"in {small}: No space left on device; set TMPDIR to a larger disk" in result.stderr
    assert result.stdout == ""  # nothing left in the tmpfs
    assert (tmp_path / "v.bin").read_bytes() == b"earlier good vectors"


def checkpoint_then_stop(tmp_path, corpus, notes=None):
    """A checkpoint of a one-worker run stopped after its first epoch; returns its path."""
    state = tmp_path / "state.ckpt"
    stop = threading.Event()
    model = Trainer(workers=1, epochs=2, seed=3, min_count=1)
    model.build_vocab(corpus_file=corpus)
    real_save = model.save

    def save_then_stop(path, _extra=None):
        real_save(path, _extra)
        stop.set()

    model.save = save_then_stop
    from w2v_fastopt.train import Stopped
    with pytest.raises(Stopped):
        model.train(checkpoint_path=state, checkpoint_every=1, stop=stop, checkpoint_notes=notes)
    return state


def test_resume_refuses_a_corpus_whose_words_moved(tmp_path):
    """Two lines swapped: the same size, vocabulary and counts, another corpus; resume refuses it
    (it once trained on, exit 0, to vectors of neither run) and takes the same text back."""
    lines = [f"alpha beta gamma {i % 7} delta\n" for i in range(300)] + ["epsilon zeta eta\n"]
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(lines))
    state = checkpoint_then_stop(tmp_path, corpus)
    corpus.write_text("".join(lines[-1:] + lines[:-1]))
    with pytest.raises(ValueError, match="c.txt: not the corpus .*state.ckpt was trained on .*content digest"):
        Trainer.resume(state)
    corpus.write_text("".join(lines))
    assert Trainer.resume(state).epoch_stats[-1].epoch == 2


def test_a_corpus_that_changes_while_it_is_read_is_refused(tmp_path, corpus_path, monkeypatch):
    """Another process truncates the file mid-read: refused, not trained on a third of it."""
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(open(corpus_path, "rb").read())
    real = corpus_module._read_chunks

    def read_then_truncate(path, *args, **kwargs):
        real(path, *args, **kwargs)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 3)

    monkeypatch.setattr(corpus_module, "_read_chunks", read_then_truncate)
    with pytest.raises(ValueError, match=r"c.txt: changed while it was read \(2,844,268 bytes before, 948,089 after\)"):
        load_corpus(corpus_file=corpus)
    corpus.write_bytes(open(corpus_path, "rb").read())
    with pytest.raises(ValueError, match="changed while it was read"):
        load_corpus(corpus_file=corpus, max_vocab_size=1000)


KILLED_MID_WRITE = """
import os, signal, sys
from w2v_fastopt.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    open(tmp, "wb").write(b"half a file")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    """kill -9 mid-write leaves a temporary beside the output; the next write into that folder
    removes it, and leaves alone a live writer's (locked) and one it does not own."""
    target = tmp_path / "v.bin.gz"
    target.write_bytes(b"earlier good output")
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(target)], capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    (stale,) = [n for n in os.listdir(tmp_path) if n.startswith(io.TEMPORARY_PREFIX)]
    assert stale.endswith(".tmp.bin.gz") and len(stale) < 40  # short: any target name fits
    make_stale(tmp_path / stale)
    foreign = tmp_path / (io.TEMPORARY_PREFIX + "someone.tmp")
    foreign.write_bytes(b"")
    make_stale(foreign)
    if ROOT:
        os.chown(foreign, 1234, 1234)
    with io.held_temporary(tmp_path) as (live, _):
        make_stale(live)
        make_vectors(target, 10)
        assert os.path.exists(live)
    assert target.read_bytes() != b"earlier good output"
    assert sorted(os.listdir(tmp_path)) == sorted(["v.bin.gz"] + ([foreign.name] if ROOT else []))


@pytest.mark.skipif(not ROOT, reason="planting a link owned by another user needs root")
def test_a_link_planted_by_another_user_in_a_sticky_folder_is_not_followed(tmp_path):
    """In a shared sticky folder (/tmp's mode 1777) a link owned by someone else at the output's
    name (the vectors, a checkpoint's default name, a map, a projector folder) is refused, as the
    kernel's protected_symlinks refuses it; the link's target is untouched.  Our own links work."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    (shared / "c.txt").write_text(GOOD)
    for name in ("v.bin", "v.bin.checkpoint", "m.html", "P"):
        os.symlink(victim, shared / name)
        os.lchown(shared / name, 1234, 1234)
    cases = [(["train", "c.txt", "-o", "v.bin", "--min-count", "1"], "v.bin"),
             (["train", "c.txt", "-o", "w.bin", "--min-count", "1", "--checkpoint", "v.bin.checkpoint",
               "--checkpoint-every", "1"], "v.bin.checkpoint"),
             (["map", "w.txt", "-o", "m.html", "--method", "pca"], "m.html"),
             (["export", "w.txt", "--projector", "P"], "P")]
    make_vectors(shared / "w.txt", 20)
    for args, name in cases:
        assert_one_line_error(run(args, cwd=shared), f"{name} is a symbolic link owned by another user (uid 1234)")
    assert victim.read_bytes() == b"precious"
    os.symlink("w.txt", shared / "mine.txt")  # ours: followed, the link kept
    io.check_output(shared / "mine.txt")


@pytest.mark.skipif(not ROOT, reason="running as another user needs root")
def test_an_unprivileged_user_is_refused_the_link_too(request):
    """The same, run by an unprivileged user (uid 65534) against a link planted by uid 1234."""
    from w2v_fastopt import cli, evaluate, projector  # noqa: F401  (imported before giving up root)
    import gensim.models  # noqa: F401

    import pathlib
    import tempfile

    shared = pathlib.Path(tempfile.mkdtemp(prefix="w2v-fastopt-shared."))  # pytest's tmp_path is 0700
    request.addfinalizer(lambda: shutil.rmtree(shared))
    os.chmod(shared, 0o1777)
    victim = shared / "victim.bin"
    make_vectors(victim, 20)
    os.chown(victim, 65534, 65534)
    before = victim.read_bytes()
    os.symlink(victim, shared / "P")
    os.lchown(shared / "P", 1234, 1234)
    pid = os.fork()
    if pid == 0:  # the child: becomes nobody, runs the command line, exits with its code
        code = 99
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            os.chdir(shared)
            import contextlib
            with open("said", "w") as said, contextlib.redirect_stderr(said):
                code = cli.main(["export", "victim.bin", "--projector", "P"])
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    said = (shared / "said").read_text()
    assert os.waitstatus_to_exitcode(status) == 1, said
    assert "P is a symbolic link owned by another user (uid 1234)" in said
    assert victim.read_bytes() == before and os.path.islink(shared / "P")


def test_the_umask_is_read_without_changing_it(tmp_path, monkeypatch):
    """os.umask(0) and back, to read it, gave files that other threads made meanwhile mode 0666."""
    saved = os.umask(0o077)
    try:
        def no_umask(mask):
            raise AssertionError("os.umask called while writing an output")

        monkeypatch.setattr(os, "umask", no_umask)
        make_vectors(tmp_path / "v.bin", 3)
        assert os.stat(tmp_path / "v.bin").st_mode & 0o777 == 0o600
    finally:
        monkeypatch.undo()
        os.umask(saved)


def test_resume_writes_a_recorded_path_only_beside_the_checkpoint(tmp_path):
    """A checkpoint names where its vectors go; one from someone else must not choose what gets
    overwritten: outside the checkpoint's folder only with --output."""
    corpus = tmp_path / "c.txt"
    corpus.write_text(GOOD)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "important.bin"
    victim.write_bytes(b"precious")
    folder = tmp_path / "ckpt"
    folder.mkdir()
    state = checkpoint_then_stop(folder, corpus, notes={"output": {"path": str(victim), "binary": True}})
    assert_one_line_error(run(["train", "--resume", state], cwd=tmp_path),
                          "records the output path " + str(victim) + ", outside the checkpoint's own folder")
    assert victim.read_bytes() == b"precious"
    done = run(["train", "--resume", state, "--output", "mine.bin"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mine.bin").exists() and victim.read_bytes() == b"precious"


def test_long_names_bytes_paths_and_pruned_vocabularies(tmp_path):
    """A 250-byte name (its temporary is short now), paths that are not UTF-8 (as bytes, end to end,
    checkpoints included), bytes paths from Python, and pruning that leaves no word."""
    (tmp_path / "c.txt").write_text(GOOD)
    result = run(["train", "c.txt", "-o", "x" * 250, "--min-count", "1", "--epochs", "1", "-q"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["c.txt", "x" * 250]

    corpus, out = os.fsencode(tmp_path) + b"/c\xff.txt", os.fsencode(tmp_path) + b"/v\xfe.bin"
    shutil.copy(tmp_path / "c.txt", corpus)
    result = subprocess.run([os.fsencode(sys.executable), b"-m", b"w2v_fastopt", b"train", corpus, b"-o", out,
                             b"--min-count", b"1", b"--epochs", b"2", b"--checkpoint-every", b"1", b"-q"],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert os.path.exists(out)

    model = Trainer(corpus_file=corpus, min_count=1, epochs=1)
    model.save(os.fsencode(tmp_path) + b"/m\xfd.w2v")
    assert Trainer.load(os.fsencode(tmp_path) + b"/m\xfd.w2v").corpus_file == os.fsdecode(corpus)

    (tmp_path / "p.txt").write_text("a b\nc d\ne f\n")
    assert_one_line_error(run(["train", "p.txt", "-o", "v.bin", "--max-vocab-size", "1", "--min-count", "1"],
                              cwd=tmp_path), "max_vocab_size=1 pruned every word")
