"""Numba kernels only: no I/O, no Python objects, float32 C-contiguous arrays in and out.

``FASTMATH`` is the one place the floating-point flags are chosen: fast, but NaN and Inf keep their
meaning (no ``nnan``/``ninf``), so a diverging run shows up as NaN instead of silently wrong numbers.

The kernels are compiled once and cached on disk (``cache=True``).  Where Numba has nowhere to
write that cache (a read-only install and no writable home or ``NUMBA_CACHE_DIR``), it would refuse
to define them ("cannot cache function"); ``ensure_cache`` then points it at a temporary directory
for this process, with a one-line notice: every run compiles its kernels (seconds to tens of
seconds) instead of failing.
"""
import atexit
import logging
import shutil
import tempfile

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def _where_kernels_cache():
    """A function of this package's folder: Numba finds a cache for it where it finds the kernels'."""


def ensure_cache():
    """Give Numba a writable cache directory for this process if it has none for the kernels."""
    try:
        import numba
        from numba.core import caching
        impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
        if any(cls.from_function(_where_kernels_cache, __file__) is not None for cls in impl._locator_classes):
            return
    except Exception:  # another Numba: let it decide for itself
        return
    path = tempfile.mkdtemp(prefix="w2v-fastopt-numba-")
    numba.config.CACHE_DIR = path
    atexit.register(shutil.rmtree, path, True)
    logging.getLogger("w2v_fastopt").warning(
        "w2v-fastopt: notice: no writable Numba cache directory (read-only install? set NUMBA_CACHE_DIR "
        "to keep compiled kernels); compiling the kernels for this run only")


ensure_cache()
