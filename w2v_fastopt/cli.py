"""``w2v-fastopt``: train word vectors from a corpus; evaluate them, look at them.

The only module that turns exceptions into one-line errors: ``w2v-fastopt: error: <what>``, exit 1
(2 for a bad command line).  Imports TensorFlow only for ``--backend keras``.
"""
import argparse
import contextlib
import logging
import math
import os
import signal
import sys
import threading
import time

from .io import WRITTEN
from .resident import hand_back_compiler_code

EPILOG = """\
flag equivalents (word2vec.c / fastText):
  --vector-size   -size / -dim            --window       -window / -ws
  --negative      -negative / -neg        --min-count    -min-count / -minCount
  --sample        -sample / -t            --epochs       -iter / -epoch
  --alpha         -alpha / -lr            --min-alpha    (fixed alpha*1e-4) / (0)
  --ns-exponent   (fixed 0.75) / (fixed 0.5)
  --workers       -threads / -thread      --seed         (none) / -seed
  --format        -binary 1|0 / (.vec is text)
  --output        -output / -output       --quiet        -debug 0 / -verbose 0
  --max-vocab-size  (word2vec.c prunes at 21M words) / (none)
  --sg 0          -cbow 1 / cbow (the command)   --sg 1 (default)  -cbow 0 / skipgram
  --cbow-mean 1   (-cbow 1 always averages) / (always averages)
  --hs 1          -hs 1 / -loss hs (fastText's trains no negatives: add --negative 0)
  --checkpoint-every, --resume, --no-shared-negatives, --combine: no equivalent in either

--backend keras: the same corpus reader, vocabulary and sampler, trained by Keras 3 model.fit
(TensorFlow, XLA) in batches of --batch-size examples with --optimizer sgd|softbatch|heun|rk4;
the learning rate is --alpha per example (alpha * batch size for the batch mean), decaying
linearly to --min-alpha.  --workers, --no-shared-negatives and --combine are Numba-only; Keras checkpoints
(--checkpoint-every N, --resume STATE) are per epoch.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _parser():
    parser = _Parser(prog="w2v-fastopt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train skip-gram (or CBOW) vectors from a text corpus",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                       description="Train skip-gram (--sg 1, default) or CBOW (--sg 0) vectors with "
                       "negative sampling, hierarchical softmax (--hs 1) or both. CORPUS: UTF-8 text, "
                       "one sentence per line, whitespace-separated tokens (plain, .gz or .bz2).")
    t.add_argument("corpus", metavar="CORPUS", nargs="*",
                   help="the text to train on (optional with --resume: the checkpoint knows it); with --ray, "
                   "several files, read one after the other")
    t.add_argument("--output", "-o", metavar="PATH",
                   help="where to write the vectors (word2vec format, written atomically; "
                   "required unless --resume)")
    t.add_argument("--format", choices=["binary", "text"], default=None,
                   help="word2vec binary or text (default: text if PATH ends in .txt or .vec, "
                   "else binary)")
    _training_flags(t)
    t.add_argument("--checkpoint-every", metavar="N|TIME",
                   help="save a resumable state every N epochs, or every TIME (90s, 10m, 1h; not with --ray), "
                   "atomically; removed when training ends")
    t.add_argument("--checkpoint", metavar="STATE",
                   help="where to save that state (default: PATH.checkpoint)")
    t.add_argument("--resume", metavar="STATE",
                   help="continue the training saved in STATE (same result as an uninterrupted "
                   "run; bit-identical with --workers 1); other training flags are ignored")
    t.add_argument("--backend", choices=["numba", "keras"], default="numba",
                   help="numba: the compiled SGD engine (default); keras: Keras 3 model.fit "
                   "(needs pip install 'w2v-fastopt[keras]')")
    t.add_argument("--batch-size", type=int, default=1024, metavar="B",
                   help="examples per batch (--backend keras, %(default)s)")
    t.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors (and compute no loss)")
    t.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="train on a Ray cluster: join the one at ADDRESS (HOST:PORT of its head, or auto), or "
                   "without ADDRESS start a local one; one actor per node, each training its share of the "
                   "corpus with --workers threads (needs pip install 'w2v-fastopt[ray]')")
    t.add_argument("--ray-workers", type=_positive, metavar="N",
                   help="actors on the cluster (default: one per node)")
    t.add_argument("--text-column", default="text", metavar="NAME",
                   help="with --ray and Parquet files (*.parquet, read with ray.data): the column of text "
                   "lines (%(default)s)")
    t.add_argument("--sync-words", type=_positive, metavar="N",
                   help="words each actor trains between two syncs of the models (with --ray; default "
                   "100,000 per thread of an actor)")

    e = sub.add_parser("evaluate", help="score vectors on WordSim-353, SimLex-999, Google analogies")
    _vectors_argument(e)

    s = sub.add_parser("similar", help="the nearest words of each WORD, with cosine similarities",
                       description="The nearest words of each WORD by cosine similarity (gensim's "
                       "most_similar), best first.")
    _vectors_argument(s)
    s.add_argument("words", metavar="WORD", nargs="+")
    _neighbour_options(s)

    a = sub.add_parser("analogy", help="A : B :: C : ? (e.g. man king woman)",
                       description="A is to B as C is to ?: the words nearest to B - A + C (3CosAdd, "
                       "gensim's most_similar), or by 3CosMul (--cosmul); A, B and C are never answers.")
    _vectors_argument(a)
    for name in ("a", "b", "c"):
        a.add_argument(name, metavar=name.upper())
    a.add_argument("--cosmul", action="store_true",
                   help="3CosMul (Levy and Goldberg 2014, gensim's most_similar_cosmul)")
    _neighbour_options(a)

    x = sub.add_parser("export", help="write the vectors for the TensorBoard Embedding Projector",
                       description="Write DIR/vectors.tsv, DIR/metadata.tsv (word, count) and "
                       "DIR/projector_config.pbtxt: `tensorboard --logdir DIR` shows them in its "
                       "Projector tab; projector.tensorflow.org loads the two TSV files.")
    _vectors_argument(x)
    x.add_argument("--projector", required=True, metavar="DIR", help="the folder to write (made if missing)")
    x.add_argument("--limit", type=_positive, metavar="N", help="only the N most frequent words")
    x.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")

    m = sub.add_parser("map", help="a 2-D map of the most frequent words (.html, .png, .svg, .pdf)",
                       description="Lay out the most frequent words in 2-D (cosine geometry) and draw "
                       "them: OUTPUT.html is an interactive page that opens offline (hover, zoom, a search "
                       "box that shows a word's nearest words; OUTPUT.html#word searches on opening); "
                       ".png/.svg/.pdf a picture with non-overlapping labels. UMAP and t-SNE need the "
                       'viz extra: pip install "w2v-fastopt[viz]".')
    _vectors_argument(m)
    m.add_argument("--output", "-o", required=True, metavar="PATH", help="map.html, map.png, ...")
    m.add_argument("--words", type=_positive, default=1000, metavar="N",
                   help="the N most frequent words (%(default)s)")
    m.add_argument("--method", choices=("umap", "pca", "tsne"), default="umap",
                   help="umap (umap-learn), pca (no extra package) or tsne (openTSNE); default %(default)s")
    m.add_argument("--seed", type=int, default=1, help="the same seed gives the same map (%(default)s)")
    m.add_argument("--labels", type=int, default=150, metavar="N",
                   help="at most N labels on a picture, most frequent words first (%(default)s)")
    m.add_argument("--quiet", "-q", action="store_true", help="no progress, print nothing but errors")

    c = sub.add_parser("compile", help="compile the training kernels into Numba's cache now (an image, a CI cache)",
                       description="Compile, into Numba's cache, the kernels that the default training calls "
                       "use: skip-gram and CBOW with negative sampling (and hierarchical softmax with --hs 1), "
                       "from the command line and from w2v_fastopt.Word2Vec, with and without the loss, for each "
                       "--vector-size; and the corpus readers. Otherwise the first call in a fresh environment "
                       "compiles what it needs (3-5 s a mode at d = 100): run this where the package is installed "
                       "(a Dockerfile's step after pip install, a CI job's cached folder). The cache holds for "
                       "this install, on a CPU of the same kind; other settings (another --negative, --combine, "
                       "an optimizer) compile at their first use.")
    c.add_argument("--vector-size", type=_positive, nargs="+", default=[100], metavar="N",
                   help="the vector sizes to compile for (each is its own kernel; default 100)")
    c.add_argument("--negative", type=_positive, default=5, metavar="K", help="negatives per example (%(default)s)")
    c.add_argument("--hs", type=int, choices=(0, 1), default=0, help="1: hierarchical softmax's kernels too")
    c.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    return parser


def _training_flags(parser):
    """A flag for every field of ``Params``, as the field says (``params.option``): gensim's name with
    dashes, its default, its help."""
    from dataclasses import MISSING, fields

    from .params import Params

    for f in fields(Params):
        flag = dict(f.metadata["flag"])
        name = flag.pop("flag", "--" + f.name.replace("_", "-"))
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if "action" not in flag:
            flag.setdefault("type", type(default))
        parser.add_argument(name, dest=f.name, default=default, help=f.metadata["help"], **flag)


def _vectors_argument(parser):
    parser.add_argument("vectors", metavar="VECTORS",
                        help="word2vec binary/text vectors (.gz, .bz2 too), a model saved by "
                        "Trainer.save, or a gensim model or KeyedVectors saved by gensim's save")
    parser.add_argument("--unicode-errors", choices=("strict", "replace", "ignore"), default="strict",
                        help="a word whose bytes are not UTF-8 (word2vec.c cuts long words mid-character): "
                        "strict refuses the file (default), replace reads U+FFFD in place of the bad bytes, "
                        "ignore drops them (gensim's unicode_errors)")


def _neighbour_options(parser):
    parser.add_argument("--topn", type=_positive, default=10, metavar="K",
                        help="answers per query (%(default)s)")
    parser.add_argument("--limit", type=_positive, metavar="N",
                        help="answer only from the N most frequent words (gensim's restrict_vocab)")


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _train(args):
    from dataclasses import fields

    from .checkpoint import parse_every
    from .io import check_output
    from .params import Params, check_keras
    from .progress import ProgressBar
    from .trainer import Trainer

    corpora, args.corpus = args.corpus, (args.corpus[0] if args.corpus else None)
    if args.ray is None:
        if len(corpora) > 1:
            raise ValueError(f"{len(corpora)} corpus files: one machine trains one file (join them first: "
                             "cat A B > C); several files are for --ray")
        for flag in ("ray_workers", "sync_words"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')} is for training on a Ray cluster: give --ray too")
    elif not corpora and args.resume is None and os.path.exists(args.ray):
        raise ValueError(f"--ray {args.ray}: a file, not a Ray address: put CORPUS before --ray")
    elif args.backend == "keras":
        raise ValueError("--ray trains with the Numba engine: leave out --backend keras")
    elif args.checkpoint_every is not None and parse_every(args.checkpoint_every)[0] != "epochs":
        raise ValueError("--ray checkpoints at epoch ends, when every row is synced: give --checkpoint-every "
                         "a number of epochs")
    elif args.max_vocab_size is not None or "-" in corpora:
        raise ValueError("--ray reads each file once on the nodes: not standard input (-), not --max-vocab-size")
    if args.resume is not None:
        return _resume(args)
    if args.corpus is None or args.output is None:
        raise ValueError("train needs CORPUS and --output PATH (or --resume STATE)")
    if args.corpus == "-" and (args.checkpoint_every is not None or args.max_vocab_size is not None):
        raise ValueError("-: standard input can be read only once; --checkpoint-every and "
                         "--max-vocab-size need a corpus file")
    check_output(args.output, inputs=corpora)
    checkpoint = None
    if args.checkpoint_every is not None:
        parse_every(args.checkpoint_every)
        checkpoint = args.checkpoint or args.output + ".checkpoint"
        check_output(checkpoint, inputs=[args.corpus], outputs=[args.output])
    elif args.checkpoint is not None:
        raise ValueError("--checkpoint STATE needs --checkpoint-every N|TIME")
    binary = args.format == "binary" or (args.format is None and not _is_text_name(args.output))
    params = {f.name: getattr(args, f.name) for f in fields(Params)}
    params["compute_loss"] = args.compute_loss and not args.quiet
    if args.backend == "keras":
        check_keras(Params(**{k: v for k, v in params.items() if k not in ("optimizer", "accumulate")}),
                    args.optimizer)
        return _train_keras(args, params, binary, checkpoint)
    if args.ray is not None:
        return _train_ray(args, params, binary, corpora, checkpoint)
    progress = None if args.quiet else ProgressBar(args.epochs)
    logging.getLogger("w2v_fastopt.trainer").setLevel(logging.ERROR)  # its warnings are our errors here
    try:
        model = Trainer(progress=progress, **params)
        model.build_vocab(corpus_file=args.corpus)
        model.train(checkpoint_path=checkpoint, checkpoint_every=args.checkpoint_every,
                    checkpoint_notes={"output": {"path": os.path.abspath(args.output), "binary": binary}})
    finally:
        if progress is not None:
            progress.close()
    _write(model, args.output, binary, args.quiet)


def _compile(args):
    """Train each mode one epoch on a few sentences, as the command line and as gensim's
    ``Word2Vec``: every kernel the call needs is compiled, and cached, on the way."""
    import tempfile

    from gensim.models.word2vec import LineSentence
    from gensim.test.utils import common_texts

    from .gensim_word2vec import Word2Vec
    from .kernels import kernels_cache_dir
    from .trainer import Trainer

    logging.getLogger("w2v_fastopt.trainer").setLevel(logging.ERROR)  # "few words" warnings: expected here
    modes = [(0, 0, "CBOW"), (1, 0, "skip-gram")] + ([(0, 1, "CBOW HS"), (1, 1, "skip-gram HS")] if args.hs else [])
    with tempfile.TemporaryDirectory(prefix="w2v-fastopt-compile-") as folder:
        path = os.path.join(folder, "sentences.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(" ".join(words) + "\n" for words in common_texts * 20))
        for size in args.vector_size:
            for sg, hs, label in modes:
                t0 = time.perf_counter()
                settings = dict(vector_size=size, sg=sg, hs=hs, negative=0 if hs else args.negative, min_count=1,
                                epochs=1, workers=1)
                Trainer(corpus_file=path, **settings)  # the command line's call: the loss computed
                Word2Vec(LineSentence(path), **settings)  # gensim's default call: compute_loss=False
                if not args.quiet:
                    print(f"{label}, vector size {size}: {time.perf_counter() - t0:.1f} s", flush=True)
    if not args.quiet:
        print(f"kernels cached in {kernels_cache_dir()}")


def _distributed():
    try:
        from . import distributed
    except ImportError as err:
        raise ImportError(f"--ray needs Ray ({err}): pip install 'w2v-fastopt[ray]'") from None
    logging.getLogger("w2v_fastopt.distributed").setLevel(logging.WARNING)
    return distributed


def _train_ray(args, params, binary, corpora, checkpoint):
    """--ray: ``distributed.RayRun`` on the cluster at ``args.ray`` ("local": start one), with
    checkpoints at epoch ends; the vectors are written here, by the driver, atomically."""
    from .checkpoint import parse_every
    from .progress import ProgressBar

    distributed = _distributed()
    if not args.workers_given:
        del params["workers"]  # threads per actor: the nodes' CPUs (``RayRun``)
    progress = None if args.quiet else ProgressBar(args.epochs)
    run = distributed.RayRun(corpora, address=args.ray, actors=args.ray_workers, sync_words=args.sync_words,
                             text_column=args.text_column, **params)
    try:
        if not args.quiet:
            print(f"Ray: {run.n_actors} actor(s) x {run.params.workers} thread(s), syncing every "
                  f"{run.sync_words:,} words", file=sys.stderr)
        run.build_vocab()
        model = run.train(progress, checkpoint, parse_every(args.checkpoint_every or 1)[1],
                          {"output": {"path": os.path.abspath(args.output), "binary": binary}})
    finally:
        if progress is not None:
            progress.close()
        run.close()
    _write(model, args.output, binary, args.quiet)


def _refuse_untrained(model):
    """The command line's answer to a run that trained no pair: an error, nothing written."""
    from .train import nothing_trained

    message = nothing_trained(model.epoch_stats, model.params.sample)
    if message:
        raise ValueError(message)


