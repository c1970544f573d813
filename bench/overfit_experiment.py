"""Do ODE-solver optimizers overfit word2vec?  SGD, Heun, RK4 and soft batch, train vs held-out.

    python bench/overfit_experiment.py [--corpus data/enwiki-sample.txt] [--epochs 10] [--seeds 1 2]
                                       [--out bench/results]      (needs pip install -e ".[bench]")

The seed article found that Heun-type optimizers drive the training loss very low while validation
loss and accuracy stay poor.  Here, on word2vec (the Numba engine, word2vec.c's pair stream):

- the corpus is split by line: every 10th line is held out, the rest is trained on;
- each optimizer trains ``--epochs`` epochs with the same alpha schedule (linear to min_alpha over
  all epochs), for each seed;
- after every epoch, with the weights still: the SGNS loss of a fixed sample of training examples and
  of the held-out examples (the same sampler: the training vocabulary's subsampling and unigram^0.75
  negatives, a fixed seed, so every evaluation sees the same examples), WordSim-353, SimLex-999 and
  analogy accuracy, and the training wall time so far.

Equal epochs: the curves per epoch.  Equal wall time: the quality-vs-time plot, and the report reads
every optimizer's scores at the time SGD needed for all its epochs.  Output in ``--out``:
overfit.csv, overfit_loss.png, overfit_quality.png, overfit_quality_vs_time.png and overfit.md.
"""
import argparse
import csv
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from w2v_fastopt import Trainer  # noqa: E402
from w2v_fastopt.corpus import read_corpus_file  # noqa: E402
from w2v_fastopt.evaluate import evaluate  # noqa: E402
from w2v_fastopt.kernels.pairs import skipgram_examples  # noqa: E402
from w2v_fastopt.kernels.rng import seed_states  # noqa: E402
from w2v_fastopt.kernels.walk import MAX_SENTENCE, Corpus  # noqa: E402
from w2v_fastopt.rules import OPTIMIZERS as RULE_NAMES  # noqa: E402

OPTIMIZERS = RULE_NAMES  # sgd (word2vec.c mode), softbatch, heun, rk4
KERAS_OPTIMIZERS = ("sgd", "heun", "softbatch")  # with --keras: Keras fit, batch 1024, as "keras-<name>"
EVAL_EXAMPLES = 200_000


def split(corpus, directory):
    """Every 10th line to held-out.txt, the others to train.txt."""
    train, held = os.path.join(directory, "train.txt"), os.path.join(directory, "heldout.txt")
    with open(corpus, "rb") as src, open(train, "wb") as t, open(held, "wb") as h:
        for i, line in enumerate(src):
            (h if i % 10 == 9 else t).write(line)
    return train, held


def example_sample(ids, starts, vocab, window, negative, n, seed):
    """Up to n skip-gram examples (inputs, outputs) of a corpus, drawn by the training sampler from
    its sentences taken in a random order: a sample of the whole corpus, whatever its size.  (Taken
    in file order, the examples came from the first sentences only: the first ~5% of a training
    file and all of a held-out file ten times smaller, which were not measured alike.)"""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(starts) - 1)
    lengths = np.diff(starts)[order]
    shuffled = Corpus(np.concatenate([ids[starts[s]:starts[s + 1]] for s in order]),
                      np.concatenate([[0], np.cumsum(lengths)]).astype(starts.dtype))
    tables = vocab.tables(1e-3, 0.75)
    capacity = max(n, 2 * window * MAX_SENTENCE) + 2 * window * MAX_SENTENCE
    inputs = np.empty(capacity, np.int32)
    outputs = np.empty((capacity, negative + 1), np.int32)
    cursor = np.array([0, seed_states(seed, 1)[0]], dtype=np.uint64)
    made, _, _ = skipgram_examples(tables, shuffled, cursor, window, negative, np.empty(MAX_SENTENCE, np.int32),
                                   inputs, outputs)
    keep = rng.permutation(made)[:n]
    return inputs[keep], outputs[keep]


def sgns_loss(syn0, syn1neg, sample):
    """Mean SGNS loss per example: -log σ(u·t_0) - Σ log σ(-u·t_o), float64."""
    inputs, outputs = sample
    total = 0.0
    for i in range(0, len(inputs), 20_000):
        u = syn0[inputs[i:i + 20_000]].astype(np.float64)
        t = syn1neg[outputs[i:i + 20_000]].astype(np.float64)
        z = np.einsum("bd,bjd->bj", u, t)
        z[:, 0] = -z[:, 0]
        total += np.logaddexp(0.0, z).sum()  # softplus(-z_0) + Σ softplus(z_o)
    return total / len(inputs)


