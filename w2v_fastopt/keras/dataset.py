"""Skip-gram training examples as a ``tf.data.Dataset``, drawn by the engine's own sampler.

One tokenizer, one vocabulary, one sampler for the whole project: the corpus comes from
``w2v_fastopt.load_corpus``, subsampling and the unigram^0.75 negatives from ``Vocab``, and the
examples from the compiled ``kernels.pairs.skipgram_examples`` (word2vec.c's dynamic window).
Keras's old ``skipgrams`` helper is not used: it draws negatives uniformly and reseeds Python's
global RNG.

Each element is one batch ``((inputs, outputs), labels)``:

    inputs  int32[B]        the context word of each example (its input vector is trained)
    outputs int32[B, k+1]   the center word, then k negatives
    labels  float32[B, k+1] [1, 0, ..., 0] in every row

Batches are cut from the stream in word2vec.c's order (not shuffled), all of one shape (what XLA
wants), and every epoch has the same number of them, so that ``fit`` knows its length (progress bar,
learning-rate schedules): see ``SkipGramExamples.batches``.
"""
import numpy as np
import tensorflow as tf

from ..kernels.pairs import skipgram_examples
from ..kernels.rng import seed_states
from ..kernels.walk import MAX_SENTENCE, Corpus

CHUNK_BATCHES = 64  # batches handed from the sampler to tf.data at a time


class SkipGramExamples:
    """The example stream of a corpus, epoch after epoch, as NumPy chunks of whole batches.

    corpus: a ``TrainingCorpus`` (``load_corpus``) or anything with ``ids`` int32[N] and ``starts``
    int64[S+1]; vocab: its ``Vocab``.  Epoch e draws from a random stream seeded by (seed, e), so
    a dataset gives the same batches whenever it is iterated for the same epoch.
    Calling the object starts the next epoch (what ``tf.data.Dataset.from_generator`` does once per
    pass of ``fit``); ``batches(epoch)`` gives a chosen one.
    """

    def __init__(self, corpus, vocab, *, batch_size=1024, window=5, negative=5, sample=1e-3,
                 ns_exponent=0.75, seed=1):
        for name, value, low in (("batch_size", batch_size, 1), ("window", window, 1),
                                 ("negative", negative, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if len(vocab) < 2:
            raise ValueError(f"negative sampling needs at least 2 words in the vocabulary, got {len(vocab)}")
        self.ids, self.starts = corpus.ids, corpus.starts
        self.vocab = vocab
        self.batch_size, self.window, self.negative, self.seed = batch_size, window, negative, seed
        self.tables = vocab.tables(sample, ns_exponent)
        self.capacity = max(CHUNK_BATCHES * batch_size, 2 * window * MAX_SENTENCE) + batch_size
        self.epoch = 0
        self._steps_per_epoch = None
        self.examples_seen = 0  # examples handed out so far, over all epochs
        self.words_seen = 0     # raw words of the sentences consumed so far

    def __call__(self):
        epoch = self.epoch
        self.epoch += 1
        yield from self.batches(epoch)

    @property
    def steps_per_epoch(self):
        """Batches per epoch: the whole examples of the first epoch (counted once, a pass of the
        sampler: ~0.1 s per million words)."""
        if self._steps_per_epoch is None:
            self._steps_per_epoch = sum(chunk[0].shape[0] for chunk in self._draw(0, wrap=False))
            if self._steps_per_epoch == 0:
                raise ValueError(f"the corpus gives fewer than batch_size={self.batch_size} examples "
                                 "per epoch; use a smaller batch_size")
        return self._steps_per_epoch

    def batches(self, epoch):
        """Yield ``(inputs int32[n, B], outputs int32[n, B, k+1])`` chunks: ``steps_per_epoch``
        batches in all.  Epochs draw different windows, so their streams differ in length by a few
        examples in ten thousand: a longer one is cut, a shorter one goes on from the corpus start."""
        left = self.steps_per_epoch
        b = self.batch_size
        for inputs, outputs in self._draw(epoch, wrap=True):
            take = min(left, inputs.shape[0])
            self.examples_seen += take * b
            yield inputs[:take], outputs[:take]
            left -= take
            if left == 0:
                return

    def _draw(self, epoch, wrap):
        b, k1 = self.batch_size, self.negative + 1
        inputs = np.empty(self.capacity, dtype=np.int32)
        outputs = np.empty((self.capacity, k1), dtype=np.int32)
        sentence = np.empty(MAX_SENTENCE, dtype=np.int32)
        cursor = np.array([0, seed_states(self.seed, epoch + 1)[epoch]], dtype=np.uint64)
        n_sentences = self.starts.shape[0] - 1
        have = 0
        while True:
            if int(cursor[0]) >= n_sentences:
                if not wrap:
                    return
                cursor[0] = 0
            made, _, raw = skipgram_examples(self.tables, Corpus(self.ids, self.starts), cursor, self.window,
                                             self.negative, sentence, inputs[have:], outputs[have:])
            if wrap:
                self.words_seen += raw
            have += made
            full = have // b * b
            if full:
                yield inputs[:full].reshape(-1, b).copy(), outputs[:full].reshape(-1, b, k1).copy()
                inputs[:have - full] = inputs[full:have]
                outputs[:have - full] = outputs[full:have]
                have -= full

    def labels(self):
        """float32[B, k+1]: 1 for the center word, 0 for the negatives."""
        labels = np.zeros((self.batch_size, self.negative + 1), dtype=np.float32)
        labels[:, 0] = 1.0
        return labels

    def dataset(self):
        """The ``tf.data.Dataset`` of ``((inputs, outputs), labels)`` batches; each pass is an epoch."""
        b, k1 = self.batch_size, self.negative + 1
        signature = (tf.TensorSpec((None, b), tf.int32), tf.TensorSpec((None, b, k1), tf.int32))
        labels = tf.constant(self.labels())
        chunks = tf.data.Dataset.from_generator(self, output_signature=signature)
        batches = chunks.flat_map(lambda i, o: tf.data.Dataset.from_tensor_slices((i, o)))
        batches = batches.apply(tf.data.experimental.assert_cardinality(self.steps_per_epoch))
        # A fixed prefetch of one chunk and no tf.data autotuning: the autotuner's thread, one per
        # iterator, is joined when ``fit`` drops the iterator at each epoch's start, and it wakes
        # only on its own schedule: 3 to 16 s lost at every epoch start, deaf to Ctrl-C.
        options = tf.data.Options()
        options.autotune.enabled = False
        return batches.map(lambda i, o: ((i, o), labels)).prefetch(CHUNK_BATCHES).with_options(options)


def skipgram_dataset(corpus, vocab=None, *, batch_size=1024, window=5, negative=5, sample=1e-3,
                     ns_exponent=0.75, seed=1):
    """A ``tf.data.Dataset`` of skip-gram batches ``((inputs, outputs), labels)`` for ``model.fit``.

    corpus: a ``TrainingCorpus`` from ``w2v_fastopt.load_corpus`` (vocab defaults to its own).
    Parameters as gensim's; every pass over the dataset (every ``fit`` epoch) draws new windows,
    subsampling and negatives.  See ``SkipGramExamples`` for the layout.
    """
    vocab = vocab if vocab is not None else corpus.vocab
    return SkipGramExamples(corpus, vocab, batch_size=batch_size, window=window, negative=negative,
                            sample=sample, ns_exponent=ns_exponent, seed=seed).dataset()
