"""Nearest words and analogies, through gensim's KeyedVectors (``most_similar``, ``most_similar_cosmul``).

What ``w2v-fastopt similar`` and ``w2v-fastopt analogy`` print; the vectors come from
``evaluate.load_vectors`` (word2vec binary/text, a ``Trainer.save`` model, a gensim pickle).
"""
import difflib


SPELLING_SEARCH = 100_000  # the most frequent words searched for a near spelling (difflib is O(V))


def spellings(wv, word, n=3):
    """Up to ``n`` words of ``wv`` spelled like ``word`` (the same word in another case first)."""
    by_folded = {}
    for key in wv.index_to_key[:SPELLING_SEARCH]:
        by_folded.setdefault(key.lower(), []).append(key)
    close = difflib.get_close_matches(word.lower(), list(by_folded), n=n, cutoff=0.75)
    return [k for folded in close for k in by_folded[folded] if k != word][:n]


def check_known(wv, words, source):
    """Raise ValueError naming each of ``words`` that ``wv`` lacks, with its nearest spellings
    (``source``: the file)."""
    missing = [w for w in dict.fromkeys(words) if w not in wv.key_to_index]
    if not missing:
        return
    parts = []
    for w in missing:
        near = spellings(wv, w)
        parts.append(f"{w!r}" + (f" (did you mean {', '.join(map(repr, near))}?)" if near else ""))
    raise ValueError(f"{source}: not in the vocabulary of {len(wv):,} words: {'; '.join(parts)}")


def analogy(wv, a, b, c, topn=10, cosmul=False, restrict_vocab=None):
    """``a : b :: c : ?``: the ``topn`` answers, list of (word, score), best first.

    3CosAdd (b - a + c, gensim's ``most_similar``) by default, 3CosMul (Levy and Goldberg 2014,
    gensim's ``most_similar_cosmul``) with ``cosmul``; the three question words are never answers.
    """
    if cosmul:
        return wv.most_similar_cosmul(positive=[b, c], negative=[a], topn=topn,
                                      restrict_vocab=restrict_vocab)
    return wv.most_similar(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)


def format_table(title, rows):
    """``title`` then one ``rank word score`` line per row, the words in one column."""
    width = max([len(w) for w, _ in rows] + [4])
    return "\n".join([title] + [f"{i:>4}  {w:<{width}}  {s:.4f}" for i, (w, s) in enumerate(rows, 1)])
