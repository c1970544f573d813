"""A corpus ready for training: read it, count its words, keep the vocabulary, ids in its order.

``load_corpus`` is what both engines start from (``Trainer.build_vocab`` and the Keras trainer):
``corpus.py`` reads text into first-seen ids, ``vocab.py`` orders and filters the words.
"""
import hashlib
import logging
import os
from dataclasses import dataclass

import numpy as np

from .corpus import count_corpus_file, read_corpus_file, tokenize
from .resident import hand_back_free_heap
from .vocab import Vocab, build_vocab, vocabulary_order

logger = logging.getLogger(__name__)


@dataclass
class TrainingCorpus:
    """A corpus read for training: the in-vocabulary tokens as ids, sentence by sentence.

    ids: int32[N] vocabulary indices (out-of-vocabulary tokens removed, as gensim does before
    windows are formed); starts: int64[S+1] sentence boundaries into ids; vocab: the Vocab;
    raw_tokens: tokens read, before min_count; invalid_tokens: tokens with non-UTF-8 bytes (kept,
    with U+FFFD); source: the file name, or "sentences".  ``ids`` may be memory-mapped (``store``).
    """
    ids: np.ndarray
    starts: np.ndarray
    vocab: Vocab
    raw_tokens: int
    invalid_tokens: int
    source: str
    store: object = None


def load_corpus(sentences=None, corpus_file=None, *, min_count=5, max_vocab_size=None, threads=1):
    """Read a corpus (an iterable of token lists, or a file: UTF-8, plain/.gz/.bz2), count words,
    keep those with count >= min_count in gensim's order; returns a ``TrainingCorpus``.

    The text is read once; twice with ``max_vocab_size`` (gensim's pruned counting pass, then the ids).
    threads: a large plain file without ``max_vocab_size`` is read by this many threads, in parts
    (``corpus.read_corpus_file``; the same result).
    Raises ValueError naming the source if no word is left.
    """
    if (sentences is None) == (corpus_file is None):
        raise TypeError("give exactly one of sentences or corpus_file")
    if corpus_file is not None:
        corpus_file = os.fsdecode(os.fspath(corpus_file))  # bytes paths too, as str from here on
    if corpus_file is not None and corpus_file == "-" and max_vocab_size is not None:
        raise ValueError("-: standard input can be read only once; max_vocab_size needs a corpus file")
    before = _identity(corpus_file)
    if corpus_file is not None and max_vocab_size is not None:
        # gensim's two passes: count with pruning, then read the ids of the final vocabulary
        source = os.fspath(corpus_file)
        words, counts, raw = count_corpus_file(corpus_file, max_vocab_size)
        _check_vocab(source, counts, min_count)
        order = vocabulary_order(counts, min_count)
        vocab, kept = Vocab([words[i] for i in order], counts[order]), [raw[i] for i in order]
        del words, raw  # every word counted (up to max_vocab_size of them): free before the next pass
        tokenized = read_corpus_file(corpus_file, vocabulary=kept)
        ids, starts = tokenized.ids, tokenized.starts
    else:
        if corpus_file is not None:
            source = os.fspath(corpus_file)
            tokenized = read_corpus_file(corpus_file, threads=threads)
        elif max_vocab_size is not None:
            raise ValueError("max_vocab_size needs corpus_file= (it reads the text twice)")
        else:
            source = "sentences"
            tokenized = _tokenize_sentences(sentences)
        _check_vocab(source, tokenized.counts, min_count)
        vocab, ids, starts = build_vocab(tokenized, min_count)
    after = _identity(corpus_file)
    if before != after:
        change = ("removed" if after is None else "modified meanwhile" if before[0] == after[0]
                  else f"{before[0]:,} bytes before, {after[0]:,} after")
        raise ValueError(f"{source}: changed while it was read ({change}): another process is writing it; "
                         "train once it is done, or on a copy")
    if tokenized.invalid_tokens:
        logger.warning("%s: %d tokens had bytes that are not UTF-8; kept, with U+FFFD in their place",
                       source, tokenized.invalid_tokens)
    logger.info("%s: %d tokens, %d distinct words, %d with count >= %d (%d tokens kept)",
                source, tokenized.n_tokens, len(tokenized.words), len(vocab), min_count, ids.shape[0])
    hand_back_free_heap()  # the counting tables are gone
    return TrainingCorpus(ids, starts, vocab, tokenized.n_tokens, tokenized.invalid_tokens, source,
                          tokenized.store)


def _identity(path):
    """(size, modification time in ns, inode, device) of the file at ``path``; None for sentences and
    standard input.  Equal before and after the reading unless something wrote the file meanwhile."""
    if path is None or path == "-":
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None  # the reader says why
    return info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev


DIGEST_BLOCK = 1 << 22  # ids hashed at a time (their mapped pages then handed back)


def corpus_digest(ids, starts, release=None):
    """A 128-bit BLAKE2b digest (hex) of the training corpus as the kernels see it: the ids and the
    sentence boundaries.  Two corpora with the same vocabulary but a word moved differ here; words
    that min_count drops do not count (they change no vector).  ``release(end_sentence, end_token,
    start_sentence, start_token)`` hands back a memory-mapped store's pages as they are read."""
    digest = hashlib.blake2b(digest_size=16)
    for first in range(0, len(ids), DIGEST_BLOCK):
        digest.update(np.ascontiguousarray(ids[first:first + DIGEST_BLOCK]))
        if release is not None:
            release(0, min(first + DIGEST_BLOCK, len(ids)), 0, first)
    for first in range(0, len(starts), DIGEST_BLOCK):
        digest.update(np.ascontiguousarray(starts[first:first + DIGEST_BLOCK]))
        if release is not None:
            release(min(first + DIGEST_BLOCK, len(starts)), 0, first, 0)
    return digest.hexdigest()


def _check_vocab(source, counts, min_count):
    if counts.sum() == 0:
        raise ValueError(f"{source}: the corpus has no tokens (empty or whitespace-only)")
    if counts.max() < min_count:
        raise ValueError(f"{source}: empty vocabulary: no word occurs min_count={min_count} times "
                         f"(the most frequent word occurs {int(counts.max())} times)")


def _tokenize_sentences(sentences):
    if isinstance(sentences, (str, bytes, os.PathLike)):
        raise TypeError("sentences must be an iterable of token lists; for a file use corpus_file=")
    try:
        tokenized = tokenize(sentences)
    except TypeError as err:
        raise TypeError(f"sentences must be an iterable of lists of str tokens ({err})") from None
    bad = next((w for w in tokenized.words if not isinstance(w, str)), None)
    if bad is not None:
        raise TypeError(f"sentences must contain str tokens, found {type(bad).__name__} {bad!r}")
    return tokenized


