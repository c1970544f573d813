"""Benchmark: ``w2v_fastopt.Word2Vec`` against gensim's ``Word2Vec``, the same script with one import changed.

    python bench/bench_dropin.py [--corpus data/enwiki-sample.txt] [--repeat 3] [--rounds 2]
        [--modes sg-iterable,sg-file,cbow-iterable,cbow-file] [--workers 2]

Each run is a fresh process that builds the vocabulary and trains with gensim's defaults but ``sg``
(vector_size 100, window 5, negative 5, min_count 5, sample 1e-3, 5 epochs), from an iterable
(gensim's ``LineSentence``: the corpus streamed, tokenized by gensim, in jobs of 10,000 words) or from
``corpus_file``.  Runs alternate between gensim and ours, round by round; the table gives medians of
the training time (``train()``, vocabulary excluded), the ratio to gensim taken within each round, and
the mean quality (WordSim-353, SimLex-999, analogies) over rounds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from bench_engine import repeated_corpus

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODES = {"sg-iterable": (1, False), "sg-file": (1, True), "cbow-iterable": (0, False), "cbow-file": (0, True)}

WORKER = """
import json, sys, time
sys.path.insert(0, {root!r})
if sys.argv[1] == "gensim":
    from gensim.models import Word2Vec
else:
    from w2v_fastopt import Word2Vec
from gensim.models.word2vec import LineSentence
from w2v_fastopt.evaluate import evaluate
corpus, sg, from_file, workers = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", int(sys.argv[5])
model = Word2Vec(sg=sg, workers=workers, seed=1)
source = dict(corpus_file=corpus) if from_file else dict(corpus_iterable=LineSentence(corpus))
model.build_vocab(**source)
t0 = time.perf_counter()
model.train(**source, total_examples=model.corpus_count, total_words=model.corpus_total_words, epochs=model.epochs)
seconds = time.perf_counter() - t0
print(json.dumps(dict(seconds=seconds, **evaluate(model.wv))))
"""


def run(system, corpus, sg, from_file, workers):
    code = WORKER.format(root=ROOT)
    out = subprocess.run([sys.executable, "-c", code, system, corpus, str(sg), str(int(from_file)), str(workers)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(ROOT, "data", "enwiki-sample.txt"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--modes", default=",".join(MODES))
    a = p.parse_args()
    modes = a.modes.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        corpus, n_tokens = repeated_corpus(a.corpus, a.repeat, tmp)
        print(f"corpus: {a.corpus} x{a.repeat} = {n_tokens:,} tokens; gensim's defaults "
              f"(5 epochs, window 5, negative 5, min_count 5, sample 1e-3), {a.workers} workers", flush=True)
        run("ours", corpus, 1, True, 1)  # the kernels compiled into Numba's cache, outside the measurements
        results = {(m, s): [] for m in modes for s in ("gensim", "ours")}
        for r in range(a.rounds):
            for mode in modes:
                sg, from_file = MODES[mode]
                for system in ("gensim", "ours"):
                    results[mode, system].append(run(system, corpus, sg, from_file, a.workers))
                    print(f"  round {r + 1} {mode:14s} {system:6s} train {results[mode, system][-1]['seconds']:6.2f}s",
                          flush=True)
    print()
    print("| mode | system | train s | speed-up vs gensim | WS-353 | SimLex | analogies |")
    print("|---|---|---|---|---|---|---|")
    for mode in modes:
        for system in ("gensim", "ours"):
            runs = results[mode, system]
            speed = statistics.median(g["seconds"] / o["seconds"] for g, o in zip(results[mode, "gensim"], runs))
            q = {k: statistics.fmean(x[k] for x in runs) for k in ("wordsim353", "simlex999", "analogies")}
            print(f"| {mode} | {system} | {statistics.median(x['seconds'] for x in runs):.2f} | {speed:.2f}x | "
                  f"{q['wordsim353']:.3f} | {q['simlex999']:.3f} | {q['analogies']:.3f} |")


if __name__ == "__main__":
    main()
