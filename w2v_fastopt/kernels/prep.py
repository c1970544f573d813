"""Corpus preparation in compiled code: one pass, in place, no temporaries the size of the corpus."""
import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def compact_ids(ids, starts, remap):
    """Map first-seen token ids to vocabulary ids and drop tokens outside the vocabulary, in place.

    ids: int32[N] first-seen ids, overwritten; starts: int64[S+1] sentence boundaries, overwritten;
    remap: int32[types] vocabulary id of each first-seen id, or -1 for a dropped word.
    Returns the new token count N' (the valid prefix of ``ids``).
    """
    out = 0
    for s in range(starts.shape[0] - 1):
        begin = starts[s]
        end = starts[s + 1]
        starts[s] = out
        for p in range(begin, end):
            w = remap[ids[p]]
            if w >= 0:
                ids[out] = w
                out += 1
    starts[starts.shape[0] - 1] = out
    return out
