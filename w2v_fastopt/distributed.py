"""Data-parallel training on a Ray cluster: the same engine on every node, one vocabulary, the models
averaged where they were trained.  The only module that imports Ray (``pip install 'w2v-fastopt[ray]'``).

    model = train_on_ray(["part-1.txt", "part-2.txt"], address="10.0.0.1:6379", vector_size=100, seed=1)
    model.wv.most_similar("king")          # a ``trainer.Trainer``, as a one-machine run gives

The design (README, "Beyond one machine"):

- The files, read one after the other, are cut into N shards of about equal bytes at line ends
  (``corpus.split_files``); Parquet files and ``ray.data`` datasets into N shards of about equal
  rows, in order (their text column, ``corpus.read_lines``).  N actors (``ShardTrainer``), one per
  node unless told otherwise, each read and tokenize their shard with the engine's reader and count
  its words; the driver merges the counts in shard order, so the vocabulary (its words, counts and
  order) is exactly the one a single machine builds from the same text.  Each actor then turns its
  tokens into vocabulary ids.
- Every actor starts from the same weights (``trainer.initial_weights``, drawn from ``seed``) and
  trains its shard with the engine's worker threads (``train.run_segment``, Hogwild within a node),
  its learning rate falling over its shard as one machine's falls over the corpus.
- Every ``sync_words`` words of its shard, each actor stops and sends the rows it changed since they
  were last synced; the driver averages each row over the actors that changed it (a row one actor
  alone trained keeps that actor's value, bit for bit) and sends the averages back.  Averaging N
  models, each stepped on its own shard, moves a row 1/N as far as one machine stepping on all the
  shards would, so the actors train at N times the learning rate (the linear scaling rule of model
  averaging).  Summing the actors' steps instead (``merge="sum"``, at the learning rate of one
  machine) trains well at 2 actors but diverges at 4: each actor's steps on a frequent word's row
  already reach most of the way to where its data pull the row, and 4 such steps overshoot 4 times
  over (bench/bench_distributed.py).  Rows are tiered
  by frequency rank, as in pWord2Vec (Ji et al. 2016, arXiv 1604.04661): the ``hot_rows`` most frequent
  words every sync, the next tier (4x as many rows) every 4th sync, the next every 16th, ...; all of
  them at each epoch's end.  Hierarchical softmax's inner nodes are ranked from the root down (the
  root is visited by every example).  Spark MLlib's Word2Vec instead trains a model per partition
  and merges once an epoch, and loses quality as partitions grow; so does this trainer when it
  syncs as rarely (bench/bench_distributed.py).
- With one actor a sync sends each row back unchanged: one actor with ``workers=1`` gives the vectors
  of ``Trainer(workers=1)`` with the same seed, bit for bit.
- Faults: the driver holds the model as of the last sync of each tier, and each actor's jobs and
  random states of every round of the epoch.  When an actor dies (its process, or its node), the
  driver starts a new one (on any node with room), which reads the shard again, takes the driver's
  model, trains again the rounds whose steps on some tier no sync has taken yet (a rarer tier's
  rows are synced every 4^k-th round: those steps were the dead actor's alone), keeping for each
  tier the steps since its own last sync, then takes the dead actor's random state at the round's
  start and trains the round: the run loses the round it was in, and pays the replayed rounds' time
  on one actor.  The replayed steps see the hotter tiers' rows as synced since, not as the dead
  actor saw them: close to its steps, not equal (bench/results/lab-notes.md).  The vectors are
  written by the driver only, atomically.  At epoch ends, when every row is synced, the driver can
  save the run (``train(checkpoint_path=...)``, ``RayRun.resume``): a lost driver then costs the
  epoch in progress.

Sources: pWord2Vec (synchronous averaging every ~0.1 s, hot rows every time, rarer rows every 2^k-th
time); Spark MLlib's Word2Vec (merge once an epoch; SPARK-24666: summing the partitions' vectors gave
infinite values at 50 partitions, now a per-word mean).
"""
import logging
import math
import os
import socket
import time

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError, WorkerCrashedError

from .corpus import read_lines, read_pieces, split_files
from .kernels.prep import huffman_tree
from .kernels.rng import seed_states
from .kernels.walk import Corpus, Job
from .params import Params
from .prepare import _check_vocab
from .progress import epoch_summary
from .resident import hand_back_compiler_code
from .train import Diverged, EpochStats, EpochTotals, Position, nothing_trained, prepare_kernel, prepare_run, \
    run_segment