def _train_keras(args, params, binary, checkpoint, resume=None, digest=None):
    """--backend keras: ``keras.train.train_corpus``; checkpoints every N epochs, and ``resume`` =
    (model, epochs done) from one (``_resume_keras``), whose corpus had the content ``digest``."""
    import numpy as np

    from .io import write_word2vec_format
    from .checkpoint import parse_every
    from .prepare import load_corpus
    from .params import Params

    p = Params(**{k: v for k, v in params.items() if k not in ("optimizer", "accumulate")})
    every = None
    if checkpoint is not None:
        unit, every = parse_every(args.checkpoint_every)
        if unit != "epochs":
            raise ValueError(f"--checkpoint-every with --backend keras takes a number of epochs, got "
                             f"{args.checkpoint_every!r}")
    try:
        train_corpus = _import_quietly()
    except ImportError as err:
        raise RuntimeError(f"--backend keras needs TensorFlow and Keras 3 ({err}); "
                           "pip install 'w2v-fastopt[keras]'") from None
    t0 = time.perf_counter()
    corpus = load_corpus(corpus_file=args.corpus, min_count=p.min_count, max_vocab_size=p.max_vocab_size)
    vocab_seconds = time.perf_counter() - t0
    if resume is not None and resume[0].vocab_size != len(corpus.vocab):
        raise ValueError(f"{args.corpus}: not the corpus {args.resume} was trained on "
                         f"({len(corpus.vocab)} words, the checkpoint has {resume[0].vocab_size})")
    if checkpoint is not None:
        from .prepare import corpus_digest
        store = corpus.store
        run_digest = corpus_digest(corpus.ids, corpus.starts, store.release if store is not None else None)
        if digest is not None and run_digest != digest:
            raise ValueError(f"{args.corpus}: not the corpus {args.resume} was trained on (the same words, "
                             "but not in the same order: its content digest differs)")
    run = {"corpus": os.path.abspath(args.corpus), "output": os.path.abspath(args.output),
           "binary": binary, "params": p.to_dict(), "batch_size": args.batch_size,
           "optimizer": args.optimizer, "accumulate": args.accumulate,
           "checkpoint_every": args.checkpoint_every,
           **({} if checkpoint is None else {"corpus_digest": run_digest})}
    # Keras's progress lines (and TerminateOnNaN's notice) with ours on stderr; none with --quiet
    with open(os.devnull, "w") as devnull, \
            contextlib.redirect_stdout(devnull if args.quiet else sys.stderr), _stop_between_steps() as stop:
        model, history, timings = train_corpus(
            corpus, p, batch_size=args.batch_size, optimizer=args.optimizer, accumulate=args.accumulate,
            verbose=0 if args.quiet else 2, callbacks=[stop], resume=resume,
            checkpoint=(checkpoint, every, run) if checkpoint is not None else None)
    loss = history.history["loss"][-1]
    vectors = model.input_vectors.numpy()
    if not (math.isfinite(loss) and np.isfinite(vectors).all()):
        raise RuntimeError(f"training diverged (loss {loss}); lower --alpha or --batch-size")
    write_word2vec_format(args.output, corpus.vocab.words, vectors, binary=binary)
    if checkpoint is not None and os.path.exists(checkpoint):
        os.unlink(checkpoint)
    if not args.quiet:
        print(f"wrote {vectors.shape[0]:,} vectors of {vectors.shape[1]} dimensions to {args.output} "
              f"({'binary' if binary else 'text'}); vocabulary {vocab_seconds:.2f}s, training "
              f"{timings['train']:.2f}s with Keras ({args.optimizer}, batch {args.batch_size}, "
              f"{timings['examples'] / timings['train']:,.0f} examples/s), final mean loss {loss:.4f}"
              + (f"; {corpus.invalid_tokens:,} tokens had invalid UTF-8 bytes, replaced by U+FFFD"
                 if corpus.invalid_tokens else ""), file=sys.stderr)


