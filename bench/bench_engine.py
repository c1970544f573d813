"""Benchmark: w2v-fastopt in each mode against gensim (and word2vec.c, fastText), side by side.

Ours: skip-gram with shared negatives, word2vec.c-exact, context combining (``--combine 8``); CBOW;
hierarchical softmax.

    python bench/bench_engine.py [--corpus data/enwiki-sample.txt] [--repeat 10] [--rounds 3]
        [--no-scaling | --scaling-only]
        [--systems gensim,shared,word2vec,gensim_cbow,cbow,gensim_hs,hs,gensim_cbow_hs,cbow_hs]

Every run is a fresh process running the whole job (vocabulary + training + saving, interpreter start,
imports and Numba cache loading included): ``w2v-fastopt train`` for ours, ``bench/gensim_train.py``
(gensim ``corpus_file`` mode, the same sg and hs) for gensim, same corpus and settings, no loss
computed by either (``--no-loss``, gensim's default ``compute_loss=False``); each of ours is
compared with gensim in the same mode (skip-gram rows with gensim's skip-gram, CBOW with its CBOW,
hierarchical softmax, ``--hs 1 --negative 0``, with gensim's).
Runs alternate between the systems, round by round, so that the machine's noise hits all of them
alike; the table gives medians over rounds (quality: means) and the median over rounds of each
system's ratio to gensim in the same round.  Peak RSS is each run's own VmHWM (bench/peak.py), not
ru_maxrss (which Linux floors at the parent's size at fork).
Then 1-to-N worker scaling: in each round, each system runs with 1 worker and then with ``--workers``,
back to back; the table gives the medians over rounds of the two ratios, whole-process wall time and
training words/s (the first includes the single-threaded start-up: interpreter, imports, the
vocabulary pass, saving), and beside them the host's own scaling (``host_ceiling.py``: two loads
whose threads share nothing, run just before each pair): what the host gave two threads in those minutes.
``--scaling-only`` skips the main table. The corpus is the given file repeated ``--repeat`` times
(written to a temporary file) so that training, not start-up, dominates, its lines cut every 1,000 words
so that every system trains every word (``repeated_corpus``). Beside the table, ``--plot``
(bench/results/bench_engine.png) draws each system's quality against its training words/s, one panel per
score: speed at equal quality in one picture (needs matplotlib, the [bench] extra).
"""
import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from w2v_fastopt.evaluate import evaluate, load_vectors  # noqa: E402

GNU_TIME = "/usr/bin/time"

MODES = {"sg": "skip-gram NS", "cbow": "CBOW NS", "sg_hs": "skip-gram HS", "cbow_hs": "CBOW HS"}
MODE_FLAGS = {"sg": ["--sg", "1"], "cbow": ["--sg", "0"], "sg_hs": ["--sg", "1", "--hs", "1", "--negative", "0"],
              "cbow_hs": ["--sg", "0", "--hs", "1", "--negative", "0"]}
# name: (label, mode, runner, our extra flags).  runner: "ours" (w2v-fastopt train), "gensim"
# (bench/gensim_train.py, gensim's corpus_file mode: every row's baseline), "word2vec.c" (the pip
# package word2vec's build of Mikolov's C code), "fastText" (bench/fasttext_train.py, the pip package
# fasttext, word vectors only).
SYSTEMS = {
    "gensim": ("gensim 4 corpus_file, skip-gram", "sg", "gensim", []),
    "word2vec_c": ("word2vec.c, skip-gram", "sg", "word2vec.c", []),
    "fasttext": ("fastText, skip-gram", "sg", "fastText", []),
    "shared": ("w2v-fastopt (shared negatives)", "sg", "ours", []),
    "word2vec": ("w2v-fastopt --no-shared-negatives", "sg", "ours", ["--no-shared-negatives"]),
    "combined": ("w2v-fastopt --combine 8", "sg", "ours", ["--combine", "8"]),
    "gensim_cbow": ("gensim 4 corpus_file, CBOW", "cbow", "gensim", []),
    "word2vec_c_cbow": ("word2vec.c, CBOW", "cbow", "word2vec.c", []),
    "fasttext_cbow": ("fastText, CBOW", "cbow", "fastText", []),
    "cbow": ("w2v-fastopt --sg 0 (CBOW)", "cbow", "ours", []),
    "gensim_hs": ("gensim 4 corpus_file, skip-gram HS", "sg_hs", "gensim", []),
    "word2vec_c_hs": ("word2vec.c, skip-gram HS", "sg_hs", "word2vec.c", []),
    "fasttext_hs": ("fastText, skip-gram HS", "sg_hs", "fastText", []),
    "hs": ("w2v-fastopt --hs 1 --negative 0", "sg_hs", "ours", []),
    "gensim_cbow_hs": ("gensim 4 corpus_file, CBOW HS", "cbow_hs", "gensim", []),
    "word2vec_c_cbow_hs": ("word2vec.c, CBOW HS", "cbow_hs", "word2vec.c", []),
    "fasttext_cbow_hs": ("fastText, CBOW HS", "cbow_hs", "fastText", []),
    "cbow_hs": ("w2v-fastopt --sg 0 --hs 1 --negative 0", "cbow_hs", "ours", []),
}