from .trainer import Trainer, initial_weights, padded_copy
from .vocab import Vocab, compact_corpus, vocabulary_order

logger = logging.getLogger(__name__)

SYNC_WORDS = 100_000  # words an actor trains between syncs, per thread it runs (bench/bench_distributed.py)
HOT_ROWS = 1024  # rows of the first tier, synced every time
TIER_GROWTH = 4  # each tier holds this many times the rows of the one before, synced as many times less often
MAX_RESTARTS = 3  # an actor's shard restarted this many times in one run: give up
PLACE_SECONDS = 60  # an actor not placed on a node by then: the cluster has no room for it
CONNECT_SECONDS = 5  # an address that does not answer within this: refused
DATASET_LINES = 256  # rows of a ray.data dataset's text column tokenized at a time
LOST = (RayActorError, WorkerCrashedError)  # an actor or its node is gone (ActorDiedError is one)


def tiers(n_rows, hot_rows=HOT_ROWS):
    """[(first, end)]: frequency ranks [0, hot), [hot, 5 hot), [5 hot, 21 hot), ..., covering n_rows;
    tier k is synced every 4^k-th sync (``due``): each tier costs a sync about ``hot`` rows."""
    bounds, size = [0], hot_rows
    while bounds[-1] < n_rows:
        bounds.append(min(n_rows, bounds[-1] + size))
        size *= TIER_GROWTH
    return list(zip(bounds, bounds[1:]))


def due(n_tiers, sync, epoch_end):
    """The tiers synced at the ``sync``-th sync (from 1) of a run: all at an epoch's end."""
    return [k for k in range(n_tiers) if epoch_end or sync % TIER_GROWTH ** k == 0]


def row_ranges(ranks, n_rows, from_the_end):
    """Rows of a matrix of ``n_rows`` rows holding the frequency ranks [first, end) ``ranks``: the same
    rows, or for hierarchical softmax's inner nodes (``from_the_end``, the root last) counted from
    the last inner node down (rows n_rows - 2 - rank: row n_rows - 1 is no node)."""
    first, end = ranks
    if not from_the_end:
        return first, min(end, n_rows)
    inner = n_rows - 1
    return max(inner - end, 0), max(inner - first, 0)


