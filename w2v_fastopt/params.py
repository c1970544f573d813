"""Training parameters: gensim's names and skip-gram defaults, validated before anything runs.

Every check raises ValueError (or TypeError for a wrong type) with one line naming the parameter,
the value and what is allowed, so that no bad value can reach a Numba kernel.
"""
import math
import os
from dataclasses import asdict, dataclass, field

from .rules import ACCUMULATE, MAX_COMBINE, find_rule


def default_workers():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class Params:
    vector_size: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    sample: float = 1e-3
    epochs: int = 5
    alpha: float = 0.025
    min_alpha: float = 0.0001
    ns_exponent: float = 0.75
    workers: int = field(default_factory=default_workers)
    seed: int = 1
    shared_negatives: bool = None  # None: the optimizer's default (True for sgd, False otherwise)
    max_vocab_size: int = None  # gensim's: prune the counting pass to this many words (None: no)
    optimizer: str = "sgd"      # one of rules.OPTIMIZERS
    accumulate: int = None      # softbatch: pairs per update (None: rules.ACCUMULATE)
    sg: int = 1                 # 1: skip-gram; 0: CBOW (kernels/cbow.py)
    cbow_mean: int = 1          # CBOW's input: 1 the mean of the context rows, 0 their sum
    hs: int = 0                 # 1: hierarchical softmax (kernels/hs.py), with negative sampling if negative > 0
    shrink_windows: bool = True  # word2vec.c's reduced window; False: the whole window every time
    combine: int = 1            # shared negatives: consecutive centers per set of negatives (context combining)
    compute_loss: bool = True   # the exact loss per epoch; False: none (hierarchical softmax ~20% less time)

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
