"""Digests of the vectors every rule and mode trains: the gate of a change that must not change results.

    python bench/vector_digests.py [--corpus data/enwiki-sample.txt] [--out digests.json]
        [--compare earlier.json]

One worker, seed 7, one epoch on the corpus, in one process: the engine (``Trainer``, what the
command line runs) in every rule of ``rules.RULES`` and each mode that changes what a kernel is
given (CBOW's mean and sum, hierarchical softmax alone and with negatives, whole windows, context
combining, the loss on and off), and the gensim drop-in (``Word2Vec``) from a list and from a
corpus file.  Prints one line per run: its name and the SHA-256 of its trained matrices (input,
output and, with hierarchical softmax, the tree's rows), and the loss.  ``--compare`` reads an
earlier ``--out`` file and exits 1 if any digest differs.  With one worker and a fixed seed a run is
bit-identical, so two versions that compute the same thing print the same digests on one host (the
host matters: LLVM compiles for its CPU, and float sums may be ordered differently elsewhere).
Run it twice with an empty ``NUMBA_CACHE_DIR`` to compare freshly compiled kernels with cached ones.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from w2v_fastopt import Trainer  # noqa: E402

BASE = dict(vector_size=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=1, workers=1, seed=7)
ENGINE = {
    "sg-shared": {},
    "sg-shared-whole-windows": dict(shrink_windows=False),
    "sg-combine8": dict(combine=8),
    "sg-word2vec": dict(shared_negatives=False),
    "sg-softbatch": dict(optimizer="softbatch"),
    "sg-softbatch-k3": dict(optimizer="softbatch", accumulate=3),
    "sg-heun": dict(optimizer="heun"),
    "sg-rk4": dict(optimizer="rk4"),
    "sg-radial": dict(optimizer="sgd+radial"),
    "cbow-mean": dict(sg=0),
    "cbow-sum": dict(sg=0, cbow_mean=0),
    "sg-hs": dict(hs=1, negative=0),
    "sg-hs-ns": dict(hs=1),
    "cbow-hs": dict(sg=0, hs=1, negative=0),
    "cbow-hs-ns": dict(sg=0, hs=1),
}
DROPIN = {
    "dropin-cbow-list": dict(sg=0),
    "dropin-sg-list": dict(sg=1),
    "dropin-sg-word2vec-list": dict(sg=1, shared_negatives=False),
    "dropin-cbow-hs-list": dict(sg=0, hs=1, negative=0),
    "dropin-sg-hs-ns-list": dict(sg=1, hs=1),
    "dropin-cbow-file": dict(sg=0, file=True),
    "dropin-sg-file": dict(sg=1, file=True),
    "dropin-sg-hs-file": dict(sg=1, hs=1, negative=0, file=True),
}


def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        if a is not None:
            h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=os.path.join(ROOT, "data", "enwiki-sample.txt"))
    parser.add_argument("--out", help="write the digests here (JSON)")
    parser.add_argument("--compare", help="an earlier --out file: exit 1 if a digest differs")
    args = parser.parse_args()
    results = {}
    for name, extra in ENGINE.items():
        for loss in (True, False):
            model = Trainer(corpus_file=args.corpus, compute_loss=loss, **dict(BASE, **extra))
            key = f"{name}{'' if loss else '-noloss'}"
            results[key] = [digest(model.vectors, model.syn1neg, model.syn1), model.training_loss]
            print(f"{key:<32} {results[key][0]}  loss {model.training_loss}", flush=True)
    from gensim.models.word2vec import LineSentence

    from w2v_fastopt import Word2Vec
    sentences = list(LineSentence(args.corpus))
    for name, extra in DROPIN.items():
        extra = dict(extra)
        source = dict(corpus_file=args.corpus) if extra.pop("file", False) else dict(sentences=sentences)
        model = Word2Vec(**source, vector_size=100, epochs=1, workers=1, seed=7, compute_loss=True, **extra)
        syn1 = getattr(model, "syn1", None) if model.hs else None
        results[name] = [digest(model.wv.vectors, getattr(model, "syn1neg", None) if model.negative else None,
                                syn1), model.get_latest_training_loss()]
        print(f"{name:<32} {results[name][0]}  loss {results[name][1]}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    if args.compare:
        with open(args.compare) as f:
            earlier = json.load(f)
        differ = [k for k in results if k in earlier and earlier[k][0] != results[k][0]]
        missing = [k for k in earlier if k not in results]
        print(f"compared with {args.compare}: {len(results) - len(differ)} of {len(results)} equal"
              + (f"; differ: {', '.join(differ)}" if differ else "")
              + (f"; not run: {', '.join(missing)}" if missing else ""))
        return 1 if differ or missing else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
