"""Corpus reading, vocabulary and sampling tables, checked against gensim and exact arithmetic."""
import bz2
import gzip
import io
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from gensim.models import Word2Vec as GensimWord2Vec

from w2v_fastopt import Trainer
from w2v_fastopt.corpus import read_corpus_file, tokenize
from w2v_fastopt.kernels.sampling import ONE
from w2v_fastopt.kernels.walk import MAX_SENTENCE
from w2v_fastopt.vocab import build_vocab


@pytest.fixture(scope="module")
def gensim_vocab(corpus_path):
    model = GensimWord2Vec(sg=1, min_count=5, sample=1e-3, ns_exponent=0.75, vector_size=10)
    model.build_vocab(corpus_file=corpus_path)
    return model


def test_vocabulary_matches_gensim(corpus_path, gensim_vocab):
    """Same words, same order (ties included), same counts, same subsampling thresholds."""
    vocab, ids, starts = build_vocab(read_corpus_file(corpus_path), 5)
    wv = gensim_vocab.wv
    assert vocab.words == wv.index_to_key
    assert np.array_equal(vocab.counts, [wv.get_vecattr(w, "count") for w in wv.index_to_key])
    assert len(set(vocab.counts.tolist())) < len(vocab)  # ties exist, so their order was tested
    gensim_keep = np.array([wv.get_vecattr(w, "sample_int") for w in wv.index_to_key], dtype=np.int64)
    ours = vocab.keep_thresholds(1e-3).astype(np.int64)
    gensim_keep[gensim_keep == ONE - 1] = ONE  # gensim stores "always keep" as uint32 max
    # the same probability; gensim scales by 2^32-1 and truncates, we scale by 2^32 and round
    assert np.abs(ours - gensim_keep).max() <= 2
    assert (ours < ONE).sum() > 20  # subsampling does something here
    assert ids.shape[0] == int(vocab.counts.sum()) == starts[-1]


@pytest.mark.parametrize("max_vocab_size", [3000, 10000])
def test_max_vocab_size_prunes_exactly_as_gensim(corpus_path, max_vocab_size):
    """Counting with at most max_vocab_size words held (34,212 distinct here): the same surviving
    words, counts and order as gensim's scan_vocab + prune_vocab."""
    gensim = GensimWord2Vec(sg=1, min_count=5, max_vocab_size=max_vocab_size, vector_size=10)
    gensim.build_vocab(corpus_file=corpus_path)
    ours = Trainer(min_count=5, max_vocab_size=max_vocab_size)
    ours.build_vocab(corpus_file=corpus_path)
    assert len(ours.vocab) < 9002  # pruning changed the vocabulary
    assert ours.vocab.words == gensim.wv.index_to_key
    assert ours.vocab.counts.tolist() == [gensim.wv.get_vecattr(w, "count") for w in gensim.wv.index_to_key]
    # The second pass keeps every occurrence of a surviving word, also those seen before it was
    # forgotten and counted again (gensim's training pass re-reads the text the same way).
    ids, _ = ours._corpus
    assert ids.shape[0] > ours.vocab.counts.sum()


def test_two_pass_reading_gives_the_single_pass_model(corpus_path):
    """With a limit that never prunes, the count-then-lookup path trains the very same model."""
    one = Trainer(corpus_file=corpus_path, workers=1, epochs=1, seed=2)
    two = Trainer(corpus_file=corpus_path, workers=1, epochs=1, seed=2, max_vocab_size=10**6)
    assert one.vocab.words == two.vocab.words
    assert np.array_equal(one.vectors, two.vectors) and one.training_loss == two.training_loss


def test_alias_table_is_exactly_unigram_power(corpus_path):
    """The distribution the alias table encodes equals count^0.75 / Σ to float rounding."""
    vocab, _, _ = build_vocab(read_corpus_file(corpus_path), 5)
    accept, alias = vocab.negative_table(0.75)
    n = len(accept)
    mass = accept.astype(np.float64).copy()
    np.add.at(mass, alias, ONE - accept.astype(np.float64))
    implied = mass / (n * ONE)
    expected = vocab.counts ** 0.75 / (vocab.counts ** 0.75).sum()
    assert np.abs(implied - expected).max() < 1e-9
    assert np.all(accept <= ONE)


def test_long_lines_are_chunked_not_dropped(tmp_path):
    words = [f"t{i % 997}" for i in range(2 * MAX_SENTENCE + 123)]
    path = tmp_path / "long.txt"
    path.write_text("a b c\n" + " ".join(words) + "\n\n   \nd e\n")
    corpus = read_corpus_file(path)
    lengths = np.diff(corpus.starts)
    assert lengths.tolist() == [3, MAX_SENTENCE, MAX_SENTENCE, 123, 2]
    assert [corpus.words[i] for i in corpus.ids[3:3 + len(words)]] == words


