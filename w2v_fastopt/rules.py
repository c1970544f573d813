"""The Numba engine's update rules in one table: each rule's kernel, its per-thread scratch and its
compile-time sizes side by side.  The driver (``train.py``), the parameters (``params.py``), the
command line, the Keras trainer and the benchmarks read the names from here.

A rule is an architecture (skip-gram, ``sg=True``, or CBOW), an output layer (negative sampling, or
hierarchical softmax, ``hs=True``, with negative sampling too when ``negative > 0``), an
``optimizer`` name and whether its negatives are shared by a center's window.  Only skip-gram SGD has
both kernels (shared negatives by default, word2vec.c's fresh negatives per pair on request); the
other skip-gram rules run word2vec.c's pair stream, CBOW trains one example per center word with SGD,
and hierarchical softmax trains with SGD, so asking them for what they do not have is an error, not a
silent fallback.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .kernels.cbow import cbow_word2vec
from .kernels.hs import HOT_NODES, PATH_CHUNK, cbow_hs, sg_hs
from .kernels.sgns import HOT_ROWS, sgns_combined, sgns_shared, sgns_word2vec
from .kernels.solvers import sgns_heun, sgns_radial, sgns_runge_kutta, sgns_soft_batch
from .kernels.walk import MAX_SENTENCE
from .tableaus import tableau_arrays

ACCUMULATE = 4  # soft batch: pairs (Numba) or batches (Keras) per update when not given
# Sizes up to these are compile-time constants (LLVM unrolls and vectorizes the row loops with
# constant trip counts); above them a runtime-size specialization of the same kernels, which
# compiles in bounded time and memory (measured: bench/results/lab-notes.md, 2026-12-01).
MAX_CONSTANT_DIM = 400
MAX_CONSTANT_OUTPUTS = 64
MAX_COMBINE = 64  # context combining: the most centers that can share a set of negatives


@dataclass(frozen=True)
class Rule:
    """One update rule of the engine.

    kernel:  a cached Numba kernel with ``walk.walk``'s arguments.
    scratch: ``scratch(alloc, dim, window, negative, accumulate, combine)`` -> the tuple of per-thread
             arrays the kernel's update takes (its docstring gives the layout); ``alloc(shape, dtype)``
             makes one array (``train.private``: alone on its cache lines).
    sizes:   ``sizes(dim, negative, combine, compute_loss)`` -> the compile-time sizes (tuples of None),
             the last of every rule's the loss switch (``loss_switch``).
    Pairs of a pair-stream rule are word2vec.c's; ``shared_negatives`` rules train a window at once,
    and the one that ``combines`` trains the windows of ``combine`` > 1 consecutive centers at once.
    """
    optimizer: str
    shared_negatives: bool
    kernel: object
    scratch: Callable
    sizes: Callable
    label: str   # what tables and reports call it
    help: str    # one line for --help
    sg: bool = True  # skip-gram; False: CBOW
    hs: bool = False  # hierarchical softmax (kernels/hs.py): weights carry the tree, syn1neg may be empty
    control: bool = False  # a measurement control for bench/, not an optimizer: not in OPTIMIZERS
    combines: bool = False  # shares its negatives across combine > 1 consecutive centers


def size(n, limit):
    """n as a compile-time size (a tuple of n Nones: its length is a type) up to ``limit``, above it
    as a runtime one (an int8[n] array: its length is a value).  The kernels read both as len()."""
    return (None,) * n if n <= limit else np.zeros(n, np.int8)


def loss_switch(compute_loss):
    """Every rule's last compile-time size: (None,) when the kernel computes the exact loss, () when
    not (``sgns.loss_term``): a kernel without the loss has no trace of it."""
    return (None,) if compute_loss else ()


def _vector_size(dim, negative, combine, compute_loss):
    return (size(dim, MAX_CONSTANT_DIM), loss_switch(compute_loss))


def _vector_size_and_outputs(dim, negative, combine, compute_loss):
    return (size(dim, MAX_CONSTANT_DIM), size(negative + 1, MAX_CONSTANT_OUTPUTS), loss_switch(compute_loss))


def padded(dim):
    """The row length of a scratch matrix the kernels fill with copies of rows (T_old, the hot rows):
    d float32 rounded up to whole 64-byte lines, so that every row starts on a line (``alloc``
    aligns the first) and no 512-bit load or store of it straddles two; the kernels use the first d.
    Measured (shared negatives, one thread): 0.90x the kernel's time with these rows padded
    (bench/results/lab-notes.md, 2026-12-06)."""
    return -(-dim // 16) * 16


def padded_matrix(rows, dim):
    """float32[rows, dim] of zeros whose rows start on 64-byte lines: the first dim columns of a
    zeroed, line-aligned, C-contiguous float32[rows, padded(dim)] matrix, which is what the kernels
    index (``kernel_matrix``).  For the weights a training run owns (``Trainer``).  numpy aligns its
    arrays to 16 bytes only: the matrix is cut from a slightly longer one.  Measured (shared
    negatives, one thread): 0.92x the kernel's time with syn0 and syn1neg so padded, on top of the
    scratch's ``padded`` rows (bench/results/lab-notes.md, 2026-12-06)."""
    width = padded(dim)
    raw = np.zeros(rows * width + 16, dtype=np.float32)
    first = -raw.ctypes.data % 64 // 4
    return raw[first:first + rows * width].reshape(rows, width)[:, :dim]


