"""gensim 4's ``Word2Vec`` whose training loops are the Numba kernels.

    from w2v_fastopt.gensim_word2vec import Word2Vec     # instead of gensim.models.Word2Vec
    model = Word2Vec(sentences, vector_size=100, window=5, min_count=1, workers=2)   # sg=0: CBOW, as gensim
    model.build_vocab(more, update=True); model.train(more, total_examples=..., epochs=model.epochs)

A subclass of gensim's class: the constructor and its defaults, the vocabulary (``build_vocab`` with
``update=True``, ``build_vocab_from_freq``, ``trim_rule``, ``max_final_vocab``), the learning-rate
schedule, callbacks, logging, ``save``/``load`` (gensim's format), ``score``, ``predict_output_word``,
``reset_from`` and ``wv`` are gensim's own.  Only the two places where gensim runs its compiled
training loops are replaced:

- an iterable corpus (``_do_train_job``): gensim's producer thread cuts it into jobs of
  ``batch_words`` words; each worker thread maps its job to vocabulary ids and runs the rule's kernel
  on it (the GIL released: the threads train in parallel) at the job's learning rate;
- ``corpus_file`` (``_train_epoch_corpusfile``): the file is read once per ``train()`` by our
  tokenizer (``prepare.load_corpus``), mapped to gensim's vocabulary, and each epoch is one run of our
  driver (``train.train``), whose learning rate falls linearly over the corpus position as gensim's.

Both sample with gensim's own per-word thresholds (``wv.expandos["sample_int"]``: ``sample`` >= 1
and online updates mean what they mean in gensim) and draw negatives from count^ns_exponent.  The
loss (``compute_loss``, ``get_latest_training_loss``) is the kernels' exact one, summed over the
``train()`` call as gensim sums its own; as in gensim, it is computed only when asked (hierarchical
softmax takes ~20% less time without it, word2vec.c's mode ~8%).

Hierarchical softmax (``hs=1``, alone or with ``negative > 0``) trains over gensim's own Huffman tree
(``wv.expandos["code"/"point"]``) and ``syn1`` (``kernels/hs.py``).  Where no kernel exists yet,
gensim's own loops train, and a log line says so: ``wv.vectors_lockf`` other than all ones.

Ours besides gensim's: the fields of ``params.Params`` marked ``ours`` (``shared_negatives``,
``combine``, ``optimizer``, ``accumulate``), as keyword arguments.
"""
import copyreg
import importlib
import inspect
import itertools
import logging
import os
import threading
import types
import urllib.parse
from contextlib import contextmanager
from collections import _count_elements, defaultdict
from copy import copy as _copy, deepcopy as _deepcopy
from dataclasses import fields

import numpy as np
from gensim import utils as gensim_utils
from gensim.models import word2vec as gensim_word2vec

from .corpus import CorpusStore, TokenizedCorpus, read_binary_lines, read_text8
from .kernels.rng import seed_states
from .kernels.sampling import build_alias_table, pack_alias_table
from .kernels.prep import huffman_tree
from .kernels.walk import MAX_SENTENCE, Corpus, Job, Tables
from .params import Params
from .prepare import load_corpus
from .rules import find_rule, padded_matrix
from .train import Diverged, Position, job_boundaries, prepare_kernel
from .train import train as run_epochs

logger = logging.getLogger(__name__)

_TRAIN_SIGNATURE = inspect.signature(gensim_word2vec.Word2Vec.train)
OURS = tuple(f.name for f in fields(Params) if f.metadata["ours"])  # our settings that gensim has not
_LOCK = threading.Lock()  # the running loss and model.random, shared by gensim's worker threads


