"""Corpus preparation in compiled code: one pass, in place, no temporaries the size of the corpus."""
from numba import njit


@njit(nogil=True, cache=True)
def compact_ids(ids, starts, remap, s_begin, s_end, out):
    """Map first-seen token ids to vocabulary ids and drop tokens outside the vocabulary, in place,
    for sentences s_begin..s_end-1 (call in order over all sentences, ``out`` carried along).

    ids: int32[N] first-seen ids, overwritten; starts: int64[S+1] sentence boundaries, overwritten
    (each start once its sentence is done; the caller sets starts[S] at the end);
    remap: int32[types] vocabulary id of each first-seen id, or -1 for a dropped word.
    out: tokens kept before s_begin.  Returns the tokens kept before s_end.  Since out <= p, a
    token is read before anything is written over it.
    """
    end = starts[s_begin]
    for s in range(s_begin, s_end):
        begin = end
        end = starts[s + 1]
        starts[s] = out
        for p in range(begin, end):
            w = remap[ids[p]]
            if w >= 0:
                ids[out] = w
                out += 1
    return out
