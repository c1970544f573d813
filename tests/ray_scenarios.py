"""The distributed trainer's scenarios on a real two-node Ray cluster, for tests/test_distributed.py.

Run inside a private network namespace with loopback alone (``unshare -n``, then ``ip link set lo
up``), where Ray's head and second node listen on 127.0.0.1 only.  Starts the cluster
(``ray.cluster_utils.Cluster``: a head and one more node, a raylet and an object store each), runs
every scenario against it and writes their results as JSON to the path given: the test asserts on
them.  Usage: python tests/ray_scenarios.py RESULTS.json
"""
import hashlib
import json
import shutil
import os
import subprocess
import sys
import threading
import time

import numpy as np
from gensim.models import KeyedVectors
import pyarrow as pa
import pyarrow.parquet as pq
import ray
import ray.data
from ray.cluster_utils import Cluster

from w2v_fastopt.distributed import RayRun, tiers
from w2v_fastopt.evaluate import evaluate
from w2v_fastopt.trainer import Trainer

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "data", "enwiki-sample.txt")
SEEDS = (1, 2, 3)
SCORES = ("wordsim353", "simlex999", "analogies")


def first_block_late(batch):
    """A map over a dataset's blocks in which the block holding the corpus's first line finishes
    last, 2 s after the others: ray.data yields the blocks out of order unless the dataset's own
    context says to keep it (without that, this test failed)."""
    with open(CORPUS, encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
    if batch["text"][0] == first:
        time.sleep(2.0)
    return batch


def scores(model):
    result = evaluate(model.wv)
    return {name: result[name] for name in SCORES}


def ray_model(corpus, actors=1, progress=None, **params):
    """A RayRun's model on ``corpus`` (a list of files, a dataset), and the run (its restarts, syncs)."""
    run = RayRun(corpus, actors=actors, workers=1, **params)
    try:
        run.build_vocab()
        return run.train(progress), run
    finally:
        run.close()


class KillAnActor:
    """A progress reporter that kills actor 2 (``ray.kill``): ``delay`` None, at once at the end of
    epoch 1 (after a sync of every tier: the next round finds it dead); else ``delay`` seconds after
    the 3rd sync, mid-epoch, its round in flight."""

    def __init__(self, delay=None):
        self.run, self.syncs, self.killed, self.delay = None, 0, False, delay

    def update(self, *args, **kwargs):
        self.syncs += 1
        if self.delay is not None and self.syncs == 3:
            threading.Timer(self.delay, ray.kill, [self.run.actors[1]]).start()
            self.killed = True

    def epoch_end(self, stats):
        if self.delay is None and stats.epoch == 1:
            ray.kill(self.run.actors[1])
            self.killed = True


class StopAfterEpoch:
    """A progress reporter that interrupts the run (KeyboardInterrupt) at the end of epoch 1."""

    def update(self, *args, **kwargs):
        pass

    def epoch_end(self, stats):
        if stats.epoch == 1:
            raise KeyboardInterrupt


def digest(model):
    return hashlib.blake2b(np.ascontiguousarray(model.vectors).tobytes(), digest_size=16).hexdigest()


def main(out):
    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 2, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    results = {"cluster_seconds": time.perf_counter() - t0, "nodes": len([n for n in ray.nodes() if n["Alive"]])}

    # N = 1 through the cluster: the single-process vectors, bit for bit (skip-gram NS; CBOW HS, whose
    # inner-node rows are tiered from the root down)
    for name, mode in (("sg", {}), ("cbow_hs", {"sg": 0, "hs": 1, "negative": 0})):
        one = Trainer(corpus_file=CORPUS, workers=1, seed=1, epochs=2, **mode)
        model, run = ray_model([CORPUS], seed=1, epochs=2, sync_words=20_000, **mode)
        results[f"identical_{name}"] = {
            "syncs": run.syncs,
            "vocab": one.vocab.words == model.vocab.words and np.array_equal(one.vocab.counts, model.vocab.counts),
            "matrices": [bool(np.array_equal(a, b)) for a, b in
                         ((one.vectors, model.vectors), (one.syn1neg, model.syn1neg))
                         + (((one.syn1, model.syn1),) if one.syn1 is not None else ())]}

    # a ray.data dataset (read_text's "text" column, its first block made late) through one actor: the
    # same vectors again; Parquet files (a "body" column) through two: the one-machine vocabulary
    one = Trainer(corpus_file=CORPUS, workers=1, seed=1, epochs=2)
    dataset = ray.data.read_text(CORPUS).repartition(8).map_batches(first_block_late, batch_size=None)
    model, run = ray_model(dataset, seed=1, epochs=2)
    results["identical_dataset"] = [bool(np.array_equal(a, b)) for a, b in
                                    ((one.vectors, model.vectors), (one.syn1neg, model.syn1neg))]
    folder = os.path.dirname(os.path.abspath(out))
    with open(CORPUS, encoding="utf-8") as f:
        lines = f.read().split("\n")
    parquet = [os.path.join(folder, f"part-{k}.parquet") for k in range(2)]
    for k, path in enumerate(parquet):
        half = lines[k * len(lines) // 2:(k + 1) * len(lines) // 2]
        pq.write_table(pa.table({"id": list(range(len(half))), "body": half}), path)
    model, run = ray_model(parquet, actors=2, seed=1, epochs=1, text_column="body")
    results["parquet_vocab_same"] = (model.vocab.words == one.vocab.words
                                     and np.array_equal(model.vocab.counts, one.vocab.counts))

    # N = 2 against N = 1 over seeds
    results["one"], results["two"], results["two_vocab_same"] = [], [], True
    for seed in SEEDS:
        one = Trainer(corpus_file=CORPUS, workers=1, seed=seed)
        results["one"].append(scores(one))
        model, run = ray_model([CORPUS], 2, seed=seed)
        results["two"].append(scores(model))
        if seed == 1:
            results["two_digest"] = digest(model)
            uninterrupted = model
        results["two_vocab_same"] &= one.vocab.words == model.vocab.words
        results["two_nodes_used"] = run.syncs > 0
        results["two_raw_words"] = sum(s.raw_words for s in model.epoch_stats)

    # an actor killed mid-epoch: restarted from the last sync, the run finishes; killed in flight, with
    # its unsynced rounds trained again (the default) and, to compare, without
    real_build_vocab, real_replay_plan = RayRun.build_vocab, RayRun._replay_plan
    for name, delay, replay in (("killed", None, True), ("killed_in_flight", 0.01, True),
                                ("killed_in_flight_no_replay", 0.01, False)):
        killer = KillAnActor(delay)

        def build_vocab(run, killer=killer):
            killer.run = run
            return real_build_vocab(run)

        RayRun.build_vocab = build_vocab
        if not replay:
            RayRun._replay_plan = lambda run, k, r: ([], real_replay_plan(run, k, r)[1])
        try:
            model, run = ray_model([CORPUS], 2, progress=killer, seed=1)
        finally:
            RayRun.build_vocab, RayRun._replay_plan = real_build_vocab, real_replay_plan
        results[name] = {"restarts": run.restarts, "killed": killer.killed, "scores": scores(model),
                         "raw_words": sum(s.raw_words for s in model.epoch_stats), "digest": digest(model),
                         "finite": bool(np.isfinite(model.vectors).all()),
                         # per tier of rows, the mean distance to the run that lost no actor
                         "off_per_tier": [float(np.abs(model.vectors[a:b] - uninterrupted.vectors[a:b]).mean())
                                          for a, b in tiers(len(model.vocab))]}

    # a checkpoint at epoch 1's end, the run interrupted there and resumed (from Python, and by the
    # command line from a copy): the vectors of the run never interrupted
    reference, _ = ray_model([CORPUS], 2, seed=1, epochs=2)
    state = os.path.join(folder, "run.checkpoint")
    run = RayRun([CORPUS], actors=2, workers=1, seed=1, epochs=2)
    try:
        run.build_vocab()
        run.train(StopAfterEpoch(), checkpoint_path=state)
    except KeyboardInterrupt:
        pass
    finally:
        run.close()
    shutil.copy(state, state + ".copy")
    resumed = RayRun.resume(state)
    results["resumed"] = {"same": digest(resumed) == digest(reference), "removed": not os.path.exists(state),
                          "epochs": [s.epoch for s in resumed.epoch_stats]}

    # the command line: on this cluster; a local cluster of its own; an address nobody answers
    def cli(*args, corpus=(CORPUS,)):
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "w2v_fastopt", "train", *corpus, *args], capture_output=True,
                              text=True, timeout=300, env=dict(os.environ, RAY_ADDRESS=""))
        return {"rc": done.returncode, "stderr": done.stderr, "seconds": time.perf_counter() - t}

    results["cli_cluster"] = cli("--ray", cluster.address, "--ray-workers", "2", "--workers", "1", "--epochs", "1",
                                 "-o", os.path.join(folder, "cluster.bin"))
    results["cli_local"] = cli("--ray", "--epochs", "1", "-o", os.path.join(folder, "local.bin"))
    results["cli_bad_address"] = cli("--ray", "127.0.0.1:9", "-o", os.path.join(folder, "bad.bin"))
    results["cli_bad_address"]["wrote"] = os.path.exists(os.path.join(folder, "bad.bin"))
    resumed_cli = os.path.join(folder, "resumed.bin")
    results["cli_resume"] = cli("--resume", state + ".copy", "--ray", cluster.address, "-o", resumed_cli, corpus=())
    if os.path.exists(resumed_cli):
        vectors = KeyedVectors.load_word2vec_format(resumed_cli, binary=True)
        results["cli_resume"]["same"] = bool(np.array_equal(vectors.vectors, reference.vectors))
    results["cli_no_column"] = cli("--ray", cluster.address, "-o", os.path.join(folder, "column.bin"),
                                   corpus=parquet)
    ray.shutdown()
    cluster.shutdown()
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
