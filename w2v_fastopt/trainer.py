"""``Trainer``: the engine's own training run (skip-gram or CBOW, negative sampling or hierarchical
softmax), which the
command line uses: one pass of our tokenizer over the corpus into ids, our driver's threads, the
exact per-epoch loss, checkpoints and resume, atomic zip model files (no pickle).  For gensim's API
(its constructor, online vocabulary, callbacks, its save format) use ``w2v_fastopt.Word2Vec``.

    model = Trainer(corpus_file="corpus.txt", vector_size=100, window=5, epochs=5, seed=1)
    model.wv.most_similar("king")     # model.wv is a gensim KeyedVectors
    model.save("m.w2v"); Trainer.load("m.w2v")
    model.wv.save_word2vec_format("v.bin", binary=True)
"""
import json
import logging
import os
import time

import numpy as np

from .checkpoint import Checkpoint, load_position
from .io import MODEL_FORMAT, atomic_path, check_output, declared_arrays, read_header, write_word2vec_format
from .kernels.prep import huffman_tree
from .kernels.walk import Corpus
from .params import Params, check_memory
from .prepare import corpus_digest, load_corpus
from .progress import epoch_summary
from .rules import padded, padded_matrix
from .train import EpochStats, Position, nothing_trained, prepare_kernel, train
from .vocab import Vocab

HUFFMAN_TREE = "gensim"  # the tree an HS model's syn1 rows belong to, in its header (earlier: word2vec.c's)

logger = logging.getLogger(__name__)


INIT_ROWS = 1 << 14  # input rows initialized per draw


def _check_sizes(path, arrays, header):
    """Refuse, before inflating anything, a model archive whose arrays (``io.declared_arrays``)
    do not fit together, or need more memory than there is: a V x d matrix for each table, V counts."""
    def refuse(why):
        raise ValueError(f"{path}: not a valid w2v_fastopt model file ({why})")

    params = header.get("params")
    if not isinstance(params, dict):
        refuse("no parameters in its header")
    tables = ["vectors", "syn1neg"] + (["syn1"] if params.get("hs") else [])
    for name in ["header", "words", "counts"] + tables:
        if name not in arrays:
            refuse(f"no {name}.npy")
    if len(arrays["counts"][0]) != 1:
        refuse(f"counts.npy has shape {arrays['counts'][0]}")
    (n,), dim = arrays["counts"][0], params.get("vector_size")
    for name in tables:
        if arrays[name][0] != (n, dim) or arrays[name][1] != np.float32:
            refuse(f"{name}.npy is {arrays[name][1]}{list(arrays[name][0])}, not float32[{n}, {dim}]")
    if len(arrays["words"][0]) != 1 or arrays["words"][1] != np.uint8 or arrays["counts"][1].kind not in "iu":
        refuse("words.npy or counts.npy of the wrong kind")
    check_memory(sum(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize for shape, dtype in arrays.values()),
                 f"{path}: its arrays")


def padded_copy(array):
    """A float32 ``rules.padded_matrix`` holding the matrix ``array`` (a loaded model's)."""
    if array.ndim != 2:
        raise ValueError(f"a matrix of vectors has 2 dimensions, not {array.ndim}")
    copy = padded_matrix(*array.shape)
    copy[...] = array
    return copy


def initial_weights(params, words):
    """(syn0, syn1neg, syn1 or None) of a new model of ``words`` words: ``rules.padded_matrix``
    float32[words, vector_size]; syn0 uniform(-0.5, 0.5) / vector_size drawn from ``seed``
    (word2vec.c's), the others zero (calloc: their pages appear as they are trained)."""
    rng = np.random.default_rng(params.seed)
    dim = params.vector_size
    n_tables = 3 if params.hs else 2
    check_memory(n_tables * 4 * words * padded(dim), f"the vectors ({words:,} words x {dim} x {n_tables} tables)")
    # The input rows drawn INIT_ROWS at a time: the same stream as one draw, no V x d temporary.
    syn0 = padded_matrix(words, dim)
    for first in range(0, words, INIT_ROWS):
        rows = syn0[first:first + INIT_ROWS]
        rows[...] = rng.random(rows.shape, dtype=np.float32)
        rows -= np.float32(0.5)
        rows /= np.float32(dim)
    return syn0, padded_matrix(words, dim), padded_matrix(words, dim) if params.hs else None


