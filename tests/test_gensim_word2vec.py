"""``w2v_fastopt.Word2Vec`` beyond gensim's own tests (``test_gensim_suite.py``): quality against gensim
per mode on data/, the way back to a plain gensim model, and our extra arguments."""
import numpy as np
import pytest
from gensim.models import Word2Vec as GensimWord2Vec
from gensim.models.callbacks import CallbackAny2Vec
from gensim.models.word2vec import LineSentence

from w2v_fastopt import Word2Vec
from w2v_fastopt import corpus as corpus_module
from w2v_fastopt import prepare as prepare_module
from w2v_fastopt.evaluate import evaluate

# Calibration (seeds 1-5, workers=1, data/enwiki-sample.txt, corpus_file), ours minus gensim, mean ± std:
#   sg=1 (shared negatives): WS-353 +0.047 ± 0.009, SimLex +0.023 ± 0.012, analogies +0.0026 ± 0.0012
#   sg=0 (CBOW):             WS-353 +0.033 ± 0.024, SimLex +0.013 ± 0.015, analogies +0.0005 ± 0.0019
#   sg=1 hs=1 negative=0:    WS-353 +0.016 ± 0.020, SimLex +0.004 ± 0.015, analogies +0.0045 ± 0.0028
#   sg=0 hs=1 negative=0:    WS-353 +0.045 ± 0.036, SimLex -0.003 ± 0.032, analogies +0.0014 ± 0.0020
# gensim's scores: sg WS-353 0.205, SimLex 0.104, analogies 0.017; CBOW 0.095, -0.024, 0.006;
# sg HS 0.427, 0.219, 0.030; CBOW HS 0.288, 0.117, 0.007.
# Margins: about 3 standard deviations below the mean difference; random vectors fail them.
MARGINS = {(1, 0): {"wordsim353": 0.03, "simlex999": 0.03, "analogies": 0.005},
           (0, 0): {"wordsim353": 0.045, "simlex999": 0.04, "analogies": 0.006},
           (1, 1): {"wordsim353": 0.045, "simlex999": 0.045, "analogies": 0.004},
           (0, 1): {"wordsim353": 0.07, "simlex999": 0.10, "analogies": 0.005}}


@pytest.mark.parametrize("sg, hs, source", [(1, 0, "file"), (0, 0, "file"), (1, 0, "iterable"),
                                            (1, 1, "file"), (0, 1, "file")])
@pytest.mark.slow
def test_quality_matches_gensim_per_mode(corpus_path, sg, hs, source):
    """The same call with gensim and with ours (one worker, seed 1): ours scores no worse than
    gensim's minus the calibrated margin.  The iterable path shares the kernels and the margins;
    hierarchical softmax is tested alone (negative=0), as gensim's and word2vec.c's -hs 1 runs."""
    corpus = {"corpus_file": str(corpus_path)} if source == "file" else {"sentences": LineSentence(str(corpus_path))}
    mode = {"sg": sg, "hs": hs, "negative": 0 if hs else 5}
    theirs = evaluate(GensimWord2Vec(**corpus, **mode, workers=1, seed=1).wv)
    ours = evaluate(Word2Vec(**corpus, **mode, workers=1, seed=1).wv)
    for key, margin in MARGINS[sg, hs].items():
        assert ours[key] >= theirs[key] - margin, (key, ours, theirs)


