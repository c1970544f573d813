"""``SkipGramModel``: SGNS as a Keras 3 model (TensorFlow backend), with a hand-written gradient.

Forward: for a batch of examples (``dataset.py``), with U = input vectors, T = output vectors,

    u_e = U[inputs[e]]            t_ej = T[outputs[e, j]]          z_ej = u_e · t_ej  (the logits)

Loss (``SkipGramLoss``), labels y_ej = 1 for j = 0 (the center word) and 0 for the negatives:

    L = (1/B) Σ_e Σ_j softplus(z_ej) - y_ej z_ej         (= -log σ(z) for y=1, -log σ(-z) for y=0)

The gradient, by hand (``gradient="analytic"``), as in the Numba kernels:

    ∂L/∂z_ej = (σ(z_ej) - y_ej) / B =: d_ej
    ∂L/∂u_e  = Σ_j d_ej t_ej            (rows inputs[e] of U)
    ∂L/∂t_ej = d_ej u_e                 (rows outputs[e, j] of T)

Both come out as ``tf.IndexedSlices`` (B rows of U, B(k+1) rows of T): the update touches only those
rows.  ``gradient="autodiff"`` takes the same gradient from ``tf.GradientTape`` instead.

The lookups use ``tf.gather`` on the variables themselves (a ResourceGather: reads only the rows), not
``keras.layers.Embedding``, whose lookup reads the whole table every step: the sparse update that
follows then has to copy the full matrix.  ``compile`` defaults to XLA (``jit_compile=True``), which
Keras leaves off on CPU.  The loss is Keras's mean over the batch: with SGD, a learning rate of
alpha * batch_size moves each example as word2vec's alpha does.
"""
import keras
import tensorflow as tf
from keras import ops

from .runge_kutta import RungeKuttaMixin, method_of, replicas, with_requires, without_requires, wrapped

if keras.backend.backend() != "tensorflow":
    raise ImportError("w2v_fastopt.keras needs the TensorFlow backend (KERAS_BACKEND=tensorflow), "
                      f"not {keras.backend.backend()!r}")


@keras.saving.register_keras_serializable(package="w2v_fastopt")
class SkipGramLoss(keras.losses.Loss):
    """The SGNS loss of a batch of logits z[B, k+1] with labels y: Σ_j softplus(z) - y z per example."""

    def __init__(self, reduction="sum_over_batch_size", name="skipgram_loss", **kwargs):
        super().__init__(reduction=reduction, name=name, **kwargs)

    def get_config(self):
        return with_requires(super().get_config())

    @classmethod
    def from_config(cls, config):
        return super().from_config(without_requires(config))

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        return ops.sum(ops.softplus(y_pred) - y_true * y_pred, axis=-1)


def sgns_gradient(u, t, y, replicas=1):
    """Loss, logits and the hand-written gradient of a batch of gathered rows (module docstring).

    u: [B, d] input rows; t: [B, k+1, d] output rows; y: [B, k+1] labels; replicas: R, the replicas
    of a MirroredStrategy, each with B examples of the global batch of R B: the loss and gradient
    are of this replica's share of the global mean, as Keras's losses make them (its optimizer sums
    the replicas' gradients).
    Returns (L, z [B, k+1], ∂L/∂u [B, d], ∂L/∂t [B, k+1, d]), per occurrence of each row.
    """
    z = tf.einsum("bd,bjd->bj", u, t)                   # logits
    batch = tf.cast(tf.shape(z)[0] if replicas == 1 else tf.shape(z)[0] * replicas, z.dtype)
    loss = tf.reduce_sum(tf.math.softplus(z) - y * z) / batch
    d = (tf.sigmoid(z) - y) / batch                     # ∂L/∂z
    return loss, z, tf.einsum("bj,bjd->bd", d, t), d[:, :, None] * u[:, None, :]


def _duplicates(indices, vocab_size):
    """int32[n]: for each position, the first position holding the same index (a segment id).

    A V-sized scratch of minimum positions: no sort (XLA's CPU sort costs ~1 ms for 6k ints).
    """
    n = tf.shape(indices)[0]
    return tf.gather(tf.math.unsorted_segment_min(tf.range(n), indices, vocab_size), indices)


def _row_sums(values, same):
    """For each position i, the sum of values[j] over the positions j with same[j] == same[i]."""
    return tf.gather(tf.math.unsorted_segment_sum(values, same, tf.shape(same)[0]), same)