class Trainer:
    """Skip-gram (``sg=1``) or CBOW (``sg=0``, ``cbow_mean``) with negative sampling, hierarchical
    softmax (``hs=1``, and ``negative=0`` for it alone) or both, trained by the Numba kernels.

    Parameters are gensim's names with its defaults, except ``sg`` (default 1: skip-gram, the command
    line's default; gensim's and ``w2v_fastopt.Word2Vec``'s is 0),
    ``workers`` (default: all cores) and ``shared_negatives`` (skip-gram SGD; default True: one set of
    negatives per center word shared by its window, pWord2Vec; False: word2vec.c's fresh negatives for
    every pair).
    Give ``sentences`` (an iterable of token lists or of lines, read once) or ``corpus_file`` (a path
    to UTF-8 text, plain/.gz/.bz2) to build the vocabulary and train at once, or neither and call
    ``build_vocab`` and ``train`` yourself.  ``progress=True`` shows the command line's progress
    line on stderr (None or False: none); per-epoch summaries are also logged (logger
    ``w2v_fastopt.trainer``, INFO).

    Reproducibility: with ``workers=1`` and a fixed ``seed`` two runs give bit-identical vectors;
    with more workers the threads race on shared rows (Hogwild) and runs differ slightly.  The
    ``workers`` threads also read a large plain ``corpus_file``, each a part of it (the same
    vocabulary and ids as one thread: ``corpus.read_corpus_file``).

    Attributes after training: ``wv`` (gensim KeyedVectors over ``vectors`` float32[V, vector_size],
    word counts in ``wv.get_vecattr(word, "count")``), ``vocab`` (words and counts, descending),
    ``syn1neg`` (output vectors, float32[V, d]), ``syn1`` (hierarchical softmax's inner-node vectors,
    float32[V, d], the last row unused; None without ``hs``),
    ``training_loss`` (exact mean loss per (center, context) pair over the last epoch; None with
    ``compute_loss=False``: hierarchical softmax takes ~20% less time without it, word2vec.c's
    mode ~8%, the others a few %),
    ``epoch_stats`` (list of EpochStats), ``timings`` (seconds per phase).
    The three matrices are the first d columns of matrices whose rows are padded to whole 64-byte
    lines (``rules.padded_matrix``; not C-contiguous unless d is a multiple of 16): the kernels run
    faster on them.  Index and slice them as any array; ``np.ascontiguousarray`` gives a plain copy.
    """

    def __init__(self, sentences=None, corpus_file=None, *, progress=None, **params):
        self.params = Params(**params)
        if progress is True:  # a tqdm line on stderr, as the command line shows
            from .progress import ProgressBar
            progress = ProgressBar(self.params.epochs)
        self.progress = None if progress is False else progress
        self.vocab = None
        self.vectors = None
        self.syn1neg = None
        self.syn1 = None
        self._wv = None
        self.training_loss = None
        self.epoch_stats = []
        self.timings = {}
        self.corpus_file = None
        self.invalid_tokens = 0
        self._corpus = None
        self._store = None
        self._position = None
        self._corpus_digest = None
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences=sentences, corpus_file=corpus_file)
            self.train()

    def __getattr__(self, name):
        # gensim-style attribute access to parameters: model.window, model.vector_size, ...
        params = self.__dict__.get("params")
        if params is not None and hasattr(params, name):
            return getattr(params, name)
        raise AttributeError(f"'Trainer' object has no attribute '{name}'")

    def build_vocab(self, sentences=None, corpus_file=None):
        """Read the corpus, count words, keep those with count >= min_count, initialize vectors.

        The text is read once; twice with ``max_vocab_size`` (a pruned counting pass, then the ids).

        Input vectors: uniform(-0.5, 0.5) / vector_size (word2vec.c); output vectors: zero.
        """
        t0 = time.perf_counter()
        self.vocab = self._read(sentences, corpus_file)
        self.vectors, self.syn1neg, self.syn1 = initial_weights(self.params, len(self.vocab))
        self._wv = None
        self.timings["vocab"] = time.perf_counter() - t0
        return self

    def _read(self, sentences, corpus_file):
        """Read the corpus into vocabulary ids (``prepare.load_corpus``) and keep them for ``train``;
        returns its ``Vocab`` (the model's own vocabulary and weights are left as they are)."""
        corpus = load_corpus(sentences, corpus_file, min_count=self.params.min_count,
                             max_vocab_size=self.params.max_vocab_size, threads=self.params.workers)
        self._corpus = Corpus(corpus.ids, corpus.starts)
        self._store = corpus.store
        self._corpus_digest = None  # computed when a checkpoint needs it (``_digest``)
        self.corpus_file = None  # kept in checkpoints, absolute: a resume may run elsewhere
        if corpus_file is not None and corpus.source != "-":
            self.corpus_file = os.path.abspath(corpus.source)
        self.corpus_total_words = corpus.raw_tokens
        self.invalid_tokens = corpus.invalid_tokens
        return corpus.vocab

    def train(self, checkpoint_path=None, checkpoint_every=None, stop=None, checkpoint_notes=None):
        """Train for ``epochs`` passes over the corpus given to ``build_vocab``; returns self.

        checkpoint_path, checkpoint_every: save a resumable state (``Trainer.resume``) atomically
        every N epochs (``checkpoint_every=N`` or ``"N"``) or every so often (``"90s"``, ``"10m"``,
        ``"1h"``: checked between segments of ~2.5M words).  The state is removed when training ends.
        checkpoint_notes: a dict of JSON values kept in the checkpoints' header (``"notes"``) for
        whoever resumes them (the command line notes where it writes the vectors); ``resume`` keeps
        them in the checkpoints it goes on to take.
        stop: a ``threading.Event``; set it (or press Ctrl-C) to stop within a few milliseconds with
        ``train.Stopped``.  The vectors are then partly trained; nothing on disk is touched.
        """
        if self._corpus is None:
            raise RuntimeError("call build_vocab before train (or pass a corpus to Trainer)")
        p = self.params
        if self._position is None or self._position.epoch >= p.epochs:
            self._position = Position.start(p.seed, p.workers)
        checkpoint = None
        if checkpoint_path is not None:
            check_output(checkpoint_path, inputs=[self.corpus_file])
            self._digest()
            checkpoint = Checkpoint(self, checkpoint_path, checkpoint_every, checkpoint_notes)
        kernel = prepare_kernel(p, self.vectors, self.syn1neg, self.vocab.tables(p.sample, p.ns_exponent),
                                self._hs_layer())
        t0 = time.perf_counter()
        try:
            history, compile_seconds = train(
                kernel, self._corpus, self._position, progress=self.progress, checkpoint=checkpoint, stop=stop,
                release=self._store.release if self._store is not None else None)
        finally:
            if hasattr(self.progress, "close"):
                self.progress.close()
        self.timings["compile"] = compile_seconds
        self.timings["train"] = time.perf_counter() - t0 - compile_seconds
        if self._wv is not None:
            self._wv.norms = None  # vectors moved: gensim's cached norms are stale
        self.epoch_stats = history
        self.training_loss = history[-1].loss
        untrained = nothing_trained(history, p.sample)
        if untrained:
            logger.warning(untrained)
        for stats in history:
            logger.info(epoch_summary(stats, p.epochs))
        if checkpoint_path is not None and os.path.exists(checkpoint_path):
            os.unlink(checkpoint_path)
        return self

    def _digest(self):
        """The corpus's ``prepare.corpus_digest``, computed once (a resume checks it)."""
        if self._corpus_digest is None:
            self._corpus_digest = corpus_digest(self._corpus.ids, self._corpus.starts,
                                                self._store.release if self._store is not None else None)
        return self._corpus_digest

    def _hs_layer(self):
        """(syn1, points, codes, lengths) for hierarchical softmax (the tree from the counts,
        gensim's, ``prep.huffman_tree``), or None."""
        if self.syn1 is None:
            return None
        return (self.syn1,) + huffman_tree(np.ascontiguousarray(self.vocab.counts, dtype=np.int64))

    @classmethod
    def resume(cls, state_path, corpus_file=None, progress=None, stop=None):
        """Continue the training saved in the checkpoint ``state_path`` to its last epoch.

        The corpus is read again (``corpus_file``, default: the path recorded in the state) and must
        be the same: the same vocabulary, and the same ids in the same order (``prepare.corpus_digest``,
        recorded in the checkpoint).  With ``workers=1`` the result is bit-identical to a run that was
        never interrupted.  Checkpoints go on to the same path on the same schedule, with the same notes.
        """
        model = cls.load(state_path)
        header = model._header
        if "position" not in header:
            raise ValueError(f"{state_path}: a saved model, not a training checkpoint")
        if model.syn1 is not None and header.get("huffman_tree") != HUFFMAN_TREE:
            raise ValueError(f"{state_path}: a hierarchical-softmax checkpoint of an earlier w2v_fastopt, whose "
                             "syn1 rows belong to word2vec.c's Huffman tree; this version trains gensim's "
                             "tree, so it cannot resume it: start the training again")
        corpus_file = corpus_file or header.get("corpus_file")
        if corpus_file is None:
            raise ValueError(f"{state_path}: trained from sentences; give corpus_file= to resume")
        model.progress = None if progress is False else progress
        t0 = time.perf_counter()
        vocab = model._read(None, corpus_file)  # the weights are the checkpoint's: none allocated
        if vocab.words != model.vocab.words or not np.array_equal(vocab.counts, model.vocab.counts):
            raise ValueError(f"{corpus_file}: not the corpus {state_path} was trained on "
                             "(its vocabulary differs)")
        if "corpus_digest" in header and model._digest() != header["corpus_digest"]:
            raise ValueError(f"{corpus_file}: not the corpus {state_path} was trained on (the same words, "
                             "but not in the same order: its content digest differs)")
        model.timings["vocab"] = time.perf_counter() - t0
        model._position = load_position(header)
        return model.train(checkpoint_path=state_path, checkpoint_every=header.get("checkpoint_every"),
                           stop=stop, checkpoint_notes=header.get("notes"))

    def get_latest_training_loss(self):
        """gensim's name; here the exact mean loss per pair of the last epoch (not a running sum), None
        when not computed."""
        return self.training_loss

    @property
    def wv(self):
        """The vectors as a gensim ``KeyedVectors`` (made on first use; shares ``vectors``' memory)."""
        if self._wv is None and self.vocab is not None:
            from gensim.models import KeyedVectors  # ~0.5 s to import: not on the training path

            wv = KeyedVectors(self.vectors.shape[1], count=0, dtype=np.float32)
            wv.index_to_key = list(self.vocab.words)
            wv.key_to_index = {w: i for i, w in enumerate(wv.index_to_key)}
            wv.vectors = self.vectors
            wv.allocate_vecattrs(attrs=["count"], types=[np.int64])
            wv.expandos["count"][:] = self.vocab.counts
            self._wv = wv
        return self._wv

    def save_word2vec_format(self, path, binary=True):
        """Write the vectors in word2vec.c's binary or text format, atomically (gensim can load it)."""
        if self.vocab is None:
            raise RuntimeError("nothing to save: the model has no vocabulary yet")
        write_word2vec_format(path, self.vocab.words, self.vectors, binary=binary)

    def save(self, path, _extra=None):
        """Save the model (vectors, output vectors, vocabulary, parameters, per-epoch stats).

        One zip archive of .npy arrays and a JSON header (no pickle), written atomically.
        """
        if self.vocab is None:
            raise RuntimeError("nothing to save: the model has no vocabulary yet")
        header = {"format": MODEL_FORMAT, "params": self.params.to_dict(),
                  "epoch_stats": [vars(s) for s in self.epoch_stats],
                  "training_loss": self.training_loss, "corpus_file": self.corpus_file,
                  **({} if self._corpus_digest is None else {"corpus_digest": self._corpus_digest}),
                  **({} if self.syn1 is None else {"huffman_tree": HUFFMAN_TREE}),
                  **(_extra or {})}
        words = "\n".join(self.vocab.words).encode("utf-8")
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                         words=np.frombuffer(words, dtype=np.uint8),
                         counts=self.vocab.counts, vectors=self.vectors, syn1neg=self.syn1neg,
                         **({} if self.syn1 is None else {"syn1": self.syn1}))
                f.flush()
                os.fsync(f.fileno())

    @classmethod
    def load(cls, path):
        """Load a model written by ``save``; raises ValueError naming the file if it is not one."""
        path = os.fsdecode(os.fspath(path))
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path}: is a directory, not a model file")
        if not os.path.isfile(path):
            raise ValueError(f"{path}: not a regular file (a device, FIFO or socket); give a model file")
        header = read_header(path)
        if header.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path}: not a valid w2v_fastopt model file (unknown format {header.get('format')!r})")
        _check_sizes(path, declared_arrays(path), header)
        try:
            with np.load(path, allow_pickle=False) as archive:
                words = archive["words"].tobytes().decode("utf-8").split("\n")
                counts = archive["counts"]
                vectors, syn1neg = padded_copy(archive["vectors"]), padded_copy(archive["syn1neg"])
                syn1 = padded_copy(archive["syn1"]) if "syn1" in archive.files else None
            model = cls(**header["params"])
            if len(words) != len(counts):
                raise ValueError(f"{len(words):,} words for {len(counts):,} counts")
            model.epoch_stats = [EpochStats(**s) for s in header.get("epoch_stats", [])]
        except Exception as err:  # whatever a malformed archive raises (IndexError, AttributeError...)
            raise ValueError(f"{path}: not a valid w2v_fastopt model file ({type(err).__name__}: {err})") from None
        model.vocab, model.vectors = Vocab(words, counts), vectors
        model.syn1neg, model.syn1 = syn1neg, syn1
        model.training_loss = header.get("training_loss")
        model.corpus_file = header.get("corpus_file")
        model._header = header
        return model
