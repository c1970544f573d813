"""Skip-gram training examples for a batched trainer (the Keras variant): pairs plus negatives.

The same draws as the training kernels (``walk.py``): word2vec.c's subsampling and dynamic window, and
negatives from the unigram^ns_exponent alias table.  One example is

    inputs[e]     = the context word (its *input* vector is trained, as ``syn0`` in word2vec.c)
    outputs[e, 0] = the center word (label 1); outputs[e, 1:] = ``negative`` negatives (label 0)

in word2vec.c's order: sentence by sentence, center by center, context by context.  A negative that
equals the center word is drawn again (the SGD kernels skip it; a batch needs a fixed width).
"""
import numpy as np
from numba import njit

from .rng import rng_next
from .sampling import draw_alias
from .walk import reduced_window, subsample


@njit(nogil=True, cache=True)
def skipgram_examples(tables, corpus, cursor, window, negative, sentence, inputs, outputs):
    """Fill ``inputs``/``outputs`` with the examples of whole sentences, starting at sentence cursor[0].

    tables:   a ``walk.Tables`` (``Vocab.tables``).
    corpus:   a ``walk.Corpus``.
    cursor:   uint64[2]: (next sentence, rng state), advanced in place.
    window, negative: the reach of the (reduced) window and the negatives per example.
    sentence: int32[MAX_SENTENCE] scratch.
    inputs:   int32[E] and outputs int32[E, negative + 1], E >= 2 * window * MAX_SENTENCE so that one
              sentence always fits.
    Stops before a sentence that might not fit, or at the end of the corpus.
    Returns (examples written, effective words, raw words) of the sentences consumed.
    """
    keep, table = tables.keep, tables.negatives
    ids, starts = corpus.ids, corpus.starts
    n_sentences = starts.shape[0] - 1
    s = np.int64(cursor[0])
    state = cursor[1]
    capacity = inputs.shape[0]
    e = 0
    effective = 0
    raw = 0
    while s < n_sentences:
        length = starts[s + 1] - starts[s]
        if e + 2 * window * length > capacity:
            break
        n, state = subsample(ids, starts[s], starts[s + 1], keep, state, sentence)
        effective += n
        raw += length
        for c in range(n):
            word = sentence[c]
            state, lo, hi = reduced_window(state, window, c, n)
            for a in range(lo, hi):
                if a == c:
                    continue
                inputs[e] = sentence[a]
                outputs[e, 0] = word
                for o in range(1, negative + 1):
                    target = word
                    while target == word and table.shape[0] > 1:
                        state, r = rng_next(state)
                        target = draw_alias(r, table)
                    outputs[e, o] = target
                e += 1
        s += 1
    cursor[0] = np.uint64(s)
    cursor[1] = state
    return e, effective, raw