def baseline(system):
    """The gensim run of a system's mode: every ratio's denominator."""
    return next(s for s, (_, mode, runner, _) in SYSTEMS.items() if runner == "gensim" and mode == SYSTEMS[system][1])


def missing_peer(runner):
    """Why a peer cannot run here (a line to print), or None when it can."""
    if runner == "word2vec.c" and shutil.which("word2vec") is None:
        return "word2vec.c: no `word2vec` program on PATH (pip install word2vec, in the [bench] extra)"
    if runner == "fastText" and importlib.util.find_spec("fasttext") is None:
        return "fastText: the Python package fasttext is not installed (pip install fasttext, in the [bench] extra)"
    return None


LINE_WORDS = 1000  # word2vec.c's MAX_SENTENCE_LENGTH (fastText's MAX_LINE_SIZE is 1024)


def repeated_corpus(source, repeat, folder):
    """Write ``source`` ``repeat`` times into folder/corpus.txt, its lines cut every ``LINE_WORDS``
    tokens; returns (its path, tokens in it).

    The cut makes every system train every word.  word2vec.c and fastText cut lines there anyway, but
    gensim's corpus_file mode puts whole lines in batches of 10,000 words and never trains the rest of
    the line that crosses one (data/'s lines are articles, 4,273 words on average: 11.8% of its
    effective words untrained per epoch, by gensim's own log; with the cut its count is ours to 0.2%).
    Without it gensim's rows would time less work than ours."""
    corpus = os.path.join(folder, "corpus.txt")
    with open(source, "rb") as src:
        lines = [line.split() for line in src]
    text = b"".join(b" ".join(tokens[i:i + LINE_WORDS]) + b"\n"
                    for tokens in lines for i in range(0, len(tokens), LINE_WORDS))
    with open(corpus, "wb") as dst:
        for _ in range(repeat):
            dst.write(text)
    return corpus, sum(map(len, lines)) * repeat


def command(system, corpus, output, workers, epochs):
    """The command line of one whole job of ``system``, and whether it reports its own peak RSS."""
    _, mode, runner, extra = SYSTEMS[system]
    flags = MODE_FLAGS[mode]
    common = ["--workers", str(workers), "--epochs", str(epochs), "--seed", "1"]
    peak = [sys.executable, os.path.join(HERE, "peak.py")]
    if runner == "gensim":
        return peak + [os.path.join(HERE, "gensim_train.py"), corpus, output] + common + flags
    if runner == "fastText":
        return peak + [os.path.join(HERE, "fasttext_train.py"), corpus, output] + common + flags
    if runner == "word2vec.c":
        hs = mode.endswith("_hs")
        return ["word2vec", "-train", corpus, "-output", output, "-size", "100", "-window", "5",
                "-sample", "1e-3", "-hs", str(int(hs)), "-negative", "0" if hs else "5", "-threads", str(workers),
                "-iter", str(epochs), "-min-count", "5", "-alpha", "0.025", "-binary", "1",
                "-cbow", "0" if mode.startswith("sg") else "1"]
    # --no-loss: no peer computes a loss here (gensim's compute_loss=False, word2vec.c has none)
    return peak + ["-m", "w2v_fastopt", "train", corpus, "--output", output, "--no-loss"] + common + flags + extra


