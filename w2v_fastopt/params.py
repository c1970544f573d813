"""Training parameters: gensim's names and skip-gram defaults, validated before anything runs.

``Params`` is the one list of a training run's settings: each field carries its default, its line of
``--help`` and the argparse options of its command-line flag (``option``), so that the command line
(``cli.py``) and the gensim drop-in (``gensim_word2vec.py``, for the settings that are ours, not
gensim's) take a new field without a change of their own.  A setting the kernels read goes on to
``rules.kernel_config`` or a rule's scratch.

Every check raises ValueError (or TypeError for a wrong type) with one line naming the parameter,
the value and what is allowed, so that no bad value can reach a Numba kernel.
"""
import math
import os
from dataclasses import MISSING, asdict, dataclass, field

from .rules import ACCUMULATE, MAX_COMBINE, OPTIMIZERS, RULES, find_rule


def default_workers():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def option(default=MISSING, *, help, ours=False, default_factory=MISSING, **flag):
    """A ``Params`` field: its default, ``help`` (its line in ``w2v-fastopt train --help``) and ``flag``,
    the argparse options of its flag (``flag`` itself the option string when not ``--name-with-dashes``;
    ``type`` when the default is None; ``choices``, ``metavar``, ``action``).  ``ours``: a setting of
    w2v_fastopt's own, which gensim's ``Word2Vec`` has not (the drop-in takes it as a keyword)."""
    return field(default=default, default_factory=default_factory,
                 metadata={"help": help, "ours": ours, "flag": flag})


@dataclass
class Params:
    vector_size: int = option(100, help="dimensions (%(default)s)")
    window: int = option(5, help="max context distance (%(default)s)")
    negative: int = option(5, help="negative samples per pair (%(default)s; 0 with --hs 1: hierarchical softmax "
                           "alone)")
    min_count: int = option(5, help="ignore rarer words (%(default)s)")
    sample: float = option(1e-3, help="subsampling threshold, 0 = off (%(default)s)")
    epochs: int = option(5, help="passes over the corpus (%(default)s)")
    alpha: float = option(0.025, help="initial learning rate (%(default)s)")
    min_alpha: float = option(0.0001, help="final learning rate (%(default)s)")
    ns_exponent: float = option(0.75, help="negatives drawn with probability ~ count^x (%(default)s)")
    workers: int = option(default_factory=default_workers, help="threads (default: number of cores, %(default)s here)")
    seed: int = option(1, help="random seed (%(default)s)")
    # None: the optimizer's default (True for sgd, False otherwise)
    shared_negatives: bool = option(
        None, ours=True, flag="--no-shared-negatives", action="store_false",
        help="SGD with word2vec.c's exact algorithm: fresh negatives for every (center, context) pair (default: "
        "one set per center word shared by its window, faster)")
    # gensim's: prune the counting pass to this many words (None: no)
    max_vocab_size: int = option(None, type=int, help="hold at most this many words while counting, pruning rare "
                                 "ones as gensim does (default: no limit); the text is then read twice")
    optimizer: str = option("sgd", ours=True, choices=OPTIMIZERS, help="update rule (default sgd); on the Numba "
                            "engine: " + "; ".join(f"{r.optimizer}: {r.help}" for r in RULES if r.sg and not r.hs))
    # softbatch: pairs per update (None: rules.ACCUMULATE)
    accumulate: int = option(None, ours=True, type=int, metavar="K",
                             help=f"softbatch: batches (keras) or pairs (numba) per update (default {ACCUMULATE})")
    sg: int = option(1, choices=[0, 1], help="1: skip-gram (default); 0: CBOW, continuous bag of words "
                     "(word2vec.c's -cbow 1, fastText's cbow, gensim's sg=0), with --optimizer sgd")
    cbow_mean: int = option(1, choices=[0, 1], help="CBOW's input: 1 the mean of the context vectors (default, "
                            "word2vec.c's), 0 their sum")
    hs: int = option(0, choices=[0, 1], help="1: hierarchical softmax over the vocabulary's Huffman tree "
                     "(word2vec.c's -hs 1, fastText's -loss hs), trained with negative sampling unless --negative 0; "
                     "--optimizer sgd, Numba engine (default 0)")
    shrink_windows: bool = option(True, flag="--no-shrink-windows", action="store_false",
                                  help="the whole window at every center word (gensim's shrink_windows=False; "
                                  "default: word2vec.c's reach drawn in 1..window)")
    # shared negatives: consecutive centers per set of negatives (context combining)
    combine: int = option(1, ours=True, metavar="C",
                          help="shared negatives: one set per C consecutive center words (pSGNScc's context "
                          "combining; skip-gram or CBOW); larger C trains faster and scores lower on analogies "
                          "(default 1)")
    compute_loss: bool = option(True, flag="--no-loss", action="store_false",
                                help="do not compute the exact loss (gensim's compute_loss=False; word2vec.c "
                                "computes none): less time, the same vectors, no loss shown.  --quiet implies it")

    def __post_init__(self):
        for name, low, high in (("vector_size", 1, 10_000), ("window", 1, 1_000),
                                ("negative", 0, 1_000), ("min_count", 1, 2**62),
                                ("epochs", 1, 1_000_000), ("workers", 1, 1_024), ("seed", 0, 2**63 - 1)):
            _check_int(name, getattr(self, name), low, high)
        _check_float("sample", self.sample, 0.0, 1.0, high_open=True)
        _check_float("alpha", self.alpha, 0.0, 10.0, low_open=True)
        _check_float("min_alpha", self.min_alpha, 0.0, self.alpha)
        _check_float("ns_exponent", self.ns_exponent, -10.0, 10.0)
        if self.max_vocab_size is not None:
            _check_int("max_vocab_size", self.max_vocab_size, 1, 2**62)
        if self.shared_negatives is not None and not isinstance(self.shared_negatives, bool):
            raise TypeError(f"shared_negatives must be True or False, got {self.shared_negatives!r}")
        for name in ("sg", "cbow_mean", "hs"):
            _check_int(name, getattr(self, name), 0, 1)
        if self.negative == 0 and not self.hs:
            raise ValueError("negative must be between 1 and 1000 without hierarchical softmax (hs=1), "
                             "got 0: nothing would be trained")
        if not isinstance(self.shrink_windows, bool):
            raise TypeError(f"shrink_windows must be True or False, got {self.shrink_windows!r}")
        _check_int("combine", self.combine, 1, MAX_COMBINE)
        if not isinstance(self.compute_loss, bool):
            raise TypeError(f"compute_loss must be True or False, got {self.compute_loss!r}")
        self.shared_negatives = find_rule(self.optimizer, self.shared_negatives, self.sg, self.hs,
                                          self.combine).shared_negatives
        if self.optimizer == "softbatch":
            self.accumulate = ACCUMULATE if self.accumulate is None else self.accumulate
            _check_int("accumulate", self.accumulate, 1, 1 << 20)
        elif self.accumulate is not None:
            raise ValueError(f"accumulate={self.accumulate} needs optimizer='softbatch'")

    def to_dict(self):
        return asdict(self)