def _resume_keras(args):
    """--resume of a Keras checkpoint: the run's settings come from the checkpoint."""
    from .io import check_output

    try:
        _import_quietly()
    except ImportError as err:
        raise RuntimeError(f"{args.resume}: a Keras checkpoint; resuming needs TensorFlow and Keras 3 "
                           f"({err}); pip install 'w2v-fastopt[keras]'") from None
    from .keras.train import load_checkpoint

    model, run = load_checkpoint(args.resume)
    args.corpus = args.corpus or run["corpus"]
    args.output = args.output or _recorded_output(args, run["output"])
    binary = run["binary"] if args.format is None else args.format == "binary"
    args.batch_size, args.optimizer, args.accumulate = run["batch_size"], run["optimizer"], run["accumulate"]
    args.checkpoint_every = run["checkpoint_every"]
    check_output(args.output, inputs=[args.corpus, args.resume])
    params = dict(run["params"], optimizer=run["optimizer"], accumulate=run["accumulate"])
    _train_keras(args, params, binary, args.resume, resume=(model, run["epochs_done"]),
                 digest=run.get("corpus_digest"))


@contextlib.contextmanager
def _stop_between_steps():
    """A Keras callback that stops ``fit`` after the compiled call in which Ctrl-C, SIGTERM or SIGHUP came.

    The signal only sets a flag: an exception raised wherever the main thread happens to be inside
    TensorFlow or Keras can be swallowed there (seen: a SIGINT that training outlived).  The
    callback raises it at a known point, between two compiled calls (32 batches, milliseconds).
    """
    import keras

    received = []

    def on_signal(signum, frame):
        received.append(signum)

    def check(*args, **kwargs):
        if received:
            raise KeyboardInterrupt() if received[0] == signal.SIGINT else _Terminated(received[0])

    saved = None
    if threading.current_thread() is threading.main_thread():
        saved = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, *STOPPING_SIGNALS)
                 if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield keras.callbacks.LambdaCallback(on_train_batch_end=check, on_epoch_end=check)
    finally:
        for s, handler in (saved or {}).items():
            signal.signal(s, handler)


