"""The distributed trainer (``w2v_fastopt.distributed``) on a two-node Ray cluster on this machine.

    python bench/bench_distributed.py [--rounds 3] [--repeat 4] [--seeds 3] [--quick]

Runs as root inside a private network namespace with loopback alone (it re-executes itself under
``unshare -n``): Ray's head and second node then listen on 127.0.0.1 only.  Prints three tables:

1. Speed, alternating runs (``--rounds``) on data/ repeated ``--repeat`` times: one actor with one
   thread, one actor with 2 threads (one node, its 2 cores), 2 actors with one thread each (two
   nodes of one core), and the engine in one process without Ray (``Trainer``) with 1 and 2 threads;
   effective words/s of the training (the driver's wall time, syncs included), and the ratios to one
   actor with one thread.  This machine has 2 cores, so "2 nodes" share one
   host: no network between them, only loopback.
2. Sync interval (words each actor trains between syncs): words/s at 1 and 2 actors of one thread
   (alternating, on the repeated corpus), the bytes each node sends and receives per sync, and the
   quality on data/ at 2 actors (WordSim-353, SimLex-999, Google analogies: mean over ``--seeds``
   seeds) for the per-row mean of the actors' rows (the default: the actors at 2x the learning rate)
   and for the sum of their steps (at one machine's learning rate), the single-process engine's over
   the same seeds above them.  This table chose the default interval.
3. Quality at 1, 2 and 4 actors, mean and sum (4 actors on 2 cores measures quality, not speed;
   a run that diverges says so).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "data", "enwiki-sample.txt")
SCORES = ("wordsim353", "simlex999", "analogies")
INTERVALS = (25_000, 50_000, 100_000, 250_000, 1_000_000)  # from 250,000: once an epoch at 2 actors on data/


def in_private_network():
    """Re-run this script under ``unshare -n`` with loopback up, unless it is already there."""
    if os.environ.get("W2V_BENCH_NETNS") == "1":
        return
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        sys.exit("bench_distributed: needs root and unshare (a private network namespace for the Ray cluster)")
    script = " ".join(["ip link set lo up && exec", sys.executable] + [f"'{a}'" for a in sys.argv])
    env = dict(os.environ, W2V_BENCH_NETNS="1", RAY_USAGE_STATS_ENABLED="0")
    sys.exit(subprocess.call(["unshare", "-n", "sh", "-c", script], env=env))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one round, one seed, three intervals")
    args = parser.parse_args()
    in_private_network()
    if args.quick:
        args.rounds, args.seeds = 1, 1

    import ray
    from ray.cluster_utils import Cluster

    sys.path.insert(0, HERE)
    from bench_engine import repeated_corpus

    from w2v_fastopt.distributed import SYNC_WORDS, RayRun
    from w2v_fastopt.evaluate import evaluate
    from w2v_fastopt.train import Diverged
    from w2v_fastopt.trainer import Trainer

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 4, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    cluster.add_node(num_cpus=4, node_ip_address="127.0.0.1")  # logical CPUs: 4 actors fit for table 3
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)

    def ray_run(corpus, actors, workers, seed=1, **options):
        run = RayRun([corpus], actors=actors, workers=workers, seed=seed, compute_loss=False, **options)
        try:
            run.build_vocab()
            model = run.train()
        finally:
            run.close()
        words = sum(s.effective_words for s in model.epoch_stats)
        return model, run, words / run.timings["train"]

    def quality(model):
        result = evaluate(model.wv)
        return [result[name] for name in SCORES]

    def mean(rows):
        return [statistics.mean(column) for column in zip(*rows)]

    folder = tempfile.mkdtemp(prefix="bench-distributed-")
    try:
        corpus, tokens = repeated_corpus(DATA, args.repeat, folder)
        print(f"# 1. Speed: data/ x {args.repeat} ({tokens:,} tokens), 5 epochs, {args.rounds} alternating rounds, "
              f"sync every {SYNC_WORDS:,} words per thread; same host, 2 cores\n")
        configs = [("1 actor x 1 thread", 1, 1), ("1 actor x 2 threads (1 node)", 1, 2),
                   ("2 actors x 1 thread (2 nodes)", 2, 1), ("one process, no Ray (Trainer), 1 thread", 0, 1),
                   ("one process, no Ray (Trainer), 2 threads", 0, 2)]
        speeds = {name: [] for name, _, _ in configs}
        for _ in range(args.rounds):
            for name, actors, workers in configs:
                if actors:
                    speeds[name].append(ray_run(corpus, actors, workers)[2])
                else:
                    model = Trainer(corpus_file=corpus, workers=workers, seed=1, compute_loss=False)
                    words = sum(s.effective_words for s in model.epoch_stats)
                    speeds[name].append(words / (model.timings["train"] + model.timings["compile"]))
        base = statistics.median(speeds[configs[0][0]])
        print("| run | effective words/s (median) | vs 1 actor x 1 thread |\n|---|---:|---:|")
        for name, _, _ in configs:
            value = statistics.median(speeds[name])
            print(f"| {name} | {value:,.0f} | {value / base:.2f}x |")

        seeds = range(1, args.seeds + 1)
        single = mean([quality(Trainer(corpus_file=DATA, workers=1, seed=s)) for s in seeds])
        print(f"\n# 2. Sync interval (words each actor trains between syncs), 1 thread per actor: words/s on "
              f"data/ x {args.repeat} (1 and 2 actors alternating, median of {args.rounds}); quality on data/ "
              f"at 2 actors, mean of {args.seeds} seed(s), for the mean of the actors' rows and the sum of "
              "their steps\n")
        print("| sync every (words) | syncs at 2 actors | words/s, 1 actor | words/s, 2 actors | ratio "
              "| KB sent / received per node per sync | WordSim-353 mean / sum | SimLex-999 mean / sum "
              "| analogies mean / sum |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| one process, 1 thread | | | | | | {single[0]:.3f} | {single[1]:.3f} | {single[2]:.4f} |")
        for interval in (INTERVALS[1::2] if args.quick else INTERVALS):
            one, two = [], []
            for _ in range(args.rounds):
                one.append(ray_run(corpus, 1, 1, sync_words=interval)[2])
                _, run, rate = ray_run(corpus, 2, 1, sync_words=interval)
                two.append(rate)
            per_sync = 2 * run.syncs
            traffic = f"{run.bytes_sent / per_sync / 1024:,.0f} / {run.bytes_received / per_sync / 1024:,.0f}"
            q = {}
            for merge in ("mean", "sum"):
                rows = []
                for seed in seeds:
                    model, small_run, _ = ray_run(DATA, 2, 1, seed, sync_words=interval, merge=merge)
                    rows.append(quality(model))
                q[merge] = mean(rows)
            a, b = statistics.median(one), statistics.median(two)
            print(f"| {interval:,} | {small_run.syncs} | {a:,.0f} | {b:,.0f} | {b / a:.2f}x | {traffic} | "
                  + " | ".join(f"{q['mean'][i]:.{4 if i == 2 else 3}f} / {q['sum'][i]:.{4 if i == 2 else 3}f}"
                               for i in range(3)) + " |")

        print(f"\n# 3. Quality by actors (1 thread each, sync every {SYNC_WORDS:,} words): data/, mean of "
              f"{args.seeds} seed(s)\n")
        print("| actors | merge | WordSim-353 | SimLex-999 | analogies |\n|---:|---|---:|---:|---:|")
        for actors in (1, 2, 4):
            for merge in ("mean", "sum")[:1 if actors == 1 else 2]:
                try:
                    q = mean([quality(ray_run(DATA, actors, 1, seed, merge=merge)[0]) for seed in seeds])
                except Diverged as err:
                    print(f"| {actors} | {merge} | diverged: {str(err)[:60]} | | |")
                    continue
                print(f"| {actors} | {merge} | {q[0]:.3f} | {q[1]:.3f} | {q[2]:.4f} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
