"""The overfitting experiment over a grid that shows the regime: corpora x epochs x workers x seeds.

    python scripts/make_big_corpus.py                        # bench/big-corpus.txt, ~11x data/
    python bench/overfit_grid.py [--corpora data/enwiki-sample.txt bench/big-corpus.txt]
        [--epochs 1 3 5 10] [--workers 2 1] [--seeds 1 2 3] [--optimizers sgd softbatch heun rk4]
        [--keras-corpus data/enwiki-sample.txt] [--out bench/results/grid]
                                                  (needs the [bench] extra; --keras-corpus '' for none)

Each cell is ``overfit_experiment``'s measurement (every 10th line held out; the SGNS loss of fixed
samples of training and held-out examples, drawn alike from the whole of each; WordSim-353,
SimLex-999, analogies) taken once, after the last epoch of a run of E epochs (the learning rate
decays to min_alpha over the E epochs, so a 3-epoch run is not the 10-epoch run's third epoch).
Every optimizer of the engine (sgd, softbatch, heun, rk4) runs each cell; Keras (sgd, heun,
softbatch, batch 1024) only on ``--keras-corpus``.  Rows are appended to OUT/grid.csv as each run
ends, and a rerun skips the runs already there: the grid can be stopped and resumed.  Then
OUT/grid.md (each optimizer minus SGD of its engine, per cell, over seeds) and two plots of small
multiples: grid_loss.png (the loss differences against epochs) and grid_quality_vs_time.png
(each run's scores against its training seconds: equal wall time read across).
"""
import argparse
import csv
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import overfit_experiment as ox  # noqa: E402

FIELDS = ["corpus", "workers", "epochs", "optimizer", "seed", "epoch", "train_seconds", "running_train_loss",
          "train_loss", "heldout_loss", "wordsim353", "simlex999", "analogies"]
METRICS = ("train_loss", "heldout_loss", "wordsim353", "simlex999", "analogies")


def read_rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [{k: v if k in ("corpus", "optimizer") else float(v) if "." in v or "e" in v or "n" in v
                 else int(v) for k, v in r.items()} for r in csv.DictReader(f)]


def append_rows(path, rows):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def cells(corpora, epochs, workers, seeds, keras_corpus, optimizers=ox.OPTIMIZERS):
    """(corpus, workers, epochs, seed, engine optimizer or keras-*) in the order they run: the
    2-worker cells of every corpus first, so that a stopped grid has the default setting."""
    for w in workers:
        for corpus in corpora:
            for seed in seeds:
                for e in epochs:
                    if w == workers[0] and keras_corpus and os.path.abspath(corpus) == os.path.abspath(keras_corpus):
                        for optimizer in ox.KERAS_OPTIMIZERS:
                            yield corpus, w, e, seed, f"keras-{optimizer}"
                    for optimizer in optimizers:
                        yield corpus, w, e, seed, optimizer


