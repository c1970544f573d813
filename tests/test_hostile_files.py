"""Broken and hostile inputs to the commands that read vectors, and hostile words on a map.

Every command that reads a vectors file (evaluate, similar, analogy, export, map) meets each
broken file with one line naming it, exit 1, nothing written and no large allocation first.  Words
are data, never markup: a map draws every word, whatever its characters.
"""
import bz2
import gzip
import os
import random
import re
import shutil
import subprocess
import sys
import warnings
import xml.dom.minidom
import zipfile

import numpy as np
import pytest

from w2v_fastopt import Trainer, cli, viz
from w2v_fastopt.evaluate import load_vectors

COMMANDS = {"evaluate": [], "similar": ["w1"], "analogy": ["w1", "w2", "w3"], "export": ["--projector", "P"],
            "map": ["-o", "m.png", "--method", "pca"]}


def vectors_bytes(n=40, dim=8, binary=True, words=None):
    words = words or [f"w{i}" for i in range(n)]
    return b"%d %d\n" % (len(words), dim) + b"".join(
        w.encode() + b" " + (np.full(dim, i + 1, dtype="<f4").tobytes() + b"\n" if binary else
                             " ".join(["%d" % (i + 1)] * dim).encode() + b"\n") for i, w in enumerate(words))


def model_archive(path, replace=None):
    """A Trainer.save archive, with one member replaced by ``replace = (name, shape, how)``: its .npy
    header declares ``shape`` (float32); "deflate" writes all of it deflated (zeros: a bomb),
    "short" writes the header over a handful of bytes."""
    Trainer([["w1", "w2", "w3", "w4"]] * 5, min_count=1, epochs=1, workers=1, vector_size=8).save(path)
    if replace is None:
        return
    name, shape, how = replace
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for member, data in members.items():
            if member != name:
                z.writestr(member, data)
                continue
            info = zipfile.ZipInfo(member)
            info.compress_type = zipfile.ZIP_DEFLATED if how == "deflate" else zipfile.ZIP_STORED
            with z.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
                left = 4 * int(np.prod(shape)) if how == "deflate" else 16
                zeros = bytes(1 << 22)
                while left:
                    f.write(zeros[:min(left, len(zeros))])
                    left -= min(left, len(zeros))


BROKEN = [
    ("a truncated .gz, cut in its first block", "v.bin.gz",
     lambda p: p.write_bytes(gzip.compress(vectors_bytes())[:60]), "v.bin.gz: truncated or corrupt"),
    ("a truncated .gz, cut among the vectors", "v.bin.gz",
     lambda p: p.write_bytes(gzip.compress(vectors_bytes(4000), 0)[:60000]), "v.bin.gz: truncated or corrupt"),
    ("a corrupt .bz2", "v.txt.bz2", lambda p: p.write_bytes(bz2.compress(vectors_bytes(binary=False))[:30] + b"x" * 40),
     "v.txt.bz2: truncated or corrupt"),
    ("a word listed twice, text", "v.txt",
     lambda p: p.write_bytes(vectors_bytes(binary=False, words=["a", "b", "c", "b", "d"])),
     "v.txt: the word 'b' is listed twice (lines 3 and 5)"),
    ("a word listed twice, binary", "v.bin", lambda p: p.write_bytes(vectors_bytes(words=["a", "b", "a"])),
     "v.bin: the word 'a' is listed twice (records 1 and 3)"),
    ("an empty file", "v.txt", lambda p: p.write_bytes(b""), "v.txt: is empty"),
    ("a header with no vectors", "v.txt", lambda p: p.write_bytes(b"0 100\n"), "v.txt: holds no vectors"),
    ("a header declaring more than the file holds", "v.txt", lambda p: p.write_bytes(b"100000000 300\na 1\n"),
     "declares 100,000,000 vectors of 300 dimensions, more than its 4 bytes can hold"),
    ("a word that is not UTF-8", "v.txt", lambda p: p.write_bytes(b"2 2\na 1 2\n\xff\xfe 3 4\n"),
     "a word is not UTF-8"),
    ("a model archive member that inflates 1000 times", "m.w2v",
     lambda p: model_archive(p, ("vectors.npy", (5000, 5000), "deflate")), "vectors.npy inflates"),
    ("a model archive member larger than it declares", "m.w2v",
     lambda p: model_archive(p, ("syn1neg.npy", (100000, 8), "short")), "syn1neg.npy declares (100000, 8)"),
    ("a model archive whose arrays disagree", "m.w2v",
     lambda p: model_archive(p, ("vectors.npy", (3, 8), "deflate")), "vectors.npy is float32[3, 8], not float32[4, 8]"),
]


