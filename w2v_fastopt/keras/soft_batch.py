"""Soft batch: gradient accumulation that keeps embedding gradients sparse.

```
sum += g                       # every batch
if batch % accumulate == accumulate - 1:
    inner.apply(sum / accumulate)   # the inner optimizer's own update, with the mean gradient
    sum = 0
```

``accumulate`` batches of size b then move the weights exactly as one batch of size accumulate*b would (with a
mean loss), whatever the inner optimizer (SGD, momentum, Adam ...): its state and ``iterations``
advance once per applied update, as with Keras's ``gradient_accumulation_steps``.

Keras's built-in accumulation keeps a dense accumulator per variable and adds every gradient into
it: an embedding's sparse gradient (``tf.IndexedSlices``, a few rows) is densified into a full
vocabulary x dim add on every batch, and the update is dense too.  Here a sparse gradient is kept as
it is: its rows and values are written into a buffer of ``accumulate`` slots (``accumulate`` x rows
per batch), and the update hands the inner optimizer one ``IndexedSlices`` of all of them; for an
inner optimizer that is not linear in the gradient (Adam squares it, clipping takes norms) repeated
rows are summed first, so that it sees one slice per row (``_merges_rows``).
Dense gradients are summed in a dense accumulator as usual.

Which variables have sparse gradients, and how many rows a batch's gradient has, are known only at
the first ``apply``, but ``build`` makes every variable's buffers, ``rows`` and ``values``, so that
``variables`` is one list from ``build`` on (as Keras's optimizers' are: ``set_weights``, a
``tf.train.Checkpoint`` restored before training, anything sized at build).  Their first dimension
is left open (a ``tf.Variable`` of shape ``(None, ...)``), and they are empty until the first apply
sizes them: a dense gradient's ``values`` take the variable's shape (``rows`` stay empty), a sparse
one's ``accumulate`` x rows per batch; ``layout`` records each variable's kind.  Everything that
saves or copies optimizer state follows them: ``model.save``/``load``, ``set_weights`` (from a used
optimizer's ``variables``), ``tf.train.Checkpoint`` (checkpoint dependencies named
``soft_batch_<i>_rows|values``).  An empty buffer costs nothing: the memory is that of the
accumulators in use.

Under a MirroredStrategy each replica writes its own gradient into its own copy of the accumulators
(the copies differ within a window, as Keras's accumulators' do), from the cross-replica context of
one ``merge_call`` per batch; the update sums (concatenates) the copies: one all-reduce per update.
A checkpoint saved mid-window there keeps the first replica's copy only (TensorFlow saves a
mirrored variable's primary copy); at a window's end nothing is pending.

A variable with ``overwrite_with_gradient`` (float8 scales) keeps the maximum of its gradients over
the window and is overwritten with it at the update, as Keras's ``gradient_accumulation_steps`` does.
Differences from Keras's accumulation: the inner optimizer's EMA (``use_ema``) moves once per applied
update, not once per batch, so that ``accumulate`` batches remain exactly one larger batch.
"""
import contextlib
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ..rules import ACCUMULATE
from .runge_kutta import method_of, refuse_unsupported_strategy, replicas, with_requires, without_requires, wrapped

DENSE, SPARSE = 1, 2


@contextlib.contextmanager
def _no_merge_call(strategy):
    """Let the inner optimizer update from the cross-replica context (``strategy``'s; None: on one
    device, nothing to do).  Keras's optimizers reach that context by ``merge_call`` wherever the
    strategy uses it (MirroredStrategy, except under XLA on GPUs), which fails where the context
    already is cross-replica: told the strategy uses none, they update directly, as they do under
    XLA on GPUs (``tf.__internal__.distribute.interim.maybe_merge_call``)."""
    if strategy is None:
        yield
        return
    strategy.extended._use_merge_call = lambda: False
    try:
        yield
    finally:
        del strategy.extended._use_merge_call


