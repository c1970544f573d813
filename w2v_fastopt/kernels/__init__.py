"""Numba kernels only: no I/O, no Python objects, float32 C-contiguous arrays in and out.

``FASTMATH`` is the one place the floating-point flags are chosen: fast, but NaN and Inf keep their
meaning (no ``nnan``/``ninf``), so a diverging run shows up as NaN instead of silently wrong numbers.

The kernels are compiled once and cached on disk (``cache=True``).  Where Numba has nowhere to
write that cache (a read-only install and no writable home or ``NUMBA_CACHE_DIR``), it would refuse
to define them ("cannot cache function"); ``ensure_cache`` then points it at a temporary directory
for this process, with a one-line notice: every run compiles its kernels (seconds to tens of
seconds) instead of failing.

``KERNEL``, the options of every training kernel: ``nogil`` (the worker threads run them), ``cache``,
``FASTMATH``, ``error_model="numpy"`` (Numba's default guards every float division against a zero
denominator, and the guard keeps σ's division out of vector loops; no kernel divides by zero), and
no reference counting (``_nrt=False``, Numba's switch for its runtime, NRT).  The kernels allocate
nothing and every array they touch belongs to the Python caller for the length of the call, so
counting references to them is pure cost: with NRT, Numba increfs and decrefs an array's MemInfo
with a locked (atomic) instruction at each new binding (each row view, each array taken out of a
tuple: a dozen per center in the shared-negatives kernel), and a locked instruction also waits for
every pending store to reach the cache (what it costs: bench/results/lab-notes.md).  ``_nrt`` is
underscored in
Numba (an option it keeps for its own use; its developers show it in numba issue #2350); a kernel
that allocated would fail to compile without NRT, and the tests compile every kernel.

``prefer_full_vectors``: on a CPU with AVX-512, LLVM's tuning for some Intel cores (Skylake-X to
Emerald Rapids) prefers 256-bit vectors; the row loops of the kernels (d = 100 floats, read from L1)
are bound by loads, and 512-bit ones halve the loads (measured on such a CPU:
bench/results/lab-notes.md).  AMD's Zen 4 uses 512-bit vectors already.
"""
import atexit
import logging
import shutil
import tempfile

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# Every training kernel's options (the callers of ``walk.walk``): see the module docstring.
KERNEL = dict(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy", _nrt=False)


def _where_kernels_cache():
    """A function of this package's folder: Numba finds a cache for it where it finds the kernels'."""


def kernels_cache_dir():
    """The folder where Numba caches the kernels (None if it has none)."""
    try:
        from numba.core import caching
        impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
        for cls in impl._locator_classes:
            locator = cls.from_function(_where_kernels_cache, __file__)
            if locator is not None:
                return locator.get_cache_path()
    except Exception:  # another Numba
        return None
    return None


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


def prefer_full_vectors():
    """Let LLVM use 512-bit vectors on a CPU that has them (Numba's features string, plus
    ``-prefer-256-bit``), unless the user chose the target (``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``).
    It only changes how fast Numba's code runs, not what it computes (up to the order of float sums, as
    any other target); it takes effect if no Numba function has been compiled yet in this process, and
    the cache keeps the kernels compiled this way apart from others."""
    try:
        import numba
        from numba.core.codegen import get_host_cpu_features
        if numba.config.CPU_NAME is not None or numba.config.CPU_FEATURES is not None:
            return
        features = get_host_cpu_features()
    except Exception:  # another Numba: let it decide for itself
        return
    if "+avx512f" in features.split(","):
        numba.config.CPU_FEATURES = features + ",-prefer-256-bit"


ensure_cache()
prefer_full_vectors()
