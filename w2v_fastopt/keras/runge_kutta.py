"""Runge-Kutta optimizers: gradient descent as an ODE solver, with more than one gradient per step.

Gradient descent is Euler's method for the gradient flow dp/dt = -g(p) with step h = learning rate.
An explicit Runge-Kutta method with Butcher tableau (a, b) takes s gradient evaluations per step:

    k_1 = g(p)
    k_i = g(p - h Σ_{j<i} a_ij k_j)          i = 2..s
    p  <- p - h Σ_i b_i k_i

    euler: s=1, b=(1)                          (plain SGD, order 1)
    heun:  a=((1,)), b=(1/2, 1/2)              (order 2: the article's method)
    rk4:   a=((1/2,), (0, 1/2), (0, 0, 1)), b=(1/6, 1/3, 1/3, 1/6)   (classical, order 4)

All stages use the same batch.  A Keras optimizer's update runs once per step and cannot evaluate the
gradient again, so the stages are evaluated by the model's ``train_step`` (``RungeKuttaMixin``), which
then hands the combined gradient Σ b_i k_i to ``optimizer.apply`` once: ``iterations`` advances once
per step, and with ``momentum`` the combined gradient goes through SGD's momentum as usual.

Trial points are made in place and undone: a sparse gradient (``tf.IndexedSlices``, an embedding)
moves and restores only its rows, so a Heun step costs two gradient evaluations, not a copy of the
whole table.
"""
import keras
import tensorflow as tf
from keras import ops

from ..tableaus import TABLEAUS


REQUIRES = "pip install 'w2v-fastopt[keras]', then import w2v_fastopt.keras before keras.models.load_model"


def with_requires(config):
    """``config`` with a "requires" entry: Keras's loader imports no module outside Keras, so a saved
    model is loaded in a process that imported w2v_fastopt.keras; where it did not, Keras's error
    ("Could not locate class ...") prints the config, and with it what to install and import."""
    return {**config, "requires": REQUIRES}


def without_requires(config):
    """``config`` without the entry ``with_requires`` adds (a config without it is accepted too)."""
    return {key: value for key, value in config.items() if key != "requires"}


def tableau(method):
    """(a, b) of a method name in TABLEAUS, or of an explicit ``{"a": rows, "b": weights}``."""
    if isinstance(method, str):
        if method not in TABLEAUS:
            raise ValueError(f"unknown Runge-Kutta method {method!r}; choose from {', '.join(TABLEAUS)}")
        return TABLEAUS[method]
    a, b = tuple(tuple(float(x) for x in row) for row in method["a"]), tuple(float(x) for x in method["b"])
    if len(a) != len(b) - 1 or any(len(row) != i + 1 for i, row in enumerate(a)):
        raise ValueError("a Butcher tableau needs len(b) - 1 rows of a, row i with i + 1 entries")
    return a, b


@keras.saving.register_keras_serializable(package="w2v_fastopt")
class RungeKutta(keras.optimizers.SGD):
    """SGD whose step is an explicit Runge-Kutta step of the gradient flow (see the module docstring).

    ```
    k = [g(p)]; for row in a: k.append(g(p - learning_rate * sum(a_ij * k_j)))
    p = p - learning_rate * sum(b_i * k_i)     # through SGD's update (momentum, if any)
    ```

    Args:
        learning_rate: the step h (a float or a ``LearningRateSchedule``).
        method: "euler", "heun", "midpoint", "rk4", or ``{"a": [[...], ...], "b": [...]}``.
        momentum, nesterov, and the other keyword arguments: as ``keras.optimizers.SGD``.

    Clipping (``clipnorm``, ``clipvalue``, ``global_clipnorm``) applies to each stage's gradient:
    the method solves the flow of the clipped gradient field (not a clip of the combined step).
    Not inside ``SoftBatch`` (refused: averaging stages taken at each batch's own trial point is
    not the method's step on the soft batch).

    Needs a model whose ``train_step`` evaluates the stages: ``SkipGramModel`` does, and so does any
    model that mixes in ``RungeKuttaMixin``.  Under a stock ``train_step`` it raises (a silent
    one-stage step would be plain SGD under another name).
    """

    def __init__(self, learning_rate=0.01, method="heun", momentum=0.0, nesterov=False, name=None,
                 **kwargs):
        a, b = tableau(method)
        # name None: Keras's unique names from the class (heun, heun_1, rk4, runge_kutta ...)
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, name=name,
                         **kwargs)
        self.a, self.b, self.method = a, b, method
        self._stages_evaluated = False

    @property
    def stages(self):
        return len(self.b)

    def build(self, variables):
        refuse_unsupported_strategy(self)
        super().build(variables)

    def apply(self, grads, trainable_variables=None):
        if self.stages > 1 and not self._stages_evaluated:
            raise TypeError(f"{type(self).__name__} ({self.method}) needs {self.stages} gradient evaluations "
                            "per step; train a model with RungeKuttaMixin (SkipGramModel has it)")
        return super().apply(grads, trainable_variables)

    def get_config(self):
        config = super().get_config()
        config["method"] = self.method
        return with_requires(config)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return super().from_config(without_requires(config), custom_objects=custom_objects)


