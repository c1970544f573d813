"""Resident memory the process no longer needs, handed back to the system.

Two things stay resident after they are done with, and both cost more than the model on a small
job: the C heap's free pages (``hand_back_free_heap``) and LLVM's machine code in llvmlite's
shared library (``hand_back_compiler_code``).  The corpus's own pages are handed back job by job
(``corpus.CorpusStore.release``).
"""
import ctypes
import mmap

COMPILER_LIBRARY = "libllvmlite.so"  # LLVM, as llvmlite links it: Numba's compiler and linker
_OVERLOADS_HANDED_BACK = {}  # Numba dispatcher -> its number of overloads at its last hand-back


def hand_back_free_heap():
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; elsewhere a no-op).

    The word table's arrays grow by copying and numpy allocates them with malloc; once they are
    freed, glibc keeps most of those pages for later mallocs, so after a pruned counting pass ~15 MB
    of free heap would stay resident through training (measured at 100M tokens, bench_memory.py).
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):  # not glibc
        pass


def hand_back_compiler_code(library=COMPILER_LIBRARY):
    """Drop the resident pages of ``library``'s read-only, unmodified mappings from this process
    (madvise MADV_DONTNEED); returns the bytes dropped (0 where /proc/self/smaps is not there).

    Loading a cached kernel runs LLVM's linker: it touches 40-70 MB of llvmlite's 150 MB of code and
    constants, which then stay resident while the kernels run and LLVM is not called at all (a large
    share of the command line's peak on a small corpus: bench/results/lab-notes.md).  Only mappings
    with no write permission and no private (copy-on-write) page are dropped: their pages are the
    file's own, so this is what the kernel's page reclaim does under memory pressure, done now.  A
    later call into LLVM (compiling or loading another kernel) faults the pages it needs back in
    from the page cache, at the cost of a minor fault each; nothing else changes.
    """
    advice = getattr(mmap, "MADV_DONTNEED", None)  # Python's name for the platform's value
    if advice is None:
        return 0
    try:
        with open("/proc/self/smaps") as smaps:
            lines = smaps.read().splitlines()
    except OSError:  # not Linux
        return 0
    mappings, inside = [], False  # [start, end, resident bytes, clean] of the library's read-only mappings
    for line in lines:
        fields = line.split()
        if fields and "-" in fields[0] and ":" not in fields[0]:  # start-end perms offset dev inode [path]
            inside = len(fields) >= 6 and fields[5].endswith("/" + library) and "w" not in fields[1]
            if inside:
                mappings.append([int(a, 16) for a in fields[0].split("-")] + [0, True])
        elif fields and inside:
            if fields[0] == "Rss:":
                mappings[-1][2] = int(fields[1]) * 1024
            elif fields[0] in ("Private_Dirty:", "Shared_Dirty:", "Anonymous:") and int(fields[1]) != 0:
                mappings[-1][3] = False
    madvise = ctypes.CDLL(None, use_errno=True).madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    dropped = 0
    for start, end, resident, clean in mappings:
        if clean and resident and madvise(start, end - start, advice) == 0:
            dropped += resident
    return dropped


def hand_back_after_loading(dispatcher):
    """``hand_back_compiler_code`` if the Numba ``dispatcher`` has compiled or loaded a function since
    the last call for it (LLVM's linker ran); else nothing.  Reading /proc/self/smaps costs 4-10 ms,
    which a caller that runs a loaded kernel again (gensim's train(), one epoch per call of the
    driver) would pay every time for nothing."""
    overloads = len(dispatcher.overloads)
    if _OVERLOADS_HANDED_BACK.get(dispatcher) != overloads:
        _OVERLOADS_HANDED_BACK[dispatcher] = overloads
        hand_back_compiler_code()