def _import_quietly():
    """Import the Keras trainer with stderr closed: TensorFlow 2.21's native start-up lines (absl's
    "All log messages before absl::InitializeLog()...", oneDNN's notice) ignore TF_CPP_MIN_LOG_LEVEL."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        from .keras.train import train_corpus
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return train_corpus


def _resume(args):
    from .io import check_output, read_header
    from .trainer import Trainer
    from .progress import ProgressBar

    if not os.path.isfile(args.resume):
        raise FileNotFoundError(f"{args.resume}: no such checkpoint file")
    if _is_keras_checkpoint(args.resume):
        return _resume_keras(args)
    header = read_header(args.resume)
    if "distributed" in header:
        return _resume_ray(args, header)
    if "position" not in header:
        raise ValueError(f"{args.resume}: a saved model, not a training checkpoint")
    output = header.get("notes", {}).get("output") or {}
    if args.output is None and output.get("path") is None:
        raise ValueError(f"{args.resume}: no output path recorded; give --output PATH")
    path = args.output or _recorded_output(args, output["path"])
    binary = output.get("binary", True) if args.format is None else args.format == "binary"
    check_output(path, inputs=[args.corpus or header.get("corpus_file"), args.resume])
    progress = None if args.quiet else ProgressBar(header["params"]["epochs"])
    try:
        model = Trainer.resume(args.resume, corpus_file=args.corpus, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    _write(model, path, binary, args.quiet)


def _resume_ray(args, header):
    """--resume of a distributed run's checkpoint, on the cluster at --ray ADDRESS (without: a local Ray)."""
    from .io import check_output
    from .progress import ProgressBar

    distributed = _distributed()
    output = header.get("notes", {}).get("output") or {}
    if args.output is None and output.get("path") is None:
        raise ValueError(f"{args.resume}: no output path recorded; give --output PATH")
    path = args.output or _recorded_output(args, output["path"])
    binary = output.get("binary", True) if args.format is None else args.format == "binary"
    check_output(path, inputs=header["distributed"]["corpus"] + [args.resume])
    progress = None if args.quiet else ProgressBar(header["params"]["epochs"])
    try:
        model = distributed.RayRun.resume(args.resume, address=args.ray, progress=progress,
                                          corpus=[args.corpus] if args.corpus else None)
    finally:
        if progress is not None:
            progress.close()
    _write(model, path, binary, args.quiet)


