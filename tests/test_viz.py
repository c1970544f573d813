"""Looking at vectors: ``similar``, ``analogy``, ``export --projector`` and ``map``, as a user runs them."""
import random
import re
import shutil
import subprocess

import numpy as np
import pytest

from test_cli import run
from w2v_fastopt import viz
from w2v_fastopt.trainer import Trainer

PAIRS = [("man", "woman"), ("king", "queen"), ("boy", "girl"), ("father", "mother"),
         ("prince", "princess"), ("actor", "actress")]


@pytest.fixture(scope="module")
def model_file(corpus_path, tmp_path_factory):
    """A model trained on data/ (3 epochs), saved with its counts, and the same vectors as word2vec binary."""
    model = Trainer(corpus_file=corpus_path, seed=3, workers=2, epochs=3)
    model.train()
    folder = tmp_path_factory.mktemp("look")
    model.save(folder / "model.w2v")
    model.save_word2vec_format(folder / "v.bin")
    return folder / "model.w2v", folder / "v.bin", model


def test_similar_lists_real_words_by_falling_similarity_and_names_unknown_words(model_file):
    _, vectors, model = model_file
    r = run("similar", vectors, "city", "war", "--topn", "7")
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["nearest to city:", "nearest to war:"]
    for block, query in zip(blocks, ("city", "war")):
        rows = [line.split() for line in block.splitlines()[1:]]
        assert [int(rank) for rank, _, _ in rows] == list(range(1, 8))
        words, sims = [w for _, w, _ in rows], [float(s) for _, _, s in rows]
        assert query not in words and all(w in model.wv.key_to_index for w in words)
        assert sims == sorted(sims, reverse=True)
        assert sims[0] == pytest.approx(model.wv.similarity(query, words[0]), abs=1e-4)

    pickled = vectors.parent / "wv.kv"  # gensim's own save (a pickle), read through gensim's load
    model.wv.save(str(pickled))
    assert run("similar", pickled, "city", "war", "--topn", "7").stdout == r.stdout

    bad = run("similar", vectors, "city", "Citty")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "'Citty'" in bad.stderr and "'city'" in bad.stderr