def kernel_matrix(vectors):
    """The C-contiguous float32[V, w] matrix the kernels index for the weights ``vectors``
    (float32[V, d]): ``vectors`` itself (w = d), or, for a ``padded_matrix``, the padded matrix
    (w = ``padded(d)``, the same memory).  The kernels read d from their compile-time sizes; the hot
    rows (``hot.py``) copy w columns, which their scratch (``padded(d)`` wide) holds."""
    if vectors.flags.c_contiguous:
        return vectors
    rows, dim = vectors.shape
    owner = vectors.base
    width = padded(dim)
    if not (vectors.dtype == np.float32 and vectors.strides == (4 * width, 4) and isinstance(owner, np.ndarray)
            and owner.flags.c_contiguous and owner.ctypes.data <= vectors.ctypes.data
            and vectors.ctypes.data + 4 * rows * width <= owner.ctypes.data + owner.nbytes):
        raise ValueError("the weights must be a C-contiguous float32 matrix, or a rules.padded_matrix")
    return np.lib.stride_tricks.as_strided(vectors, (rows, width), (4 * width, 4))


def _sgd_block_scratch(alloc, dim, window, negative, accumulate, combine):
    return (alloc(2 * window, np.int64), alloc((2 * window, negative + 1), np.float32),
            alloc((2 * window, negative + 1), np.float32), alloc((negative + 1, padded(dim)), np.float32),
            alloc((HOT_ROWS, padded(dim)), np.float32), alloc((HOT_ROWS, padded(dim)), np.float32))


def _combined_sizes(dim, negative, combine, compute_loss):
    return (size(dim, MAX_CONSTANT_DIM), size(negative, MAX_CONSTANT_OUTPUTS), size(combine, MAX_COMBINE),
            loss_switch(compute_loss))


def _combined_scratch(alloc, dim, window, negative, accumulate, combine):
    rows, cols = combine + 2 * window, combine + negative
    return (alloc(rows, np.int64), alloc(rows, np.int64), alloc((rows, cols), np.float32),
            alloc((rows, cols), np.float32), alloc((rows, dim), np.float32),
            alloc((combine, 2), np.int64), alloc(cols, np.int64),
            alloc((HOT_ROWS, padded(dim)), np.float32), alloc((HOT_ROWS, padded(dim)), np.float32))


def _sgd_pair_scratch(alloc, dim, window, negative, accumulate, combine):
    return (alloc(dim, np.float32),)


def _cbow_scratch(alloc, dim, window, negative, accumulate, combine):
    return (alloc(dim, np.float32), alloc(dim, np.float32))


def _hs_pair_scratch(alloc, dim, window, negative, accumulate, combine):
    return (alloc(dim, np.float32), alloc((2, PATH_CHUNK), np.float32),
            alloc((HOT_NODES, padded(dim)), np.float32), alloc((HOT_NODES, padded(dim)), np.float32))


def _cbow_hs_scratch(alloc, dim, window, negative, accumulate, combine):
    return (alloc(dim, np.float32), alloc(dim, np.float32), alloc((2, PATH_CHUNK), np.float32),
            alloc((HOT_NODES, padded(dim)), np.float32), alloc((HOT_NODES, padded(dim)), np.float32))


def _soft_batch_scratch(alloc, dim, window, negative, accumulate, combine):
    k1 = negative + 1
    return (alloc((accumulate, k1 + 1), np.int64), alloc((accumulate, k1 + 1, dim), np.float32),
            alloc(accumulate, np.int64), alloc(1, np.int64))


def _heun_scratch(alloc, dim, window, negative, accumulate, combine):
    k1 = negative + 1
    return (alloc(dim, np.float32), alloc(dim, np.float32)) + tuple(alloc(k1, np.float32) for _ in range(4))


def _radial_scratch(alloc, dim, window, negative, accumulate, combine):
    return (alloc(dim, np.float32), alloc(negative + 1, np.float32), alloc(negative + 1, np.float32))


def _rk4_scratch(alloc, dim, window, negative, accumulate, combine):
    a, b = tableau_arrays("rk4")
    s, k1 = len(b), negative + 1
    return (a, b, alloc(dim, np.float32), alloc((k1, dim), np.float32), alloc((s, dim), np.float32),
            alloc((s, k1, dim), np.float32), alloc((k1, dim), np.float32), alloc(k1, np.int64),
            alloc(k1, np.int64))


