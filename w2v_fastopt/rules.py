"""The Numba engine's update rules in one table: each rule's kernel, its per-thread scratch and its
compile-time sizes side by side, and the one place that turns ``Params`` into what the kernels take
(``kernel_config``, ``kernel_weights``, ``thread_arrays``).  The driver (``train.py``), the
parameters (``params.py``), the command line, the Keras trainer and the benchmarks read the names
from here.

A rule is an architecture (skip-gram, ``sg=True``, or CBOW), an output layer (negative sampling, or
hierarchical softmax, ``hs=True``, with negative sampling too when ``negative > 0``), an
``optimizer`` name and whether its negatives are shared by a center's window.  Only skip-gram SGD has
both kernels (shared negatives by default, word2vec.c's fresh negatives per pair on request); the
other skip-gram rules run word2vec.c's pair stream, CBOW trains one example per center word with SGD,
and hierarchical softmax trains with SGD, so asking them for what they do not have is an error, not a
silent fallback.  SGD with negative sampling, skip-gram or CBOW, also shares one set of negatives
across ``combine`` > 1 consecutive centers on request (context combining).

A new rule is a kernel (its update, its scratch named tuple), a ``Rule`` below with the function
that builds that scratch from ``Params``, and its reference in ``tests/reference.py``.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .kernels.cbow import CbowBlockScratch, CbowScratch, cbow_combined, cbow_word2vec
from .kernels.hs import HOT_NODES, PATH_CHUNK, CbowHSScratch, HSPairScratch, cbow_hs, sg_hs
from .kernels.sgns import HOT_ROWS, BlockScratch, CombinedScratch, PairScratch, sgns_combined, sgns_shared, \
    sgns_word2vec
from .kernels.solvers import HeunScratch, RadialScratch, RungeKuttaScratch, SoftBatchScratch, sgns_heun, \
    sgns_radial, sgns_runge_kutta, sgns_soft_batch
from .kernels.walk import MAX_SENTENCE, Config, HSWeights, Sizes, Thread, Weights
from .tableaus import tableau_arrays

ACCUMULATE = 4  # soft batch: pairs (Numba) or batches (Keras) per update when not given
# Sizes up to these are compile-time constants (LLVM unrolls and vectorizes the row loops with
# constant trip counts); above them a runtime-size specialization of the same kernels, which
# compiles in bounded time and memory (bench/results/lab-notes.md).
MAX_CONSTANT_DIM = 400
MAX_CONSTANT_OUTPUTS = 64
MAX_COMBINE = 64  # context combining: the most centers that can share a set of negatives


@dataclass(frozen=True)
class Rule:
    """One update rule of the engine.

    kernel:  a cached Numba kernel with ``walk.walk``'s arguments.
    scratch: ``scratch(alloc, params)`` -> the named tuple of per-thread arrays the kernel's update
             takes (its kernel module gives the layout), sized from ``params`` (a ``Params``);
             ``alloc(shape, dtype)`` makes one array (``train.private``: alone on its cache lines).
    sizes:   ``sizes(params)`` -> the kernel's compile-time sizes, a ``walk.Sizes``.
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
    """Every rule's compile-time size ``loss``: (None,) when the kernel computes the exact loss, ()
    when not (``sgns.loss_term``): a kernel without the loss has no trace of it."""
    return (None,) if compute_loss else ()


def _dim_sizes(params):
    return Sizes(size(params.vector_size, MAX_CONSTANT_DIM), (), (), loss_switch(params.compute_loss))


def _output_sizes(params):
    """d and K1 = negative + 1: for the kernels that unroll over a block's outputs."""
    return _dim_sizes(params)._replace(outputs=size(params.negative + 1, MAX_CONSTANT_OUTPUTS))


def _combined_sizes(params):
    return _output_sizes(params)._replace(combine=size(params.combine, MAX_COMBINE))