class ShardTrainer:
    """A Ray actor: one shard of the corpus and its own copy of the model, trained by the engine's
    threads (``params.workers``) between syncs.  Its methods are called by the driver, in order:
    ``read`` (tokenize the shard, count its words), ``start`` (vocabulary ids, weights, kernel), then
    ``train_round`` once per sync."""

    def __init__(self, params, pieces, text_column=None):
        self.params = Params(**params)
        self.pieces = pieces  # [(path, start, end)] (``corpus.split_files``), or a ray.data dataset
        self.text_column = text_column
        self.tokenized = None

    def ready(self):
        return ray.get_runtime_context().get_node_id()

    def read(self):
        """Tokenize the shard (``corpus.read_pieces``, with the actor's threads; a dataset's text column
        with ``corpus.read_lines``).  Returns (words in first-seen order, their counts int64, tokens
        read, tokens with invalid UTF-8)."""
        if self.text_column is None:
            self.tokenized = read_pieces(self.pieces, self.params.workers)
        else:
            self.tokenized = read_lines(batch[self.text_column] for batch in self.pieces.iter_batches(
                batch_size=DATASET_LINES, batch_format="numpy"))
        t = self.tokenized
        return t.words, t.counts, t.n_tokens, t.invalid_tokens

    def start(self, remap, counts, weights, rng_states):
        """Turn the shard into vocabulary ids (``remap``: int32 per first-seen word, -1 out of the
        vocabulary; ``counts``: the vocabulary's, int64[V]), take ``weights`` (the model's matrices:
        syn0, syn1neg and, with hs, syn1) and the threads' random states.  Returns (words in the
        shard's ids, jobs, seconds to load or compile the kernel)."""
        p = self.params
        ids, starts = compact_corpus(self.tokenized, remap)
        store = self.tokenized.store
        self.tokenized = None
        self.corpus = Corpus(ids, starts)
        self.matrices = [padded_copy(w) for w in weights]
        self.snapshots = [np.array(w) for w in weights]  # each row as of its last sync
        hs_layer = None
        if p.hs:
            hs_layer = (self.matrices[2],) + huffman_tree(np.ascontiguousarray(counts, dtype=np.int64))
        tables = Vocab(None, np.asarray(counts)).tables(p.sample, p.ns_exponent)
        kernel = prepare_kernel(p, self.matrices[0], self.matrices[1], tables, hs_layer)
        self.run = prepare_run(kernel, self.corpus, Position(0, 0, list(rng_states)), None,
                               store.release if store is not None else None)
        t0 = time.perf_counter()
        kernel.run(self.corpus, Job(0, 0, p.alpha, p.alpha), self.run.threads[0])  # load (or compile)
        compile_seconds = time.perf_counter() - t0
        hand_back_compiler_code()
        return int(starts[-1]), len(self.run.jobs) - 1, compile_seconds

    def replay(self, epoch, rounds, after):
        """Train again the rounds a lost actor trained since some tier's last sync, from the driver's
        model (taken by ``start``): ``rounds`` [(first, end, the threads' random states at its start,
        resets)], where ``resets`` (per matrix [(first row, end row)]) are the rows of the tiers synced
        just before that round, set back to their synced values, so that each tier keeps the steps of
        the rounds since its own last sync; ``after`` the same for the tiers synced after the last of
        them.  The threads' random states are then those ``start`` gave.  The replayed steps see the
        hotter tiers' rows as synced since, not as the lost actor saw them.  Returns the seconds
        spent."""
        t0 = time.perf_counter()
        states = [int(t.rng[0]) for t in self.run.threads]
        for first, end, round_states, resets in rounds:
            self._reset(resets)
            for thread, state in zip(self.run.threads, round_states):
                thread.rng[0] = state
            run_segment(self.run, epoch, first, end, EpochTotals())
        self._reset(after)
        for thread, state in zip(self.run.threads, states):
            thread.rng[0] = state
        return time.perf_counter() - t0

    def _reset(self, ranges):
        """Set the rows of ``ranges`` (per matrix [(first, end)]) back to their values at the last sync."""
        for matrix, snapshot, matrix_ranges in zip(self.matrices, self.snapshots, ranges):
            for a, b in matrix_ranges:
                matrix[a:b] = snapshot[a:b]

    def train_round(self, update, epoch, first, end, sync_rows):
        """Take the last sync's averages (``update``: per matrix (rows int64, values float32[k, d]) or
        None; not the rows this actor alone changed, which it holds already), train jobs [first, end)
        of ``epoch``, and return what the driver averages: (the round's EpochTotals as a dict, per
        matrix (rows changed among ``sync_rows``, their values), the threads' random states, seconds
        spent)."""
        t0 = time.perf_counter()
        if update is not None:
            for matrix, snapshot, (rows, values) in zip(self.matrices, self.snapshots, update):
                matrix[rows] = values
                snapshot[rows] = values
        totals = EpochTotals()
        run_segment(self.run, epoch, first, end, totals)
        changed = []
        for matrix, snapshot, ranges in zip(self.matrices, self.snapshots, sync_rows):
            rows = [np.flatnonzero((matrix[a:b] != snapshot[a:b]).any(axis=1)) + a for a, b in ranges]
            rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
            values = matrix[rows]
            snapshot[rows] = values  # as synced, if no other actor changed them (else the update says)
            changed.append((rows, values))
        rng_states = [int(t.rng[0]) for t in self.run.threads]
        return totals.to_dict(), changed, rng_states, time.perf_counter() - t0


def average(changed, synced, merge="mean"):
    """The sync's new rows from each actor's ``changed`` (per matrix (rows, values)) and ``synced``
    (the matrices as of the last sync, which every actor's unchanged rows still hold): per matrix
    (rows, values) over the rows any actor changed.  A row changed by one actor keeps that actor's
    value exactly (no arithmetic touches it); a row several changed takes, with ``merge="mean"``,
    the mean of their values, with ``"sum"`` its synced value plus the sum of their steps.
    Returns (those rows and values, and per actor, per matrix, the mask of the rows it alone
    changed: that actor holds them already, ``for_actor``)."""
    merged, own = [], [[] for _ in changed]
    for per_actor, before in zip(zip(*changed), synced):
        unique = np.unique(np.concatenate([rows for rows, _ in per_actor]))
        places = [np.searchsorted(unique, rows) for rows, _ in per_actor]  # an actor's rows are distinct
        count = np.zeros(len(unique), dtype=np.int64)
        for place in places:
            count[place] += 1
        several = count > 1
        result = np.empty((len(unique), before.shape[1]), dtype=np.float32)
        result[several] = 0
        for k, (place, (_, values)) in enumerate(zip(places, per_actor)):
            alone = ~several[place]
            result[place[alone]] = values[alone]
            result[place[~alone]] += values[~alone]
            mask = np.zeros(len(unique), dtype=bool)
            mask[place[alone]] = True
            own[k].append(mask)
        n = count[several, None].astype(np.float32)
        if merge == "mean":
            result[several] /= n
        else:  # the synced value once, plus each actor's step: sum(values) - (n - 1) * synced
            result[several] -= (n - 1) * before[unique[several]]
        merged.append((unique, result))
    return merged, own