def run_one(system, corpus, output, workers, epochs):
    """Run one whole job in a child process; return wall_s, rss_mb, words_per_s (training words/s:
    effective words after subsampling over the training time) and words_per_epoch (effective words
    trained per epoch: equal work), the last two None where the program does not report them:
    word2vec.c, fastText."""
    cmd = command(system, corpus, output, workers, epochs)
    runner = SYSTEMS[system][2]
    if runner == "word2vec.c" and os.path.exists(GNU_TIME):
        # Its peak RSS from GNU time, which waits for it: ru_maxrss seen from here would include this
        # (large) process's size at the fork (peak.py's docstring), GNU time's is a few MB.
        cmd = [GNU_TIME, "-f", "peak-rss-kb %M"] + cmd
    t0 = time.perf_counter()
    child = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    out, err = child.stdout, child.stderr
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    words_per_s = effective = None
    if runner == "gensim":
        stats = json.loads(out.strip().splitlines()[-1])
        effective = stats["effective_words"]
        words_per_s = effective / stats["train_s"]
    elif runner == "ours":
        train_s = float(re.search(r"training ([0-9.]+)s", err).group(1))
        effective = sum(int(m.replace(",", "")) for m in re.findall(r"\(([0-9,]+) effective words\)", err))
        words_per_s = effective / train_s
    peaks = re.findall(r"peak-rss-kb (\d+)", err)
    rss_kb = int(peaks[-1]) if peaks else float("nan")
    return {"wall_s": wall, "rss_mb": rss_kb / 1024, "words_per_s": words_per_s,
            "words_per_epoch": None if effective is None else effective / epochs}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=os.path.join(ROOT, "data", "enwiki-sample.txt"))
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--no-scaling", action="store_true", help="skip the scaling runs")
    which.add_argument("--scaling-only", action="store_true", help="skip the main table")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="which of " + ", ".join(SYSTEMS))
    p.add_argument("--plot", default=os.path.join(HERE, "results", "bench_engine.png"), metavar="PNG",
                   help="the picture of quality against words/s (%(default)s); '' for none")
    a = p.parse_args()
    systems = a.systems.split(",")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        p.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    systems = list(dict.fromkeys(systems + [baseline(s) for s in systems]))  # and each one's gensim run, once
    for runner in dict.fromkeys(SYSTEMS[s][2] for s in systems):
        why = missing_peer(runner)
        if why:
            print(f"skipping {why}")
            systems = [s for s in systems if SYSTEMS[s][2] != runner]

    with tempfile.TemporaryDirectory() as tmp:
        corpus, n_tokens = repeated_corpus(a.corpus, a.repeat, tmp)
        print(f"corpus: {a.corpus} x{a.repeat} = {n_tokens:,} tokens; {a.epochs} epochs, "
              f"{a.workers} workers, vector_size 100, window 5, negative 5 (0 in the HS rows), min_count 5, "
              "sample 1e-3, alpha 0.025")
        # Warm-up: compile/load the Numba cache once, outside the measurements.
        for system in systems:
            if SYSTEMS[system][2] == "ours":
                run_one(system, corpus, os.path.join(tmp, "warm.bin"), 1, 1)

        results = {s: [] for s in systems}
        quality = {s: [] for s in systems}
        for r in range(0 if a.scaling_only else a.rounds):
            for system in systems:
                out = os.path.join(tmp, f"{system}.bin")
                results[system].append(run_one(system, corpus, out, a.workers, a.epochs))
                quality[system].append(evaluate(load_vectors(out)))
                print(f"  round {r + 1} {system:18s} wall {results[system][-1]['wall_s']:6.2f}s", flush=True)

        scaling = {}  # system: [(1-worker run, N-worker run)], one pair per round
        ceiling = {}  # system: [host_ceiling.py's result just before each of its pairs]
        if not a.no_scaling:
            for r in range(a.rounds):
                for system in systems:
                    ceiling.setdefault(system, []).append(host_ceiling(a.workers))
                    pair = tuple(run_one(system, corpus, os.path.join(tmp, "scaling.bin"), workers, a.epochs)
                                 for workers in (1, a.workers))
                    scaling.setdefault(system, []).append(pair)
                    print(f"  scaling round {r + 1} {system:18s} wall {pair[0]['wall_s']:6.2f}s -> "
                          f"{pair[1]['wall_s']:6.2f}s (the host just before: compute "
                          f"{ceiling[system][-1]['compute']:.2f}x, rows {ceiling[system][-1]['rows']:.2f}x)",
                          flush=True)

    def med(system, key):
        values = [x[key] for x in results[system]]
        return None if None in values else statistics.median(values)

    def mean_q(system, key):
        return statistics.fmean(q[key] for q in quality[system])

    def ratio(system, others):
        """Median over rounds of (the fastest of ``others`` in the round's wall s) / (the system's)."""
        return statistics.median(min(results[o][r]["wall_s"] for o in others) / results[system][r]["wall_s"]
                                 for r in range(a.rounds))

    if a.scaling_only:
        print_scaling(systems, scaling, ceiling, a.workers)
        return
    cols = [("wall_s", "wall s", med, "{:.2f}"), ("words_per_epoch", "words/epoch", med, "{:,.0f}"),
            ("words_per_s", "train words/s", med, "{:,.0f}"),
            ("rss_mb", "peak RSS MB", med, "{:.0f}"), ("wordsim353", "WS-353", mean_q, "{:.3f}"),
            ("simlex999", "SimLex", mean_q, "{:.3f}"), ("analogies", "analogy", mean_q, "{:.3f}")]
    print()
    print("| system | " + " | ".join(c[1] for c in cols) + " | vs gensim (wall) | vs fastest peer (wall) |")
    print("|---" * (len(cols) + 3) + "|")
    for system in systems:
        label, mode, runner, _ = SYSTEMS[system]
        base = baseline(system)
        peers = [s for s in systems if SYSTEMS[s][1] == mode and SYSTEMS[s][2] != "ours"]
        cells = []
        for key, _, fn, fmt in cols:
            value, reference = fn(system, key), fn(base, key)
            cell = "—" if value is None or value != value else fmt.format(value)
            if system != base and key in SCORES:
                cell += f" ({value - reference:+.3f})"
            elif system != base and key == "rss_mb" and value == value:
                cell += f" ({value / reference:.2f}x)"
            cells.append(cell)
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio(system, [base]):.2f}x | {ratio(system, peers):.2f}x |")
    print("\n(words/epoch: effective words trained per epoch, after subsampling; train words/s: those over "
          "the training time; word2vec.c and fastText do not report theirs. Ratios: within a round, then "
          "the median over rounds.)")
    if scaling:
        print_scaling(systems, scaling, ceiling, a.workers)
    if a.plot:
        plot(a.plot, [(s, n_tokens * a.epochs / med(s, "wall_s"), {k: mean_q(s, k) for k in SCORES})
                      for s in systems],
             f"{os.path.basename(a.corpus)} x{a.repeat}, {a.epochs} epochs, {a.workers} workers, "
             f"medians of {a.rounds} rounds")
        print(f"\n(plot: {os.path.relpath(a.plot)})")