def test_compressed_input_reads_the_same(tmp_path, corpus_path):
    text = open(corpus_path, "rb").read()[:200_000]
    (tmp_path / "c.txt").write_bytes(text)
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(text))
    (tmp_path / "c.bz2").write_bytes(bz2.compress(text))
    (tmp_path / "c-gzip-without-suffix").write_bytes(gzip.compress(text))
    plain = read_corpus_file(tmp_path / "c.txt")
    for name in ("c.txt.gz", "c.bz2", "c-gzip-without-suffix"):
        other = read_corpus_file(tmp_path / name)
        assert other.words == plain.words
        assert np.array_equal(other.ids, plain.ids) and np.array_equal(other.starts, plain.starts)


def test_parts_read_by_threads_join_to_the_one_thread_result(tmp_path, corpus_path):
    """A file read in parts by several threads gives the same corpus as one thread, to the bit, and
    an error in a later part names the line in the whole file."""
    whole = read_corpus_file(corpus_path)
    for threads in (2, 3, 7):
        parts = read_corpus_file(corpus_path, threads=threads, part_bytes=100_000)
        assert parts.words == whole.words and parts.counts.tolist() == whole.counts.tolist()
        assert np.array_equal(parts.ids, whole.ids) and np.array_equal(parts.starts, whole.starts)
    lines = open(corpus_path, "rb").read().splitlines(keepends=True)
    path = tmp_path / "nul.txt"
    path.write_bytes(b"".join(lines[:80]) + b"ok\x00no\n" + b"".join(lines[80:]))
    for threads in (1, 2, 3):
        with pytest.raises(ValueError, match="nul.txt: line 81: NUL byte"):
            read_corpus_file(path, threads=threads, part_bytes=50_000)


def test_a_failing_part_stops_the_other_readers(tmp_path, corpus_path, monkeypatch):
    """An error in one part (a NUL byte) stops the threads reading the others at their next chunk,
    instead of letting them read on to the end of their parts."""
    from w2v_fastopt import corpus

    text = open(corpus_path, "rb").read()
    path = tmp_path / "late-nul.txt"
    path.write_bytes(text + text + b"ok\x00no\n" + text)
    parts = [(0, len(text)), (len(text), 2 * len(text)), (2 * len(text), None)]  # the NUL opens the third
    fed = []
    feed = corpus._CompiledTokenizer.feed

    def slow_feed(self, data, n):
        fed.append(self)
        time.sleep(0.02)
        feed(self, data, n)

    monkeypatch.setattr(corpus._CompiledTokenizer, "feed", slow_feed)
    with pytest.raises(ValueError, match=r"late-nul.txt: line 213: NUL byte"):
        corpus._read_parts([(path, *part) for part in parts], 100_000)
    assert len(fed) < 20, f"{len(fed)} chunks fed (the first two parts hold ~58): the readers went on"


def test_min_count_drops_words_before_windows():
    """Out-of-vocabulary tokens are removed from sentences (gensim's behaviour), not kept as gaps."""
    vocab, ids, starts = build_vocab(tokenize(["a x b", "x x", "b a y z", "z q"]), 2)
    assert vocab.words == ["x", "z", "b", "a"]  # count 3, then ties in gensim's order
    decoded = [[vocab.words[i] for i in ids[starts[s]:starts[s + 1]]] for s in range(len(starts) - 1)]
    assert decoded == [["a", "x", "b"], ["x", "x"], ["b", "a", "z"], ["z"]]


PIECES = ["a", "b", "ab", "é", "日本", "\U0001f600", " ", "  ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c",
          "\x1c", "\x1f", "\x85", "\xa0", "\u1680", "\u2000", "\u200a", "\u2028", "\u2029", "\u202f",
          "\u205f", "\u3000", "\u200b", "\ufeff"]
INVALID = [b"\xff", b"\xc2", b"\xe2\x80", b"\xed\xa0\x80", b"\x80"]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES).map(lambda s: s.encode()), st.sampled_from(INVALID)),
                max_size=60),
       st.integers(min_value=1, max_value=40), st.integers(min_value=1, max_value=4),
       st.integers(min_value=1, max_value=30))
def test_compiled_tokenizer_equals_str_split(tmp_path_factory, pieces, chunk_bytes, threads, part_bytes):
    """Files go through the compiled byte tokenizer, iterables through Python's ``str.split``:
    same words, ids and sentences for any text, including Unicode spaces, \\r\\n and invalid UTF-8,
    however the file is cut into chunks, and into parts read by several threads and joined."""
    data = b"".join(pieces)
    path = tmp_path_factory.mktemp("tok") / "t.txt"
    path.write_bytes(data)
    compiled = read_corpus_file(path, chunk_bytes=chunk_bytes, threads=threads, part_bytes=part_bytes)
    # utf-8-sig: a byte-order mark that starts the file is skipped (corpus.open_binary), not a word
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline=None)
    reference = tokenize(lines)
    assert compiled.words == reference.words
    ids = compiled.ids if compiled.merge is None else compiled.merge[compiled.ids]  # U+FFFD merges
    assert ids.tolist() == reference.ids.tolist()
    assert compiled.starts.tolist() == reference.starts.tolist()
    assert compiled.counts.tolist() == reference.counts.tolist()