def padded(dim):
    """The row length of a scratch matrix the kernels fill with copies of rows (T_old, the hot rows):
    d float32 rounded up to whole 64-byte lines, so that every row starts on a line (``alloc``
    aligns the first) and no 512-bit load or store of it straddles two; the kernels use the first d
    (faster: bench/results/lab-notes.md)."""
    return -(-dim // 16) * 16


def padded_matrix(rows, dim):
    """float32[rows, dim] of zeros whose rows start on 64-byte lines: the first dim columns of a
    zeroed, line-aligned, C-contiguous float32[rows, padded(dim)] matrix, which is what the kernels
    index (``kernel_matrix``).  For the weights a training run owns (``Trainer``).  numpy aligns its
    arrays to 16 bytes only: the matrix is cut from a slightly longer one.  The kernels run faster on
    such rows than on plain ones (bench/results/lab-notes.md)."""
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


def _block_scratch(alloc, p):
    w, k1, reach = padded(p.vector_size), p.negative + 1, 2 * p.window
    return BlockScratch(contexts=alloc(reach, np.int64), logits=alloc((reach, k1), np.float32),
                        grad=alloc((reach, k1), np.float32), old=alloc((k1, w), np.float32),
                        hot_rows=alloc((HOT_ROWS, w), np.float32), hot_snapshot=alloc((HOT_ROWS, w), np.float32))


def _combined_scratch(alloc, p):
    w, rows, cols = padded(p.vector_size), p.combine + 2 * p.window, p.combine + p.negative
    return CombinedScratch(positions=alloc(rows, np.int64), counts=alloc(rows, np.int64),
                           logits=alloc((rows, cols), np.float32), grad=alloc((rows, cols), np.float32),
                           delta=alloc((rows, p.vector_size), np.float32), bounds=alloc((p.combine, 2), np.int64),
                           outputs=alloc(cols, np.int64), hot_rows=alloc((HOT_ROWS, w), np.float32),
                           hot_snapshot=alloc((HOT_ROWS, w), np.float32))


def _pair_scratch(alloc, p):
    return PairScratch(neu1e=alloc(p.vector_size, np.float32))


def _cbow_scratch(alloc, p):
    w = padded(p.vector_size)
    return CbowScratch(neu1=alloc(p.vector_size, np.float32), neu1e=alloc(p.vector_size, np.float32),
                       logits=alloc(p.negative + 1, np.float32), hot_rows=alloc((HOT_ROWS, w), np.float32),
                       hot_snapshot=alloc((HOT_ROWS, w), np.float32))


def _cbow_block_scratch(alloc, p):
    w, c, k1 = padded(p.vector_size), p.combine, p.negative + 1
    return CbowBlockScratch(hidden=alloc((c, p.vector_size), np.float32), delta=alloc((c, p.vector_size), np.float32),
                            logits=alloc((c, k1), np.float32), grad=alloc((c, k1), np.float32),
                            old=alloc((max(k1 - 1, 1), w), np.float32), bounds=alloc((c, 2), np.int64),
                            outputs=alloc(c + k1 - 1, np.int64), hot_rows=alloc((HOT_ROWS, w), np.float32),
                            hot_snapshot=alloc((HOT_ROWS, w), np.float32))


def _hs_pair_scratch(alloc, p):
    w = padded(p.vector_size)
    return HSPairScratch(neu1e=alloc(p.vector_size, np.float32), logits=alloc((2, PATH_CHUNK), np.float32),
                         hot_rows=alloc((HOT_NODES, w), np.float32), hot_snapshot=alloc((HOT_NODES, w), np.float32))


def _cbow_hs_scratch(alloc, p):
    w = padded(p.vector_size)
    return CbowHSScratch(neu1=alloc(p.vector_size, np.float32), neu1e=alloc(p.vector_size, np.float32),
                         logits=alloc((2, PATH_CHUNK), np.float32), hot_rows=alloc((HOT_NODES, w), np.float32),
                         hot_snapshot=alloc((HOT_NODES, w), np.float32))


def _soft_batch_scratch(alloc, p):
    k, k1, dim = p.accumulate, p.negative + 1, p.vector_size
    return SoftBatchScratch(rows=alloc((k, k1 + 1), np.int64), deltas=alloc((k, k1 + 1, dim), np.float32),
                            width=alloc(k, np.int64), kept=alloc(1, np.int64))


def _heun_scratch(alloc, p):
    k1, dim = p.negative + 1, p.vector_size
    return HeunScratch(ku=alloc(dim, np.float32), du=alloc(dim, np.float32), logits=alloc(k1, np.float32),
                       g=alloc(k1, np.float32), g2=alloc(k1, np.float32), same_sum=alloc(k1, np.float32))


def _radial_scratch(alloc, p):
    k1, dim = p.negative + 1, p.vector_size
    return RadialScratch(ku=alloc(dim, np.float32), g=alloc(k1, np.float32), same_sum=alloc(k1, np.float32))


def _rk4_scratch(alloc, p):
    a, b = tableau_arrays("rk4")
    s, k1, dim = len(b), p.negative + 1, p.vector_size
    return RungeKuttaScratch(a=a, b=b, u=alloc(dim, np.float32), t=alloc((k1, dim), np.float32),
                             ku=alloc((s, dim), np.float32), kt=alloc((s, k1, dim), np.float32),
                             move=alloc((k1, dim), np.float32), same=alloc(k1, np.int64), order=alloc(k1, np.int64))


RULES = (
    Rule("sgd", True, sgns_shared, _block_scratch, _output_sizes,
         "SGD, shared negatives", "one set of negatives per center word, shared by its window"),
    Rule("sgd", True, sgns_combined, _combined_scratch, _combined_sizes,
         "SGD, combined windows", "with --combine C > 1, one set of negatives per C consecutive centers",
         combines=True),
    Rule("sgd", False, sgns_word2vec, _pair_scratch, _dim_sizes,
         "SGD, word2vec.c mode", "with --no-shared-negatives, word2vec.c's fresh negatives for every pair"),
    Rule("softbatch", False, sgns_soft_batch, _soft_batch_scratch, _dim_sizes,
         "soft batch", f"the SGD steps of --accumulate pairs (default {ACCUMULATE}) applied together"),
    Rule("heun", False, sgns_heun, _heun_scratch, _dim_sizes,
         "Heun", "a Heun step (Runge-Kutta of order 2: 2 gradients) per pair"),
    Rule("rk4", False, sgns_runge_kutta, _rk4_scratch, _dim_sizes,
         "RK4", "a classical Runge-Kutta step (order 4: 4 gradients) per pair"),
    Rule("sgd", False, cbow_word2vec, _cbow_scratch, _dim_sizes,
         "CBOW, SGD", "continuous bag of words (sg=0): word2vec.c's and gensim's CBOW", sg=False),
    Rule("sgd", True, cbow_combined, _cbow_block_scratch, _combined_sizes,
         "CBOW, combined centers", "sg=0 with --combine C > 1: one set of negatives per C consecutive centers",
         sg=False, combines=True),
    Rule("sgd", False, sg_hs, _hs_pair_scratch, _dim_sizes,
         "skip-gram, hierarchical softmax", "hs=1: gensim's Huffman tree (and negatives too if negative > 0)",
         hs=True),
    Rule("sgd", False, cbow_hs, _cbow_hs_scratch, _dim_sizes,
         "CBOW, hierarchical softmax", "sg=0 hs=1: CBOW over gensim's Huffman tree", sg=False, hs=True),
    Rule("sgd+radial", False, sgns_radial, _radial_scratch, _dim_sizes,
         "SGD + Heun's radial term", "SGD plus only the row-lengthening part of Heun's step (a control)",
         control=True),
)


def kernel_config(params):
    """The ``walk.Config`` of a run's ``Params``: the settings every kernel reads."""
    return Config(window=int(params.window), negative=int(params.negative), cbow_mean=int(params.cbow_mean),
                  shrink_windows=int(params.shrink_windows), threads=int(params.workers))


def kernel_weights(rule, syn0, syn1neg, params, hs_layer=None):
    """The weights a rule's kernel takes: a ``walk.Weights`` (syn0, syn1neg), and for hierarchical
    softmax a ``walk.HSWeights`` (syn1neg's first 0 rows when ``params.negative`` is 0, then
    ``hs_layer`` = (syn1, points, codes, lengths)), each matrix as the kernels index it
    (``kernel_matrix``: a padded one whole)."""
    syn0, syn1neg = kernel_matrix(syn0), kernel_matrix(syn1neg)
    if not rule.hs:
        return Weights(syn0, syn1neg)
    if hs_layer is None:
        raise ValueError("hierarchical softmax needs its layer: hs_layer=(syn1, points, codes, lengths)")
    syn1, points, codes, lengths = hs_layer
    return HSWeights(syn0, syn1neg if params.negative else syn1neg[:0], kernel_matrix(syn1), points, codes, lengths)


def thread_arrays(rule, alloc, rng, params):
    """One worker thread's arrays, a ``walk.Thread``: the rng (its uint64[1] generator state), the
    sentence, the outputs (a pair's and the next pair's, drawn one pair ahead) and the rule's scratch
    for ``params``; alloc as ``Rule.scratch``."""
    return Thread(rng=rng, sentence=alloc(MAX_SENTENCE, np.int32), outputs=alloc((2, params.negative + 1), np.int64),
                  scratch=rule.scratch(alloc, params))


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
            raise ValueError(f"combine={combine} shares negatives across centers: it needs SGD with negative "
                             "sampling alone (optimizer='sgd', hs=0, shared_negatives not False)")
        return next(rule for rule in rules if rule.combines)
    for rule in rules:
        if not rule.combines and (shared_negatives is None or rule.shared_negatives == shared_negatives):
            return rule
    if hs:
        raise ValueError("shared_negatives=True is for negative sampling alone (hs=0); hierarchical softmax "
                         "runs word2vec.c's pair stream")
    if not sg:
        raise ValueError("shared_negatives=True is for skip-gram (sg=1); CBOW draws one set of negatives "
                         "per center word already, and shares one across centers with combine=C > 1")
    raise ValueError(f"optimizer={optimizer!r} runs word2vec.c's pair stream (fresh negatives for every "
                     f"pair); shared_negatives=True is only for optimizer='sgd'")