class Word2Vec(gensim_word2vec.Word2Vec):
    """gensim's ``Word2Vec`` (same arguments, defaults and attributes), trained by our kernels.

    Extra keyword arguments (``OURS``, with ``Params``' defaults and meanings): ``shared_negatives``
    (skip-gram SGD: None or True, one set of negatives per center shared by its window; False,
    word2vec.c's fresh negatives per pair), ``combine`` (negative sampling with SGD, skip-gram or
    CBOW: 1, or C > 1 consecutive centers per set of negatives, faster, at a cost in analogies: see
    the README),
    ``optimizer`` (sgd, softbatch, heun, rk4: ``rules.OPTIMIZERS``), ``accumulate`` (softbatch's pairs
    per update).  The class holds their defaults, so that a model pickled by gensim itself loads with ours.
    """
    # During train() only (instance attributes, left out of save): _prepared, the ``train.Kernel``;
    # _epoch, the epoch gensim's jobs are in; _diverged, the ``train.Diverged`` of a job that diverged
    # (its epoch then raises it); on a corpus_file or a corpus that reads the same every epoch,
    # _corpus_cache = (the path or the iterable, ``walk.Corpus``, raw words or None, its CorpusStore or
    # None) and _engine_states, the driver's RNG states.
    TRANSIENT = ("_prepared", "_epoch", "_diverged", "_corpus_cache", "_engine_states", "_constructor_read")

    def __init__(self, sentences=None, corpus_file=None, vector_size=100, alpha=0.025, window=5, min_count=5,
                 max_vocab_size=None, sample=1e-3, seed=1, workers=3, min_alpha=0.0001, sg=0, hs=0, negative=5,
                 ns_exponent=0.75, cbow_mean=1, hashfxn=hash, epochs=5, null_word=0, trim_rule=None,
                 sorted_vocab=1, batch_words=gensim_word2vec.MAX_WORDS_IN_BATCH, compute_loss=False,
                 callbacks=(), comment=None, max_final_vocab=None, shrink_windows=True, **ours):
        unknown = next((name for name in ours if name not in OURS), None)
        if unknown is not None:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument {unknown!r}")
        self.__dict__.update(ours)
        # an impossible combination: refused now
        find_rule(self.optimizer, self.shared_negatives, sg, hs, self.combine)
        if self.optimizer != "sgd" and not negative:
            raise ValueError(f"optimizer={self.optimizer!r} trains negative sampling (negative > 0, hs=0)")
        # the constructor's build_vocab and train() read one corpus, unchanged in between: a file
        # class read once (``_read_lines``); dropped with the other transient state by train()
        self._constructor_read = {}
        super().__init__(
            sentences=sentences, corpus_file=corpus_file, vector_size=vector_size, alpha=alpha, window=window,
            min_count=min_count, max_vocab_size=max_vocab_size, sample=sample, seed=seed, workers=workers,
            min_alpha=min_alpha, sg=sg, hs=hs, negative=negative, ns_exponent=ns_exponent, cbow_mean=cbow_mean,
            hashfxn=hashfxn, epochs=epochs, null_word=null_word, trim_rule=trim_rule, sorted_vocab=sorted_vocab,
            batch_words=batch_words, compute_loss=compute_loss, callbacks=callbacks, comment=comment,
            max_final_vocab=max_final_vocab, shrink_windows=shrink_windows)
        self.__dict__.pop("_constructor_read", None)

    def _has_kernel(self):
        """Whether our kernels can train the model as it is set now (else gensim's loops do)."""
        lockf = getattr(self.wv, "vectors_lockf", None)
        locked = lockf is not None and not (np.size(lockf) == 1 and float(np.ravel(lockf)[0]) == 1.0)
        return (bool(self.negative) or bool(self.hs)) and not locked

    def _params(self):
        """Our ``Params`` from the model's attributes as they are now (gensim's train() sets alpha,
        min_alpha and epochs before each run)."""
        return Params(vector_size=int(self.vector_size), window=int(self.window), negative=int(self.negative),
                      epochs=int(self.epochs), alpha=float(self.alpha), min_alpha=float(self.min_alpha),
                      ns_exponent=float(self.ns_exponent), workers=int(self.workers), seed=int(self.seed),
                      sg=int(bool(self.sg)), cbow_mean=int(bool(self.cbow_mean)), hs=int(bool(self.hs)),
                      shrink_windows=bool(self.shrink_windows), compute_loss=bool(self.compute_loss),
                      **{name: getattr(self, name) for name in OURS})

    def _prepare(self):
        """The ``train.Kernel`` of this train() call (``train.prepare_kernel``, as ``Trainer``'s):
        gensim's sampling thresholds (keep iff a 32-bit draw <= sample_int, as gensim: our kernel
        keeps iff draw < keep), the alias table of count^ns_exponent, and for hierarchical softmax
        ``syn1`` and gensim's tree (``gensim_tree``)."""
        p = self._params()
        expandos = self.wv.expandos
        if "sample_int" in expandos:
            keep = expandos["sample_int"].astype(np.uint64) + np.uint64(1)
        else:
            keep = np.full(len(self.wv), 1 << 32, dtype=np.uint64)
        negatives = build_alias_table(expandos["count"].astype(np.float64) ** p.ns_exponent)
        tables = Tables(keep, pack_alias_table(*negatives))
        syn1neg = self.syn1neg if p.negative else np.zeros((0, p.vector_size), np.float32)
        hs_layer = (self.syn1,) + gensim_tree(self.wv) if p.hs else None
        return prepare_kernel(p, self.wv.vectors, syn1neg, tables, hs_layer)

    def train(self, *args, **kwargs):
        """gensim's ``train``, same arguments and result; see the module docstring for who trains."""
        # gensim sets compute_loss after its sanity checks, where the kernel is chosen: set it first
        self.compute_loss = _TRAIN_SIGNATURE.bind(self, *args, **kwargs).arguments.get("compute_loss", False)
        try:
            if self._has_kernel():
                return super().train(*args, **kwargs)
            with self._contiguous_weights(write_back=True):  # gensim's own loops train
                return super().train(*args, **kwargs)
        finally:
            for name in self.TRANSIENT:
                self.__dict__.pop(name, None)

    def init_weights(self):
        """gensim's (its log line, ``wv.vectors`` drawn by ``resize_vectors``, ``syn1``/``syn1neg``
        zeros), each matrix a ``rules.padded_matrix`` view: float32[V, d] whose rows start on 64-byte
        lines, d rounded up to 16 in memory (12% more memory at d = 100).  The kernels run faster on
        such rows (CBOW from a list, data/ x3: 0.82 s of kernel time against 0.88 s;
        bench/results/lab-notes.md), as on the command line.  numpy and gensim's KeyedVectors take
        the view as any array (``np.ascontiguousarray`` gives a plain copy); it is C-contiguous only
        when d is a multiple of 16.  gensim's compiled loops, which assume C-contiguous rows, get
        plain copies (``_contiguous_weights``)."""
        gensim_word2vec.logger.info("resetting layer weights")
        self.wv.resize_vectors(seed=self.seed)
        self.wv.vectors = _padded_copy(self.wv.vectors)
        if self.hs:
            self.syn1 = padded_matrix(len(self.wv), self.layer1_size)
        if self.negative:
            self.syn1neg = padded_matrix(len(self.wv), self.layer1_size)

    def update_weights(self):
        """gensim's (the vocabulary grown by ``build_vocab(update=True)``), the matrices then padded
        as ``init_weights``'."""
        super().update_weights()
        self.wv.vectors = _padded_copy(self.wv.vectors)
        if self.hs:
            self.syn1 = _padded_copy(self.syn1)
        if self.negative:
            self.syn1neg = _padded_copy(self.syn1neg)

    @contextmanager
    def _contiguous_weights(self, write_back):
        """Within it, C-contiguous copies of the padded matrices (``init_weights``) for gensim's compiled
        loops (they index rows as d floats apart); after it the padded ones again, the copies' values
        written into them when ``write_back`` (the loops trained them)."""
        swapped = []
        for owner, name in ((self.wv, "vectors"), (self, "syn1neg"), (self, "syn1")):
            array = getattr(owner, name, None)
            if isinstance(array, np.ndarray) and not array.flags.c_contiguous:
                swapped.append((owner, name, array))
                setattr(owner, name, np.ascontiguousarray(array))
        try:
            yield
        finally:
            for owner, name, padded in swapped:
                if write_back:
                    padded[...] = getattr(owner, name)
                setattr(owner, name, padded)

    def score(self, *args, **kwargs):
        """gensim's ``score`` (hierarchical softmax), on C-contiguous copies of the weights."""
        with self._contiguous_weights(write_back=False):
            return super().score(*args, **kwargs)

    def _check_training_sanity(self, *args, **kwargs):
        """gensim's checks (called first thing by its train()), then the kernel's tables."""
        super()._check_training_sanity(*args, **kwargs)
        if self._has_kernel():
            self._prepared = self._prepare()
            self._diverged = None
            logger.info("training with w2v_fastopt's kernel: %s", self._prepared.rule.label)
        else:
            logger.info("vectors_lockf: training with gensim's own loops (no w2v_fastopt kernel yet)")

    def _get_thread_working_mem(self):
        if self.__dict__.get("_prepared") is None:
            return super()._get_thread_working_mem()
        return self._prepared.new_thread(1)

    def _do_train_job(self, sentences, alpha, inits):
        """One of gensim's jobs on our kernel (``train.Kernel.run``).  A job that diverges is not
        raised here (gensim's worker thread would die and its epoch wait for it forever): it is kept,
        the epoch's other jobs train nothing, and ``_train_epoch`` raises it at the epoch's end."""
        if self.__dict__.get("_prepared") is None:
            return super()._do_train_job(sentences, alpha, inits)
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        tokens = list(itertools.chain.from_iterable(sentences))
        raw = len(tokens)
        if self._diverged is not None:
            return 0, raw
        ids = np.fromiter(map(self.wv.key_to_index.get, tokens, itertools.repeat(-1, len(tokens))),
                          dtype=np.int32, count=len(tokens))  # the lookups in C: no Python loop per word
        corpus = _known(ids, np.concatenate(([0], np.cumsum(lengths))))
        job = Job(0, len(corpus.starts) - 1, float(alpha), float(alpha))
        with _LOCK:  # each job's random stream drawn from model.random, as gensim's jobs draw theirs
            high, low = self.random.randint(0, 2**31, size=2)
        inits.rng[0] = seed_states((int(high) << 31) | int(low), 1)[0]
        try:
            _, loss, effective = self._prepared.run(corpus, job, inits, self._epoch)
        except Diverged as err:
            self._diverged = err
            return 0, raw
        if self.compute_loss:
            with _LOCK:
                self.running_training_loss += loss
        return effective, raw

    def _train_epoch(self, data_iterable, cur_epoch=0, total_examples=None, total_words=None, **kwargs):
        """An epoch over an iterable.  A corpus that reads the same every epoch (``SAME_EVERY_EPOCH``,
        these classes exactly, not subclasses that may iterate otherwise: a list or tuple of token
        lists, gensim's LineSentence, PathLineSentences, Text8Corpus, BrownCorpus) is converted to
        ids once per train() call (a list changed during train() is seen at the next call), by
        iterating it as gensim does, and each epoch is one run of our driver (``_engine_epoch``), as
        for a corpus_file.  Any other
        iterable (a generator, a class that may yield other sentences each epoch) is trained in
        gensim's jobs, each epoch read anew; the divergence one of its jobs met is raised at the end."""
        self._epoch = cur_epoch
        if self.__dict__.get("_prepared") is not None and type(data_iterable) in SAME_EVERY_EPOCH:
            cache = self.__dict__.get("_corpus_cache")
            if cache is None or cache[0] is not data_iterable:
                self._corpus_cache = cache = (data_iterable, *self._iterable_ids(data_iterable))
            if cache[1] is not None:
                return self._engine_epoch(cache[1], cur_epoch, total_examples, total_words, raw_words=cache[2],
                                          release=None if cache[3] is None else cache[3].release)
        result = super()._train_epoch(data_iterable, cur_epoch=cur_epoch, total_examples=total_examples,
                                      total_words=total_words, **kwargs)
        if self.__dict__.get("_diverged") is not None:
            raise self._diverged
        return result

    def _train_epoch_corpusfile(self, corpus_file, cur_epoch=0, total_examples=None, total_words=None,
                                callbacks=(), **kwargs):
        if self.__dict__.get("_prepared") is None:
            return super()._train_epoch_corpusfile(corpus_file, cur_epoch=cur_epoch, total_examples=total_examples,
                                                   total_words=total_words, callbacks=callbacks, **kwargs)
        if self.__dict__.get("_corpus_cache") is None or self._corpus_cache[0] != corpus_file:
            self._corpus_cache = (corpus_file, self._corpus_ids(corpus_file), None, None)
        return self._engine_epoch(self._corpus_cache[1], cur_epoch, total_examples, total_words)

    def _engine_epoch(self, corpus, cur_epoch, total_examples, total_words, raw_words=None, release=None):
        """One epoch of ``corpus`` (``walk.Corpus``) by our driver, reported as gensim reports an
        epoch; ``raw_words``: the words as gensim counts them (out-of-vocabulary ones included);
        ``release``: a memory-mapped corpus's ``CorpusStore.release``."""
        if cur_epoch == 0 or self.__dict__.get("_engine_states") is None:
            self._engine_states = [int(s) for s in seed_states(int(self.seed), int(self.workers))]
        position = Position(cur_epoch, 0, self._engine_states)
        history, _ = run_epochs(self._prepared, corpus, position, until_epoch=cur_epoch + 1, release=release)
        self._engine_states = position.rng_states
        stats = history[-1]
        raw = stats.raw_words if raw_words is None else raw_words
        if self.compute_loss:
            self.running_training_loss += stats.loss * stats.pairs
        self.total_train_time += stats.seconds
        self._log_epoch_end(cur_epoch, len(corpus.starts) - 1, total_examples, raw, total_words,
                            stats.effective_words, max(stats.seconds, 1e-9), True)
        return stats.effective_words, raw, len(job_boundaries(corpus.starts)) - 1

    def _iterable_ids(self, sentences):
        """(``walk.Corpus`` of ``sentences`` in the vocabulary, the words they hold, the
        ``corpus.CorpusStore`` its arrays map): one pass over them as gensim iterates them (a
        LineSentence, PathLineSentences or Text8Corpus of local files by our tokenizer, ``_read_lines``),
        IDS_AT_ONCE sentences at a time, into memory-mapped files (4 bytes a token and 8 a
        sentence, in TMPDIR: not resident); a list that the constructor's scan read (``_list_read``)
        stays in memory as that read did, and has no store.  (None, None, None) when TMPDIR has no
        room for them: then gensim's jobs read the corpus every epoch."""
        read = self._read_lines(sentences)
        if read is not None and read.store is None:  # a list the constructor read: in memory already
            ids = _vocabulary_indices(read.words, self.wv.key_to_index)[read.ids]
            return _known(ids, _cut(np.diff(read.starts))), read.n_tokens, None
        try:
            store = CorpusStore()
        except OSError as err:
            logger.warning("%s; training in gensim's jobs, the corpus read every epoch", err)
            return None, None, None
        pieces = _python_pieces(sentences, self.wv.key_to_index.get) if read is None else \
            _read_pieces(read, self.wv.key_to_index)
        n_ids, n_sentences, raw = 0, 0, 0
        for ids, lengths in pieces:
            piece = _known(ids, _cut(lengths))
            raw += len(ids)
            try:
                _append(store.ids, n_ids, piece.ids)
                _append(store.boundaries, n_sentences + 1, piece.starts[1:] + n_ids)
            except OSError as err:
                logger.warning("%s; training in gensim's jobs, the corpus read every epoch", err)
                return None, None, None
            store.release(n_sentences + len(piece.starts), n_ids + len(piece.ids), n_sentences, n_ids)
            n_ids += len(piece.ids)
            n_sentences += len(piece.starts) - 1
        return Corpus(store.ids.array[:n_ids], store.boundaries.array[:n_sentences + 1]), raw, store

    def _read_lines(self, sentences):
        """The ``corpus.TokenizedCorpus`` of a gensim LineSentence, PathLineSentences or Text8Corpus of
        local files, read by our tokenizer exactly as the class iterates (``corpus.read_binary_lines``,
        ``corpus.read_text8``): the same sentences, ~10x faster than its Python iteration.  None for
        any other corpus, or where only gensim's iteration can say what it reads (a file object, a
        URL, ``limit``, another compression, text that is not UTF-8: gensim raises).  Within the
        constructor, whose build_vocab and train() follow each other on one corpus, the scan's read
        is kept for train(): the file read once; a list or tuple of token lists is read there too,
        its words numbered as they come (``_list_read``), so that train() maps numbers, not words."""
        kept = self.__dict__.get("_constructor_read")
        if kept is not None and kept.get("of") is sentences:  # the constructor's train(): its scan's read
            read = kept.pop("read")
            kept.clear()
            return read
        if kept is not None and type(sentences) in (list, tuple) and sentences and \
                not isinstance(sentences[0], str):  # (gensim warns of a str: its scan)
            read = _list_read(sentences)
            kept.update(of=sentences, read=read)
            return read
        paths = _line_files(sentences)
        if paths is None:
            return None
        if type(sentences) is gensim_word2vec.Text8Corpus:
            read = read_text8(paths[0], int(sentences.max_sentence_length))
        else:
            read = read_binary_lines(paths, int(sentences.max_sentence_length))
        if kept is not None and read is not None:
            kept.update(of=sentences, read=read)
        return read

    def prepare_vocab(self, update=False, keep_raw_vocab=False, trim_rule=None, min_count=None, sample=None,
                      dry_run=False):
        """gensim's ``prepare_vocab``: the same vocabulary, counts, ``sample_int`` thresholds,
        ``cum_table``, log lines, lifecycle events and report, its common case (a fresh vocabulary,
        no ``trim_rule``, ``max_final_vocab`` or ``null_word``, not a dry run) computed over arrays
        instead of word by word (0.15 s of a 1.6 s call on data/ x3: its loops over every word);
        every other case is gensim's own code.  Each float is computed as gensim computes it (the
        same operations in the same order), so the results are gensim's bit for bit (tested)."""
        if update or dry_run or trim_rule is not None or self.max_final_vocab is not None or self.null_word:
            return super().prepare_vocab(update, keep_raw_vocab, trim_rule, min_count, sample, dry_run)
        min_count = min_count or self.min_count
        sample = sample or self.sample
        values = list(self.raw_vocab.values())
        if not all(type(value) is int for value in values):  # build_vocab_from_freq may give others
            return super().prepare_vocab(update, keep_raw_vocab, trim_rule, min_count, sample, dry_run)
        counts = np.array(values, dtype=np.int64)
        keep = counts >= min_count
        if not keep.any():
            return super().prepare_vocab(update, keep_raw_vocab, trim_rule, min_count, sample, dry_run)
        self.effective_min_count = min_count
        log = gensim_word2vec.logger  # gensim's lines, from gensim's logger
        log.info("Creating a fresh vocabulary")
        wv = self.wv
        self.min_count, self.sample = min_count, sample
        wv.index_to_key = list(itertools.compress(self.raw_vocab, keep.tolist()))
        wv.key_to_index = {word: i for i, word in enumerate(wv.index_to_key)}
        retained = counts[keep]
        wv.allocate_vecattrs(attrs=["count"], types=[int])
        wv.expandos["count"][:] = retained
        retain_total, retain_unique = int(retained.sum()), len(retained)
        drop_unique, drop_total = len(counts) - retain_unique, int(counts.sum()) - retain_total
        original_unique_total = retain_unique + drop_unique
        self.add_lifecycle_event("prepare_vocab", msg=(
            f"effective_min_count={self.effective_min_count} retains {retain_unique} unique words "
            f"({retain_unique * 100 / max(original_unique_total, 1):.2f}% of original {original_unique_total}, "
            f"drops {drop_unique})"))
        original_total = retain_total + drop_total
        self.add_lifecycle_event("prepare_vocab", msg=(
            f"effective_min_count={self.effective_min_count} leaves {retain_total} word corpus "
            f"({retain_total * 100 / max(original_total, 1):.2f}% of original {original_total}, drops {drop_total})"))
        if not sample:
            threshold_count = retain_total
        elif sample < 1.0:
            threshold_count = sample * retain_total
        else:
            threshold_count = int(sample * (3 + np.sqrt(5)) / 2)
        values = retained.astype(np.float64)  # exact below 2**53, as gensim's int / float
        probability = (np.sqrt(values / threshold_count) + 1) * (threshold_count / values)
        kept = probability < 1.0
        downsample_total = 0  # summed in gensim's order and types: its logged value to the last digit
        for p, v, low in zip(probability.tolist(), retained.tolist(), kept.tolist()):
            downsample_total += p * v if low else v
        downsample_unique = int(kept.sum())
        wv.allocate_vecattrs(attrs=["sample_int"], types=[np.uint32])
        wv.expandos["sample_int"][:] = (np.where(kept, probability, 1.0) * (2**32 - 1)).astype(np.uint32)
        if not keep_raw_vocab:
            log.info("deleting the raw counts dictionary of %i items", len(self.raw_vocab))
            self.raw_vocab = defaultdict(int)
        log.info("sample=%g downsamples %i most-common words", sample, downsample_unique)
        self.add_lifecycle_event("prepare_vocab", msg=(
            f"downsampling leaves estimated {downsample_total} word corpus "
            f"({downsample_total * 100.0 / max(retain_total, 1):.1f}%% of prior {retain_total})"))
        report_values = {'drop_unique': drop_unique, 'retain_total': retain_total,
                         'downsample_unique': downsample_unique, 'downsample_total': int(downsample_total),
                         'num_retained_words': retain_unique}
        if self.sorted_vocab:
            wv.sort_by_descending_frequency()
        if self.hs:
            self.create_binary_tree()
        if self.negative:
            self.make_cum_table()
        return report_values

    def create_binary_tree(self):
        """gensim's Huffman tree, each word's ``code`` (uint8) and ``point`` (uint32) arrays in
        ``wv``, built by our compiled heap (``prep.huffman_tree``: gensim's heap node for node, its
        ties included) instead of gensim's Python one (0.3 s of an HS call on data/ x3: 18,312
        words), with gensim's log lines.  A vocabulary of fewer than two words: gensim's own."""
        wv = self.wv
        n = len(wv.index_to_key)
        if n < 2:
            return super().create_binary_tree()
        log = gensim_word2vec.logger
        log.info("constructing a huffman tree from %i words", n)
        points, codes, lengths = huffman_tree(np.asarray(wv.expandos["count"], dtype=np.int64))
        on_path = np.arange(points.shape[1]) < lengths[:, None]
        ends = np.cumsum(lengths)[:-1]
        wv.allocate_vecattrs(attrs=["code", "point"], types=[np.ndarray, np.ndarray])
        code_of, point_of = wv.expandos["code"], wv.expandos["point"]
        for w, (code, point) in enumerate(zip(np.split(codes[on_path], ends),
                                              np.split(points[on_path].astype(np.uint32), ends))):
            code_of[w], point_of[w] = code, point
        log.info("built huffman tree with maximum node depth %i", int(lengths.max()))

    def make_cum_table(self, domain=2**31 - 1):
        """gensim's ``cum_table`` (for its own negative draws; ours draw from an alias table), to the
        bit: each count's power as gensim takes it (a numpy int64 to a Python float), their running
        sum in order, then rounded at once instead of word by word."""
        counts = self.wv.expandos["count"] if self.wv.index_to_key else np.zeros(0, np.int64)
        exponent = float(self.ns_exponent)
        powers = np.array([count ** exponent for count in counts], dtype=np.float64)
        cumulative = np.cumsum(powers)
        self.cum_table = np.rint(cumulative / (cumulative[-1] if len(cumulative) else 1.0) * domain).astype(np.uint32)
        if len(self.cum_table) > 0:
            assert self.cum_table[-1] == domain

    def _scan_vocab(self, sentences, progress_per, trim_rule):
        """gensim's vocabulary scan (``raw_vocab``: the words in first-seen order, their counts; the
        words and sentences read; its log lines and pruning): a LineSentence, PathLineSentences or Text8Corpus of
        local files read by our tokenizer (``_read_lines``: the same sentences) unless
        ``max_vocab_size`` prunes while reading; any other corpus as gensim scans it, each sentence
        counted by the C loop of CPython's ``Counter`` (``collections._count_elements``, on gensim's
        defaultdict) instead of word by word in Python (half the time)."""
        read = None if self.max_vocab_size else self._read_lines(sentences)
        if read is not None:
            self.raw_vocab = defaultdict(int, zip(read.words, read.counts.tolist()))
            return read.n_tokens, len(read.starts) - 1
        log = gensim_word2vec.logger
        sentence_no, total_words, min_reduce = -1, 0, 1
        vocab = defaultdict(int)
        for sentence_no, sentence in enumerate(sentences):
            if sentence_no == 0 and isinstance(sentence, str):
                log.warning("Each 'sentences' item should be a list of words (usually unicode strings). "
                            "First item here is instead plain %s.", type(sentence))
            if sentence_no % progress_per == 0:
                log.info("PROGRESS: at sentence #%i, processed %i words, keeping %i word types",
                         sentence_no, total_words, len(vocab))
            _count_elements(vocab, sentence)
            total_words += len(sentence)
            if self.max_vocab_size and len(vocab) > self.max_vocab_size:
                gensim_utils.prune_vocab(vocab, min_reduce, trim_rule=trim_rule)
                min_reduce += 1
        self.raw_vocab = vocab
        return total_words, sentence_no + 1

    def _corpus_ids(self, corpus_file):
        """The ``walk.Corpus`` of ``corpus_file`` in gensim's vocabulary (words it does not have
        dropped, as gensim drops them), read by our tokenizer.  Within the constructor, gensim's
        build_vocab has just scanned the file as a ``LineSentence``, read by our tokenizer with
        LineSentence's rules (``_read_lines``); where those read the file as a corpus_file's do
        (``_read_alike``: no \\r, NUL, byte-order mark or compression), that read is the corpus: the
        file read once (0.1 s less of a 1.3 s call on data/ x3)."""
        kept = self.__dict__.get("_constructor_read") or {}
        scanned = kept.get("of")
        if type(scanned) is gensim_word2vec.LineSentence and scanned.source == corpus_file and \
                scanned.max_sentence_length == MAX_SENTENCE and _read_alike(corpus_file):
            corpus = kept.pop("read")
            kept.clear()
            words = corpus.words
        else:
            corpus = load_corpus(None, corpus_file, min_count=1, threads=self.workers)
            words = corpus.vocab.words
        return _known(_vocabulary_indices(words, self.wv.key_to_index)[np.asarray(corpus.ids)],
                      np.asarray(corpus.starts))

    def save(self, *args, **kwargs):
        """gensim's ``save``; what only a running train() needs is left out.  The file names gensim's
        class (``__reduce_ex__``): it loads where only gensim is installed."""
        kwargs["ignore"] = frozenset(kwargs.get("ignore", ())) | set(self.TRANSIENT)
        return _GENSIMS["save"](self, *args, **kwargs)

    def _save_specials(self, *args, **kwargs):
        return _GENSIMS["_save_specials"](self, *args, **kwargs)

    def _load_specials(self, *args, **kwargs):
        return _GENSIMS["_load_specials"](self, *args, **kwargs)

    def __reduce_ex__(self, protocol):
        """Pickle as gensim's ``Word2Vec`` (``save``, ``pickle``, ``joblib``): a colleague, a server
        or a model registry with gensim alone loads the file; our extra settings ride along as plain
        attributes, and ``w2v_fastopt.Word2Vec.load`` gives this class back."""
        gensims = _ByName("gensim.models.word2vec", "Word2Vec")
        return copyreg._reconstructor, (gensims, object, None), self.__getstate__()

    def __copy__(self):
        """A copy of this class (``__reduce_ex__`` is for files: it names gensim's)."""
        copy = type(self).__new__(type(self))
        copy.__dict__.update(self.__dict__)
        return copy

    def __deepcopy__(self, memo):
        copy = type(self).__new__(type(self))
        memo[id(self)] = copy
        copy.__dict__.update(_deepcopy(self.__dict__, memo))
        return copy

    def to_gensim(self):
        """This model as a plain ``gensim.models.Word2Vec``, for code that must see gensim's class itself
        (a saved model already names it): the same settings and vocabulary (shared), its matrices as
        C-contiguous arrays, copies of the padded ones (``init_weights``), since gensim's compiled loops
        would train or score those wrongly."""
        model = _GENSIM_WORD2VEC.__new__(_GENSIM_WORD2VEC)
        model.__dict__.update({k: v for k, v in self.__dict__.items() if k not in self.TRANSIENT})
        model.wv = _copy(self.wv)
        model.wv.vectors = np.ascontiguousarray(self.wv.vectors)
        for name in ("syn1neg", "syn1"):
            if isinstance(model.__dict__.get(name), np.ndarray):
                setattr(model, name, np.ascontiguousarray(getattr(model, name)))
        return model

    @classmethod
    def load(cls, *args, **kwargs):
        """gensim's ``load`` (a pickle: loading one runs code from the file, as gensim's own load
        does; load only files you trust).  A model saved by gensim (or by us: the file names
        gensim's class) comes back as this class."""
        model = _GENSIMS["load"](cls, *args, **kwargs)
        if type(model) is _GENSIM_WORD2VEC:
            model.__class__ = cls
        return model


