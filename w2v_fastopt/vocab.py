"""The vocabulary: counts, ``min_count``, frequency order, and the two sampling tables built from it."""
from dataclasses import dataclass

import numpy as np

from .kernels.prep import compact_ids
from .kernels.sampling import ONE, build_alias_table, pack_alias_table
from .kernels.walk import Tables

COMPACT_TOKENS = 1 << 22


@dataclass
class Vocab:
    """words: list[str] by descending count; counts: int64[V] aligned with words."""
    words: list
    counts: np.ndarray

    def __len__(self):
        return len(self.words)

    def keep_thresholds(self, sample):
        """Subsampling of frequent words, word2vec.c's formula (and gensim's).

        With t = sample * (total count) and c the word's count, a word is kept with probability
        min(1, (sqrt(c/t) + 1) * t/c).  ``sample=0`` keeps every word.
        Returns uint64[V], the probability in units of 2^-32 (2^32 = always kept, costs no draw).
        """
        counts = self.counts.astype(np.float64)
        if sample == 0:
            return np.full(len(counts), ONE, dtype=np.uint64)
        threshold = sample * counts.sum()
        keep = np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * (threshold / counts))
        return np.round(keep * ONE).astype(np.uint64)

    def negative_table(self, ns_exponent):
        """Alias table for negatives drawn with probability ∝ count^ns_exponent: (accept, alias)."""
        return build_alias_table(self.counts.astype(np.float64) ** ns_exponent)

    def tables(self, sample, ns_exponent):
        """The kernels' sampling tables (``walk.Tables``): ``keep_thresholds`` and ``negative_table``."""
        return Tables(self.keep_thresholds(sample), pack_alias_table(*self.negative_table(ns_exponent)))


def vocabulary_order(counts, min_count):
    """Indices of the words with count >= min_count, in gensim's ``sort_by_descending_frequency``
    order: descending count, ties broken by *later* first occurrence first."""
    kept = np.flatnonzero(counts >= min_count)
    return kept[np.lexsort((-kept, -counts[kept]))]


def build_vocab(corpus, min_count):
    """Vocabulary of the words occurring at least ``min_count`` times in ``corpus`` (TokenizedCorpus).

    Order as gensim's (``vocabulary_order``), so that our indices match gensim's.
    Rewrites ``corpus.ids``/``corpus.starts`` in place to vocabulary ids, out-of-vocabulary tokens
    removed (as gensim does, before windows are formed), and returns ``(vocab, ids, starts)``.
    """
    order = vocabulary_order(corpus.counts, min_count)
    remap = np.full(len(corpus.words), -1, dtype=np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    vocab = Vocab([corpus.words[i] for i in order], corpus.counts[order])
    return (vocab,) + compact_corpus(corpus, remap)


def compact_corpus(corpus, remap):
    """Rewrite ``corpus`` (TokenizedCorpus) in place to vocabulary ids: ``remap`` (int32, one per word
    of ``corpus.words``) gives each word's id, -1 for a word left out, whose tokens are removed.
    Returns ``(ids, starts)``, views of the rewritten arrays."""
    if corpus.merge is not None:
        remap = remap[corpus.merge]
    starts = corpus.starts
    n_sentences = starts.shape[0] - 1
    out = 0
    # In slices of ~COMPACT_TOKENS, handing back the pages of a memory-mapped corpus as we go.
    cuts = np.searchsorted(starts, np.arange(COMPACT_TOKENS, starts[-1], COMPACT_TOKENS))
    for s0, s1 in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [n_sentences]])):
        read_end = starts[s1]
        out = compact_ids(corpus.ids, starts, remap, s0, s1, out)
        if corpus.store is not None:
            corpus.store.release(s1, read_end)
    starts[n_sentences] = out
    return corpus.ids[:out], starts