def test_extras_refusals_and_the_way_back_to_gensim(tmp_path):
    """optimizer= trains through the drop-in; what has no kernel is refused at construction;
    to_gensim() gives a model that plain gensim saves and loads without w2v_fastopt's class."""
    sentences = [line.split() for line in open("data/enwiki-sample.txt")][:300]
    heun = Word2Vec(sentences, sg=1, optimizer="heun", min_count=2, workers=1, epochs=1, seed=2)
    sgd = Word2Vec(sentences, sg=1, shared_negatives=False, min_count=2, workers=1, epochs=1, seed=2)
    assert np.isfinite(heun.wv.vectors).all() and not np.allclose(heun.wv.vectors, sgd.wv.vectors)
    with pytest.raises(ValueError, match="CBOW .sg=0. trains with optimizer='sgd'"):
        Word2Vec(sg=0, optimizer="rk4")
    with pytest.raises(ValueError, match="CBOW draws one set of negatives"):
        Word2Vec(sg=0, shared_negatives=True)
    with pytest.raises(ValueError, match="trains negative sampling"):
        Word2Vec(sg=1, hs=1, negative=0, optimizer="heun")
    plain = sgd.to_gensim()
    assert type(plain) is GensimWord2Vec and plain.wv.key_to_index is sgd.wv.key_to_index
    assert plain.wv.vectors.flags.c_contiguous and plain.syn1neg.flags.c_contiguous
    np.testing.assert_array_equal(plain.wv.vectors, sgd.wv.vectors)
    plain.save(str(tmp_path / "m.model"))
    back = GensimWord2Vec.load(str(tmp_path / "m.model"))
    assert type(back) is GensimWord2Vec
    np.testing.assert_array_equal(back.wv.vectors, sgd.wv.vectors)
    back.train(sentences, total_examples=len(sentences), epochs=1)  # gensim trains it on
    assert type(Word2Vec.load(str(tmp_path / "m.model"))) is Word2Vec


