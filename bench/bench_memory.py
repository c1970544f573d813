"""Peak memory on a big generated corpus: w2v-fastopt against gensim, vocabulary pass and training.

    python bench/bench_memory.py [--tokens 100_000_000] [--types 2_000_000] [--epochs 1]
                                 [--max-vocab-size N] [--only-ours]

The corpus is generated to a temporary file: ``--tokens`` tokens drawn from a Zipf(1) distribution
over ``--types`` word types (most of them occur), 20 tokens a line.  Each measurement is a fresh
process that reports its own peak RSS (VmHWM; the parent's ru_maxrss of a child would be floored
at the parent's size at fork): "vocabulary" builds the vocabulary only,
"whole job" builds it, trains ``--epochs`` epochs and saves.  Ours keeps the token ids in a
memory-mapped temporary file whose pages it hands back as it goes; gensim re-reads the text file.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

OURS = """
import sys, time
from w2v_fastopt import Trainer
corpus, out, epochs, vocab_only = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
limit = int(sys.argv[5]) if sys.argv[5] != "0" else None
model = Trainer(epochs=epochs, workers=2, max_vocab_size=limit)
model.build_vocab(corpus_file=corpus)
print(len(model.vocab), "words", file=sys.stderr)
if not vocab_only:
    model.train()
    model.save_word2vec_format(out)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("peak-rss-kb", line.split()[1], file=sys.stderr)
"""

GENSIM = """
import sys
from gensim.models import Word2Vec
corpus, out, epochs, vocab_only = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
limit = int(sys.argv[5]) if sys.argv[5] != "0" else None
model = Word2Vec(sg=1, epochs=epochs, workers=2, max_vocab_size=limit)
model.build_vocab(corpus_file=corpus)
print(len(model.wv), "words", file=sys.stderr)
if not vocab_only:
    model.train(corpus_file=corpus, total_examples=model.corpus_count,
                total_words=model.corpus_total_words, epochs=epochs)
    model.wv.save_word2vec_format(out, binary=True)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("peak-rss-kb", line.split()[1], file=sys.stderr)
"""


def generate(path, tokens, types, seed=1, line=20, chunk=5_000_000):
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / np.arange(1, types + 1))
    cdf /= cdf[-1]
    words = np.array([b"w%x" % i for i in range(types)], dtype=object)
    with open(path, "wb") as f:
        for start in range(0, tokens, chunk):
            n = min(chunk, tokens - start)
            ranks = np.searchsorted(cdf, rng.random(n))
            picked = words[ranks]
            f.write(b"\n".join(b" ".join(picked[i:i + line]) for i in range(0, n, line)) + b"\n")


def peak_rss(script, corpus, out, epochs, vocab_only, max_vocab_size=0):
    t0 = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", script, corpus, out, str(epochs),
                              "1" if vocab_only else "0", str(max_vocab_size)], cwd=ROOT,
                             stderr=subprocess.PIPE, text=True)
    err = child.stderr.read()
    if child.wait() != 0:
        raise SystemExit(err[-2000:])
    lines = err.strip().splitlines()
    words = next(line for line in lines if line.endswith(" words"))
    return int(lines[-1].split()[-1]) / 1024, time.perf_counter() - t0, words


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=100_000_000)
    p.add_argument("--types", type=int, default=2_000_000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-vocab-size", type=int, default=0,
                   help="prune the counting pass to this many words (both systems; 0: no limit)")
    p.add_argument("--only-ours", action="store_true",
                   help="skip gensim (its runs take ~10 min at 100M tokens); no ratios then")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "zipf.txt")
        t0 = time.perf_counter()
        generate(corpus, a.tokens, a.types)
        size = os.path.getsize(corpus)
        print(f"corpus: {a.tokens:,} tokens, Zipf(1) over {a.types:,} types, {size / 1e6:,.0f} MB, "
              f"generated in {time.perf_counter() - t0:.0f}s; {a.epochs} epoch(s), 2 workers, defaults, "
              f"max_vocab_size {a.max_vocab_size or None}")
        rows = []
        systems = [("gensim 4 corpus_file", GENSIM), ("w2v-fastopt", OURS)]
        for label, script in systems[1:] if a.only_ours else systems:
            out = os.path.join(tmp, "v.bin")
            vocab_rss, vocab_s, words = peak_rss(script, corpus, out, a.epochs, True, a.max_vocab_size)
            job_rss, job_s, _ = peak_rss(script, corpus, out, a.epochs, False, a.max_vocab_size)
            rows.append((label, vocab_rss, vocab_s, job_rss, job_s, words))
            print(f"  {label}: vocabulary {vocab_rss:,.0f} MB in {vocab_s:.0f}s ({words}); "
                  f"whole job {job_rss:,.0f} MB in {job_s:.0f}s", flush=True)
    if a.only_ours:
        return
    base = rows[0]
    print()
    print("| system | vocabulary pass peak RSS MB | whole job peak RSS MB | whole job s |")
    print("|---|---|---|---|")
    for label, vocab_rss, vocab_s, job_rss, job_s, _ in rows:
        print(f"| {label} | {vocab_rss:,.0f} ({vocab_rss / base[1]:.2f}x) | "
              f"{job_rss:,.0f} ({job_rss / base[3]:.2f}x) | {job_s:.0f} ({base[4] / job_s:.2f}x faster) |")


if __name__ == "__main__":
    main()
