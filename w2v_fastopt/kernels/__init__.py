"""Numba kernels only: no I/O, no Python objects, float32 C-contiguous arrays in and out.

``FASTMATH`` is the one place the floating-point flags are chosen: fast, but NaN and Inf keep their
meaning (no ``nnan``/``ninf``), so a diverging run shows up as NaN instead of silently wrong numbers.
"""

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