@pytest.mark.slow
def test_analogy_answers_a_planted_relation(tmp_path):
    """A corpus in which each word of PAIRS is its topic plus its gender: man : king :: woman : queen,
    and the 29 other pairs of pairs, must come out first (5 seeds: 30/30, queen at cosine >= 0.99)."""
    rng = random.Random(1)
    lines = []
    for _ in range(6000):
        i, g = rng.randrange(len(PAIRS)), rng.randrange(2)
        words = [PAIRS[i][g]] + [f"topic{i}x{rng.randrange(4)}" for _ in range(3)] \
            + [f"gender{g}x{rng.randrange(4)}" for _ in range(3)]
        rng.shuffle(words)
        lines.append(" ".join(words))
    (tmp_path / "planted.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "planted.bin"
    assert run("train", tmp_path / "planted.txt", "-o", out, "--vector-size", "20", "--window", "7",
               "--min-count", "1", "--sample", "0", "--workers", "1", "--quiet").returncode == 0
    for extra in ((), ("--cosmul",)):
        r = run("analogy", out, "man", "king", "woman", "--topn", "3", *extra)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[1].split()[:2] == ["1", "queen"], r.stdout


def test_projector_files_parse_one_row_per_word(model_file, tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    model_path, vectors, model = model_file
    r = run("export", model_path, "--projector", tmp_path / "proj", "--limit", "500")
    assert r.returncode == 0, r.stderr
    config = text_format.Parse((tmp_path / "proj" / "projector_config.pbtxt").read_text(),
                               ProjectorConfig())
    (embedding,) = config.embeddings
    assert (embedding.tensor_path, embedding.metadata_path) == ("vectors.tsv", "metadata.tsv")
    table = np.loadtxt(tmp_path / "proj" / embedding.tensor_path, delimiter="\t", dtype=np.float32)
    np.testing.assert_allclose(table, model.vectors[:500], rtol=1e-5, atol=1e-6)
    rows = [line.split("\t") for line in (tmp_path / "proj" / "metadata.tsv").read_text().splitlines()]
    assert rows[0] == ["word", "count"] and len(rows) == 501
    assert rows[1:] == [[w, str(c)] for w, c in zip(model.vocab.words[:500], model.vocab.counts[:500])]

    # from a word2vec file gensim invents counts: the column is left empty, and the user told why
    r = run("export", vectors, "--projector", tmp_path / "from_bin", "--limit", "5")
    assert r.returncode == 0 and "no counts" in r.stderr
    assert (tmp_path / "from_bin" / "metadata.tsv").read_text().splitlines()[1] == f"{model.vocab.words[0]}\t"


@pytest.mark.slow
def test_tensorboard_serves_the_exported_projector(model_file, tmp_path):
    """``tensorboard --logdir DIR`` (a real server) lists the embedding with its shape and metadata."""
    import json
    import socket
    import sys
    import time
    import urllib.request

    model_path, _, model = model_file
    assert run("export", model_path, "--projector", tmp_path, "--limit", "300", "-q").returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path),
                               "--port", str(port), "--host", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/data/plugin/projector"
    try:
        for _ in range(240):
            try:
                info = json.load(urllib.request.urlopen(f"{base}/info?run=.", timeout=5))
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("TensorBoard did not answer in 2 minutes")
        (embedding,) = info["embeddings"]
        assert embedding["tensorShape"] == [300, model.vectors.shape[1]]
        name = urllib.request.quote(embedding["tensorName"])
        metadata = urllib.request.urlopen(f"{base}/metadata?run=.&name={name}&num_rows=3").read().decode()
        assert metadata.splitlines() == ["word\tcount"] + [
            f"{w}\t{c}" for w, c in zip(model.vocab.words[:3], model.vocab.counts[:3])]
    finally:
        server.kill()
        server.wait()


def test_projector_refuses_a_word_the_tsv_cannot_hold(tmp_path):
    from gensim.models import KeyedVectors

    from w2v_fastopt.projector import export_projector

    wv = KeyedVectors(4)
    wv.add_vectors(["fine", "tab\there"], np.ones((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"word 2 \('tab\\there'\)"):
        export_projector(wv, tmp_path / "proj")
    assert not (tmp_path / "proj").exists()


@pytest.mark.slow
def test_umap_map_keeps_neighbourhoods_and_a_seed_fixes_it(model_file):
    """sklearn's trustworthiness (10 neighbours, cosine) of the default layout of data/'s 1,000 most
    frequent words: 0.895-0.907 over 5 training and layout seeds (PCA: 0.706-0.713); floor 0.85."""
    from sklearn.manifold import trustworthiness

    _, _, model = model_file
    names, unit = viz.top_words(model.wv, 1000)
    xy = viz.layout(unit, "umap", seed=2)
    assert trustworthiness(unit, xy, n_neighbors=10, metric="cosine") > 0.85
    assert np.array_equal(xy, viz.layout(unit, "umap", seed=2))


@pytest.mark.slow
def test_picture_labels_do_not_overlap(model_file, tmp_path):
    _, vectors, model = model_file
    fig = viz.map(model.wv, words=600, method="pca", labels=120)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].texts]
    assert 40 <= len(boxes) <= 120
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    r = run("map", vectors, "-o", tmp_path / "map.png", "--method", "pca", "--quiet")
    assert r.returncode == 0 and r.stderr == ""
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_refuses_before_work_and_names_the_missing_extra(model_file, tmp_path, monkeypatch):
    _, vectors, _ = model_file
    r = run("map", vectors, "-o", vectors)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and ".html" in r.stderr
    assert run("map", vectors, "-o", tmp_path / "no" / "m.png").returncode == 1
    monkeypatch.setitem(__import__("sys").modules, "openTSNE", None)
    with pytest.raises(ImportError, match=r'openTSNE.*pip install "w2v-fastopt\[viz\]"'):
        viz.check_map_output(str(tmp_path / "m.png"), "tsne")
    assert list(tmp_path.iterdir()) == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium (Debian: apt-get install chromium)")
def test_html_map_in_a_real_browser_offline(model_file, tmp_path):
    """The page opens from a file with the network off; after its scripts ran the DOM holds one marker
    per word, and ``#war`` searched on opening shows war and its 10 nearest words."""
    from matplotlib.image import imread

    _, vectors, model = model_file
    page = tmp_path / "map.html"
    r = run("map", vectors, "-o", page, "--words", "400", "--method", "pca", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "cdn" not in re.sub(r"<script[^>]*>.*?</script>", "", page.read_text(), flags=re.S).lower()
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--proxy-server=127.0.0.1:9", "--virtual-time-budget=10000", "--window-size=1200,900"]
    dom = subprocess.run(browser + ["--dump-dom", f"{page.as_uri()}#war"], capture_output=True,
                         text=True, timeout=120).stdout
    assert dom.count('class="point"') == 400 + 11  # the words, then the search trace
    said = re.search(r'<span id="w2v-message"[^>]*>([^<]*)<', dom).group(1)
    nearest = [w for w, _ in model.wv.most_similar("war", topn=400) if w in model.wv.index_to_key[:400]]
    assert said.startswith("war: " + nearest[0] + " ")
    subprocess.run(browser + [f"--screenshot={tmp_path / 'shot.png'}", page.as_uri()],
                   capture_output=True, timeout=120)
    pixels = imread(tmp_path / "shot.png")[..., :3]
    assert pixels.std() > 0.05 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