def _padded_copy(matrix):
    """A ``rules.padded_matrix`` holding the values of ``matrix`` (float32[V, d])."""
    padded = padded_matrix(*matrix.shape)
    padded[...] = matrix
    return padded


class _ByName:
    """Pickles as ``getattr(import_module(module), name)``: the class the *loading* process names
    there (gensim's, or ours where a program swapped the name), never a reference to this package."""

    def __init__(self, module, name=None):
        self.module, self.name = module, name

    def __reduce__(self):
        if self.name is None:
            return importlib.import_module, (self.module,)
        return getattr, (_ByName(self.module), self.name)


def _naming_gensims_class(function):
    """gensim's ``function`` with the global ``Word2Vec`` it reads (``super(Word2Vec, self)``) bound
    to gensim's own class, whatever ``gensim.models.word2vec.Word2Vec`` names later: programs that
    swap an implementation under a library replace that name with ours, and gensim's
    ``super(Word2Vec, self).save`` then found our class again and recursed without end."""
    bound = types.FunctionType(function.__code__, dict(function.__globals__, Word2Vec=_GENSIM_WORD2VEC),
                               function.__name__, function.__defaults__, function.__closure__)
    bound.__kwdefaults__ = function.__kwdefaults__
    return bound


_GENSIM_WORD2VEC = gensim_word2vec.Word2Vec
_GENSIMS = {name: _naming_gensims_class(getattr(vars(_GENSIM_WORD2VEC)[name], "__func__", vars(_GENSIM_WORD2VEC)[name]))
            for name in ("save", "_save_specials", "load", "_load_specials")}