KERAS_OPTIMIZERS = ("sgd", "softbatch", "heun", "rk4")  # the rules the Keras variant has (keras/train.py)


def check_keras(params, optimizer):
    """ValueError in one line for what the Keras variant (``--backend keras``, ``keras.train``) does not
    train: it has skip-gram with negative sampling, in batches of pairs, with ``KERAS_OPTIMIZERS``."""
    if optimizer not in KERAS_OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r} runs on the Numba engine; the Keras variant has "
                         f"{', '.join(KERAS_OPTIMIZERS)}")
    if params.sg != 1:
        raise ValueError("sg=0 (CBOW) runs on the Numba engine; the Keras variant trains skip-gram")
    if params.hs:
        raise ValueError("hs=1 (hierarchical softmax) runs on the Numba engine; the Keras variant trains "
                         "negative sampling")
    if params.combine != 1:
        raise ValueError(f"combine={params.combine} runs on the Numba engine; the Keras variant trains batches "
                         "of pairs")


def available_memory():
    """Bytes this process may still allocate: Linux's MemAvailable, capped by RLIMIT_AS less what
    the process maps already; None where neither is known."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            limits += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except OSError:
        pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/status") as f:
                mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
            limits.append(max(soft - mapped, 0))
    except (ImportError, OSError, StopIteration, ValueError):
        pass
    return min(limits) if limits else None


def check_memory(nbytes, what):
    """MemoryError with one line saying how much ``what`` needs, before allocating it, when more than
    ``available_memory()``."""
    available = available_memory()
    if available is not None and nbytes > available:
        raise MemoryError(f"{what} need {nbytes / 2**30:.2f} GiB of memory; {available / 2**30:.2f} GiB "
                          "is available")


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


def _check_float(name, value, low, high, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value:g}")