@pytest.mark.parametrize("sg", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_a_list_or_a_line_sentence_trains_as_its_corpus_file(tmp_path, corpus_path, sg, monkeypatch):
    """A corpus that reads the same every epoch (a list, gensim's LineSentence) is converted to ids
    once per train() and trained by our driver: bit for bit the vectors of corpus_file= on the same
    text (one worker), with gensim's word counts from train(); lines over 10,000 tokens included.
    The constructor reads a LineSentence's file once, for its build_vocab and train() both, and a
    corpus_file too where LineSentence's rules read it as a corpus_file's do (not with a \\r in it);
    a later train() reads it again."""
    from gensim.models.word2vec import LineSentence

    from w2v_fastopt import gensim_word2vec

    reads, loads = [], []
    monkeypatch.setattr(gensim_word2vec, "read_binary_lines",
                        lambda *args: reads.append(args) or corpus_module.read_binary_lines(*args))
    monkeypatch.setattr(gensim_word2vec, "load_corpus",
                        lambda *args, **kw: loads.append(args) or prepare_module.load_corpus(*args, **kw))

    with open(corpus_path) as text:
        lines = text.readlines()[:60]
    lines.append(" ".join(lines[:3]).replace("\n", " ") + "\n")  # ~25,000 tokens: cut as gensim cuts it
    path = tmp_path / "c.txt"
    path.write_text("".join(lines))
    sentences = [line.split() for line in lines]
    kw = dict(sg=sg, min_count=2, workers=1, seed=5, epochs=2)
    models = [Word2Vec(sentences, **kw), Word2Vec(LineSentence(str(path)), **kw)]
    assert len(reads) == 1
    models.append(Word2Vec(corpus_file=str(path), **kw))
    assert len(reads) == 2 and not loads
    with_cr = tmp_path / "cr.txt"  # a \r in a line: whitespace to LineSentence, a line end to ours
    with_cr.write_text("".join(lines[:-1]) + "political philosophy\rvoluntary institutions\n", newline="")
    trained = Word2Vec(corpus_file=str(with_cr), **kw)
    assert len(reads) == 3 and len(loads) == 1
    with open(with_cr) as text:  # universal newlines: the \r ends a line, as a corpus_file reads it
        np.testing.assert_array_equal(Word2Vec([line.split() for line in text], **kw).wv.vectors, trained.wv.vectors)
    for other in models[1:]:
        np.testing.assert_array_equal(models[0].wv.vectors, other.wv.vectors)
    reads.clear()
    models[1].train(LineSentence(str(path)), total_examples=len(sentences), epochs=1)
    assert len(reads) == 1 and "_constructor_read" not in models[1].__dict__
    gensim = GensimWord2Vec(sentences, **kw)
    ours = models[0]  # the list's scan numbers words as it counts them: gensim's vocabulary all the same
    assert ours.wv.index_to_key == gensim.wv.index_to_key
    assert (ours.corpus_count, ours.corpus_total_words) == (gensim.corpus_count, gensim.corpus_total_words)
    np.testing.assert_array_equal(ours.wv.expandos["count"], gensim.wv.expandos["count"])
    words = sum(map(len, sentences))
    assert models[0].train(sentences, total_examples=len(sentences), epochs=1)[1] == words
    assert gensim.train(sentences, total_examples=len(sentences), epochs=1)[1] == words


LINES = ("\ufeffbom first\n" + "a b\r c\n\n  \t\n" + "x " * 25 + "\nend\x0bnext\x1cz\u00a0q\u2028r\u3000s \x85 t\x00u"
         " \ufeffbom\r\nlast\rline\r")  # a lone \r is no line end in a file read as bytes


def test_gensims_line_corpora_are_read_by_our_tokenizer_as_gensim_iterates_them(tmp_path, monkeypatch):
    """A LineSentence (plain, .gz, .BZ2, file:// and ~ names) or a PathLineSentences read by our
    tokenizer gives exactly gensim's iteration: the same sentences (cut at max_sentence_length,
    a lone \\r inside its line, no byte-order mark removed, NUL a letter, a file's last line ended
    with it), and build_vocab the same raw vocabulary in the same order, sentence and word counts.
    Where gensim alone can say what it reads (limit, a file object, text that is not UTF-8) its
    own iteration runs, and raises what it raises."""
    import bz2
    import gzip

    from gensim.models.word2vec import PathLineSentences

    from w2v_fastopt.gensim_word2vec import _line_files

    text = LINES.encode()
    (tmp_path / "t.txt").write_bytes(text)
    with gzip.open(tmp_path / "t.txt.gz", "wb") as f:
        f.write(text)
    with bz2.open(tmp_path / "t.BZ2", "wb") as f:
        f.write(text)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.txt").write_bytes(b"no line end at the end")
    (tmp_path / "d" / "2.txt").write_bytes(text)
    monkeypatch.setenv("HOME", str(tmp_path))
    corpora = [LineSentence(str(tmp_path / "t.txt"), max_sentence_length=10), LineSentence(tmp_path / "t.txt.gz", 7),
               LineSentence("file://" + str(tmp_path / "t.BZ2")), LineSentence("~/t.txt", max_sentence_length=1),
               PathLineSentences(str(tmp_path / "d"))]
    for corpus in corpora:
        model = Word2Vec(min_count=1, workers=1)
        read = model._read_lines(corpus)
        assert read is not None, corpus.source
        assert [[read.words[i] for i in read.ids[a:b]] for a, b in zip(read.starts[:-1], read.starts[1:])] == \
            list(corpus)
        model.build_vocab(corpus, keep_raw_vocab=True)
        gensim = GensimWord2Vec(min_count=1, workers=1)
        gensim.build_vocab(corpus, keep_raw_vocab=True)
        assert list(model.raw_vocab.items()) == list(gensim.raw_vocab.items())
        assert (model.corpus_count, model.corpus_total_words) == (gensim.corpus_count, gensim.corpus_total_words)
        assert model.wv.index_to_key == gensim.wv.index_to_key
    (tmp_path / "bad.txt").write_bytes(b"fine words\nnot \xff UTF-8\n")
    with open(tmp_path / "t.txt", "rb") as f:
        for corpus in (LineSentence(str(tmp_path / "t.txt"), limit=2), LineSentence(f)):
            assert _line_files(corpus) is None
            model = Word2Vec(min_count=1, workers=1)
            model.build_vocab(corpus)
            assert model.corpus_count == len(list(corpus))
    assert Word2Vec()._read_lines(LineSentence(str(tmp_path / "bad.txt"))) is None
    with pytest.raises(UnicodeDecodeError):
        Word2Vec(LineSentence(str(tmp_path / "bad.txt")), min_count=1)


def test_text8_corpus_is_read_by_our_tokenizer_as_gensim_iterates_it(tmp_path):
    """A Text8Corpus read by our tokenizer gives exactly gensim's iteration, quirks included: the
    file one stream of words cut into sentences of max_sentence_length; a word that ends one of
    gensim's 8192-byte reads before a line end joins the next read's first word; the words after the
    last space one last sentence, uncut (a file without spaces: one sentence); line ends, Unicode
    whitespace, NUL and byte-order marks as str.split sees them; gzip; and build_vocab gensim's.
    Text that is not UTF-8 is left to gensim, which raises."""
    import gzip

    from gensim.models.word2vec import Text8Corpus

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.zipf(1.3, 12_000) % 5000]
    spaced = " ".join(words).encode()
    # 'x' ends gensim's first read, after its last space and before a line end: gensim reads "xy"
    joined = (b"ab " * 2730)[:8189] + b" x\ny z " + spaced
    mixed = "".join(w + rng.choice([" ", "\n", "\t", " \n", "  "]) for w in words).encode() + LINES.encode()
    files = {"spaced.txt": spaced, "joined.txt": joined, "mixed.txt": mixed,
             "lines.txt": "\n".join(words).encode() + b"\n", "tail.txt": b"a b c\nd\te\nf g\th\ni\n",
             "empty.txt": b""}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    with gzip.open(tmp_path / "mixed.txt.gz", "wb") as f:
        f.write(mixed)
    corpora = [Text8Corpus(str(tmp_path / "spaced.txt")), Text8Corpus(str(tmp_path / "spaced.txt"), 1000),
               Text8Corpus(str(tmp_path / "joined.txt"), 7), Text8Corpus(str(tmp_path / "mixed.txt"), 100),
               Text8Corpus(str(tmp_path / "mixed.txt.gz"), 333), Text8Corpus(str(tmp_path / "lines.txt"), 50),
               Text8Corpus(str(tmp_path / "tail.txt"), 3), Text8Corpus(str(tmp_path / "empty.txt"))]
    for corpus in corpora:
        read = Word2Vec()._read_lines(corpus)
        assert read is not None, corpus.fname
        sentences = list(corpus)
        assert [[read.words[i] for i in read.ids[a:b]] for a, b in zip(read.starts[:-1], read.starts[1:])] == \
            sentences, corpus.fname
    assert ["xy"] in [s[i:i + 1] for s in Text8Corpus(str(tmp_path / "joined.txt"), 7) for i in range(len(s))]
    assert len(list(Text8Corpus(str(tmp_path / "lines.txt"), 50))) == 1  # no space: one sentence
    corpus = Text8Corpus(str(tmp_path / "mixed.txt"), 100)
    model, gensim = Word2Vec(min_count=1, workers=1), GensimWord2Vec(min_count=1, workers=1)
    model.build_vocab(corpus, keep_raw_vocab=True)
    gensim.build_vocab(corpus, keep_raw_vocab=True)
    assert list(model.raw_vocab.items()) == list(gensim.raw_vocab.items())
    assert (model.corpus_count, model.corpus_total_words) == (gensim.corpus_count, gensim.corpus_total_words)
    (tmp_path / "bad.txt").write_bytes(spaced + b" not \xff UTF-8")
    assert Word2Vec()._read_lines(Text8Corpus(str(tmp_path / "bad.txt"))) is None
    with pytest.raises(UnicodeDecodeError):
        Word2Vec(Text8Corpus(str(tmp_path / "bad.txt")), min_count=1)