def _recorded_output(args, path):
    """The output path a checkpoint records, where ``--resume`` writes without ``--output``: only
    in the checkpoint's own folder (the usual PATH.checkpoint beside PATH; the last line names it).
    A checkpoint is a file anybody can hand you: the path inside it must not choose what gets
    overwritten."""
    if os.path.dirname(os.path.realpath(path)) != os.path.dirname(os.path.realpath(args.resume)):
        raise ValueError(f"{args.resume}: records the output path {path}, outside the checkpoint's own folder; "
                         "resume writes there only if you say so: give --output PATH")
    return path


def _is_keras_checkpoint(path):
    import zipfile
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return "run.json" in z.namelist()


def _write(model, path, binary, quiet):
    _refuse_untrained(model)
    model.save_word2vec_format(path, binary=binary)
    if not quiet:
        n, dim = model.vectors.shape
        print(f"wrote {n:,} vectors of {dim} dimensions to {path} "
              f"({'binary' if binary else 'text'}); vocabulary {model.timings['vocab']:.2f}s, "
              f"kernel load {model.timings['compile']:.2f}s, training {model.timings['train']:.2f}s"
              + ("" if model.training_loss is None else f", final mean loss {model.training_loss:.4f}")
              + (f"; {model.invalid_tokens:,} tokens had invalid UTF-8 bytes, replaced by U+FFFD"
                 if model.invalid_tokens else ""), file=sys.stderr)


