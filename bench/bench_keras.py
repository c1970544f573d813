"""Benchmark: the Keras paths against stock Keras ``fit``, the Numba engine and gensim, side by side.

    python bench/bench_keras.py [--corpus data/enwiki-sample.txt] [--rounds 2] [--epochs 2]

One corpus, one batch size (1024), the same SGNS model (V words, d=100, k=5 negatives, window 5):

  stock Keras fit       keras.layers.Embedding x2 + Dot, SGD, compile() defaults (XLA off on CPU,
                        one step per execution): what a Keras user writes first
  ours, autodiff        SkipGramModel(gradient="autodiff"): tf.gather lookups, GradientTape,
                        XLA, 32 steps per execution
  ours, analytic + X    SkipGramModel's hand-written sparse gradient with optimizer X: SGD, SoftBatch
                        (4 batches per update), Keras's gradient_accumulation_steps=4, Heun, RK4
  Numba engine          w2v_fastopt.Trainer, 2 workers (shared negatives, and word2vec.c mode,
                        and its other update rules: soft batch of 4 pairs, Heun, RK4)
  gensim                gensim 4 Trainer(sg=1) corpus_file mode, 2 workers

Every system runs in its own process; rounds alternate between the systems so the host's noise hits
all alike, and the table gives each system's median over rounds.  Throughput is steady-state: the
Keras paths are timed on their last epoch (the first compiles the step), the engines over their
whole training (their compilation is cached or ahead of time).  examples/s counts (word, context)
pairs with their k negatives; words/s counts corpus words (in-vocabulary tokens) per second.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from w2v_fastopt.rules import RULES  # noqa: E402

BATCH = 1024
COMBINE = 8  # centers per set of negatives for the combined-windows rule, as bench_engine.py
SYSTEMS = {
    "stock": "stock Keras fit (Embedding, SGD)",
    "autodiff": "ours: autodiff, SGD",
    "sgd": "ours: analytic, SGD",
    "softbatch": "ours: analytic, SoftBatch(SGD, 4)",
    "builtin": "ours: analytic, SGD gradient_accumulation_steps=4",
    "heun": "ours: analytic, Heun",
    "rk4": "ours: analytic, RK4",
}


def engine_system(rule):
    """The benchmark's name for a rule of the Numba engine (``rules.RULES``)."""
    if not rule.sg:
        return f"numba_cbow_{rule.optimizer}"
    if rule.combines:
        return "numba_combined"
    if rule.optimizer == "sgd":
        return "numba" if rule.shared_negatives else "numba_w2v"
    return f"numba_{rule.optimizer}"


ENGINE_RULES = {engine_system(rule): rule for rule in RULES}
SYSTEMS.update({name: f"Numba engine, {rule.label}" for name, rule in ENGINE_RULES.items()})
SYSTEMS["gensim"] = "gensim 4 corpus_file"


def keras_worker(system, corpus_path, epochs, min_count):
    import keras
    import tensorflow as tf  # noqa: F401

    from w2v_fastopt import load_corpus
    from w2v_fastopt.keras import SkipGramExamples, SkipGramLoss, SkipGramModel
    from w2v_fastopt.keras.train import make_optimizer

    corpus = load_corpus(corpus_file=corpus_path, min_count=min_count)
    V = len(corpus.vocab)
    examples = SkipGramExamples(corpus, corpus.vocab, batch_size=BATCH, seed=1)
    lr = 0.025 * BATCH
    if system == "stock":
        words = keras.Input((), dtype="int32")
        outputs = keras.Input((6,), dtype="int32")
        u = keras.layers.Embedding(V, 100)(words)
        t = keras.layers.Embedding(V, 100)(outputs)
        logits = keras.layers.Dot(axes=(1, 2))([u, t])
        model = keras.Model([words, outputs], logits)
        model.compile(optimizer=keras.optimizers.SGD(lr), loss=SkipGramLoss())
    else:
        if system == "autodiff":
            optimizer = keras.optimizers.SGD(lr)
        elif system == "builtin":
            optimizer = keras.optimizers.SGD(lr, gradient_accumulation_steps=4)
        else:  # sgd, softbatch (4 batches), heun, rk4: what --backend keras builds
            optimizer = make_optimizer(system, lr, accumulate=4 if system == "softbatch" else None)
        model = SkipGramModel(V, 100, gradient="autodiff" if system == "autodiff" else "analytic", seed=1)
        model.compile(optimizer=optimizer, steps_per_execution=32)
    times = []
    timer = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: times.append(time.perf_counter()),
                                           on_epoch_end=lambda e, logs: times.append(time.perf_counter()))
    history = model.fit(examples.dataset(), epochs=epochs, verbose=0, shuffle=False, callbacks=[timer])
    seconds = times[-1] - times[-2]
    return {"seconds": seconds, "examples": examples.steps_per_epoch * BATCH, "vocab": V,
            "words": int(corpus.ids.shape[0]), "loss": history.history["loss"][-1],
            "step_ms": seconds / examples.steps_per_epoch * 1e3}


