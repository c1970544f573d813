import glob
import hashlib
import os
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Numba's cache tracks a kernel by its own file only: after an edit of a helper it inlines from
# another file (walk.py, hot.py, ...) it would load the stale kernel.  The tests' cache (this process
# and the commands it runs) is keyed on all of kernels/ instead, unless the caller chose one.
if "NUMBA_CACHE_DIR" not in os.environ:
    _sources = hashlib.sha256()
    for _path in sorted(glob.glob(os.path.join(ROOT, "w2v_fastopt", "kernels", "*.py"))):
        with open(_path, "rb") as _f:
            _sources.update(_f.read())
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(tempfile.gettempdir(),
                                                 f"w2v-fastopt-test-kernels-{_sources.hexdigest()[:16]}")
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