class Recorder:
    """A progress reporter for ``Trainer`` that measures the model after every epoch."""

    def __init__(self, optimizer, seed, model_ref, samples, rows, last_epoch=None):
        self.optimizer, self.seed, self.model_ref, self.samples, self.rows = optimizer, seed, model_ref, samples, rows
        self.last_epoch = last_epoch  # measure only after this epoch (None: after every epoch)
        self.train_seconds = 0.0

    def compiled(self, seconds):
        pass

    def update(self, *args):
        pass

    def epoch_end(self, stats):
        model = self.model_ref[0]
        self.train_seconds += stats.seconds
        if self.last_epoch is not None and stats.epoch != self.last_epoch:
            return
        scores = evaluate(model.wv)
        model.wv.norms = None
        self.rows.append({
            "optimizer": self.optimizer, "seed": self.seed, "epoch": stats.epoch,
            "train_seconds": round(self.train_seconds, 4), "running_train_loss": stats.loss,
            "train_loss": sgns_loss(model.vectors, model.syn1neg, self.samples[0]),
            "heldout_loss": sgns_loss(model.vectors, model.syn1neg, self.samples[1]),
            "wordsim353": scores["wordsim353"], "simlex999": scores["simlex999"],
            "analogies": scores["analogies"]})
        r = self.rows[-1]
        print(f"{self.optimizer:9s} seed {self.seed} epoch {stats.epoch:2d}: train {r['train_loss']:.4f} "
              f"held-out {r['heldout_loss']:.4f} WS {r['wordsim353']:.3f} SL {r['simlex999']:.3f} "
              f"an {r['analogies']:.4f} ({self.train_seconds:.1f}s)", file=sys.stderr, flush=True)


def keras_run(train_path, held_path, optimizer, epochs, seed, rows, every_epoch=True):
    """One Keras fit (``keras/train.py``'s settings), measured after every epoch (or the last) like
    the engine."""
    import keras

    from w2v_fastopt import load_corpus
    from w2v_fastopt.keras.train import train_corpus
    from w2v_fastopt.params import Params

    corpus = load_corpus(corpus_file=train_path)
    vocab = corpus.vocab
    held = read_corpus_file(held_path, vocabulary=[w.encode() for w in vocab.words])
    samples = (example_sample(corpus.ids, corpus.starts, vocab, 5, 5, EVAL_EXAMPLES, 1000 + seed),
               example_sample(held.ids, held.starts, vocab, 5, 5, EVAL_EXAMPLES, 2000 + seed))
    name = f"keras-{optimizer}"
    clock = {"seconds": 0.0}

    def begin(epoch, logs=None):
        clock["start"] = time.perf_counter()

    def end(epoch, logs=None):
        clock["seconds"] += time.perf_counter() - clock["start"]
        if not every_epoch and epoch + 1 != epochs:
            return
        model = holder["model"]
        syn0, syn1neg = model.input_vectors.numpy(), model.output_vectors.numpy()
        scores = evaluate(model.to_keyed_vectors(vocab.words))
        rows.append({"optimizer": name, "seed": seed, "epoch": epoch + 1,
                     "train_seconds": round(clock["seconds"], 4), "running_train_loss": logs["loss"],
                     "train_loss": sgns_loss(syn0, syn1neg, samples[0]),
                     "heldout_loss": sgns_loss(syn0, syn1neg, samples[1]),
                     "wordsim353": scores["wordsim353"], "simlex999": scores["simlex999"],
                     "analogies": scores["analogies"]})
        print(f"{name:15s} seed {seed} epoch {epoch + 1:2d}: held-out {rows[-1]['heldout_loss']:.4f} "
              f"WS {scores['wordsim353']:.3f}", file=sys.stderr, flush=True)

    holder = {}

    class Hold(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            holder["model"] = self.model

    train_corpus(corpus, Params(epochs=epochs, seed=seed), optimizer=optimizer, verbose=0,
                 callbacks=[Hold(), keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)])


def engine_run(train_path, held_path, optimizer, epochs, seed, workers, rows, every_epoch=True, alpha=0.025):
    """One Numba-engine run on word2vec.c's pair stream, measured after every epoch (or the last);
    ``alpha`` decays linearly to alpha/250 (the defaults' 0.025 -> 0.0001)."""
    model = Trainer(epochs=epochs, seed=seed, workers=workers, optimizer=optimizer, alpha=alpha,
                    min_alpha=alpha / 250, shared_negatives=False)  # SGD on the pair stream the others walk
    model.build_vocab(corpus_file=train_path)
    vocab = model.vocab
    ids, starts = model._corpus
    held = read_corpus_file(held_path, vocabulary=[w.encode() for w in vocab.words])
    samples = (example_sample(ids, starts, vocab, 5, 5, EVAL_EXAMPLES, 1000 + seed),
               example_sample(held.ids, held.starts, vocab, 5, 5, EVAL_EXAMPLES, 2000 + seed))
    model.progress = Recorder(optimizer, seed, [model], samples, rows, None if every_epoch else epochs)
    model.train()
    return model, samples