for _field in fields(Params):  # the class defaults of ours (see the class's docstring)
    if _field.metadata["ours"]:
        setattr(Word2Vec, _field.name, _field.default)


IDS_AT_ONCE = 10_000  # sentences converted to ids at a time (``_iterable_ids``)
SAME_EVERY_EPOCH = (list, tuple, gensim_word2vec.LineSentence, gensim_word2vec.PathLineSentences,
                    gensim_word2vec.Text8Corpus, gensim_word2vec.BrownCorpus)


def _python_pieces(sentences, index_of):
    """(ids int32, lengths int64) of IDS_AT_ONCE sentences at a time of ``sentences`` iterated as
    gensim iterates them: their words' vocabulary indices (``index_of``, -1 for a word not in it)
    and the sentences' lengths."""
    iterator = iter(sentences)
    while batch := list(itertools.islice(iterator, IDS_AT_ONCE)):
        lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
        count = int(lengths.sum())
        yield np.fromiter(map(index_of, itertools.chain.from_iterable(batch), itertools.repeat(-1, count)),
                          dtype=np.int32, count=count), lengths


def _read_pieces(read, key_to_index):
    """``_python_pieces`` of a ``corpus.TokenizedCorpus``, its pages handed back as they are done."""
    remap = _vocabulary_indices(read.words, key_to_index)
    starts = read.starts
    for first in range(0, len(starts) - 1, IDS_AT_ONCE):
        end = min(first + IDS_AT_ONCE, len(starts) - 1)
        yield remap[read.ids[starts[first]:starts[end]]], np.diff(starts[first:end + 1])
        read.store.release(end, starts[end], first, starts[first])


