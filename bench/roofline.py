"""Roofline: how far each training kernel is from this machine's limits, and which limit binds.

    python bench/roofline.py [--corpus data/enwiki-sample.txt] [--repeat 3] [--rounds 3]

For each kernel (skip-gram with shared negatives and word2vec.c's pair stream, CBOW, hierarchical
softmax for both), one worker thread, one epoch on the corpus repeated ``--repeat`` times:

- multiply-adds per trained center word, counted from the kernel's loops (below), with the run's own
  contexts per center (pairs / centers) and, for hierarchical softmax, the mean Huffman path length of
  the words trained (counts x keep probabilities x code lengths);
- achieved GFLOP/s on one core (2 flops per multiply-add, centers/s from the run) against the core's
  peak, measured here as single-threaded float32 matrix multiplication (numpy's BLAS, the best a core
  does on dense float32 work);
- the bytes of rows each center's update steps read and write (a row counts 4d bytes read and 4d
  written each time an update step takes it: per pair for the pair stream, per center for the shared
  block and CBOW), their arithmetic intensity (flops per byte), and two memory roofs for that
  intensity: the rates at which one core reads and writes random rows (the kernels' access pattern
  without their arithmetic, measured here) of a matrix the size of syn0 + syn1neg (rows from L3)
  and of a 1,024-row one (rows from L2: a path reused by a window, frequent negatives).

The attainable rate is at most min(peak, L2 row bandwidth x intensity); the table says which of the
two is lower (the binding limit) and how far the kernel is from it.  A kernel above the L3 roof
gets many of its rows from nearer caches.  Multiply-adds counted per kernel (d: vector
size, K1 = negative + 1 outputs, m: contexts per center, L: path length):

    sgns_word2vec  per pair: K1 x (dot d + e += g t d + t -= g u d) + u -= e d     = m (3 K1 + 1) d
    sgns_shared    per center: F = U T^T, T -= G^T U, E = G T_old (m K1 d each), U -= E = m (3 K1 + 1) d
    cbow_word2vec  h = sum of m rows, K1 x 3d, m rows -= e                        = (2 m + 3 K1) d
    sg_hs          per pair: L x 3d + d                                            = m (3 L + 1) d
    cbow_hs        h, L x 3d, m rows -= e                                          = (2 m + 3 L) d

The sigmoids, the random draws and the loss are left out (a few operations per output, against 3d).
Medians over ``--rounds``; the machine is shared, so the figures move by 10-20% between runs.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from host_ceiling import touch_rows  # noqa: E402  (bench/, the script's own folder)
from w2v_fastopt.kernels.prep import huffman_tree  # noqa: E402
from w2v_fastopt.trainer import Trainer  # noqa: E402

HOT_ROWS = 1024  # 400 KB at d = 100: in L2 (the hot rows: the top of the tree, frequent negatives, a path)
# name: (label, Trainer settings)
KERNELS = {
    "sgns_shared": ("skip-gram, shared negatives", dict(sg=1, negative=5)),
    "sgns_word2vec": ("skip-gram, word2vec.c pairs", dict(sg=1, negative=5, shared_negatives=False)),
    "cbow_word2vec": ("CBOW", dict(sg=0, negative=5)),
    "sg_hs": ("skip-gram HS", dict(sg=1, hs=1, negative=0)),
    "cbow_hs": ("CBOW HS", dict(sg=0, hs=1, negative=0)),
}


def peak_gflops(n=2048, repeats=5):
    """One core's float32 matrix-multiply rate, GFLOP/s (the best of ``repeats``)."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    best = 0.0
    with threadpool_limits(1):
        a @ a
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ a
            best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def row_bandwidth(n_rows, dim, repeats=5):
    """GB/s of random rows read and written by one core in a float32[n_rows, dim] matrix."""
    rows = np.zeros((n_rows, dim), np.float32)
    order = np.random.default_rng(1).integers(0, n_rows, 2_000_000)
    touch_rows(rows, order[:10])
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        touch_rows(rows, order)
        best = max(best, 2 * 4 * dim * len(order) / (time.perf_counter() - t0) / 1e9)
    return best