@pytest.mark.parametrize("case,name,make,expected", BROKEN, ids=[c[0] for c in BROKEN])
def test_every_command_meets_a_broken_vectors_file_with_one_line(tmp_path, monkeypatch, capsys, case, name, make,
                                                                 expected):
    make(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    for command, args in COMMANDS.items():
        code = cli.main([command, name, *args])
        said = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(said) == 1 and expected in said[0], (command, said)
        assert said[0].startswith("w2v-fastopt: error: ")
        assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.slow
def test_a_model_bomb_is_refused_before_it_is_inflated(tmp_path):
    """6.5 MB that inflate to 1.5 GB once took 3 GB of memory before 'inconsistent sizes': the
    declared sizes are checked first, in a fresh process whose peak memory is measured."""
    path = tmp_path / "m.w2v"
    model_archive(path, ("vectors.npy", (5, 75_000_000), "deflate"))
    assert path.stat().st_size < 3e6
    # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's across exec)
    probe = ("import sys\nfrom w2v_fastopt.evaluate import load_vectors\n"
             "try:\n    load_vectors(sys.argv[1])\nexcept ValueError as err:\n    print(err)\n"
             "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)")
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    said, peak_mb = result.stdout.strip().splitlines()
    assert "vectors.npy inflates" in said and int(peak_mb) < 400, result.stdout


def test_words_that_are_not_utf8_are_read_as_gensim_reads_them(tmp_path, capsys):
    """--unicode-errors replace/ignore: gensim's unicode_errors; strict (the default) refuses."""
    path = tmp_path / "v.txt"
    path.write_bytes(b"3 2\na 1 2\nb\xff 3 4\nc 5 7\n")
    assert load_vectors(path, "replace").index_to_key == ["a", "b\ufffd", "c"]
    assert load_vectors(path, "ignore").index_to_key == ["a", "b", "c"]
    assert cli.main(["similar", str(path), "a", "--unicode-errors", "replace"]) == 0
    assert "b\ufffd" in capsys.readouterr().out
    with pytest.raises(ValueError, match="--unicode-errors replace"):
        load_vectors(path)


HOSTILE = ["<!--", "<script>", "</script>", "$x_$", "$$", "\\frac", "a\x01b", "x\u2028y", "&amp;", "<b>bold</b>",
           "\u4e2d\u6587", "\U0001F600", "w\x7f", "'\"", "{{}}"]


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory):
    rng = random.Random(0)
    vocabulary = HOSTILE + [f"w{i}" for i in range(20)]
    sentences = [[rng.choice(vocabulary) for _ in range(12)] for _ in range(300)]
    path = tmp_path_factory.mktemp("hostile") / "hostile.w2v"
    Trainer(sentences, min_count=1, epochs=1, workers=1, vector_size=10).save(path)
    return path


@pytest.mark.parametrize("kind", ["svg", "png", "pdf"])
def test_a_picture_draws_any_word_as_plain_text(hostile_model, tmp_path, kind):
    """$...$ once went to matplotlib's mathtext (a parse error ended the map); a control character
    made the SVG invalid XML; --quiet still printed the font's missing-glyph warnings."""
    out = tmp_path / f"m.{kind}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails: --quiet means quiet
        viz.write_map(load_vectors(hostile_model), out, method="pca", labels=1000)
    if kind == "svg":
        xml.dom.minidom.parse(str(out))
    assert viz.plain_label("a\x01b\udcff$x_$") == "a\ufffdb\ufffd$x_$"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (Debian: apt-get install chromium)")
def test_an_html_map_of_hostile_words_in_a_real_browser(hostile_model, tmp_path):
    """Words '<!--' and '<script>' once kept the page's own </script> from ending its script:
    Chromium drew 0 points.  Now every word is a point, and searching '<script>' shows it and its
    nearest words, as text."""
    page = tmp_path / "m.html"
    viz.write_map(load_vectors(hostile_model), page, method="pca")
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--proxy-server=127.0.0.1:9", "--virtual-time-budget=10000"]
    dom = subprocess.run(browser + ["--dump-dom", f"{page.as_uri()}#%3Cscript%3E"], capture_output=True,
                         text=True, timeout=120).stdout
    assert dom.count('class="point"') == len(HOSTILE) + 20 + 11
    said = re.search(r'<span id="w2v-message"[^>]*>([^<]*)<', dom).group(1)
    assert said.startswith("&lt;script&gt;: ")