def _is_text_name(path):
    name = os.path.basename(path).lower()
    for suffix in (".gz", ".bz2"):
        name = name.removesuffix(suffix)
    return name.endswith((".txt", ".vec"))


def _evaluate(args):
    from .evaluate import evaluate, load_vectors

    wv = load_vectors(args.vectors, args.unicode_errors)
    s = evaluate(wv)
    report = "\n".join([
        f"{args.vectors}: {len(wv):,} words, {wv.vector_size} dimensions",
        f"{'set':<14}{'score':>8}  measure",
        f"{'wordsim353':<14}{_score(s['wordsim353'])}  Spearman ({s['wordsim353_oov']:.1f}% pairs OOV)",
        f"{'simlex999':<14}{_score(s['simlex999'])}  Spearman ({s['simlex999_oov']:.1f}% pairs OOV)",
        f"{'analogies':<14}{s['analogies']:>8.4f}  accuracy ({s['analogies_questions']:,} "
        f"of 19,544 questions in vocabulary)"])
    with _stdout_errors():
        print(report)


def _similar(args):
    from .evaluate import load_vectors
    from .neighbours import check_known, format_table

    wv = load_vectors(args.vectors, args.unicode_errors)
    check_known(wv, args.words, args.vectors)
    tables = [format_table(f"nearest to {w}:", wv.most_similar(w, topn=args.topn, restrict_vocab=args.limit))
              for w in args.words]
    with _stdout_errors():
        print("\n\n".join(tables))


