"""Per-thread random numbers: xorshift64* (Vigna 2016), state kept in a local uint64 (a register).

word2vec.c uses a 64-bit LCG whose low bits are weak; xorshift64* costs one multiply too and its high
32 bits pass BigCrush.  Every draw below uses the high 32 bits, or the high and the low 32 bits as two
independent-enough halves (alias sampling).
"""
import numpy as np
from numba import njit


@njit(inline="always", cache=True)
def rng_next(state):
    """Advance ``state`` (uint64, never 0); return ``(new_state, 64 random bits)``."""
    x = state
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    return x, x * np.uint64(0x2545F4914F6CDD1D)


@njit(inline="always", cache=True)
def below(r, n):
    """An integer in [0, n) from the high 32 bits of ``r`` (Lemire's multiply-shift, no division)."""
    return np.int64(((r >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


def seed_states(seed, n):
    """``n`` well-separated non-zero xorshift states derived from the user's ``seed`` (splitmix64)."""
    mask = (1 << 64) - 1
    states = np.empty(n, dtype=np.uint64)
    z = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & mask
    for i in range(n):
        z = (z + 0x9E3779B97F4A7C15) & mask
        x = z
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        x ^= x >> 31
        states[i] = x or 1
    return states