def run(corpus, epochs, seeds, workers, with_keras=False):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        train_path, held_path = split(corpus, tmp)
        for seed in seeds:
            if with_keras:
                for optimizer in KERAS_OPTIMIZERS:
                    keras_run(train_path, held_path, optimizer, epochs, seed, rows)
            for optimizer in OPTIMIZERS:
                engine_run(train_path, held_path, optimizer, epochs, seed, workers, rows)
    return rows


def mean_by(rows, optimizer, epoch, key):
    return statistics.mean(r[key] for r in rows if r["optimizer"] == optimizer and r["epoch"] == epoch)


def at_time(rows, optimizer, seconds, key):
    """Mean over seeds of the score of the last epoch finished by ``seconds`` of training (None if none)."""
    values = []
    for seed in sorted({r["seed"] for r in rows}):
        done = [r for r in rows if r["optimizer"] == optimizer and r["seed"] == seed and r["train_seconds"] <= seconds]
        if done:
            values.append(done[-1][key])
    return statistics.mean(values) if values else None


def plots(rows, epochs, out):
    """Small multiples, one column per optimizer, its reference SGD (same engine) in grey in every
    panel: overfit_loss.png (train solid, held-out dashed, per epoch), overfit_quality.png (a row
    per score, per epoch) and overfit_quality_vs_time.png (the same against training seconds)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(1, epochs + 1))
    names = list(dict.fromkeys(r["optimizer"] for r in rows))

    def curve(optimizer, key):
        return [mean_by(rows, optimizer, e, key) for e in x]

    def reference(optimizer):
        return "keras-sgd" if optimizer.startswith("keras-") else "sgd"

    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 3.2), sharey=True, squeeze=False)
    for ax, optimizer in zip(axes[0], names):
        base = reference(optimizer)
        if base != optimizer:
            ax.plot(x, curve(base, "train_loss"), color="0.75", label=f"{base} train")
            ax.plot(x, curve(base, "heldout_loss"), "--", color="0.75", label=f"{base} held-out")
        ax.plot(x, curve(optimizer, "train_loss"), color="C0", label="train")
        ax.plot(x, curve(optimizer, "heldout_loss"), "--", color="C3", label="held-out")
        ax.set_title(optimizer)
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("mean SGNS loss per example")
    handles = axes[0][-1].get_legend_handles_labels()
    axes[0][-1].legend(*handles, fontsize=7)
    fig.suptitle("train (solid) and held-out (dashed) loss; grey: SGD of the same engine", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "overfit_loss.png"), dpi=110)
    plt.close(fig)

    for name, key_x, xlabel in (("overfit_quality.png", "epoch", "epoch"),
                                ("overfit_quality_vs_time.png", "train_seconds", "training seconds")):
        scores = ("wordsim353", "simlex999", "analogies")
        fig, axes = plt.subplots(len(scores), len(names), figsize=(2.6 * len(names), 2.3 * len(scores)),
                                 sharex=key_x == "epoch", sharey="row", squeeze=False)
        for row, key in zip(axes, scores):
            for ax, optimizer in zip(row, names):
                base = reference(optimizer)
                if base != optimizer:
                    ax.plot(curve(base, key_x), curve(base, key), marker=".", color="0.75")
                ax.plot(curve(optimizer, key_x), curve(optimizer, key), marker=".", color="C0")
                ax.set_title(optimizer if key == scores[0] else "", fontsize=9)
            row[0].set_ylabel(key)
        for ax in axes[-1]:
            ax.set_xlabel(xlabel)
        fig.suptitle(f"quality against {xlabel}; grey: SGD of the same engine", fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)


def report(rows, corpus, epochs, seeds, out):
    last = epochs
    keras_flag = " --keras" if any(r["optimizer"].startswith("keras-") for r in rows) else ""
    lines = ["# Do ODE-solver optimizers overfit word2vec?\n",
             f"`python bench/overfit_experiment.py --corpus {os.path.relpath(corpus, ROOT)} --epochs {epochs} "
             f"--seeds {' '.join(map(str, seeds))}{keras_flag}`  "
             f"(Numba engine, word2vec.c's pair stream, 2 workers; keras-*: Keras fit, batch 1024; "
             f"every 10th line held out; means over seeds {', '.join(map(str, seeds))})\n",
             "## After equal epochs\n",
             "| optimizer | train loss | held-out loss | gap | WordSim-353 | SimLex-999 | analogies | train s |",
             "|---|---|---|---|---|---|---|---|"]
    names = list(dict.fromkeys(r["optimizer"] for r in rows))
    for o in names:
        tr, he = mean_by(rows, o, last, "train_loss"), mean_by(rows, o, last, "heldout_loss")
        lines.append(f"| {o} | {tr:.4f} | {he:.4f} | {he - tr:.4f} | {mean_by(rows, o, last, 'wordsim353'):.3f} | "
                     f"{mean_by(rows, o, last, 'simlex999'):.3f} | {mean_by(rows, o, last, 'analogies'):.4f} | "
                     f"{mean_by(rows, o, last, 'train_seconds'):.1f} |")
    budget = mean_by(rows, "sgd", last, "train_seconds")
    lines += [f"\n## At equal wall time ({budget:.1f} s of training, what SGD took for {epochs} epochs)\n",
              "| optimizer | epochs done | held-out loss | WordSim-353 | SimLex-999 | analogies |",
              "|---|---|---|---|---|---|"]
    for o in names:
        done = at_time(rows, o, budget * 1.05, "epoch")
        if done is None:
            lines.append(f"| {o} | 0 | — | — | — | — |")
            continue
        at = {key: at_time(rows, o, budget * 1.05, key)
              for key in ("heldout_loss", "wordsim353", "simlex999", "analogies")}
        lines.append(f"| {o} | {done:.1f} | {at['heldout_loss']:.4f} | {at['wordsim353']:.3f} | "
                     f"{at['simlex999']:.3f} | {at['analogies']:.4f} |")
    seeds_done = sorted({r["seed"] for r in rows})

    def deltas(o, key):
        """Per seed, the optimizer's value minus SGD's (same engine) after the last epoch."""
        base = "keras-sgd" if o.startswith("keras-") else "sgd"
        out = []
        for seed in seeds_done:
            final = {r["optimizer"]: r for r in rows if r["seed"] == seed and r["epoch"] == last}
            out.append(final[o][key] - final[base][key])
        return out

    def show(values, digits):
        return ", ".join(f"{v:+.{digits}f}" for v in values)

    verdict = []
    for o in [n for n in names if n not in ("sgd", "keras-sgd")]:
        train, held = deltas(o, "train_loss"), deltas(o, "heldout_loss")
        ws, sl, an = deltas(o, "wordsim353"), deltas(o, "simlex999"), deltas(o, "analogies")
        pattern = all(t < -0.005 for t in train) and all(h > 0.005 for h in held)
        held_up = all(h > 0.005 for h in held)
        worse = all(w < -0.01 for w in ws) or all(a < -0.002 for a in an)
        verdict.append(
            f"- **{o}** minus {'Keras ' if o.startswith('keras-') else ''}SGD after {last} epochs, seed by seed: "
            f"training loss {show(train, 4)}, "
            f"held-out loss {show(held, 4)}; WordSim-353 {show(ws, 3)}, SimLex-999 {show(sl, 3)}, "
            f"analogies {show(an, 4)}. "
            + ("Loss: the article's pattern (training loss lower, held-out loss higher, both by more "
               "than 0.005) in every seed. " if pattern else
               "Loss: held-out loss higher in every seed, training loss not clearly lower. " if held_up else
               "Loss: not the article's pattern (differences under 0.005, or not in every seed). ")
            + ("Quality: worse." if worse else "Quality: not worse (differences within the seeds' spread, "
               "or better)."))
    lines += ["\n## Verdict\n"] + verdict + [
        "\nPlots: `overfit_loss.png` (train vs held-out loss per epoch), `overfit_quality.png` "
        "(scores per epoch), `overfit_quality_vs_time.png` (scores vs training time). Data: `overfit.csv`."]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "overfit.md"), "w") as f:
        f.write(text)
    return text


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(ROOT, "data", "enwiki-sample.txt"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--keras", action="store_true",
                   help="also Keras fit with SGD, Heun and soft batch (batch 1024; needs the [keras] extra)")
    p.add_argument("--from-csv", help="redo the plots and the report from an earlier run's overfit.csv")
    a = p.parse_args()
    if a.from_csv:
        with open(a.from_csv) as f:
            rows = [{k: (v if k == "optimizer" else float(v) if "." in v or "e" in v else int(v))
                     for k, v in r.items()} for r in csv.DictReader(f)]
        epochs, seeds = max(r["epoch"] for r in rows), sorted({r["seed"] for r in rows})
        plots(rows, epochs, a.out)
        print(report(rows, a.corpus, epochs, seeds, a.out))
        return
    if not os.path.isfile(a.corpus):
        raise SystemExit(f"overfit_experiment: error: {a.corpus}: no such file")
    os.makedirs(a.out, exist_ok=True)
    t0 = time.perf_counter()
    rows = run(a.corpus, a.epochs, a.seeds, a.workers, a.keras)
    with open(os.path.join(a.out, "overfit.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plots(rows, a.epochs, a.out)
    print(report(rows, a.corpus, a.epochs, a.seeds, a.out))
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