def _analogy(args):
    from .evaluate import load_vectors
    from .neighbours import analogy, check_known, format_table

    wv = load_vectors(args.vectors, args.unicode_errors)
    check_known(wv, [args.a, args.b, args.c], args.vectors)
    rows = analogy(wv, args.a, args.b, args.c, args.topn, args.cosmul, args.limit)
    with _stdout_errors():
        print(format_table(f"{args.a} : {args.b} :: {args.c} : ?  "
                           f"({'3CosMul' if args.cosmul else '3CosAdd'})", rows))


def _export(args):
    from .evaluate import counts_known, load_vectors
    from .projector import export_projector

    wv = load_vectors(args.vectors, args.unicode_errors)
    real_counts = counts_known(args.vectors, wv)
    name = os.path.basename(args.vectors)
    paths = export_projector(wv, args.projector, real_counts, args.limit, name, [args.vectors])
    if not args.quiet:
        n = len(wv) if args.limit is None else min(args.limit, len(wv))
        print(f"wrote {n:,} vectors of {wv.vector_size} dimensions to {', '.join(paths)}"
              + ("" if real_counts else " (the count column is empty: a word2vec file has no counts)")
              + f"; view them with: tensorboard --logdir {args.projector}", file=sys.stderr)


def _map(args):
    from .evaluate import counts_known, load_vectors
    from .viz import check_map_output, write_map

    check_map_output(args.output, args.method, [args.vectors])
    wv = load_vectors(args.vectors, args.unicode_errors)
    if not args.quiet:
        print(f"laying out the {min(args.words, len(wv)):,} most frequent words of {args.vectors} "
              f"with {args.method} ...", file=sys.stderr)
    n = write_map(wv, args.output, args.words, args.method, args.seed, args.labels,
                  counts_known=counts_known(args.vectors, wv), progress=not args.quiet,
                  inputs=[args.vectors])
    if not args.quiet:
        print(f"wrote a map of {n:,} words to {args.output}", file=sys.stderr)