def _tf_variable(variable):
    """The tf.Variable of a keras.Variable (its ``value``), or the tf.Variable itself."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _concat(copies):
    """The replicas' copies of a buffer, one after the other (on one device: the buffer)."""
    return copies[0].value() if len(copies) == 1 else tf.concat([c.value() for c in copies], 0)


def _fold(combine, copies):
    """combine(...combine(copy 0, copy 1)..., copy R-1): the replicas' accumulators as one."""
    total = copies[0].value()
    for copy in copies[1:]:
        total = combine(total, copy.value())
    return total


@keras.saving.register_keras_serializable(package="w2v_fastopt")
class SoftBatch(keras.optimizers.Optimizer):
    """Accumulate the gradients of ``accumulate`` batches, then apply their mean with ``inner_optimizer``.

    Args:
        inner_optimizer: any ``keras.optimizers.Optimizer`` (its learning rate, schedule, momentum
            and clipping apply to the averaged gradient).
        accumulate: batches per update (an integer >= 1, default 4; 1 is the inner optimizer alone).

    ``iterations`` and ``learning_rate`` are the inner optimizer's (updates applied, not batches).
    """

    def __init__(self, inner_optimizer, accumulate=ACCUMULATE, name=None, **kwargs):
        if isinstance(accumulate, bool) or not isinstance(accumulate, (int, np.integer)) or accumulate < 1:
            raise ValueError(f"accumulate must be an integer >= 1, got {accumulate!r}")
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise TypeError(f"inner_optimizer must be a keras optimizer, got {type(inner_optimizer).__name__}")
        if kwargs:
            raise ValueError(f"SoftBatch does not take {', '.join(kwargs)}: set it on the inner optimizer")
        method = method_of(inner_optimizer)
        if method is not None and method.stages > 1:
            raise ValueError(f"SoftBatch({type(method).__name__}): a {method.stages}-stage Runge-Kutta method inside "
                             "SoftBatch is not defined (each batch's stages would be evaluated at its own trial "
                             "point, then averaged: not the method's step on the soft batch); use "
                             f"{type(method).__name__} on larger batches, or SoftBatch around SGD")
        super().__init__(learning_rate=0.0, name=name)  # None: Keras's names, soft_batch, soft_batch_1 ...
        self.inner_optimizer = inner_optimizer
        self.accumulate = int(accumulate)
        # (rows, values) per trainable variable, made by build: kept out of Keras's automatic
        # variable tracking (tracked by name for tf.train.Checkpoint) and listed after the inner
        # optimizer's variables, in the order of the trainable variables (``variables``).
        object.__setattr__(self, "_sums", [])
        object.__setattr__(self, "_kinds", [])  # (kind, rows held) per variable, once sized; else None
        self._loss_scaled = False  # set by scale_loss: a LossScaleOptimizer inside may unscale (``apply``)

    def build(self, variables):
        if self.built:
            return
        refuse_unsupported_strategy(self)
        self.inner_optimizer.build(variables)
        super().build(variables)
        self.slot = self.add_variable(shape=(), dtype="int32", initializer="zeros", name="slot")
        with tf.init_scope():  # made now even in a tf.function: _size writes it at trace time
            self.layout = self.add_variable(shape=(len(variables),), dtype="int32", initializer="zeros",
                                            name="layout")  # 0 none yet, DENSE, SPARSE per variable
        self._sums[:] = [self._make_buffers(i, variable) for i, variable in enumerate(variables)]
        self._kinds[:] = [None] * len(variables)

    @property
    def variables(self):
        """The inner optimizer's variables (``variables[0]`` its iteration count, ``[1]`` its learning
        rate: the ones SoftBatch reports, and Keras's tests read), then SoftBatch's ``slot`` and
        ``layout`` (made by ``build``), then each trainable variable's ``rows`` and ``values`` (made by
        ``build``, sized at the first apply).  SoftBatch's own base-class iteration count and learning
        rate, never used, are left out."""
        own = [v for v in (getattr(self, "slot", None), getattr(self, "layout", None)) if v is not None]
        return self.inner_optimizer.variables + own + [v for buffers in self._sums for v in buffers]

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """The inner optimizer's (its weight decay is the one applied)."""
        self.inner_optimizer.exclude_from_weight_decay(var_list=var_list, var_names=var_names)

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if hasattr(self, "inner_optimizer"):  # the base class sets it before inner exists
            self.inner_optimizer.learning_rate = value
        else:
            keras.optimizers.Optimizer.learning_rate.fset(self, value)

    def _kind(self, variable, grad):
        """SPARSE (slot buffers of rows) for a sparse gradient of a fixed number of rows, else DENSE.

        A sparse gradient whose number of rows is not fixed (batches of several sizes: fit on arrays
        whose length is not a multiple of batch_size) is summed densely, as Keras's own accumulation
        does: slower, never wrong."""
        if isinstance(grad, tf.IndexedSlices) and grad.indices.shape[0] is not None:
            if self._overwrite_variable_with_gradient(variable):
                raise ValueError(f"{variable.name}: overwrite_with_gradient takes dense gradients")
            return SPARSE, grad.indices.shape[0] * self.accumulate
        return DENSE, None

    def _make_buffers(self, i, variable):
        """Variable i's empty (rows int32[0], values [0, *shape[1:]]) with an open first dimension:
        ``_size`` sizes them.  A scalar's values are its dense sum from the start."""
        prefix = f"{getattr(variable, 'path', variable.name).replace('/', '_')}_soft_batch"
        shape = tuple(variable.shape)
        with tf.init_scope(), keras.name_scope(self.name, caller=self):  # paths: soft_batch/dense_kernel_...
            rows = tf.Variable(np.zeros(0, np.int32), trainable=False, shape=tf.TensorShape([None]),
                               name=f"{prefix}_rows")
            values = tf.Variable(np.zeros((0, *shape[1:]) if shape else (), variable.dtype), trainable=False,
                                 shape=tf.TensorShape([None, *shape[1:]] if shape else []), name=f"{prefix}_values")
        self._track_trackable(rows, name=f"soft_batch_{i}_rows", overwrite=True)
        self._track_trackable(values, name=f"soft_batch_{i}_values", overwrite=True)
        return rows, values

    def _size(self, i, variable, grad):
        """Variable i's kind and buffers for the gradient ``grad``: sized at the first apply (at trace
        time, not in the graph: a later trace finds them sized), or checked against what ``layout``
        says (buffers restored from a checkpoint or copied by ``set_weights``)."""
        kind, rows = self._kind(variable, grad)
        if self._kinds[i] is None:
            indices, values = self._sums[i]
            with tf.init_scope():
                layout = self.layout.numpy()
                if layout[i] == 0:
                    if kind == SPARSE:
                        indices.assign(np.zeros(rows, np.int32))
                        values.assign(np.zeros((rows, *variable.shape[1:]), variable.dtype))
                    else:
                        values.assign(np.zeros(variable.shape, variable.dtype))
                    layout[i] = kind
                    self.layout.assign(layout)
                self._kinds[i] = (int(layout[i]), int(tf.shape(indices)[0]) if layout[i] == SPARSE else None)
        if self._kinds[i][0] != kind:
            raise ValueError(f"{variable.name}: gradient was {'sparse' if kind == DENSE else 'dense'}, now "
                             f"{'dense' if kind == DENSE else 'sparse'}")
        if kind == SPARSE and self._kinds[i][1] != rows:
            raise ValueError(f"{variable.name}: sparse gradients of {rows // self.accumulate} rows, the buffers "
                             f"hold {self._kinds[i][1] // self.accumulate}: batches must keep one size (on "
                             "several replicas, one replica's share of the global batch)")

    def _layout(self, i):
        """The kind of variable i's accumulator (DENSE, SPARSE), or 0 while it is not sized."""
        return 0 if self._kinds[i] is None else self._kinds[i][0]

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            self.build(trainable_variables)
            self.built = True
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        grads = list(grads)
        if all(g is None for g in grads):
            raise ValueError(f"No gradients provided for any variable: {[v.name for v in trainable_variables]}")
        if not self._loss_scaled and any(isinstance(o, keras.optimizers.LossScaleOptimizer)
                                         for o in wrapped(self.inner_optimizer)):
            raise ValueError(
                f"{self.name}: a LossScaleOptimizer inside SoftBatch unscales the gradients, but the loss was not "
                "scaled by it (SoftBatch.scale_loss was not called: under mixed_float16, compile wraps the "
                "optimizer in a LossScaleOptimizer of its own, which scales the loss once, and the gradients "
                "would be unscaled twice); pass SoftBatch(SGD(...)) and let compile add the LossScaleOptimizer "
                "around it, or wrap it yourself: LossScaleOptimizer(SoftBatch(SGD(...)))")
        context = replicas()
        if context is None:
            self._step([None if g is None else (g,) for g in grads], trainable_variables, lambda v: (_tf_variable(v),))
        else:  # the accumulators' copies, the conditional update: in cross-replica context
            context.merge_call(self._step_on_replicas, args=(grads, trainable_variables))

    def _step_on_replicas(self, strategy, grads, trainable_variables):
        """``_step`` under a MirroredStrategy (``merge_call``): each replica's gradient goes into its
        own copy of the accumulators (the copies differ within a window, as Keras's accumulators'
        do), and the update sums the copies: one all-reduce per update, not per batch."""
        self._step([None if g is None else strategy.experimental_local_results(g) for g in grads],
                   trainable_variables, lambda v: strategy.experimental_local_results(_tf_variable(v)))

    def _step(self, grads, trainable_variables, copies):
        """Accumulate one batch, and update every ``accumulate``-th.  grads: per variable, a tuple of
        gradients (one per replica), or None; copies(variable): its copies, one per replica."""
        slot = self.slot.value
        for variable, parts in zip(trainable_variables, grads):
            if parts is None:
                continue
            i = self._get_variable_index(variable)
            self._size(i, variable, parts[0])
            for r, grad in enumerate(parts):
                if self._layout(i) == SPARSE:
                    indices, values = (copies(v)[r] for v in self._sums[i])
                    n = grad.indices.shape[0]
                    where = slot * n + tf.range(n)
                    indices.scatter_update(tf.IndexedSlices(tf.cast(grad.indices, tf.int32), where))
                    values.scatter_update(tf.IndexedSlices(tf.cast(grad.values, values.dtype), where))
                elif self._overwrite_variable_with_gradient(variable):
                    total = copies(self._sums[i][1])[r]
                    total.assign(ops.maximum(total, tf.convert_to_tensor(grad)))
                else:
                    copies(self._sums[i][1])[r].assign_add(tf.convert_to_tensor(grad))

        def update():
            mean = []
            for variable, parts in zip(trainable_variables, grads):
                i = self._get_variable_index(variable)
                if parts is None:
                    mean.append(None)
                elif self._layout(i) == SPARSE:
                    indices, values = (_concat(copies(v)) for v in self._sums[i])
                    if self._merges_rows():
                        # One slice per row: a row repeated across (or within) the batches summed
                        # first, as Keras's dense accumulation would; an inner Adam squares the sum.
                        indices, where = tf.unique(indices)
                        values = tf.math.unsorted_segment_sum(values, where, tf.shape(indices)[0])
                    mean.append(tf.IndexedSlices(values / self.accumulate, indices,
                                                 tf.shape(variable.value, out_type=tf.int64)))
                elif self._overwrite_variable_with_gradient(variable):
                    # the window's maximum, as Keras's accumulation
                    mean.append(_fold(ops.maximum, copies(self._sums[i][1])))
                else:
                    mean.append(_fold(tf.add, copies(self._sums[i][1])) / self.accumulate)
            self.inner_optimizer.apply(mean, trainable_variables)
            for variable, parts in zip(trainable_variables, grads):
                i = self._get_variable_index(variable)
                if parts is not None and self._layout(i) == DENSE:
                    self._sums[i][1].assign(ops.zeros_like(self._sums[i][1]))

        with _no_merge_call(tf.distribute.get_strategy() if len(copies(self.slot)) > 1 else None):
            if self.accumulate == 1:
                update()
            else:
                ops.cond(ops.equal(slot, self.accumulate - 1), update, lambda: None)
        self.slot.assign((slot + 1) % self.accumulate)

    def _as_own(self, weights):
        """``weights`` (arrays in the order of a used SoftBatch's ``variables``) as this optimizer's
        list: also from an earlier version of SoftBatch, which listed only the buffers in use (a
        dense variable's sum, a sparse one's rows and values, per ``layout``)."""
        weights = list(weights)
        if len(weights) == len(self.variables):
            return weights
        k = len(self.inner_optimizer.variables) + 2
        if len(weights) < k:
            return weights
        own, at = weights[:k], k
        for i, (kind, (rows, values)) in enumerate(zip(np.asarray(weights[k - 1]), self._sums)):
            empty = [np.zeros(0, np.int32), np.zeros((0, *values.shape[1:]) if values.shape.rank else (),
                                                     values.dtype.as_numpy_dtype)]
            if kind == SPARSE:
                own += weights[at:at + 2]
                at += 2
            elif kind == DENSE:
                own += [empty[0], weights[at]]
                at += 1
            else:
                own += empty
        return own + weights[at:]

    def _assign_all(self, weights):
        """Assign ``weights`` to ``variables`` (the buffers take the saved sizes); the kinds are read
        from ``layout`` again at the next apply."""
        weights = self._as_own(weights)
        if len(weights) != len(self.variables):
            raise ValueError(f"{self.name} has {len(self.variables)} variables, got {len(weights)} weights")
        for variable, weight in zip(self.variables, weights):
            if not tf.TensorShape(variable.shape).is_compatible_with(np.shape(weight)):
                raise ValueError(f"Optimizer variable {variable.name} has shape {variable.shape}, "
                                 f"not compatible with the weight's shape {np.shape(weight)}")
        for variable, weight in zip(self.variables, weights):
            variable.assign(weight)
        self._kinds[:] = [None] * len(self._sums)

    def set_weights(self, weights):
        """As Keras's (built first), accumulators included: from a used SoftBatch's ``variables``."""
        if not self.built:
            return super().set_weights(weights)  # Keras's error
        self._assign_all(weights)

    def load_own_variables(self, store):
        if not self.built:  # as Keras's optimizers do (a used Adam unpickles so): state skipped
            warnings.warn(f"Skipping variable loading for optimizer '{self.name}', because it has not "
                          "been built yet (build it on the model's variables first)", stacklevel=2)
            return
        self._assign_all([store[str(j)] for j in range(len(store.keys()))])

    def _merges_rows(self):
        """Whether repeated rows must be summed before the inner update: not for plain SGD (with
        or without momentum), whose update is linear in the gradient, so that a scatter of the
        repeated slices moves a row by their sum anyway (merging costs a tf.unique under XLA: 2.7x
        the step time, measured); yes for everything else (Adam squares, clipping takes norms)."""
        inner = self.inner_optimizer
        return not (type(inner) is keras.optimizers.SGD and inner.clipnorm is None
                    and inner.clipvalue is None and inner.global_clipnorm is None)

    def scale_loss(self, loss):
        """The inner optimizer's loss scaling (its ``loss_scale_factor``, or a LossScaleOptimizer's
        dynamic scale): the accumulated gradients reach its ``apply``, which unscales them."""
        self._loss_scaled = True
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        return with_requires({"name": self.name, "accumulate": self.accumulate,
                              "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer)})

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = without_requires(config)
        inner = keras.saving.deserialize_keras_object(config.pop("inner_optimizer"),
                                                           custom_objects=custom_objects)
        return cls(inner, **config)
