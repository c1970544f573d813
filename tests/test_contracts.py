"""The frameworks' private parts we override or call, held against the installed versions.

gensim, Numba and Keras are pinned to the ranges we tested (pyproject.toml); inside a range a
release may still move a private member.  Each check here fails with a message naming the hook,
the framework's signature now, the one we were written against, and the module of ours that
depends on it, instead of a failure somewhere obscure (or, where we fall back quietly, none).
"""
import inspect
import subprocess
import sys

import pytest

# gensim.models.word2vec.Word2Vec: what w2v_fastopt.gensim_word2vec overrides (o) or calls (c), as
# gensim 4.4 has it.  _train_epoch and _train_epoch_corpusfile are overridden and call gensim's own.
GENSIM_HOOKS = {
    "_check_training_sanity": ("o", "(self, epochs=0, total_examples=None, total_words=None, **kwargs)"),
    "_get_thread_working_mem": ("o", "(self)"),
    "_do_train_job": ("o", "(self, sentences, alpha, inits)"),
    "_train_epoch": ("o", "(self, data_iterable, cur_epoch=0, total_examples=None, total_words=None, "
                          "queue_factor=2, report_delay=1.0, callbacks=())"),
    "_train_epoch_corpusfile": ("o", "(self, corpus_file, cur_epoch=0, total_examples=None, total_words=None, "
                                     "callbacks=(), **kwargs)"),
    "_log_epoch_end": ("c", "(self, cur_epoch, example_count, total_examples, raw_word_count, total_words, "
                            "trained_word_count, elapsed, is_corpus_file_mode)"),
    "_worker_loop": ("c", "(self, job_queue, progress_queue)"),  # calls _get_thread_working_mem, _do_train_job
    "train": ("o", "(self, corpus_iterable=None, corpus_file=None, total_examples=None, total_words=None, "
                   "epochs=None, start_alpha=None, end_alpha=None, word_count=0, queue_factor=2, report_delay=1.0, "
                   "compute_loss=False, callbacks=(), **kwargs)"),
    # save, load and the specials: overridden to run gensim's own functions with the global name Word2Vec
    # (their super(Word2Vec, self)) bound to gensim's class (gensim_word2vec._naming_gensims_class)
    "save": ("o", "(self, *args, **kwargs)"),
    "load": ("o", "(*args, rethrow=False, **kwargs)"),
    "_save_specials": ("o", "(self, fname, separately, sep_limit, ignore, pickle_protocol, compress, subname)"),
    "_load_specials": ("o", "(self, *args, **kwargs)"),
    # the vocabulary steps, rewritten over arrays to gensim's results (tests/test_gensim_word2vec.py
    # compares them with these functions' own): a change in gensim's needs a look at ours
    "_scan_vocab": ("o", "(self, sentences, progress_per, trim_rule)"),
    "prepare_vocab": ("o", "(self, update=False, keep_raw_vocab=False, trim_rule=None, min_count=None, sample=None, "
                           "dry_run=False)"),
    "make_cum_table": ("o", "(self, domain=2147483647)"),
    "create_binary_tree": ("o", "(self)"),
}

# keras.optimizers.Optimizer (the base of every optimizer): what keras/soft_batch.py's SoftBatch and
# keras/runge_kutta.py's RungeKutta override, as Keras 3.15 has it.
KERAS_OPTIMIZER_HOOKS = {
    "build": "(self, variables)",
    "apply": "(self, grads, trainable_variables=None)",
    "exclude_from_weight_decay": "(self, var_list=None, var_names=None)",
    "set_weights": "(self, weights)",
    "load_own_variables": "(self, store)",
    "scale_loss": "(self, loss)",
    "finalize_variable_values": "(self, var_list)",
    "get_config": "(self)",
    "from_config": "(config, custom_objects=None)",
}
KERAS_OPTIMIZER_PROPERTIES = ("variables", "iterations", "learning_rate")
# keras.Model: what keras/model.py's SkipGramModel and keras/runge_kutta.py's RungeKuttaMixin override.
KERAS_MODEL_HOOKS = {"train_step": "(self, data)", "compile_from_config": "(self, config)"}


def _check(owner, name, expected, ours):
    member = inspect.getattr_static(owner, name, None)
    assert member is not None, (f"{owner.__module__}.{owner.__qualname__}.{name} is gone; {ours} overrides or "
                                f"calls it: re-check {ours} against this version")
    now = str(inspect.signature(getattr(owner, name)))
    assert now == expected, (f"{owner.__module__}.{owner.__qualname__}.{name} is now {now}, was {expected} when "
                             f"{ours} was written against it: re-check {ours}")


def _matches(ours_class, base, name):
    """Our override accepts what the framework's member accepts: a pure pass-through (*args, **kwargs),
    or the framework's leading parameters (names, kinds, defaults) with **kwargs taking the rest."""
    ours = inspect.signature(getattr(ours_class, name))
    theirs = list(inspect.signature(getattr(base, name)).parameters.values())
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    kinds = {p.kind for p in ours.parameters.values()}
    named = [p for p in ours.parameters.values() if p.kind not in variadic]
    prefix = [(p.name, p.kind, p.default) for p in named] == [(p.name, p.kind, p.default) for p in theirs[:len(named)]]
    rest = theirs[len(named):]
    absorbed = all(p.kind in kinds or (p.kind is not inspect.Parameter.VAR_POSITIONAL
                                       and inspect.Parameter.VAR_KEYWORD in kinds) for p in rest)
    assert set(variadic) <= kinds or (prefix and absorbed), \
        (f"{ours_class.__module__}.{ours_class.__qualname__}.{name}{ours} does not take what "
         f"{base.__module__}.{base.__qualname__}.{name}({', '.join(map(str, theirs))}) takes")