def _score(value):
    return f"{'n/a':>8}" if math.isnan(value) else f"{value:>8.4f}"


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal, a dropped ssh session), raised in the main thread like
    Ctrl-C's KeyboardInterrupt: the same clean stop, temporaries removed, earlier outputs kept."""

    def __init__(self, signum=signal.SIGTERM):
        super().__init__()
        self.signum = signum


STOPPING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # besides SIGINT (KeyboardInterrupt)


def _on_stopping_signal(signum, frame):
    raise _Terminated(signum)


def _skip_numba_blas_probe():
    """Answer Numba's BLAS probe "no" without importing SciPy's BLAS.

    Numba's CPU target, when it first compiles or loads a kernel, imports ``numba.np.arraymath``,
    which imports ``scipy.linalg.cython_blas`` only to set ``_HAVE_BLAS`` (whether ``np.correlate``
    and ``np.convolve`` in jitted code may call BLAS): megabytes of resident memory and a few tenths
    of a second that no kernel here needs, since none calls BLAS (the peak RSS it saves is in
    bench/results/lab-notes.md).  ``np.dot`` in jitted
    code still finds BLAS (it imports the module when it is compiled).  Only for the command-line
    process: a library user's process is left as it is."""
    if "numba.np.arraymath" in sys.modules or "scipy.linalg.cython_blas" in sys.modules:
        return
    sys.modules["scipy.linalg.cython_blas"] = None  # import fails: ImportError, probe says no BLAS
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        del sys.modules["scipy.linalg.cython_blas"]


def main(argv=None):
    from .train import Stopped

    args = _parser().parse_args(argv)
    args.workers_given = any(a == "--workers" or a.startswith("--workers=")
                             for a in (sys.argv[1:] if argv is None else argv))
    if argv is None:  # a process of its own (the console script, python -m w2v_fastopt)
        _skip_numba_blas_probe()
        hand_back_compiler_code()  # what importing Numba touched in LLVM (~20 MB at the peak)
    if threading.current_thread() is threading.main_thread():
        for signum in STOPPING_SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
                signal.signal(signum, _on_stopping_signal)
    del WRITTEN[:]
    try:
        {"train": _train, "evaluate": _evaluate, "similar": _similar, "analogy": _analogy,
         "export": _export, "map": _map, "compile": _compile}[args.command](args)
        with _stdout_errors():  # a closed pipe or a full disk shows here, not at the interpreter's exit
            sys.stdout.flush()
    except BrokenPipeError:  # the reader left (| head): nothing to say, and nobody to say it to
        _drop_stdout()
        return 141
    except MemoryError as err:
        _drop_stdout()
        print(f"w2v-fastopt: error: out of memory{': ' + str(err) if str(err) else ''} (a smaller "
              "--vector-size, --max-vocab-size or --accumulate needs less)", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Stopped) as err:
        signum = next((e.signum for e in (err, err.__context__) if isinstance(e, _Terminated)), signal.SIGINT)
        written = ", ".join(WRITTEN)
        print(f"w2v-fastopt: interrupted by {signal.Signals(signum).name}: "
              + (f"{written} written, other earlier outputs left as they were" if WRITTEN else
                 "nothing written, earlier outputs left as they were"), file=sys.stderr)
        code = 128 + signum
        if argv is None and "tensorflow" in sys.modules:
            # TensorFlow's teardown can wait seconds on the tf.data generator thread that the
            # interrupt left behind; there is nothing left to write or clean up: leave now.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    except (ValueError, TypeError, OSError, RuntimeError, KeyError, ImportError) as err:
        message = str(err) or type(err).__name__
        if isinstance(err, KeyError):
            message = f"{message} not in vocabulary"
        print(f"w2v-fastopt: error: {' '.join(message.split())}", file=sys.stderr)
        _drop_stdout()
        return 1
    return 0


@contextlib.contextmanager
def _stdout_errors():
    """A failed write to stdout (a full disk) as one line; a closed pipe (BrokenPipeError) as it is."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as err:
        raise OSError(f"cannot write to standard output: {err.strerror or err}") from None


def _drop_stdout():
    """Point stdout at /dev/null: what is left in its buffer cannot be written (a closed pipe, a full
    disk), and the interpreter's last flush would print "Exception ignored" and exit 120."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