def for_actor(merged, own):
    """The part of a sync's ``merged`` rows an actor lacks: all but those it alone changed (``own``)."""
    return [(rows[~mask], values[~mask]) for (rows, values), mask in zip(merged, own)]


def connect(address):
    """Join the Ray cluster at ``address`` ("host:port" of its head, "auto", or "ray://host:port"), or
    start a local one (None); returns whether this call started Ray (and so should stop it).
    An address that does not answer is refused within ``CONNECT_SECONDS``."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing sent anywhere unless the user asks
    if ray.is_initialized():  # the user's own connection, kept
        current = ray.get_runtime_context().gcs_address
        if address not in (None, "auto", current):
            raise ValueError(f"this process is connected to the Ray cluster at {current}, not {address}: "
                             "call ray.shutdown() first, or leave out the address")
        return False
    if address not in (None, "auto", "local") and not address.startswith("ray://"):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--ray {address}: not a Ray address (HOST:PORT of the head node, e.g. 10.0.0.1:6379, "
                             "or auto); a corpus file goes before --ray")
        try:
            socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
        except OSError as err:
            raise ConnectionError(f"no Ray cluster answers at {address}: {err.strerror or err} (start one with "
                                  "`ray start --head`, or leave out the address to start a local one)") from None
    try:
        # "local": a new local Ray, whatever RAY_ADDRESS or an earlier local cluster's address file say
        ray.init(address="local" if address is None else address, logging_level=logging.ERROR,
                 log_to_driver=False, include_dashboard=False if address in (None, "local") else None)
    except (ConnectionError, RuntimeError, ValueError) as err:
        what = "start Ray" if address in (None, "local") else f"join the Ray cluster at {address}"
        raise ConnectionError(f"cannot {what}: {' '.join(str(err).split())}") from None
    return True


class RayRun:
    """One data-parallel training run on a Ray cluster (see the module's text).

    corpus: paths every node can read (a shared file system; on one machine, any path): text files,
    read by byte ranges, or Parquet files (all ending in .parquet), read with ``ray.data`` (its
    ``text_column``); or a ``ray.data.Dataset`` with a ``text_column`` of lines (``read_text``'s
    "text"), cut into N contiguous shards in its order (the run sets its context's
    ``execution_options.preserve_order``).
    actors: how many (default: one per alive node); ``params['workers']``: threads per actor (default:
    the CPUs of the smallest node, divided among the actors it holds).  sync_words: words of its shard
    each actor trains between syncs (default ``SYNC_WORDS`` per thread: ~50 ms of training, pWord2Vec's
    order); hot_rows: the rows synced every time; merge: "mean" (default) or "sum" (the module's text).
    Other keywords are ``Params``' (gensim's names).  ``build_vocab()`` then ``train(progress)`` -> a
    ``trainer.Trainer`` holding the vectors; ``close()`` ends the actors (and the Ray this run started).
    """

    def __init__(self, corpus, *, address=None, actors=None, sync_words=None, hot_rows=HOT_ROWS,
                 merge="mean", text_column="text", **params):
        self.dataset = corpus if hasattr(corpus, "iter_batches") and hasattr(corpus, "split_at_indices") else None
        self.corpus_files = [] if self.dataset is not None else [os.fsdecode(os.fspath(path)) for path in corpus]
        self.parquet = bool(self.corpus_files) and all(p.lower().endswith(".parquet") for p in self.corpus_files)
        self.text_column = text_column if self.dataset is not None or self.parquet else None
        if self.dataset is None and not self.corpus_files:
            raise ValueError("give at least one corpus file")
        for path in self.corpus_files:
            if path == "-":
                raise ValueError("-: standard input cannot be shared by the nodes of a cluster; give files")
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: no such file" if not os.path.exists(path)
                                        else f"{path}: not a regular file")
        for name, value, least in (("actors", actors, 1), ("sync_words", sync_words, 1), ("hot_rows", hot_rows, 1)):
            if value is not None and (not isinstance(value, int) or value < least):
                raise ValueError(f"{name} must be a whole number >= {least}, not {value!r}")
        if merge not in ("mean", "sum"):
            raise ValueError(f"merge must be 'mean' or 'sum', not {merge!r}")
        Params(**params)  # every other parameter checked before a cluster is started
        self.sync_words, self.hot_rows, self.merge = sync_words, hot_rows, merge
        self.started_ray = connect(address)
        try:
            self._plan(actors, params)
        except BaseException:
            self.close()
            raise
        self.actors = []
        self.history, self.start_sync = [], 0  # a resumed run's finished epochs and syncs
        self.restarts = 0
        self.bytes_sent = 0  # by the actors to the driver, over the run (the syncs' traffic: README)
        self.bytes_received = 0  # by the actors from the driver

    def _plan(self, actors, params):
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = [int(n.get("Resources", {}).get("CPU", 0)) for n in nodes]
        self.n_actors = actors or len(nodes)
        if "workers" not in params:
            per_node = math.ceil(self.n_actors / len(nodes))
            params["workers"] = max(1, min(cpus) // per_node)
        self.params = Params(**params)
        need = self.n_actors * self.params.workers
        if need > sum(cpus):
            raise ValueError(f"the Ray cluster has {sum(cpus)} CPUs on {len(nodes)} node(s); {self.n_actors} actors "
                             f"x {self.params.workers} threads need {need} (give fewer actors or --workers)")
        self.shards = self._dataset_shards() if self.text_column is not None else \
            split_files(self.corpus_files, self.n_actors)
        self.sync_words = self.sync_words or SYNC_WORDS * self.params.workers
        # Averaging N models, each of which took a step on its own shard, moves a row 1/N as far as
        # one machine's steps on all of them would: the actors train at N times the learning rate
        # (the linear scaling of model averaging; measured against the sum in bench_distributed).
        scale = self.n_actors if self.merge == "mean" else 1
        self.actor_params = dict(self.params.to_dict(), alpha=self.params.alpha * scale,
                                 min_alpha=self.params.min_alpha * scale)
        Params(**self.actor_params)

    def _dataset_shards(self):
        """The dataset (Parquet files read with ``ray.data``) cut into N contiguous shards in order."""
        dataset = self.dataset
        if dataset is None:
            import ray.data  # pyarrow: only for datasets
            dataset = ray.data.read_parquet(self.corpus_files)
        _keep_order(dataset)
        names = dataset.schema().names
        if self.text_column not in names:
            raise ValueError(f"the dataset has no column {self.text_column!r} (its columns: {', '.join(names)}); "
                             "give the column of text lines (text_column=, --text-column)")
        dataset = dataset.select_columns([self.text_column])
        if self.n_actors == 1:
            return [dataset]
        rows = dataset.count()
        return dataset.split_at_indices([k * rows // self.n_actors for k in range(1, self.n_actors)])

    def _new_actor(self, k):
        actor = ray.remote(ShardTrainer).options(
            num_cpus=self.params.workers, scheduling_strategy="SPREAD", max_restarts=0, max_task_retries=0,
        ).remote(self.actor_params, self.shards[k], self.text_column)
        try:
            ray.get(actor.ready.remote(), timeout=PLACE_SECONDS)
        except GetTimeoutError:
            ray.kill(actor)
            raise RuntimeError(f"no node of the Ray cluster could take actor {k + 1} ({self.params.workers} CPUs) "
                               f"within {PLACE_SECONDS} s") from None
        return actor

    def build_vocab(self, resume=None):
        """Read the shards on the actors, merge their counts into the vocabulary (the words and the
        order one machine gives), and start every actor on it, from new weights drawn from ``seed``
        or, with ``resume`` (a ``trainer.Trainer`` loaded from a checkpoint, ``RayRun.resume``), from
        its weights and random states.  Returns the ``Vocab``."""
        t0 = time.perf_counter()
        self.actors = [self._new_actor(k) for k in range(self.n_actors)]
        counted = _gather([a.read.remote() for a in self.actors])
        first_seen, totals = {}, []
        for words, counts, _, _ in counted:  # shard order: first seen in the files' order
            for word, count in zip(words, counts.tolist()):
                index = first_seen.setdefault(word, len(first_seen))
                if index == len(totals):
                    totals.append(count)
                else:
                    totals[index] += count
        counts = np.array(totals, dtype=np.int64)
        source = ("the dataset" if not self.corpus_files else self.corpus_files[0] if len(self.corpus_files) == 1
                  else f"{self.corpus_files[0]} ...")
        _check_vocab(source, counts if len(counts) else np.zeros(1, np.int64), self.params.min_count)
        words = list(first_seen)
        order = vocabulary_order(counts, self.params.min_count)
        rank = np.full(len(words), -1, dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        self.vocab = Vocab([words[i] for i in order], counts[order])
        self.remaps = [rank[[first_seen[w] for w in shard_words]] if len(shard_words) else
                       np.zeros(0, np.int32) for shard_words, *_ in counted]
        self.raw_tokens = sum(c[2] for c in counted)
        self.invalid_tokens = sum(c[3] for c in counted)
        if resume is None:
            self.weights = list(w for w in initial_weights(self.params, len(self.vocab)) if w is not None)
            states = seed_states(self.params.seed, self.n_actors * self.params.workers)
            self.rng_states = [[int(s) for s in states[k * self.params.workers:(k + 1) * self.params.workers]]
                               for k in range(self.n_actors)]
        else:
            if resume.vocab.words != self.vocab.words or not np.array_equal(resume.vocab.counts, self.vocab.counts):
                raise ValueError(f"{source}: not the corpus the checkpoint was trained on (its vocabulary differs)")
            self.weights = [resume.vectors, resume.syn1neg] + ([resume.syn1] if resume.syn1 is not None else [])
            self.rng_states = resume._header["distributed"]["rng_states"]
        weights = ray.put([np.ascontiguousarray(w) for w in self.weights])
        counts_ref = ray.put(self.vocab.counts)
        started = _gather([a.start.remote(self.remaps[k], counts_ref, weights, self.rng_states[k])
                           for k, a in enumerate(self.actors)])
        self.shard_words = [s[0] for s in started]
        self.jobs = [s[1] for s in started]
        self.timings = {"vocab": time.perf_counter() - t0, "compile": max(s[2] for s in started)}
        return self.vocab

    def _restart(self, k, error, epoch, r):
        """A new actor for shard ``k`` in place of a lost one, at the driver's model and the lost
        actor's random states as of round ``r``'s start, having trained again the rounds of
        ``epoch`` whose steps on some tier no sync has taken yet (``_replay_plan``)."""
        self.restarts += 1
        if self.restarts > MAX_RESTARTS * self.n_actors:
            raise RuntimeError(f"lost {self.restarts} actors in one run (the last: {error}); the cluster is failing")
        logger.warning("actor %d lost (%s): restarting it from the last sync, its rounds since the least "
                       "recently synced rows' last sync trained again", k + 1, type(error).__name__)
        actor = self._new_actor(k)
        ray.get(actor.read.remote())
        ray.get(actor.start.remote(self.remaps[k], self.vocab.counts, [np.ascontiguousarray(w) for w in self.weights],
                                   self.rng_states[k]))
        ray.get(actor.replay.remote(epoch, *self._replay_plan(k, r)))
        self.actors[k] = actor
        return actor

    def _replay_plan(self, k, r):
        """What a new actor for shard ``k`` trains again before round ``r`` of the epoch (``ShardTrainer.
        replay``'s rounds and after): the rounds since the least recently synced tier's last sync, each
        preceded by the reset of the tiers synced just before it.  A tier's unsynced steps are held
        by its actor alone; replayed, a lost actor costs the round it was in, not the rarer tiers'
        steps since their last sync."""
        def resets(j):  # the tiers synced after round j - 1 (-1: at the epoch's start)
            chosen = [t for t, at in enumerate(self._synced_at) if at == j - 1]
            return [[row_ranges(self._matrix_tiers[t], w.shape[0], end) for t in chosen]
                    for w, end in zip(self.weights, self._from_the_end)]

        first_round = min(self._synced_at) + 1
        rounds = [(*self._rounds[k][j], resets(j)) for j in range(first_round, r)]
        return rounds, resets(r)

    def train(self, progress=None, checkpoint_path=None, checkpoint_every=1, checkpoint_notes=None):
        """Train ``epochs`` passes; returns a ``trainer.Trainer`` holding the vocabulary, the averaged
        vectors (syn0, syn1neg, syn1), the epochs' stats and the timings.

        checkpoint_path: save the run's state there, atomically (``Trainer.save``'s archive, with the
        actors' random states), at the end of every ``checkpoint_every``-th epoch but the last, when
        every row is synced; ``RayRun.resume`` continues it (bit-identical with one thread per
        actor).  Removed when training ends.  checkpoint_notes: JSON values kept in its header."""
        p = self.params
        if checkpoint_path is not None and self.dataset is not None:
            raise ValueError("a run on a ray.data Dataset object cannot be resumed from a file; give its files")
        matrix_tiers = self._matrix_tiers = tiers(len(self.vocab), self.hot_rows)
        from_the_end = self._from_the_end = [False, False, True][:len(self.weights)]
        corpus_words = sum(self.shard_words)
        rounds = max(1, round(corpus_words / self.n_actors / self.sync_words))
        total_words = corpus_words * p.epochs
        updates, sync, history = [None] * self.n_actors, self.start_sync, list(self.history)
        t_train = time.perf_counter()
        for epoch in range(len(history), p.epochs):
            totals, t_epoch = EpochTotals(), time.perf_counter()
            lag = [0.0] * self.n_actors
            # every row is synced at an epoch's start: a lost actor's rounds are replayed from there
            self._rounds = [[] for _ in range(self.n_actors)]  # per actor and round: first, end, random states
            self._synced_at = [-1] * len(matrix_tiers)  # per tier, the round after which it was last synced
            for r in range(rounds):
                sync += 1
                chosen = due(len(matrix_tiers), sync, r == rounds - 1)
                sync_rows = [[row_ranges(matrix_tiers[k], w.shape[0], end) for k in chosen]
                             for w, end in zip(self.weights, from_the_end)]
                t_round = time.perf_counter()
                results = self._round(updates, epoch, r, rounds, sync_rows)
                for t in chosen:
                    self._synced_at[t] = r
                wall = time.perf_counter() - t_round
                for k, (round_totals, changed, states, busy) in enumerate(results):
                    for name, value in round_totals.items():
                        setattr(totals, name, getattr(totals, name) + value)
                    self.rng_states[k] = states
                    self.bytes_sent += sum(rows.nbytes + values.nbytes for rows, values in changed)
                    lag[k] += max(wall - busy, 0.0)
                update, own = average([changed for _, changed, _, _ in results], self.weights, self.merge)
                updates = [for_actor(update, mine) for mine in own]
                self.bytes_received += sum(rows.nbytes + values.nbytes for u in updates for rows, values in u)
                for weights, (rows, values) in zip(self.weights, update):
                    weights[rows] = values
                if not all(np.isfinite(values).all() for _, values in update):
                    raise Diverged(f"training diverged in epoch {epoch + 1}: some vectors are not finite; use a "
                                   f"smaller alpha (now {p.alpha:g})")
                if progress is not None:
                    done = epoch * corpus_words + totals.raw
                    alpha, min_alpha = self.actor_params["alpha"], self.actor_params["min_alpha"]
                    alpha -= (alpha - min_alpha) * done / total_words
                    loss = totals.loss / max(totals.pairs, 1) if p.compute_loss else None
                    progress.update(done, total_words, epoch, alpha, loss,
                                    note=f"{self.n_actors} actors, lag " + "/".join(f"{x:.1f}" for x in lag[:8]) + "s")
            stats = EpochStats(epoch + 1, totals.raw, totals.effective, totals.pairs, time.perf_counter() - t_epoch,
                               totals.loss / max(totals.pairs, 1) if p.compute_loss else None)
            history.append(stats)
            if checkpoint_path is not None and epoch + 1 < p.epochs and (epoch + 1) % checkpoint_every == 0:
                self._save(checkpoint_path, history, sync, checkpoint_every, checkpoint_notes)
            if progress is not None:
                progress.epoch_end(stats)
            logger.info(epoch_summary(stats, p.epochs))
        self.timings["train"] = time.perf_counter() - t_train
        self.syncs = sync
        if checkpoint_path is not None and os.path.exists(checkpoint_path):
            os.unlink(checkpoint_path)
        return self._model(history)

    def _save(self, path, history, sync, every, notes):
        """A checkpoint at an epoch's end: the driver's model (every row synced), the actors' random
        states and the run's settings, in ``Trainer.save``'s archive."""
        state = {"distributed": {"corpus": [os.path.abspath(f) for f in self.corpus_files],
                                 "actors": self.n_actors, "sync_words": self.sync_words, "hot_rows": self.hot_rows,
                                 "merge": self.merge, "text_column": self.text_column, "sync": sync,
                                 "rng_states": self.rng_states},
                 "checkpoint_every": every, **({} if notes is None else {"notes": notes})}
        self._model(history).save(path, _extra=state)

    @classmethod
    def resume(cls, state_path, *, address=None, progress=None, corpus=None):
        """Continue the distributed run saved in ``state_path`` (``train(checkpoint_path=...)``) on the
        cluster at ``address``, with as many actors and threads as it had, on its corpus (or
        ``corpus``, the same text elsewhere); checkpoints go on to the same path.  Returns the model."""
        from .io import read_header

        header = read_header(state_path)
        saved = header.get("distributed")
        if saved is None:
            raise ValueError(f"{state_path}: not a checkpoint of a distributed run; resume it without --ray")
        model = Trainer.load(state_path)
        params = model.params.to_dict()
        run = cls(corpus or saved["corpus"], address=address, actors=saved["actors"], sync_words=saved["sync_words"],
                  hot_rows=saved["hot_rows"], merge=saved["merge"], text_column=saved["text_column"] or "text",
                  **params)
        try:
            run.build_vocab(resume=model)
            run.history, run.start_sync = list(model.epoch_stats), saved["sync"]
            return run.train(progress, state_path, header.get("checkpoint_every", 1), header.get("notes"))
        finally:
            run.close()

    def _round(self, updates, epoch, r, rounds, sync_rows):
        """One round on every actor; a lost actor is restarted (``_restart``) and its round trained again."""
        jobs = [(r * n // rounds, (r + 1) * n // rounds) for n in self.jobs]  # each actor's jobs [first, end)

        def call(k, actor, pending):
            return actor.train_round.remote(pending, epoch, *jobs[k], sync_rows)

        for k in range(self.n_actors):  # the round's jobs and random states, should it be replayed
            self._rounds[k].append((*jobs[k], list(self.rng_states[k])))
        refs = [call(k, a, update) for k, (a, update) in enumerate(zip(self.actors, updates))]
        results = []
        for k, ref in enumerate(refs):
            while True:
                try:
                    results.append(_get(ref))
                    break
                except LOST as err:
                    # the new actor starts from the driver's model, where ``update`` is already in
                    ref = call(k, self._restart(k, err, epoch, r), None)
        return results

    def _model(self, history):
        model = Trainer(**self.params.to_dict())
        model.vocab = self.vocab
        model.vectors, model.syn1neg = self.weights[0], self.weights[1]
        model.syn1 = self.weights[2] if len(self.weights) > 2 else None
        model.epoch_stats = history
        model.training_loss = history[-1].loss
        model.corpus_file = os.path.abspath(self.corpus_files[0]) if self.corpus_files else None
        model.corpus_total_words = self.raw_tokens
        model.invalid_tokens = self.invalid_tokens
        model.timings = dict(self.timings)
        untrained = nothing_trained(history, self.params.sample)
        if untrained:
            logger.warning(untrained)
        return model

    def close(self):
        """End the actors, and the local Ray this run started."""
        for actor in getattr(self, "actors", []):
            ray.kill(actor)
        self.actors = []
        if self.started_ray and ray.is_initialized():
            ray.shutdown()


def _keep_order(dataset):
    """Have ``dataset`` yield its rows in its order: ray.data yields blocks as its tasks finish them
    unless the dataset's own context says to keep their order (the context is the one current when
    the dataset was made, shared with the datasets made from it and carried with them to the
    actors; setting the current one later changes nothing).  The vocabulary's order of first
    occurrence, and the ids, depend on the order."""
    dataset.context.execution_options.preserve_order = True


def _get(ref):
    """ray.get, with an error raised in an actor's own code raised here as itself (a ValueError, a
    Diverged), not wrapped in Ray's RayTaskError."""
    try:
        return ray.get(ref)
    except RayTaskError as err:
        cause = err.cause if isinstance(err.cause, BaseException) else None
        if cause is not None and not isinstance(cause, LOST):
            raise cause from None
        raise


def _gather(refs):
    return [_get(ref) for ref in refs]


def train_on_ray(corpus, *, address=None, actors=None, progress=None, sync_words=None,
                 hot_rows=HOT_ROWS, **params):
    """Train on ``corpus`` (text or Parquet files, or a ``ray.data.Dataset``: ``RayRun``) on the Ray
    cluster at ``address`` (None: a local Ray, started and stopped here) with ``actors`` actors; returns
    a ``trainer.Trainer`` (``model.wv``, ``save_word2vec_format``, ``save``).  See ``RayRun`` for the
    arguments."""
    run = RayRun(corpus, address=address, actors=actors, sync_words=sync_words, hot_rows=hot_rows, **params)
    try:
        run.build_vocab()
        return run.train(progress)
    finally:
        run.close()