def _vocabulary_indices(words, key_to_index):
    """int32[len(words)]: each word's index in the vocabulary ``key_to_index``, -1 for one not in it."""
    return np.fromiter(map(key_to_index.get, words, itertools.repeat(-1, len(words))), dtype=np.int32,
                       count=len(words))


def _list_read(sentences):
    """The ``corpus.TokenizedCorpus`` (in memory: 4 bytes a token) of a list or tuple of token lists:
    its words numbered as first seen, counted, as gensim's scan counts them (``raw_vocab``'s order
    and counts, tokens and sentences).  Each token is looked up once, in C loops (``np.fromiter``
    over a dict that numbers a new word as it meets it), where a count then a lookup per token in
    train() took two passes (0.06 s less on data/ x3: 1.36M tokens)."""
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    starts = np.concatenate(([0], np.cumsum(lengths)))
    numbers = defaultdict(itertools.count().__next__)
    ids = np.fromiter(map(numbers.__getitem__, itertools.chain.from_iterable(sentences)), dtype=np.int32,
                      count=int(starts[-1]))
    return TokenizedCorpus(list(numbers), np.bincount(ids, minlength=len(numbers)), ids, starts)


COMPRESSED_NAMES = (".gz", ".bz2", ".lz4", ".xz", ".zst")  # extensions gensim's utils.open decompresses by
LINE_CORPORA = (gensim_word2vec.LineSentence, gensim_word2vec.PathLineSentences, gensim_word2vec.Text8Corpus)


