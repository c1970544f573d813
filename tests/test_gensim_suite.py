"""gensim's own test module, ``gensim/test/test_word2vec.py`` from the installed gensim, run against
``w2v_fastopt.Word2Vec`` by swapping the class and nothing else
(``gensim_suite/swap_word2vec.py``): the yardstick of the promise that a gensim user changes one import."""
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# Stochastic in gensim too (a neighbour's rank under 4 racing threads must be < 6); measured over 24
# seeds: rank >= 6 in 2 for ours, 1 for gensim (bench/results/lab-notes.md).  Every other test must pass.
STOCHASTIC = {"test_parallel"}


@pytest.mark.slow
def test_gensims_own_word2vec_tests_pass(tmp_path):
    """80 of gensim's 84 tests run (gensim itself skips a bulk test it runs only by hand and three
    Word Mover's Distance tests without the POT package): all pass, but a known stochastic one may."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "gensim_suite.swap_word2vec", "-p", "no:cacheprovider",
         "--pyargs", "gensim.test.test_word2vec"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    summary = result.stdout.strip().splitlines()[-1]
    kernel, loops = map(int, re.search(r"trainings: (\d+) by our kernels, (\d+) by gensim", result.stdout).groups())
    assert kernel >= 50 and loops < kernel, (kernel, loops)  # the swap took: most tests train with ours
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    failed = set(re.findall(r"^FAILED \S*::(\w+)", result.stdout, re.M))
    assert failed <= STOCHASTIC, result.stdout[-3000:]
    assert passed + len(failed) == 80, summary