def mean_path_length(trainer):
    """The mean Huffman code length of the words trained: counts x keep probabilities."""
    counts = np.ascontiguousarray(trainer.vocab.counts, dtype=np.int64)
    lengths = huffman_tree(counts)[2]
    keep = np.minimum(trainer.vocab.keep_thresholds(trainer.params.sample) / 2.0 ** 32, 1.0)
    weight = counts * keep
    return float((weight * lengths).sum() / weight.sum())


def count(kernel, d, k1, m, length):
    """(multiply-adds, row bytes read + written) per center word (the module docstring)."""
    row = 4 * d
    if kernel == "sgns_word2vec":
        return m * (3 * k1 + 1) * d, m * 2 * (1 + k1) * row
    if kernel == "sgns_shared":
        return m * (3 * k1 + 1) * d, 2 * (m + k1) * row
    if kernel == "cbow_word2vec":
        return (2 * m + 3 * k1) * d, 2 * (m + k1) * row
    if kernel == "sg_hs":
        return m * (3 * length + 1) * d, m * 2 * (1 + length) * row
    return (2 * m + 3 * length) * d, 2 * (m + length) * row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(ROOT, "data", "enwiki-sample.txt"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    d = 100
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(a.corpus, "rb") as src, open(corpus, "wb") as dst:
            text = src.read()
            for _ in range(a.repeat):
                dst.write(text)
        trainers = {}
        for name, (_, settings) in KERNELS.items():  # vocabulary once per kernel; compile (or load) it
            trainer = Trainer(vector_size=d, workers=1, epochs=1, seed=1, **settings)
            trainer.build_vocab(corpus_file=corpus)
            trainer.train()
            trainers[name] = trainer
        vocabulary = len(trainers["sgns_shared"].vocab)
        peaks, bandwidths, hot_bandwidths, rates = [], [], [], {name: [] for name in KERNELS}
        for _ in range(a.rounds):  # alternating: the machine's noise hits every kernel alike
            peaks.append(peak_gflops())
            bandwidths.append(row_bandwidth(2 * vocabulary, d))
            hot_bandwidths.append(row_bandwidth(HOT_ROWS, d))
            for name, trainer in trainers.items():
                trainer.train()  # another epoch from where the last one ended: the same work per center
                stats = trainer.epoch_stats[-1]
                rates[name].append(stats.effective_words / stats.seconds)
    peak, bandwidth, hot = (statistics.median(x) for x in (peaks, bandwidths, hot_bandwidths))
    k1 = 6
    shared = trainers["sgns_shared"].epoch_stats[-1]
    m = shared.pairs / shared.effective_words  # CBOW's and HS's windows are skip-gram's: the same walk
    print(f"corpus: {a.corpus} x{a.repeat}, vocabulary {vocabulary:,}, d = {d}, negative 5, window 5, "
          f"sample 1e-3; one worker; medians of {a.rounds} rounds")
    print(f"one core's peak: {peak:.1f} GFLOP/s (float32 matmul, numpy's BLAS, 1 thread); random rows of a "
          f"[{2 * vocabulary:,} x {d}] float32 matrix (syn0 + syn1neg's size) read and written: "
          f"{bandwidth:.1f} GB/s; random rows of a [{HOT_ROWS:,} x {d}] one (in L2): {hot:.1f} GB/s")
    print(f"contexts per center m = {m:.2f}; mean Huffman path length L = "
          f"{mean_path_length(trainers['sg_hs']):.2f}\n")
    print("| kernel | centers/s | multiply-adds / center | GFLOP/s | % of peak | row bytes / center | "
          "flop / byte | roof, rows from L3 | roof, rows from L2 | binding limit | % of it |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (label, settings) in KERNELS.items():
        length = mean_path_length(trainers[name]) if settings.get("hs") else 0.0
        macs, row_bytes = count(name, d, k1, m, length)
        centers = statistics.median(rates[name])
        gflops = 2 * macs * centers / 1e9
        intensity = 2 * macs / row_bytes
        far, near = bandwidth * intensity, hot * intensity
        bound, limit = ("compute", peak) if peak < near else ("rows from L2", near)
        print(f"| {label} (`{name}`) | {centers:,.0f} | {macs:,.0f} | {gflops:.2f} | {100 * gflops / peak:.1f}% | "
              f"{row_bytes:,.0f} | {intensity:.2f} | {far:.1f} | {near:.1f} | {bound} | {100 * gflops / limit:.0f}% |")


if __name__ == "__main__":
    main()