@pytest.mark.parametrize("settings", [{}, {"sample": 0}, {"sample": 5}, {"min_count": 1, "ns_exponent": -0.5},
                                      {"sorted_vocab": 0, "hs": 1}, {"negative": 0, "hs": 1, "min_count": 3},
                                      {"sample": 1e-5, "ns_exponent": 1.0, "keep_raw_vocab": True},
                                      {"max_vocab_size": 3000, "min_count": 1}])
def test_prepare_vocab_is_gensims_to_the_bit(corpus_path, settings):
    """Our scan of a list (gensim's pruning by max_vocab_size too) and our array version of gensim's
    prepare_vocab (its common case) give gensim's raw vocabulary in its order, then its vocabulary, every
    per-word attribute (counts, sample_int thresholds, the Huffman tree's codes and points, dtypes),
    cum_table, report, lifecycle messages and raw vocabulary, exactly: sample as a fraction, 0 and
    >= 1, an unsorted vocabulary, HS, another exponent."""
    settings = dict(settings)
    keep_raw_vocab = settings.pop("keep_raw_vocab", False)
    with open(corpus_path) as text:
        sentences = [line.split() for line in text][:400]
    models, reports, scans = [], [], []
    for cls in (GensimWord2Vec, Word2Vec):
        model = cls(**settings, workers=1)
        scans.append((model.scan_vocab(sentences), list(model.raw_vocab.items())))
        reports.append(model.prepare_vocab(keep_raw_vocab=keep_raw_vocab))
        models.append(model)
    gensim, ours = models
    assert scans[0] == scans[1]  # the scan: words in first-seen order, counts, words and sentences read
    assert reports[0] == reports[1] and ours.wv.index_to_key == gensim.wv.index_to_key
    assert ours.wv.key_to_index == gensim.wv.key_to_index and dict(ours.raw_vocab) == dict(gensim.raw_vocab)
    messages = [[e["msg"] for e in model.lifecycle_events if e.get("msg", "").startswith(("effective", "downsampl"))]
                for model in models]
    assert messages[0] == messages[1] != []
    assert set(ours.wv.expandos) == set(gensim.wv.expandos)
    for name, theirs in gensim.wv.expandos.items():
        assert ours.wv.expandos[name].dtype == theirs.dtype
        if theirs.dtype != object:
            assert np.array_equal(ours.wv.expandos[name], theirs)
        else:  # the Huffman tree's codes and points: one array per word
            assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(ours.wv.expandos[name], theirs))
    if gensim.negative:
        assert np.array_equal(ours.cum_table, gensim.cum_table)


