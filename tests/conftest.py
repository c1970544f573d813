import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CORPUS = os.path.join(ROOT, "data", "enwiki-sample.txt")


@pytest.fixture(scope="session")
def corpus_path():
    return CORPUS