def _line_files(sentences):
    """The local files a gensim ``LineSentence``, ``PathLineSentences`` or ``Text8Corpus`` reads, in order, named as
    gensim's ``utils.open`` (smart_open) finds them (a ``file://`` URL or a path, ``~`` expanded);
    None for another corpus, a file object, another URL, a ``limit`` or a max_sentence_length that
    is not a positive int."""
    kind = type(sentences)
    if kind not in LINE_CORPORA or getattr(sentences, "limit", None) is not None:
        return None
    length = sentences.max_sentence_length
    if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 1:
        return None
    names = sentences.input_files if kind is gensim_word2vec.PathLineSentences else \
        [sentences.fname if kind is gensim_word2vec.Text8Corpus else sentences.source]
    paths = []
    for name in names:
        if hasattr(name, "seek") or not isinstance(name, (str, os.PathLike)):
            return None
        name = os.fspath(name)
        if not isinstance(name, str):
            return None
        scheme = urllib.parse.urlsplit(name).scheme
        if scheme not in ("", "file"):
            return None
        name = os.path.expanduser(name.replace("file://", "", 1) if scheme else name)
        if not os.path.isfile(name):
            return None
        paths.append(name)
    return paths


def _read_alike(path):
    """Whether the file at ``path`` reads the same by LineSentence's rules (``corpus.read_binary_lines``)
    as by a corpus_file's (``corpus.read_corpus_file``): not compressed (by its name or its first
    bytes), no \\r (whitespace inside a line to one, a line end to the other), no NUL (refused by
    the other), no leading UTF-8 byte-order mark (skipped by the other).  It reads the bytes once more
    without tokenizing them (~5 ms for 8.5 MB)."""
    if os.path.splitext(path)[1].lower() in COMPRESSED_NAMES:
        return False
    with open(path, "rb") as f:
        chunk = f.read(1 << 20)
        if chunk.startswith((b"\xef\xbb\xbf", b"\x1f\x8b", b"BZh")):
            return False
        while chunk:
            if b"\r" in chunk or b"\0" in chunk:
                return False
            chunk = f.read(1 << 20)
    return True