def run_grid(a, csv_path):
    done = {(r["corpus"], r["workers"], r["epochs"], r["seed"], r["optimizer"]) for r in read_rows(csv_path)}
    with tempfile.TemporaryDirectory() as tmp:
        splits = {}
        for corpus, w, e, seed, optimizer in cells(a.corpora, a.epochs, a.workers, a.seeds, a.keras_corpus,
                                                   a.optimizers):
            name = os.path.basename(corpus)
            keras = optimizer.startswith("keras-")
            if (name, 0 if keras else w, e, seed, optimizer) in done:
                continue
            if corpus not in splits:
                folder = os.path.join(tmp, str(len(splits)))
                os.makedirs(folder)
                splits[corpus] = ox.split(corpus, folder)
            rows = []
            t0 = time.perf_counter()
            if keras:
                ox.keras_run(*splits[corpus], optimizer.removeprefix("keras-"), e, seed, rows, every_epoch=False)
            else:
                ox.engine_run(*splits[corpus], optimizer, e, seed, w, rows, every_epoch=False)
            for r in rows:
                r.update(corpus=name, workers=0 if keras else w, epochs=e)
            append_rows(csv_path, rows)
            print(f"  {name} workers {w} epochs {e} seed {seed} {optimizer}: "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


def base_of(optimizer):
    return "keras-sgd" if optimizer.startswith("keras-") else "sgd"


def deltas(rows, corpus, workers, epochs, optimizer, key):
    """Per seed, ``optimizer``'s final value minus its engine's SGD's, in the same cell."""
    final = {}
    for r in rows:
        if (r["corpus"], r["workers"], r["epochs"]) == (corpus, workers, epochs):
            final[(r["optimizer"], r["seed"])] = r[key]
    seeds = sorted(s for (o, s) in final if o == optimizer and (base_of(optimizer), s) in final)
    return [final[(optimizer, s)] - final[(base_of(optimizer), s)] for s in seeds]


def settings(rows):
    """The grid's (corpus, workers) panels and epochs, in first-seen order."""
    panels = list(dict.fromkeys((r["corpus"], r["workers"]) for r in rows))
    return panels, sorted({r["epochs"] for r in rows})


def report(rows, command):
    panels, epochs = settings(rows)
    lines = ["# Do ODE-solver optimizers overfit word2vec? The grid\n", f"`{command}`\n",
             "Each optimizer minus SGD of the same engine (Numba: word2vec.c's pair stream; keras-*: "
             "Keras fit, batch 1024, its own SGD), after the last epoch of a run of E epochs: the mean "
             "over seeds, and in brackets how many seeds have that sign.  Workers 0: Keras.\n",
             "| corpus | workers | epochs | optimizer | train loss | held-out loss | WordSim-353 | SimLex-999 "
             "| analogies | train s (SGD's) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for corpus, workers in panels:
        for e in epochs:
            optimizers = [o for o in dict.fromkeys(r["optimizer"] for r in rows
                                                  if (r["corpus"], r["workers"], r["epochs"]) == (corpus, workers, e))
                          if o != base_of(o)]
            for o in optimizers:
                cellv = []
                for key, digits in zip(METRICS, (4, 4, 3, 3, 4)):
                    d = deltas(rows, corpus, workers, e, o, key)
                    if not d:
                        cellv.append("—")
                        continue
                    mean = statistics.fmean(d)
                    agree = sum((x > 0) == (mean > 0) for x in d)
                    cellv.append(f"{mean:+.{digits}f} ({agree}/{len(d)})")
                secs = [r["train_seconds"] for r in rows if (r["corpus"], r["workers"], r["epochs"], r["optimizer"])
                        == (corpus, workers, e, o)]
                base = [r["train_seconds"] for r in rows if (r["corpus"], r["workers"], r["epochs"], r["optimizer"])
                        == (corpus, workers, e, base_of(o))]
                time_cell = f"{statistics.median(secs):.1f} ({statistics.median(base):.1f})" if base else "—"
                lines.append(f"| {corpus} | {workers} | {e} | {o} | " + " | ".join(cellv) + f" | {time_cell} |")
    return "\n".join(lines) + "\n"


def plots(rows, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels, epochs = settings(rows)
    optimizers = [o for o in dict.fromkeys(r["optimizer"] for r in rows) if o != base_of(o)]
    colours = {o: f"C{i}" for i, o in enumerate(optimizers)}
    keys = (("train_loss", "train loss minus SGD's"), ("heldout_loss", "held-out loss minus SGD's"),
            ("wordsim353", "WordSim-353 minus SGD's"), ("analogies", "analogies minus SGD's"))
    fig, axes = plt.subplots(len(keys), len(panels), figsize=(3.2 * len(panels), 2.4 * len(keys)),
                             sharex=True, sharey="row", squeeze=False)
    for col, (corpus, workers) in enumerate(panels):
        for row, (key, label) in enumerate(keys):
            ax = axes[row][col]
            ax.axhline(0, color="0.6", lw=0.8)
            for o in optimizers:
                xs, mid, lo, hi = [], [], [], []
                for e in epochs:
                    d = deltas(rows, corpus, workers, e, o, key)
                    if d:
                        xs.append(e)
                        mid.append(statistics.fmean(d))
                        lo.append(min(d))
                        hi.append(max(d))
                if xs:
                    ax.plot(xs, mid, marker="o", ms=3, color=colours[o], label=o)
                    ax.fill_between(xs, lo, hi, color=colours[o], alpha=0.15, lw=0)
            if row == 0:
                ax.set_title(f"{corpus}\n{'Keras' if workers == 0 else f'{workers} worker(s)'}", fontsize=9)
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
            if row == len(keys) - 1:
                ax.set_xlabel("epochs of the run")
                ax.set_xticks(epochs)
    _legend(fig, axes)
    fig.suptitle("each optimizer minus SGD of its engine after its run's last epoch "
                 "(line: mean over seeds, band: min to max)", fontsize=10)
    fig.savefig(os.path.join(out, "grid_loss.png"), dpi=110)
    plt.close(fig)

    everyone = list(dict.fromkeys(r["optimizer"] for r in rows))
    colours = {o: f"C{i}" for i, o in enumerate(everyone)}
    scores = ("wordsim353", "simlex999", "analogies")
    fig, axes = plt.subplots(len(scores), len(panels), figsize=(3.2 * len(panels), 2.4 * len(scores)),
                             sharey="row", squeeze=False)
    for col, (corpus, workers) in enumerate(panels):
        for row, key in enumerate(scores):
            ax = axes[row][col]
            for o in everyone:
                points = []
                for e in epochs:
                    sel = [r for r in rows if (r["corpus"], r["workers"], r["epochs"], r["optimizer"])
                           == (corpus, workers, e, o)]
                    if sel:
                        points.append((statistics.fmean(r["train_seconds"] for r in sel),
                                       statistics.fmean(r[key] for r in sel)))
                if points:
                    ax.plot(*zip(*points), marker="o", ms=3, color=colours[o], label=o,
                            ls="--" if o.startswith("keras-") else "-")
            if row == 0:
                ax.set_title(f"{corpus}\n{'Keras' if workers == 0 else f'{workers} worker(s)'}", fontsize=9)
            if col == 0:
                ax.set_ylabel(key)
            if row == len(scores) - 1:
                ax.set_xlabel("training seconds")
    _legend(fig, axes)
    fig.suptitle("quality against training time: one point per run (E = 1, 3, 5, 10 epochs), mean over seeds",
                 fontsize=10)
    fig.savefig(os.path.join(out, "grid_quality_vs_time.png"), dpi=110)
    plt.close(fig)


def _legend(fig, axes):
    """One legend for every panel's lines (a panel may lack some optimizers), under the panels."""
    seen = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=len(seen), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpora", nargs="+", default=[os.path.join(ox.ROOT, "data", "enwiki-sample.txt"),
                                                    os.path.join(HERE, "big-corpus.txt")])
    p.add_argument("--epochs", type=int, nargs="+", default=[1, 3, 5, 10])
    p.add_argument("--workers", type=int, nargs="+", default=[2, 1])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--optimizers", nargs="+", default=list(ox.OPTIMIZERS), choices=ox.OPTIMIZERS,
                   help="the engine's optimizers to run (sgd, the reference, always runs)")
    p.add_argument("--keras-corpus", default=os.path.join(ox.ROOT, "data", "enwiki-sample.txt"))
    p.add_argument("--out", default=os.path.join(HERE, "results", "grid"))
    p.add_argument("--report-only", action="store_true", help="redo grid.md and the plots from grid.csv")
    a = p.parse_args()
    a.optimizers = ["sgd"] + [o for o in a.optimizers if o != "sgd"]
    missing = [c for c in a.corpora if not os.path.isfile(c)]
    if missing and not a.report_only:
        raise SystemExit(f"overfit_grid: error: {', '.join(missing)}: no such file "
                         "(bench/big-corpus.txt: python scripts/make_big_corpus.py)")
    os.makedirs(a.out, exist_ok=True)
    csv_path = os.path.join(a.out, "grid.csv")
    if not a.report_only:
        run_grid(a, csv_path)
    rows = read_rows(csv_path)
    command = "python bench/overfit_grid.py " + " ".join(
        [f"--corpora {' '.join(os.path.relpath(c, ox.ROOT) for c in a.corpora)}",
         f"--epochs {' '.join(map(str, a.epochs))}", f"--workers {' '.join(map(str, a.workers))}",
         f"--seeds {' '.join(map(str, a.seeds))}", f"--optimizers {' '.join(a.optimizers)}",
         f"--keras-corpus {os.path.relpath(a.keras_corpus, ox.ROOT) if a.keras_corpus else chr(39) * 2}"])
    text = report(rows, command)
    with open(os.path.join(a.out, "grid.md"), "w") as f:
        f.write(text)
    plots(rows, a.out)
    print(text)


if __name__ == "__main__":
    main()
