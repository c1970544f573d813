"""Sampling tables and their draws: frequent-word subsampling and unigram^0.75 negatives.

Both tables are vocabulary-sized (V entries).  word2vec.c's negative table has 1e8 entries (400 MB):
every draw misses the cache.  Walker's alias method needs V entries and two random halves per draw.
Probabilities are stored as uint64 thresholds in units of 2^-32, compared with 32 random bits.
"""
import numpy as np
from numba import njit

from .rng import below

ONE = 1 << 32  # probability 1.0 in the threshold units


@njit(cache=True)
def build_alias_table(weights):
    """Vose's alias method for the distribution proportional to ``weights`` (float64[V], > 0).

    Returns ``accept`` (uint64[V], thresholds in units of 2^-32) and ``alias`` (int32[V]): a draw picks
    a slot i uniformly, keeps i if 32 random bits < accept[i], otherwise takes alias[i].
    """
    n = weights.shape[0]
    scaled = weights * (n / weights.sum())
    accept = np.empty(n, dtype=np.uint64)
    alias = np.arange(n).astype(np.int32)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        big = large[nl - 1]
        accept[s] = np.uint64(scaled[s] * 4294967296.0)
        alias[s] = big
        scaled[big] = (scaled[big] + scaled[s]) - 1.0
        if scaled[big] < 1.0:
            nl -= 1
            small[ns] = big
            ns += 1
    # What is left has probability 1 up to rounding.
    for j in range(ns):
        accept[small[j]] = np.uint64(4294967296)
    for j in range(nl):
        accept[large[j]] = np.uint64(4294967296)
    return accept, alias


@njit(inline="always", cache=True)
def draw_alias(r, accept, alias):
    """One index from the alias table, using the high 32 bits of ``r`` for the slot, the low 32 to accept.

    The slot's alias is read whether or not it is taken, so the choice is a select, not a branch the
    core mispredicts whenever the accept test goes the other way (the same draws; it pays most in
    the word2vec.c mode, which draws the most: bench/results/lab-notes.md)."""
    i = below(r, accept.shape[0])
    other = np.int64(alias[i])
    return i if (r & np.uint64(0xFFFFFFFF)) < accept[i] else other