def host_ceiling(workers):
    """bench/host_ceiling.py's 1-to-``workers`` thread scaling of the host now: {"compute": x, "rows": x}."""
    child = subprocess.run([sys.executable, os.path.join(HERE, "host_ceiling.py"), "--workers", str(workers)],
                           capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def print_scaling(systems, scaling, ceiling, workers):
    """The 1-to-N worker table: medians over rounds of each measure and of each round's ratio, and
    of the host's own scaling measured just before each of the system's pairs."""
    print()
    print(f"| system | wall s, 1 -> {workers} workers | scaling (wall) | train words/s, 1 -> {workers} workers "
          "| scaling (train words/s) | the host's scaling beside it: compute, rows |")
    print("|---|---|---|---|---|---|")
    for system in systems:
        pairs = scaling[system]
        walls = [statistics.median(p[k]["wall_s"] for p in pairs) for k in (0, 1)]
        cells = [f"{walls[0]:.2f} -> {walls[1]:.2f}",
                 f"{statistics.median(p[0]['wall_s'] / p[1]['wall_s'] for p in pairs):.2f}x"]
        if pairs[0][0]["words_per_s"] is None:
            cells += ["—", "—"]
        else:
            speeds = [statistics.median(p[k]["words_per_s"] for p in pairs) for k in (0, 1)]
            cells += [f"{speeds[0]:,.0f} -> {speeds[1]:,.0f}",
                      f"{statistics.median(p[1]['words_per_s'] / p[0]['words_per_s'] for p in pairs):.2f}x"]
        cells.append(", ".join(f"{statistics.median(c[load] for c in ceiling[system]):.2f}x"
                               for load in ("compute", "rows")))
        print(f"| {SYSTEMS[system][0]} | " + " | ".join(cells) + " |")
    print("(ratios: within a round, then the median over rounds; the wall time includes the single-threaded "
          "start-up, words/s only the training; the host's: bench/host_ceiling.py run just before each of "
          "the system's pairs, nothing shared between its threads: what this host gave two threads in "
          "those minutes)")


SCORES = {"wordsim353": "WordSim-353 (Spearman)", "simlex999": "SimLex-999 (Spearman)",
          "analogies": "Google analogies (accuracy)"}
MARKERS = {"gensim": "o", "word2vec.c": "s", "fastText": "D", "ours": "^"}


def plot(path, points, subtitle):
    """One panel per score: each system a point at (corpus words per second of the whole command,
    score); the peers hollow (gensim a circle, word2vec.c a square, fastText a diamond), ours filled
    triangles, one colour per mode."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = dict(zip(MODES, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(1, len(SCORES), figsize=(5 * len(SCORES), 5.2), sharex=True)
    for ax, (key, title) in zip(axes, SCORES.items()):
        for system, words_per_s, quality in points:
            label, mode, runner, _ = SYSTEMS[system]
            ours = runner == "ours"
            ax.scatter(words_per_s / 1e6, quality[key], s=60, marker=MARKERS[runner],
                       facecolors=colours[mode] if ours else "none", edgecolors=colours[mode], label=label)
            ax.annotate(system, (words_per_s / 1e6, quality[key]), xytext=(5, 3),
                        textcoords="offset points", fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("corpus words x epochs / wall s (millions; the whole command)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("score")
    fig.suptitle(f"quality against speed: peers hollow (gensim o, word2vec.c □, fastText ◇), w2v-fastopt "
                 f"filled, a colour per mode ({subtitle})", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.18, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
