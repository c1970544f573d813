"""Sampling tables and their draws: frequent-word subsampling and unigram^0.75 negatives.

Both tables are vocabulary-sized (V entries).  word2vec.c's negative table has 1e8 entries (400 MB):
every draw misses the cache.  Walker's alias method needs V entries (8 bytes each, packed: one read
per draw) and two random halves per draw.  Probabilities are thresholds in units of 2^-32, compared
with 32 random bits.
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


def pack_alias_table(accept, alias):
    """The alias table (``build_alias_table``) as the kernels read it: uint64[V], slot i's acceptance
    threshold in the high 32 bits and its alias in the low 32, so that a draw reads one 8-byte entry
    (one cache line) instead of two arrays' (12 bytes a word, two lines).

    A threshold of 2^32 (always keep the slot) does not fit 32 bits: it is stored as 2^32 - 1 and
    the slot is made its own alias, so the one draw that now fails the test (low bits 2^32 - 1)
    still gives the slot: every draw is ``build_alias_table``'s, to the draw (tested)."""
    always = accept >= ONE
    alias = np.where(always, np.arange(len(alias)), alias).astype(np.uint64)
    return (np.minimum(accept, ONE - 1).astype(np.uint64) << np.uint64(32)) | alias


@njit(inline="always", cache=True)
def draw_alias(r, table):
    """One index from the packed alias table (``pack_alias_table``), using the high 32 bits of ``r``
    for the slot, the low 32 to accept.

    The slot's alias is read with its threshold whether or not it is taken, so the choice is a
    select, not a branch the core mispredicts whenever the accept test goes the other way (the
    same draws; it pays most in the word2vec.c mode, which draws the most:
    bench/results/lab-notes.md)."""
    i = below(r, table.shape[0])
    entry = table[i]
    other = np.int64(entry & np.uint64(0xFFFFFFFF))
    return i if (r & np.uint64(0xFFFFFFFF)) < (entry >> np.uint64(32)) else other
