"""The command line of bench_engine's peer runners (``gensim_train.py``, ``fasttext_train.py``): the
corpus, the output, and the same training settings for every peer, with the benchmark's defaults."""
import argparse

SETTINGS = (("vector-size", int, 100), ("window", int, 5), ("negative", int, 5), ("min-count", int, 5),
            ("sample", float, 1e-3), ("epochs", int, 5), ("alpha", float, 0.025), ("min-alpha", float, 1e-4),
            ("workers", int, 2), ("seed", int, 1), ("sg", int, 1), ("cbow-mean", int, 1), ("hs", int, 0))


def training_arguments(description):
    """Parse CORPUS OUTPUT --vector-size ... --hs (``SETTINGS``) from sys.argv."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("corpus")
    p.add_argument("output")
    for name, kind, default in SETTINGS:
        p.add_argument(f"--{name}", type=kind, default=default)
    return p.parse_args()
