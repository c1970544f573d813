import os
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CORPUS = os.path.join(ROOT, "data", "enwiki-sample.txt")


@pytest.fixture(scope="session")
def corpus_path():
    return CORPUS


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """The first 12 articles of data/ (~50k tokens): quick runs that still train real vectors."""
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    with open(CORPUS) as src:
        path.write_text("".join(next(src) for _ in range(12)))
    return path
