"""Benchmark: ``w2v_fastopt.Word2Vec`` against gensim's ``Word2Vec``, the same script with one import changed.

    python bench/bench_dropin.py [--corpus data/enwiki-sample.txt] [--repeat 3] [--rounds 2] [--workers 2]
        [--modes cbow-linesentence,sg-linesentence,cbow-list,sg-list,cbow-file,sg-file,cbowhs-linesentence,
                 cbow-stream,sg-list-batch4,cbow-text8]

What a user times: the whole constructor, ``Word2Vec(source, sg=..., workers=2, seed=1)`` with
gensim's other defaults (vector_size 100, window 5, negative 5, min_count 5, sample 1e-3, 5 epochs):
the vocabulary and the training, in a fresh process each (imports excluded; our kernels loaded from
Numba's cache, compiled by a warm-up run first).  The training alone (from gensim's
``on_train_begin`` to ``on_train_end`` callbacks) is the second column.  Sources:

- linesentence: ``LineSentence(path)``, gensim's default way to stream a file;
- list: a list of token lists already in memory (made before the clock starts);
- file: ``corpus_file=path``;
- stream: a class whose ``__iter__`` reads the file again each epoch (any iterable that is not a
  list or one of gensim's corpus classes: trained in gensim's jobs);
- list-batch4: ``batch_words=4``, node2vec's documented call (window 10, min_count 1, skip-gram);
- text8: ``Text8Corpus(path)``, the file as one stream of words cut into sentences of 10,000.

Runs alternate between gensim and ours, round by round; the table gives medians, the ratio to gensim
taken within each round, and the mean quality (WordSim-353, SimLex-999, analogies) over rounds.
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
# mode: (keyword arguments of the constructor, source)
MODES = {
    "cbow-linesentence": ({"sg": 0}, "linesentence"),
    "sg-linesentence": ({"sg": 1}, "linesentence"),
    "cbow-list": ({"sg": 0}, "list"),
    "sg-list": ({"sg": 1}, "list"),
    "cbow-file": ({"sg": 0}, "file"),
    "sg-file": ({"sg": 1}, "file"),
    "cbowhs-linesentence": ({"sg": 0, "hs": 1, "negative": 0}, "linesentence"),
    "cbow-stream": ({"sg": 0}, "stream"),
    "sg-list-batch4": ({"sg": 1, "window": 10, "min_count": 1, "batch_words": 4}, "list"),
    "cbow-text8": ({"sg": 0}, "text8"),
}

WORKER = """
import json, sys, time
sys.path.insert(0, {root!r})
if sys.argv[1] == "gensim":
    from gensim.models import Word2Vec
else:
    from w2v_fastopt import Word2Vec
from gensim.models.callbacks import CallbackAny2Vec
from gensim.models.word2vec import LineSentence, Text8Corpus
from w2v_fastopt.evaluate import evaluate
corpus, source, workers = sys.argv[2], sys.argv[3], int(sys.argv[4])
kwargs = json.loads(sys.argv[5])

class Stream:
    def __iter__(self):
        with open(corpus) as f:
            for line in f:
                yield line.split()

class Clock(CallbackAny2Vec):
    def on_train_begin(self, model):
        self.begin = time.perf_counter()
    def on_train_end(self, model):
        self.end = time.perf_counter()

if source == "list":
    with open(corpus) as f:
        data = {{"sentences": [line.split() for line in f]}}
else:
    data = {{"linesentence": {{"sentences": LineSentence(corpus)}}, "file": {{"corpus_file": corpus}},
            "stream": {{"sentences": Stream()}}, "text8": {{"sentences": Text8Corpus(corpus)}}}}[source]
clock = Clock()
t0 = time.perf_counter()
model = Word2Vec(**data, workers=workers, seed=1, callbacks=[clock], **kwargs)
whole = time.perf_counter() - t0
print(json.dumps(dict(whole=whole, train=clock.end - clock.begin, **evaluate(model.wv))))
"""


def run(system, corpus, mode, workers):
    kwargs, source = MODES[mode]
    out = subprocess.run([sys.executable, "-c", WORKER.format(root=ROOT), system, corpus, source, str(workers),
                          json.dumps(kwargs)], capture_output=True, text=True, check=True)
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
              f"(5 epochs, window 5, negative 5, min_count 5, sample 1e-3) but as the mode says, "
              f"{a.workers} workers", flush=True)
        for mode in modes:  # every kernel a mode needs compiled into Numba's cache, outside the measurements
            run("ours", corpus, mode, 1)
        results = {(m, s): [] for m in modes for s in ("gensim", "ours")}
        for r in range(a.rounds):
            for mode in modes:
                for system in ("gensim", "ours"):
                    results[mode, system].append(run(system, corpus, mode, a.workers))
                    x = results[mode, system][-1]
                    print(f"  round {r + 1} {mode:20s} {system:6s} whole {x['whole']:6.2f}s "
                          f"train {x['train']:6.2f}s", flush=True)
    print()
    print("| mode | system | whole call s | train s | whole vs gensim | train vs gensim | WS-353 | SimLex "
          "| analogies |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in modes:
        for system in ("gensim", "ours"):
            runs = results[mode, system]
            ratio = {k: statistics.median(g[k] / o[k] for g, o in zip(results[mode, "gensim"], runs))
                     for k in ("whole", "train")}
            q = {k: statistics.fmean(x[k] for x in runs) for k in ("wordsim353", "simlex999", "analogies")}
            print(f"| {mode} | {system} | {statistics.median(x['whole'] for x in runs):.2f} | "
                  f"{statistics.median(x['train'] for x in runs):.2f} | {ratio['whole']:.2f}x | "
                  f"{ratio['train']:.2f}x | {q['wordsim353']:.3f} | {q['simlex999']:.3f} | {q['analogies']:.3f} |")


if __name__ == "__main__":
    main()