@keras.saving.register_keras_serializable(package="w2v_fastopt")
class Heun(RungeKutta):
    """Heun's method (the article's): p~ = p - lr g(p); p <- p - lr/2 (g(p) + g(p~))."""

    def __init__(self, learning_rate=0.01, **kwargs):
        kwargs.pop("method", None)
        super().__init__(learning_rate=learning_rate, method="heun", **kwargs)


@keras.saving.register_keras_serializable(package="w2v_fastopt")
class RK4(RungeKutta):
    """The classical fourth-order Runge-Kutta method, four gradients per step."""

    def __init__(self, learning_rate=0.01, **kwargs):
        kwargs.pop("method", None)
        super().__init__(learning_rate=learning_rate, method="rk4", **kwargs)


def wrapped(optimizer):
    """``optimizer``, then the optimizers it wraps (``inner_optimizer``: a ``LossScaleOptimizer``,
    as ``compile`` makes under mixed precision, a ``SoftBatch``), outermost first."""
    while optimizer is not None:
        yield optimizer
        optimizer = getattr(optimizer, "inner_optimizer", None)


def method_of(optimizer):
    """The ``RungeKutta`` that ``optimizer`` is or wraps, or None."""
    return next((o for o in wrapped(optimizer) if isinstance(o, RungeKutta)), None)


def _coefficient(c, dtype):
    """c in ``dtype``: a Python float converted directly (tf.cast would round it through float32)."""
    return tf.constant(c, dtype=dtype) if isinstance(c, (int, float)) else tf.cast(c, dtype)


def _scaled_sum(terms):
    """Σ c_j k_j for [(c_j, k_j)]: an IndexedSlices if every k_j is one, else a dense tensor."""
    if all(isinstance(k, tf.IndexedSlices) for _, k in terms):
        return tf.IndexedSlices(tf.concat([_coefficient(c, k.dtype) * k.values for c, k in terms], 0),
                                tf.concat([k.indices for _, k in terms], 0), terms[0][1].dense_shape)
    return tf.add_n([_coefficient(c, k.dtype) * tf.convert_to_tensor(k) for c, k in terms])


def scale_gradients(grads, factor):
    """Each gradient times ``factor`` (a scalar tensor; dense or IndexedSlices; None kept)."""
    out = []
    for g in grads:
        if g is None:
            out.append(None)
        elif isinstance(g, tf.IndexedSlices):
            out.append(tf.IndexedSlices(g.values * tf.cast(factor, g.values.dtype), g.indices, g.dense_shape))
        else:
            out.append(g * tf.cast(factor, g.dtype))
    return out


def loss_scale(optimizer):
    """What Keras's ``train_step`` multiplies the loss by for ``optimizer`` (``scale_loss``): a
    ``LossScaleOptimizer``'s dynamic scale, a ``loss_scale_factor``, or None for none."""
    one = tf.constant(1.0, "float32")
    factor = optimizer.scale_loss(one)
    return None if factor is one else factor


def replicas():
    """The replica context of a step that runs on several replicas (``tf.distribute``: a
    MirroredStrategy's devices), or None on one."""
    context = tf.distribute.get_replica_context()
    return context if context is not None and context.num_replicas_in_sync > 1 else None


def refuse_unsupported_strategy(optimizer):
    """Raise for a ``tf.distribute`` strategy ``optimizer`` cannot run under: a
    MultiWorkerMirroredStrategy, which Keras 3 itself does not train under."""
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        raise ValueError(f"{optimizer.name}: MultiWorkerMirroredStrategy does not train Keras 3 models "
                         "(keras-team/keras#20585); use MirroredStrategy on one machine")


def global_loss(loss):
    """The loss of the whole (global) batch from a replica's: under a strategy, Keras's losses
    divide each replica's mean by the number of replicas, so that the optimizer's all-reduce sum of
    the gradients is the global batch's gradient; Keras's own ``train_step`` undoes it for the
    logged loss (``unscale_loss_for_distribution``)."""
    context = replicas()
    return loss if context is None else loss * tf.cast(context.num_replicas_in_sync, loss.dtype)


def _all_reduce(moves):
    """The sum over the replicas of each move (dense or IndexedSlices; None kept): every replica
    then moves its copy of the variables to the same trial point, the global batch's."""
    context = replicas()
    present = [m for m in moves if m is not None]
    if context is None or not present:
        return moves
    reduced = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present))
    return [None if m is None else next(reduced) for m in moves]


def _move(variable, offset):
    """variable += offset (IndexedSlices: only its rows); returns the function that undoes it."""
    var = variable.value
    if isinstance(offset, tf.IndexedSlices):
        saved = tf.gather(var, offset.indices)
        var.scatter_add(tf.IndexedSlices(tf.cast(offset.values, var.dtype), offset.indices))
        return lambda: var.scatter_update(tf.IndexedSlices(saved, offset.indices))
    saved = tf.identity(var)
    var.assign_add(tf.cast(offset, var.dtype))
    return lambda: var.assign(saved)