ONLY_GENSIM = """
import pickle, sys
sys.modules["w2v_fastopt"] = None  # not importable: a colleague's machine with gensim alone
import joblib
from gensim.models import Word2Vec
for model in (Word2Vec.load("m.model"), pickle.load(open("m.pkl", "rb")), joblib.load("m.joblib")):
    assert type(model) is Word2Vec, type(model)
    print(model.wv.most_similar("war", topn=1)[0][0])
    model.train([["war", "peace"]] * 3, total_examples=3, epochs=1)  # gensim trains it on
"""

SWAPPED = """
import copy, pickle, gensim.models, gensim.models.word2vec, w2v_fastopt
gensim.models.word2vec.Word2Vec = gensim.models.Word2Vec = w2v_fastopt.Word2Vec  # a library's swap
sentences = [line.split() for line in open(CORPUS)][:200]
model = gensim.models.Word2Vec(sentences, min_count=2, workers=1, epochs=1)
model.save("swapped.model")
for back in (gensim.models.Word2Vec.load("swapped.model"), pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
    assert type(back) is w2v_fastopt.Word2Vec and (back.wv.vectors == model.wv.vectors).all()
print("ok")
"""


@pytest.mark.slow
def test_saved_models_load_where_only_gensim_is_installed(tmp_path, corpus_path):
    """save, pickle and joblib name gensim's class (a model registry or a server with gensim alone
    once failed: No module named 'w2v_fastopt'); w2v_fastopt.Word2Vec.load gives ours back, our
    settings kept; copies stay ours.  And a program that swaps gensim's name for ours can save (it
    once recursed without end in gensim's super(Word2Vec, self).save)."""
    import copy
    import pickle
    import subprocess
    import sys

    import joblib

    sentences = [line.split() for line in open(corpus_path)][:300]
    model = Word2Vec(sentences, sg=1, shared_negatives=False, min_count=2, workers=1, epochs=1, seed=2)
    model.save(str(tmp_path / "m.model"))
    pickle.dump(model, open(tmp_path / "m.pkl", "wb"))
    joblib.dump(model, tmp_path / "m.joblib")
    for name in ("m.model", "m.pkl", "m.joblib"):
        assert b"w2v_fastopt" not in (tmp_path / name).read_bytes()
    plain = subprocess.run([sys.executable, "-c", ONLY_GENSIM], cwd=tmp_path, capture_output=True, text=True)
    assert plain.returncode == 0 and plain.stdout.split() == [model.wv.most_similar("war", topn=1)[0][0]] * 3, \
        plain.stderr
    back = Word2Vec.load(str(tmp_path / "m.model"))
    assert type(back) is Word2Vec and back.shared_negatives is False
    np.testing.assert_array_equal(back.wv.vectors, model.wv.vectors)
    assert type(copy.copy(model)) is Word2Vec and type(copy.deepcopy(model)) is Word2Vec
    swapped = subprocess.run([sys.executable, "-c", f"CORPUS = {corpus_path!r}" + SWAPPED], cwd=tmp_path,
                             capture_output=True, text=True)
    assert swapped.stdout.strip() == "ok", swapped.stderr[-2000:]