def engine_worker(system, corpus_path, epochs, min_count, workers=2):
    if system == "gensim":
        from gensim.models import Word2Vec
        model = Word2Vec(sg=1, hs=0, vector_size=100, window=5, negative=5, min_count=min_count, epochs=epochs,
                         workers=workers, seed=1, compute_loss=False)
        model.build_vocab(corpus_file=corpus_path)
        t0 = time.perf_counter()
        model.train(corpus_file=corpus_path, total_examples=model.corpus_count,
                    total_words=model.corpus_total_words, epochs=epochs)
        seconds = time.perf_counter() - t0
        words = sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key)
        return {"seconds": seconds / epochs, "examples": None, "words": int(words), "loss": None,
                "vocab": len(model.wv)}
    from w2v_fastopt import Trainer
    rule = ENGINE_RULES[system]
    model = Trainer(corpus_file=corpus_path, epochs=epochs, workers=workers, seed=1, min_count=min_count,
                     optimizer=rule.optimizer, shared_negatives=rule.shared_negatives, sg=int(rule.sg),
                     accumulate=4 if rule.optimizer == "softbatch" else None,
                     combine=COMBINE if rule.combines else 1)
    seconds = model.timings["train"] / epochs
    return {"seconds": seconds, "examples": model.epoch_stats[-1].pairs,
            "words": int(model.vocab.counts.sum()), "loss": model.training_loss, "vocab": len(model.vocab)}


def run(system, corpus, epochs, min_count, engine_workers):
    cmd = [sys.executable, __file__, "--worker", system, "--corpus", corpus, "--epochs", str(epochs),
           "--min-count", str(min_count), "--engine-workers", str(engine_workers)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{system} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(ROOT, "data", "enwiki-sample.txt"))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--min-count", type=int, default=1,
                   help="1 (default): every word of data/, V = 44k, where dense updates of the tables "
                   "show; 5: V = 9k")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--engine-workers", type=int, default=2, help="threads of the Numba engine and gensim")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        if a.worker.startswith(("numba", "gensim")):
            print(json.dumps(engine_worker(a.worker, a.corpus, a.epochs, a.min_count, a.engine_workers)))
        else:
            print(json.dumps(keras_worker(a.worker, a.corpus, a.epochs, a.min_count)))
        return
    systems = a.systems.split(",")
    results = {s: [] for s in systems}
    for r in range(a.rounds):
        for s in systems:
            results[s].append(run(s, a.corpus, a.epochs, a.min_count, a.engine_workers))
            print(f"round {r + 1} {s}: {results[s][-1]}", file=sys.stderr, flush=True)

    def med(s, f):
        values = [f(x) for x in results[s]]
        return statistics.median(values) if values and values[0] is not None else None

    def eps(x):
        return x["examples"] / x["seconds"] if x["examples"] else None

    def wps(x):
        return x["words"] / x["seconds"]

    print(f"corpus {os.path.basename(a.corpus)}, min_count {a.min_count} (V = {results[systems[0]][0]['vocab']:,}), "
          f"batch {BATCH}, d=100, k=5, window 5, {a.epochs} epochs, "
          f"{a.rounds} rounds (medians)\n")
    print("| system | examples/s | words/s | ms/step | vs stock Keras | vs gensim (words/s) | loss |")
    print("|---|---|---|---|---|---|---|")
    stock = med("stock", eps) if "stock" in results else None
    gensim = med("gensim", wps) if "gensim" in results else None
    for s in systems:
        e, w, loss = med(s, eps), med(s, wps), med(s, lambda x: x["loss"])
        step = med(s, lambda x: x.get("step_ms"))
        print(f"| {SYSTEMS[s]} | {f'{e:,.0f}' if e else '—'} | {w:,.0f} | "
              f"{f'{step:.2f}' if step else '—'} | "
              f"{f'{e / stock:.2f}x' if e and stock else '—'} | "
              f"{f'{w / gensim:.2f}x' if gensim else '—'} | {f'{loss:.4f}' if loss else '—'} |")
    if "numba_w2v" in results:
        base = med("numba_w2v", lambda x: x["seconds"])
        print("\nNumba engine, time per epoch relative to its SGD (word2vec.c mode): " + ", ".join(
            f"{s.split('_')[1]} {med(s, lambda x: x['seconds']) / base:.2f}x" for s in systems
            if s in ENGINE_RULES and ENGINE_RULES[s].optimizer != "sgd"))
    if "sgd" in results:
        sgd = med("sgd", lambda x: x["step_ms"])
        print("\nstep time relative to ours, analytic, SGD: " + ", ".join(
            f"{s} {med(s, lambda x: x['step_ms']) / sgd:.2f}x" for s in systems
            if s in ("softbatch", "builtin", "heun", "rk4", "autodiff", "stock")))


if __name__ == "__main__":
    main()