RULES = (
    Rule("sgd", True, sgns_shared, _sgd_block_scratch, _vector_size_and_outputs,
         "SGD, shared negatives", "one set of negatives per center word, shared by its window"),
    Rule("sgd", True, sgns_combined, _combined_scratch, _combined_sizes,
         "SGD, combined windows", "with --combine C > 1, one set of negatives per C consecutive centers",
         combines=True),
    Rule("sgd", False, sgns_word2vec, _sgd_pair_scratch, _vector_size,
         "SGD, word2vec.c mode", "with --no-shared-negatives, word2vec.c's fresh negatives for every pair"),
    Rule("softbatch", False, sgns_soft_batch, _soft_batch_scratch, _vector_size,
         "soft batch", f"the SGD steps of --accumulate pairs (default {ACCUMULATE}) applied together"),
    Rule("heun", False, sgns_heun, _heun_scratch, _vector_size,
         "Heun", "a Heun step (Runge-Kutta of order 2: 2 gradients) per pair"),
    Rule("rk4", False, sgns_runge_kutta, _rk4_scratch, _vector_size,
         "RK4", "a classical Runge-Kutta step (order 4: 4 gradients) per pair"),
    Rule("sgd", False, cbow_word2vec, _cbow_scratch, _vector_size,
         "CBOW, SGD", "continuous bag of words (sg=0): word2vec.c's and gensim's CBOW", sg=False),
    Rule("sgd", False, sg_hs, _hs_pair_scratch, _vector_size,
         "skip-gram, hierarchical softmax", "hs=1: gensim's Huffman tree (and negatives too if negative > 0)",
         hs=True),
    Rule("sgd", False, cbow_hs, _cbow_hs_scratch, _vector_size,
         "CBOW, hierarchical softmax", "sg=0 hs=1: CBOW over gensim's Huffman tree", sg=False, hs=True),
    Rule("sgd+radial", False, sgns_radial, _radial_scratch, _vector_size,
         "SGD + Heun's radial term", "SGD plus only the row-lengthening part of Heun's step (a control)",
         control=True),
)


def thread_arrays(rule, alloc, rng, dim, window, negative, accumulate, combine=1):
    """One worker thread's arrays, ``walk.walk``'s ``thread``: (rng, sentence int32[MAX_SENTENCE],
    outputs int64[2, K1]: a pair's outputs and the next pair's, drawn one pair ahead, the rule's
    scratch).  rng: the thread's uint64[1] generator state; alloc as ``Rule.scratch``."""
    return (rng, alloc(MAX_SENTENCE, np.int32), alloc((2, negative + 1), np.int64),
            rule.scratch(alloc, dim, window, negative, accumulate, combine))


OPTIMIZERS = tuple(dict.fromkeys(rule.optimizer for rule in RULES if not rule.control))
CONTROLS = tuple(rule.optimizer for rule in RULES if rule.control)


def find_rule(optimizer, shared_negatives=None, sg=True, hs=False, combine=1):
    """The Rule for ``optimizer`` (one of OPTIMIZERS or CONTROLS), the architecture (``sg`` True: skip-gram,
    False: CBOW) and the output layer (``hs`` True: hierarchical softmax); ``shared_negatives`` None
    takes the first (default) kernel; ``combine`` > 1 the one that shares negatives across that many
    centers.  ValueError for an unknown name or a combination with no kernel."""
    if optimizer not in OPTIMIZERS + CONTROLS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    rules = [rule for rule in RULES
             if rule.optimizer == optimizer and rule.sg == bool(sg) and rule.hs == bool(hs)]
    if not rules and hs:
        raise ValueError(f"optimizer={optimizer!r} trains negative sampling (hs=0); hierarchical softmax "
                         "(hs=1) trains with optimizer='sgd'")
    if not rules:
        raise ValueError(f"optimizer={optimizer!r} is for skip-gram (sg=1); CBOW (sg=0) trains with "
                         "optimizer='sgd'")
    if combine > 1:
        if shared_negatives is False or not any(rule.combines for rule in rules):
            raise ValueError(f"combine={combine} shares negatives across centers: it needs skip-gram SGD with "
                             "shared negatives (optimizer='sgd', sg=1, hs=0, shared_negatives not False)")
        return next(rule for rule in rules if rule.combines)
    for rule in rules:
        if not rule.combines and (shared_negatives is None or rule.shared_negatives == shared_negatives):
            return rule
    if hs:
        raise ValueError("shared_negatives=True is for negative sampling alone (hs=0); hierarchical softmax "
                         "runs word2vec.c's pair stream")
    if not sg:
        raise ValueError("shared_negatives=True is for skip-gram (sg=1); CBOW draws one set of negatives "
                         "per center word already")
    raise ValueError(f"optimizer={optimizer!r} runs word2vec.c's pair stream (fresh negatives for every "
                     f"pair); shared_negatives=True is only for optimizer='sgd'")