def _global_row_sums(values, indices, context, vocab_size):
    """For each position i of this replica's ``indices``, the sum of ``values`` over the positions of
    every replica (``context``, a MirroredStrategy's) that hold the same row: the all-reduce of the
    slices concatenates them, and a row is matched by its first position among this replica's."""
    shape = tf.constant([vocab_size, values.shape[-1]], tf.int64)
    reduced = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.IndexedSlices(values, indices, shape))
    n = tf.shape(indices)[0]
    first = _duplicates(tf.concat([indices, tf.cast(reduced.indices, indices.dtype)], 0), vocab_size)
    sums = tf.math.unsorted_segment_sum(reduced.values, first[n:], tf.shape(first)[0])
    return tf.gather(sums, first[:n])


@keras.saving.register_keras_serializable(package="w2v_fastopt")
class SkipGramModel(RungeKuttaMixin, keras.Model):
    """Skip-gram with negative sampling: input and output vectors, logits of (word, output) pairs.

    Args:
        vocab_size: V, rows of both tables.
        vector_size: d.
        gradient: "analytic" (the hand-written gradient above) or "autodiff" (``tf.GradientTape``).
        seed: for the input vectors' initialization, uniform(-0.5/d, 0.5/d) (word2vec.c's);
            output vectors start at zero.

    Call: ``model((inputs int32[B], outputs int32[B, k+1]))`` -> logits float32[B, k+1].
    Weights: ``input_vectors`` float32[V, d] (the word vectors users want), ``output_vectors``.
    """

    def __init__(self, vocab_size, vector_size=100, gradient="analytic", seed=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("vocab_size", vocab_size), ("vector_size", vector_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if gradient not in ("analytic", "autodiff"):
            raise ValueError(f"gradient must be 'analytic' or 'autodiff', got {gradient!r}")
        self.vocab_size, self.vector_size, self.gradient, self.seed = vocab_size, vector_size, gradient, seed
        scale = 0.5 / vector_size
        self.input_vectors = self.add_weight(
            shape=(vocab_size, vector_size), name="input_vectors",
            initializer=keras.initializers.RandomUniform(-scale, scale, seed=seed))
        self.output_vectors = self.add_weight(shape=(vocab_size, vector_size), name="output_vectors",
                                              initializer="zeros")
        self.built = True  # the weights exist: nothing waits for a first call

    def call(self, inputs):
        words, outputs = inputs
        if words.dtype.is_floating:  # fit's symbolic build under a MirroredStrategy: a MEAN of each replica's batch
            words, outputs = tf.cast(words, "int32"), tf.cast(outputs, "int32")
        u = tf.gather(self.input_vectors.value, words)      # [B, d]
        t = tf.gather(self.output_vectors.value, outputs)   # [B, k+1, d]
        return tf.einsum("bd,bjd->bj", u, t)

    def compile(self, optimizer="sgd", loss=None, jit_compile=None, **kwargs):
        """Keras's ``compile``; loss defaults to ``SkipGramLoss()`` in the weights' dtype (Keras's
        losses compute in ``floatx``, float32 by default: the autodiff gradient of a float64 model
        went through float32 and RK4 stalled at 1e-8), and XLA (``jit_compile``) to on,
        except under a strategy of several replicas, where XLA cannot read a variable that another
        (logical) device holds (TensorFlow's "tf.Variable on a different device" known issue)."""
        if jit_compile is None:
            jit_compile = tf.distribute.get_strategy().num_replicas_in_sync == 1
        if loss is None:  # computed in the weights' dtype: a float64 model's gradient is float64 throughout
            loss = SkipGramLoss(dtype=self.dtype_policy.variable_dtype)
        if isinstance(optimizer, keras.optimizers.Optimizer) and any(
                getattr(o, "loss_scale_factor", None) is not None for o in wrapped(optimizer)):
            raise ValueError("loss_scale_factor: Keras's optimizer divides the gradients by it, which "
                             "the embeddings' sparse gradients (IndexedSlices) do not support; wrap the "
                             "optimizer in keras.optimizers.LossScaleOptimizer instead (what "
                             "mixed precision uses)")
        method = method_of(optimizer) if isinstance(optimizer, keras.optimizers.Optimizer) else None
        if self.gradient == "analytic" and method is not None and method.stages > 1 and any(
                (method.clipnorm, method.clipvalue, method.global_clipnorm)):
            raise ValueError(f"{method.name}: clipping each stage's gradient is done on the generic path; "
                             "use SkipGramModel(..., gradient='autodiff') with clipnorm, clipvalue or "
                             "global_clipnorm")
        if self.gradient == "analytic" and not (isinstance(loss, SkipGramLoss)
                                                and loss.reduction == "sum_over_batch_size"):
            raise ValueError("the analytic gradient is the gradient of SkipGramLoss() (mean over the "
                             "batch); for another loss use SkipGramModel(..., gradient='autodiff')")
        super().compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        """What ``keras.models.load_model`` calls: compile as saved, and build the optimizer so that
        its saved state can be loaded into it."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)

    def loss_and_gradients(self, x, y, sample_weight):
        if self.gradient == "autodiff":
            return super().loss_and_gradients(x, y, sample_weight)
        return self.step_gradients(x, y, sample_weight, stages=((), (1.0,)))

    def step_gradients(self, x, y, sample_weight, stages=None):
        """One step's (loss, logits, gradients); for a Runge-Kutta optimizer, Σ b_i k_i.

        Analytic: the trial points are never written to the tables.  All stages touch the same rows
        (this batch's), so a stage's rows are the gathered rows minus h Σ_j a_ij k_j, where a row
        that occurs several times in the batch moves by the sum over its occurrences (as a scatter
        into the table would move it): ``_row_sums``.  A step costs one gather, s gradient
        evaluations on the gathered rows and one scatter.
        """
        if self.gradient == "autodiff":
            return super().step_gradients(x, y, sample_weight)
        if sample_weight is not None:
            raise ValueError("the analytic gradient takes no sample_weight; use gradient='autodiff'")
        method = method_of(self.optimizer)
        a, b = stages or ((method.a, method.b) if method is not None else ((), (1.0,)))
        words, outputs = x
        outputs_flat = tf.reshape(outputs, [-1])
        u0 = tf.gather(self.input_vectors.value, words)      # [B, d]
        t0 = tf.gather(self.output_vectors.value, outputs)   # [B, k+1, d]
        if y is None:
            y = tf.one_hot(tf.zeros_like(words), tf.shape(outputs)[1])
        context = replicas()
        count = 1 if context is None else context.num_replicas_in_sync
        loss, z, grad_u, grad_t = sgns_gradient(u0, t0, tf.cast(y, u0.dtype), count)
        stages_u, stages_t = [grad_u], [grad_t]
        if a:
            h = tf.cast(method.learning_rate, u0.dtype)
            same_u, same_t = _duplicates(words, self.vocab_size), _duplicates(outputs_flat, self.vocab_size)
            for row in a:
                move_u = tf.add_n([c * g for c, g in zip(row, stages_u) if c != 0.0])
                move_t = tf.reshape(tf.add_n([c * g for c, g in zip(row, stages_t) if c != 0.0]),
                                    [-1, self.vector_size])
                if context is None:
                    move_u, move_t = _row_sums(move_u, same_u), _row_sums(move_t, same_t)
                else:  # the trial point of the global batch: every replica's moves of these rows
                    move_u = _global_row_sums(move_u, words, context, self.vocab_size)
                    move_t = _global_row_sums(move_t, outputs_flat, context, self.vocab_size)
                u = u0 - h * move_u
                t = t0 - h * tf.reshape(move_t, tf.shape(t0))
                _, _, grad_u, grad_t = sgns_gradient(u, t, tf.cast(y, u0.dtype), count)
                stages_u.append(grad_u)
                stages_t.append(grad_t)
        grad_u = tf.add_n([c * g for c, g in zip(b, stages_u) if c != 0.0])
        grad_t = tf.add_n([c * g for c, g in zip(b, stages_t) if c != 0.0])
        shape = tf.shape(self.input_vectors.value, out_type=tf.int64)
        return loss, z, [tf.IndexedSlices(grad_u, words, shape),
                         tf.IndexedSlices(tf.reshape(grad_t, [-1, self.vector_size]), outputs_flat, shape)]

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, vector_size=self.vector_size,
                      gradient=self.gradient, seed=self.seed)
        return with_requires(config)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return super().from_config(without_requires(config), custom_objects=custom_objects)

    def to_keyed_vectors(self, words, counts=None):
        """The input vectors as a gensim ``KeyedVectors`` keyed by ``words`` (a list of V strings)."""
        from gensim.models import KeyedVectors
        if len(words) != self.vocab_size:
            raise ValueError(f"{len(words)} words for {self.vocab_size} vectors")
        wv = KeyedVectors(self.vector_size, count=0, dtype="float32")
        wv.add_vectors(list(words), ops.convert_to_numpy(self.input_vectors))
        if counts is not None:
            wv.allocate_vecattrs(attrs=["count"], types=["int64"])
            wv.expandos["count"][:] = counts
        return wv
