"""Benchmark: w2v-fastopt (skip-gram: shared negatives, word2vec.c-exact; CBOW; hierarchical softmax)
against gensim, side by side.

    python bench/bench_engine.py [--corpus data/enwiki-sample.txt] [--repeat 10] [--rounds 3]
        [--systems gensim,shared,word2vec,gensim_cbow,cbow,gensim_hs,hs,gensim_cbow_hs,cbow_hs]

Every run is a fresh process running the whole job (vocabulary + training + saving, interpreter start,
imports and Numba cache loading included): ``w2v-fastopt train`` for ours, ``bench/gensim_train.py``
(gensim ``corpus_file`` mode, the same sg and hs) for gensim, same corpus and settings; each of ours is
compared with gensim in the same mode (skip-gram rows with gensim's skip-gram, CBOW with its CBOW,
hierarchical softmax, ``--hs 1 --negative 0``, with gensim's).
Runs alternate between the systems, round by round, so that the machine's noise hits all of them
alike; the table gives medians over rounds (quality: means) and the median over rounds of each
system's ratio to gensim in the same round.  Peak RSS is each run's own VmHWM (bench/peak.py), not
ru_maxrss (which Linux floors at the parent's size at fork).
Then 1-to-2 worker scaling of training words/s.  The corpus is the given file repeated ``--repeat``
times (written to a temporary file) so that training, not start-up, dominates.  Beside the table,
``--plot`` (bench/results/bench_engine.png) draws each system's quality against its training
words/s, one panel per score: speed at equal quality in one picture (needs matplotlib, the [bench]
extra).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from w2v_fastopt.evaluate import evaluate, load_vectors  # noqa: E402

# name: (label, the gensim run it is compared with, flags)
SYSTEMS = {
    "gensim": ("gensim 4 corpus_file, skip-gram", "gensim", ["--sg", "1"]),
    "shared": ("w2v-fastopt (shared negatives)", "gensim", []),
    "word2vec": ("w2v-fastopt --no-shared-negatives", "gensim", ["--no-shared-negatives"]),
    "gensim_cbow": ("gensim 4 corpus_file, CBOW", "gensim_cbow", ["--sg", "0"]),
    "cbow": ("w2v-fastopt --sg 0 (CBOW)", "gensim_cbow", ["--sg", "0"]),
    "gensim_hs": ("gensim 4 corpus_file, skip-gram HS", "gensim_hs", ["--sg", "1", "--hs", "1", "--negative", "0"]),
    "hs": ("w2v-fastopt --hs 1 --negative 0", "gensim_hs", ["--hs", "1", "--negative", "0"]),
    "gensim_cbow_hs": ("gensim 4 corpus_file, CBOW HS", "gensim_cbow_hs",
                       ["--sg", "0", "--hs", "1", "--negative", "0"]),
    "cbow_hs": ("w2v-fastopt --sg 0 --hs 1 --negative 0", "gensim_cbow_hs",
                ["--sg", "0", "--hs", "1", "--negative", "0"]),
}


def repeated_corpus(source, repeat, folder):
    """Write ``source`` ``repeat`` times into folder/corpus.txt; returns (its path, tokens in it)."""
    corpus = os.path.join(folder, "corpus.txt")
    with open(source, "rb") as src:
        text = src.read()
    with open(corpus, "wb") as dst:
        for _ in range(repeat):
            dst.write(text)
    return corpus, len(text.split()) * repeat


def run_one(system, corpus, output, workers, epochs):
    """Run one whole job in a child process; return wall_s, rss_mb, train_s, effective_words."""
    common = ["--workers", str(workers), "--epochs", str(epochs), "--seed", "1"] + SYSTEMS[system][2]
    peak = [sys.executable, os.path.join(HERE, "peak.py")]
    if system.startswith("gensim"):
        cmd = peak + [os.path.join(HERE, "gensim_train.py"), corpus, output] + common
    else:
        cmd = peak + ["-m", "w2v_fastopt", "train", corpus, "--output", output] + common
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    out, err = child.stdout.read(), child.stderr.read()
    status = os.waitpid(child.pid, 0)[1]
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    if system.startswith("gensim"):
        import json
        stats = json.loads(out.strip().splitlines()[-1])
        train_s, effective = stats["train_s"], stats["effective_words"]
    else:
        train_s = float(re.search(r"training ([0-9.]+)s", err).group(1))
        effective = sum(int(m.replace(",", "")) for m in re.findall(r"\(([0-9,]+) effective words\)", err))
    rss_kb = int(re.findall(r"peak-rss-kb (\d+)", err)[-1])
    return {"wall_s": wall, "rss_mb": rss_kb / 1024, "train_s": train_s,
            "words_per_s": effective / train_s}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(ROOT, "data", "enwiki-sample.txt"))
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-scaling", action="store_true", help="skip the 1-worker runs")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="which of " + ", ".join(SYSTEMS))
    p.add_argument("--plot", default=os.path.join(HERE, "results", "bench_engine.png"), metavar="PNG",
                   help="the picture of quality against words/s (%(default)s); '' for none")
    a = p.parse_args()
    systems = a.systems.split(",")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        p.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    systems += [SYSTEMS[s][1] for s in systems if SYSTEMS[s][1] not in systems]  # each one's baseline

    with tempfile.TemporaryDirectory() as tmp:
        corpus, n_tokens = repeated_corpus(a.corpus, a.repeat, tmp)
        print(f"corpus: {a.corpus} x{a.repeat} = {n_tokens:,} tokens; {a.epochs} epochs, "
              f"{a.workers} workers, vector_size 100, window 5, negative 5 (0 in the HS rows), min_count 5, "
              "sample 1e-3")
        # Warm-up: compile/load the Numba cache once, outside the measurements.
        for system in systems:
            if not system.startswith("gensim"):
                run_one(system, corpus, os.path.join(tmp, "warm.bin"), 1, 1)

        results = {s: [] for s in systems}
        quality = {s: [] for s in systems}
        for r in range(a.rounds):
            for system in systems:
                out = os.path.join(tmp, f"{system}.bin")
                results[system].append(run_one(system, corpus, out, a.workers, a.epochs))
                quality[system].append(evaluate(load_vectors(out)))
                print(f"  round {r + 1} {system:11s} wall {results[system][-1]['wall_s']:6.2f}s  "
                      f"train {results[system][-1]['words_per_s'] / 1e6:5.2f}M words/s", flush=True)

        scaling = {}
        if not a.no_scaling:
            for r in range(a.rounds):
                for system in systems:
                    one = run_one(system, corpus, os.path.join(tmp, "w1.bin"), 1, a.epochs)
                    scaling.setdefault(system, []).append(one["words_per_s"])

    def med(system, key):
        return statistics.median(x[key] for x in results[system])

    def mean_q(system, key):
        return statistics.fmean(q[key] for q in quality[system])

    cols = [("wall_s", "wall s", med, "{:.2f}", True), ("words_per_s", "train words/s", med, "{:,.0f}", False),
            ("rss_mb", "peak RSS MB", med, "{:.0f}", True), ("wordsim353", "WS-353", mean_q, "{:.3f}", None),
            ("simlex999", "SimLex", mean_q, "{:.3f}", None), ("analogies", "analogy", mean_q, "{:.3f}", None)]
    print()
    print("| system | " + " | ".join(c[1] for c in cols) + " | speed-up (wall) | speed-up (train) |")
    print("|---" * (len(cols) + 3) + "|")
    for system in systems:
        label, baseline = SYSTEMS[system][:2]
        cells = []
        for key, _, fn, fmt, _ in cols:
            value, base = fn(system, key), fn(baseline, key)
            cell = fmt.format(value)
            if system != baseline and key in ("wordsim353", "simlex999", "analogies"):
                cell += f" ({value - base:+.3f})"
            elif system != baseline and key == "rss_mb":
                cell += f" ({value / base:.2f}x)"
            cells.append(cell)
        # Ratios are taken within a round (runs side by side), then the median over rounds.
        wall = statistics.median(g["wall_s"] / x["wall_s"] for g, x in zip(results[baseline], results[system]))
        train = statistics.median(x["words_per_s"] / g["words_per_s"]
                                  for g, x in zip(results[baseline], results[system]))
        print(f"| {label} | " + " | ".join(cells) + f" | {wall:.2f}x | {train:.2f}x |")
    if scaling:
        print()
        print("| system | 1 worker words/s | %d workers words/s | scaling |" % a.workers)
        print("|---|---|---|---|")
        for system in systems:
            label = SYSTEMS[system][0]
            w1 = statistics.median(scaling[system])
            wn = med(system, "words_per_s")
            print(f"| {label} | {w1:,.0f} | {wn:,.0f} | {wn / w1:.2f}x |")
    if a.plot:
        plot(a.plot, [(s, med(s, "words_per_s"), {k: mean_q(s, k) for k in SCORES}) for s in systems],
             f"{os.path.basename(a.corpus)} x{a.repeat}, {a.epochs} epochs, {a.workers} workers, "
             f"medians of {a.rounds} rounds")
        print(f"\n(plot: {os.path.relpath(a.plot)})")


SCORES = {"wordsim353": "WordSim-353 (Spearman)", "simlex999": "SimLex-999 (Spearman)",
          "analogies": "Google analogies (accuracy)"}
MODES = {"gensim": "skip-gram NS", "gensim_cbow": "CBOW NS", "gensim_hs": "skip-gram HS",
         "gensim_cbow_hs": "CBOW HS"}


def plot(path, points, subtitle):
    """One panel per score: each system a point at (training words/s, score); gensim hollow, ours
    filled, one colour per mode (the gensim run a system is compared with)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = dict(zip(MODES, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(1, len(SCORES), figsize=(5 * len(SCORES), 4.8), sharex=True)
    for ax, (key, title) in zip(axes, SCORES.items()):
        for system, words_per_s, quality in points:
            baseline = SYSTEMS[system][1]
            ours = system != baseline
            ax.scatter(words_per_s / 1e6, quality[key], s=60, marker="o" if not ours else "^",
                       facecolors=colours[baseline] if ours else "none", edgecolors=colours[baseline],
                       label=SYSTEMS[system][0])
            ax.annotate(system, (words_per_s / 1e6, quality[key]), xytext=(5, 3),
                        textcoords="offset points", fontsize=8)
        ax.set_title(title)
        ax.set_xlabel("training words/s (millions)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("score")
    fig.suptitle(f"quality against speed: gensim hollow, w2v-fastopt filled, a colour per mode "
                 f"({subtitle})", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