def runge_kutta_gradients(method, variables, gradient_fn, state=()):
    """The stages of one step of ``method`` (a ``RungeKutta``; None: one stage): returns
    (loss, y_pred, Σ b_i k_i), loss and y_pred at the start point.

    gradient_fn() -> (loss, y_pred, [gradient per variable]) at the variables' current values.
    With clipping (``clipnorm``, ``clipvalue``, ``global_clipnorm``) every stage's gradient is
    clipped, so that the step solves the flow of the clipped gradient field; the optimizer's own
    clipping of Σ b_i k_i then changes nothing when the weights b are >= 0 (they sum to 1).
    state: the model's non-trainable variables (a BatchNormalization's moving statistics ...): a
    step updates them once, from the evaluation at the current point, as a one-stage step does;
    what the trial stages' forward passes write into them is undone.
    On several replicas (a MirroredStrategy) the stages are the global batch's: each trial move is
    all-reduced (summed: each replica's gradient is of its share of the loss) before it is made, and
    Σ b_i k_i stays the replica's own, which the optimizer's all-reduce sums into the global one.
    """
    loss, y_pred, first = gradient_fn()
    a, b = (method.a, method.b) if method is not None else ((), (1.0,))
    if len(b) == 1:
        return loss, y_pred, first
    h = ops.cast(method.learning_rate, "float64")  # cast to each gradient's dtype when used
    kept = [(s, tf.identity(s.value)) for s in state]  # after stage 1's update of them
    clip = method._clip_gradients  # clipnorm, clipvalue, global_clipnorm: the flow of the clipped field
    if replicas() is not None and any((method.clipnorm, method.clipvalue, method.global_clipnorm)):
        raise ValueError(f"{method.name}: clipping each stage's gradient on several replicas would clip "
                         "each replica's share of it, not the global batch's; drop clipnorm, clipvalue "
                         "and global_clipnorm, or train on one device")
    stages = [clip(first)]
    for row in a:
        moves = []
        for v in range(len(variables)):
            terms = [(-h * coef, k[v]) for coef, k in zip(row, stages) if coef != 0.0 and k[v] is not None]
            moves.append(_scaled_sum(terms) if terms else None)
        undo = [_move(variable, move) for variable, move in zip(variables, _all_reduce(moves)) if move is not None]
        _, _, k = gradient_fn()  # ordered after the moves and before the undo: same resources
        k = clip(k)
        for restore in undo:
            restore()
        for s, value in kept:
            s.assign(value)
        stages.append(k)
    combined = []
    for v in range(len(variables)):
        terms = [(coef, k[v]) for coef, k in zip(b, stages) if coef != 0.0 and k[v] is not None]
        combined.append(_scaled_sum(terms) if terms else None)
    return loss, y_pred, combined


class RungeKuttaMixin:
    """A ``train_step`` for ``keras.Model`` subclasses that also runs multi-stage optimizers.

    ``class MyModel(RungeKuttaMixin, keras.Model)``.  With a one-stage optimizer (SGD, Adam, ...)
    it is the stock step.  Override ``loss_and_gradients`` to supply gradients another way (by hand).
    """

    def loss_and_gradients(self, x, y, sample_weight):
        """(loss, y_pred, gradients of the trainable variables) by autodiff (``tf.GradientTape``).

        The gradients are of the loss itself: under loss scaling the tape differentiates the scaled
        loss (no float16 underflow) and the result is divided back, so that trial points move by
        h k; ``train_step`` scales the combined gradient again for the optimizer to unscale."""
        scale = loss_scale(self.optimizer)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            scaled = loss if scale is None else loss * tf.cast(scale, loss.dtype)
        grads = tape.gradient(scaled, self.trainable_variables)
        return loss, y_pred, grads if scale is None else scale_gradients(grads, 1.0 / scale)

    def step_gradients(self, x, y, sample_weight):
        """(loss, y_pred, Σ b_i k_i) of one step of the optimizer's method; the default moves the
        variables to each trial point and back (``runge_kutta_gradients``)."""
        return runge_kutta_gradients(method_of(self.optimizer), self.trainable_variables,
                                     lambda: self.loss_and_gradients(x, y, sample_weight),
                                     state=self.non_trainable_variables)

    def train_step(self, data):
        """Keras's step with s gradient evaluations: the stages' combined gradient, multiplied by
        the loss scale (``optimizer.scale_loss``, as Keras's own ``train_step`` scales the loss),
        goes to ``optimizer.apply`` once, which unscales it."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        optimizer = self.optimizer
        method = method_of(optimizer)
        loss, y_pred, grads = self.step_gradients(x, y, sample_weight)
        variables = self.trainable_variables  # after the first call has built the model
        scale = loss_scale(optimizer)
        if scale is not None:
            grads = scale_gradients(grads, scale)
        if method is not None:
            method._stages_evaluated = True
        try:
            optimizer.apply(grads, variables)
        finally:
            if method is not None:
                method._stages_evaluated = False
        batch = tf.shape(tf.nest.flatten(x)[0])[0]
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(global_loss(loss), sample_weight=batch)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