def _append(store, at, values):
    """store.array[at:at + len(values)] = values (a ``corpus.IdStore``, grown as needed)."""
    while store.capacity < at + len(values):
        store.grow()
    store.array[at:at + len(values)] = values


def _cut(lengths):
    """Sentence starts (int64[S'+1]) for sentences of ``lengths`` tokens, those longer than
    MAX_SENTENCE cut into pieces of it, counted in tokens as read (as our tokenizer cuts the lines
    of a corpus_file: a list and a file of the same text give the same corpus)."""
    starts = np.concatenate(([0], np.cumsum(lengths)))
    if (lengths > MAX_SENTENCE).any():
        cuts = [np.arange(a + MAX_SENTENCE, b, MAX_SENTENCE) for a, b in zip(starts[:-1], starts[1:])
                if b - a > MAX_SENTENCE]
        starts = np.union1d(starts, np.concatenate(cuts))
    return starts


def _known(ids, starts):
    """The ``walk.Corpus`` (ids int32[n], starts int64[S'+1]) of ``ids`` (int32 or int64) without the
    ids < 0 (words not in the vocabulary, which gensim drops before training), sentences longer than
    MAX_SENTENCE cut into pieces of it (gensim truncates them at 10,000 words; we train the rest).
    A start moves back by the dropped ids before it, found by binary search among the few dropped
    (no running count over every token: 0.03-0.06 s less on 1.36M tokens, most of it page faults)."""
    dropped = np.flatnonzero(ids < 0)
    if len(dropped):
        starts = starts - np.searchsorted(dropped, starts)
        ids = np.delete(ids, dropped)
    if (np.diff(starts) > MAX_SENTENCE).any():
        cuts = [np.arange(a, b, MAX_SENTENCE) for a, b in zip(starts[:-1], starts[1:]) if b - a > MAX_SENTENCE]
        starts = np.union1d(starts, np.concatenate(cuts))
    return Corpus(ids.astype(np.int32, copy=False), starts.astype(np.int64, copy=False))


def gensim_tree(wv):
    """gensim's Huffman tree (``wv.expandos["point"]`` and ``["code"]``, one array per word) as the
    kernels' (points int32[V, L], codes uint8[V, L], lengths int32[V]), L the longest path."""
    points_of, codes_of = wv.expandos["point"], wv.expandos["code"]
    lengths = np.fromiter(map(len, codes_of), dtype=np.int32, count=len(codes_of))
    width = max(int(lengths.max(initial=0)), 1)
    on_path = np.arange(width) < lengths[:, None]
    points = np.zeros((len(lengths), width), np.int32)
    codes = np.zeros((len(lengths), width), np.uint8)
    if lengths.sum():  # rows filled in order: the concatenated paths, word after word
        points[on_path] = np.concatenate(list(points_of))
        codes[on_path] = np.concatenate(list(codes_of))
    return points, codes, lengths