def test_weights_are_padded_rows_trained_in_place_and_gensims_loops_get_plain_copies(corpus_path):
    """From build_vocab on, wv.vectors, syn1neg and syn1 are ``rules.padded_matrix`` views (rows on
    64-byte lines, 112 floats apart at d = 100) holding gensim's initial values; train() moves those
    same arrays in place, by the same steps as on plain arrays (bit for bit, one worker).  gensim's
    compiled loops index rows d floats apart, so they get plain copies: ``score`` gives gensim's
    scores (on the view itself they would be wrong), and a model with ``vectors_lockf`` trains as
    gensim's own model and its values land in the same padded arrays."""
    import copy

    with open(corpus_path) as text:
        sentences = [next(text).split() for _ in range(20)]
    kw = dict(min_count=2, workers=1, seed=3, epochs=1, hs=1, negative=5)

    def plain_copy(model):
        twin = copy.deepcopy(model)
        twin.wv.vectors, twin.syn1neg, twin.syn1 = (np.ascontiguousarray(a) for a in (
            model.wv.vectors, model.syn1neg, model.syn1))
        return twin

    model, gensim = Word2Vec(**kw), GensimWord2Vec(**kw)
    model.build_vocab(sentences)
    gensim.build_vocab(sentences)
    arrays = (model.wv.vectors, model.syn1neg, model.syn1)
    for array in arrays:
        assert array.strides == (4 * 112, 4) and array.ctypes.data % 64 == 0 and not array.flags.c_contiguous
    np.testing.assert_array_equal(model.wv.vectors, gensim.wv.vectors)
    plain = plain_copy(model)
    for m in (model, plain):
        m.train(sentences, total_examples=len(sentences), epochs=1)
    assert all(a is b for a, b in zip(arrays, (model.wv.vectors, model.syn1neg, model.syn1)))
    for a, b in zip(arrays, (plain.wv.vectors, plain.syn1neg, plain.syn1)):
        assert np.abs(a).sum() > 0
        np.testing.assert_array_equal(a, b)

    theirs = plain.to_gensim()  # gensim's class on plain arrays with the same values
    scored = sentences[:6]
    expected = theirs.score(scored, total_sentences=6)
    np.testing.assert_array_equal(model.score(scored, total_sentences=6), expected)
    assert not np.array_equal(GensimWord2Vec.score(model, scored, total_sentences=6), expected)  # on the views

    for m in (model, theirs):
        m.wv.vectors_lockf = np.ones(len(m.wv), dtype=np.float32)
        m.wv.vectors_lockf[:10] = 0.0  # the ten most frequent words' vectors stay as they are
    before = model.wv.vectors[:10].copy()
    for m in (model, theirs):
        m.train(sentences, total_examples=len(sentences), epochs=1)
    assert all(a is b for a, b in zip(arrays, (model.wv.vectors, model.syn1neg, model.syn1)))
    np.testing.assert_array_equal(model.wv.vectors[:10], before)
    for a, b in zip(arrays, (theirs.wv.vectors, theirs.syn1neg, theirs.syn1)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("sg", [0, 1])
def test_hierarchical_softmax_trains_what_gensim_trains(corpus_path, sg):
    """With nothing random in training (hierarchical softmax alone, no subsampling, whole windows,
    one worker, a constant learning rate), gensim's model and ours start from the same vectors
    (gensim's initialization, which the drop-in keeps) and take the same steps: two epochs over
    three articles (20,188 words, none truncated by gensim's 10,000-word jobs) move the vectors by
    650% (CBOW) and 1,270% (skip-gram) of their initial norm, and ours end within 1.5e-4 of gensim's
    (relative norm of the difference; float32 rounding).  The step's σ is word2vec.c's table, as
    gensim's (kernels/hs.py): with the exact σ the two differed by 4.8% after two articles (CBOW, one
    epoch), and by 8.8% here with a table indexed by (f + 6) * 83.33."""
    with open(corpus_path) as text:
        sentences = [next(text).split() for _ in range(3)]
    settings = dict(sg=sg, hs=1, negative=0, sample=0, shrink_windows=False, alpha=0.025, min_alpha=0.025,
                    workers=1, epochs=2, seed=1, min_count=2)
    theirs, ours = GensimWord2Vec(sentences, **settings), Word2Vec(sentences, **settings)
    initial = GensimWord2Vec(sentences, **dict(settings, epochs=1, alpha=1e-30, min_alpha=1e-30)).wv.vectors
    assert ours.wv.index_to_key == theirs.wv.index_to_key

    def relative(a, b):
        return np.linalg.norm(a - b) / np.linalg.norm(b)
    moved, apart = relative(theirs.wv.vectors, initial), relative(ours.wv.vectors, theirs.wv.vectors)
    assert moved > 5 and apart < 1e-3, (moved, apart)
    assert relative(ours.syn1, theirs.syn1) < 1e-3


@pytest.mark.parametrize("source", ["iterable", "list", "file"])
def test_a_diverging_run_raises_and_trains_nothing_more(corpus_path, source):
    """A learning rate of 10 blows the rows up within the first epoch: the drop-in raises the engine's
    ``Diverged`` (a RuntimeError, gensim's wording style), as ``Trainer`` does, instead of training on
    through NaN.  From an iterable, gensim's jobs of that epoch after the one that diverged train
    nothing (0 effective words) and no later epoch starts."""
    from w2v_fastopt.train import Diverged

    class Recording(Word2Vec):
        def _do_train_job(self, sentences, alpha, inits):
            after = self._diverged is not None  # this job starts after one diverged
            result = super()._do_train_job(sentences, alpha, inits)
            jobs.append((after, result[0]))
            return result

    class Epochs(CallbackAny2Vec):
        def on_epoch_begin(self, model):
            epochs.append(1)

    jobs, epochs = [], []
    with open(corpus_path) as text:
        sentences = [next(text).split() for _ in range(20)]
    class Stream:  # an iterable that may yield other sentences each epoch: gensim's jobs train it
        def __iter__(self):
            return iter(sentences)

    corpus = {"file": {"corpus_file": str(corpus_path)}, "list": {"sentences": sentences},
              "iterable": {"sentences": Stream()}}[source]
    with pytest.raises(Diverged, match=r"^training diverged in epoch 1 .* use a smaller alpha \(now 10\)$"):
        Recording(**corpus, sg=1, alpha=10, min_alpha=10, workers=2, epochs=3, batch_words=500, callbacks=[Epochs()])
    assert issubclass(Diverged, RuntimeError) and len(epochs) == 1
    if source == "iterable":
        after = [trained for started_after, trained in jobs if started_after]
        assert len(after) >= 10 and set(after) == {0}, jobs  # 21 jobs; the first few diverge


def test_words_outside_the_vocabulary_are_dropped_sentence_by_sentence():
    """``_known`` (every path from a corpus to our driver's ids) against a sentence-by-sentence
    reference: dropped words at sentences' starts and ends, a sentence of dropped words only (left
    empty, or gone: an empty sentence trains nothing and draws nothing), and sentences over
    MAX_SENTENCE cut into pieces of it after the drop (one of MAX_SENTENCE + 5 words is not)."""
    from w2v_fastopt.gensim_word2vec import MAX_SENTENCE, _known

    rng = np.random.default_rng(3)
    lengths = [0, 1, 3, MAX_SENTENCE + 5, 7, 2 * MAX_SENTENCE + 40, 4, 1]
    sentences = [rng.integers(-1, 6, size=n) for n in lengths]
    sentences[2][:] = -1
    sentences[4][[0, -1]] = -1
    sentences[6][0] = -1
    expected_ids, expected_starts = [], [0]
    for sentence in sentences:
        kept = [i for i in sentence if i >= 0]
        for first in range(0, len(kept), MAX_SENTENCE):
            expected_ids += kept[first:first + MAX_SENTENCE]
            expected_starts.append(len(expected_ids))
    for dtype in (np.int32, np.int64):
        corpus = _known(np.concatenate(sentences).astype(dtype), np.concatenate(([0], np.cumsum(lengths))))
        assert corpus.ids.dtype == np.int32 and corpus.starts.dtype == np.int64
        np.testing.assert_array_equal(corpus.ids, expected_ids)
        np.testing.assert_array_equal(np.unique(corpus.starts), expected_starts)