def test_gensim_hooks_are_as_the_drop_in_expects():
    from gensim.models import word2vec

    from w2v_fastopt.gensim_word2vec import Word2Vec
    for name, (role, expected) in GENSIM_HOOKS.items():
        _check(word2vec.Word2Vec, name, expected, "w2v_fastopt/gensim_word2vec.py")
        if role == "o":
            assert name in Word2Vec.__dict__, f"GENSIM_HOOKS says we override {name}; we do not"
            _matches(Word2Vec, word2vec.Word2Vec, name)
    overridden = {name for name in Word2Vec.__dict__ if name.startswith("_") and not name.startswith("__")
                  and hasattr(word2vec.Word2Vec, name)}
    assert overridden <= set(GENSIM_HOOKS), f"overridden but not held here: {overridden - set(GENSIM_HOOKS)}"
    # the vocabulary attributes the kernels are fed from (gensim_word2vec._prepare, gensim_tree)
    model = word2vec.Word2Vec([["a", "b", "a"]] * 5, min_count=1, hs=1, vector_size=4, epochs=1)
    assert {"count", "sample_int", "code", "point"} <= set(model.wv.expandos), sorted(model.wv.expandos)


@pytest.mark.parametrize("module, name", [("soft_batch", "SoftBatch"), ("runge_kutta", "RungeKutta")])
def test_keras_optimizer_members_are_as_ours_expect(module, name):
    import importlib

    import keras
    ours = getattr(importlib.import_module(f"w2v_fastopt.keras.{module}"), name)
    base = keras.optimizers.Optimizer
    for member, expected in KERAS_OPTIMIZER_HOOKS.items():
        _check(base, member, expected, f"w2v_fastopt/keras/{module}.py")
        if member in ours.__dict__:
            _matches(ours, base, member)
    for member in KERAS_OPTIMIZER_PROPERTIES:
        assert isinstance(inspect.getattr_static(base, member, None), property), \
            f"keras.optimizers.Optimizer.{member} is no longer a property: re-check w2v_fastopt/keras/{module}.py"
    overridden = {m for m in ours.__dict__ if not m.startswith("__") and hasattr(base, m)}
    held = set(KERAS_OPTIMIZER_HOOKS) | set(KERAS_OPTIMIZER_PROPERTIES)
    assert overridden <= held, f"{name} overrides members not held here: {overridden - held}"
    # private state SoftBatch reads: the base keeps its variables and the built list under these names
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build([keras.Variable([1.0])])
    assert isinstance(optimizer._variables, list) and len(optimizer._trainable_variables) == 1


def test_keras_model_members_are_as_ours_expect():
    import keras

    from w2v_fastopt.keras.model import SkipGramModel
    from w2v_fastopt.keras.runge_kutta import RungeKuttaMixin
    for member, expected in KERAS_MODEL_HOOKS.items():
        _check(keras.Model, member, expected, "w2v_fastopt/keras/model.py and runge_kutta.py")
        for ours in (SkipGramModel, RungeKuttaMixin):
            if member in ours.__dict__:
                _matches(ours, keras.Model, member)


def test_numba_private_parts_are_there():
    """``kernels.KERNEL``'s ``_nrt=False`` (compile without reference counting), the cache locators
    ``kernels.ensure_cache`` asks, the host features ``kernels.prefer_full_vectors`` reads, and the BLAS
    probe ``cli._skip_numba_blas_probe`` answers.  The package falls back quietly where one is gone (a
    slower kernel, a failure to cache, 256-bit vectors, the probe's import): here it fails loudly."""
    import numba
    from numba.core import caching, codegen

    from w2v_fastopt.kernels import KERNEL, _where_kernels_cache

    @numba.njit(**dict(KERNEL, cache=False))
    def add(a, b):
        return a + b
    assert add(1, 2) == 3, "numba.njit(_nrt=False): w2v_fastopt/kernels/__init__.py's KERNEL"
    assert not add.overloads[add.signatures[0]].library.get_llvm_str().count("NRT_incref"), \
        "_nrt=False no longer compiles without reference counting: w2v_fastopt/kernels/__init__.py"
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    assert impl is not None and impl._locator_classes, \
        "numba.core.caching's cache locators moved: w2v_fastopt/kernels/__init__.py's ensure_cache"
    import w2v_fastopt.kernels as kernels
    assert any(cls.from_function(_where_kernels_cache, kernels.__file__) is not None
               for cls in impl._locator_classes), "no cache locator answers for the kernels' folder"
    assert "+" in codegen.get_host_cpu_features(), \
        "numba.core.codegen.get_host_cpu_features changed: w2v_fastopt/kernels/__init__.py's prefer_full_vectors"
    for name in ("CPU_NAME", "CPU_FEATURES", "CACHE_DIR"):
        assert hasattr(numba.config, name), f"numba.config.{name} is gone: w2v_fastopt/kernels/__init__.py"
    probe = ("import sys; from w2v_fastopt.cli import _skip_numba_blas_probe as skip; skip(); "
             "import numba.np.arraymath as m; print(m._HAVE_BLAS, 'scipy.linalg.cython_blas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"], f"numba's BLAS probe changed ({out}): w2v_fastopt/cli.py's _skip_numba_blas_probe"
