"""The Numba kernels against independent computations: finite differences, a naive reference fed
the same random stream, the exact sampling distribution.  No TensorFlow here."""
import math

import numpy as np
import pytest

from reference import (MASK64, XorShift, alias_draw, cbow_gradient, cbow_loss, hs_probabilities, sgns_gradient,
                       sgns_loss, train_cbow_reference, train_pairs_reference, train_shared_reference)
from w2v_fastopt.corpus import tokenize
from w2v_fastopt.kernels.hot import hot_load, hot_merge
from w2v_fastopt.kernels.hs import hot_count, hot_first
from w2v_fastopt.kernels.prep import huffman_tree
from w2v_fastopt.kernels.rng import rng_next, seed_states
from w2v_fastopt.kernels.sampling import ONE, build_alias_table, draw_alias, pack_alias_table
from w2v_fastopt.kernels.sgns import sigmoid
from w2v_fastopt.kernels.walk import Corpus, Job
from w2v_fastopt.params import Params
from w2v_fastopt.rules import RULES, find_rule, kernel_config, kernel_weights, thread_arrays
from w2v_fastopt.vocab import build_vocab


def test_sigmoid_matches_exp_everywhere():
    xs = np.concatenate([np.linspace(-40, 40, 4001), [-1e30, -88.0, 0.0, 88.0, 1e30]])
    exact = [math.exp(-math.log1p(math.exp(-x))) if x > -700 else 0.0 for x in xs]
    ours = [sigmoid(np.float32(x)) for x in xs]
    assert np.abs(np.array(ours) - exact).max() < 4e-7


@pytest.mark.parametrize("seed", range(5))
def test_hand_gradient_matches_central_differences(seed):
    """∂L/∂u = Σ (σ(u·t)-y) t and ∂L/∂t = (σ(u·t)-y) u, checked in float64 to relative 1e-6."""
    rng = np.random.default_rng(seed)
    d, k = 7, 4
    u = rng.normal(0, 0.8, d)
    outputs = rng.normal(0, 0.8, (k + 1, d))
    labels = [1.0] + [0.0] * k
    du, dts = sgns_gradient(u, outputs, labels)
    h = 1e-6

    def numeric(f, x):
        g = np.zeros_like(x)
        for i in range(x.size):
            e = np.zeros_like(x)
            e.flat[i] = h
            g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
        return g

    num_u = numeric(lambda x: sgns_loss(x, outputs, labels), u)
    num_t = numeric(lambda x: sgns_loss(u, x, labels), outputs)
    assert np.linalg.norm(du - num_u) / np.linalg.norm(num_u) < 1e-6
    assert np.linalg.norm(np.array(dts) - num_t) / np.linalg.norm(num_t) < 1e-6
    # CBOW: the same loss of h = the context rows' sum or mean (kernels/cbow.py)
    U = rng.normal(0, 0.8, (3, d))
    for mean in (False, True):
        dU, dts = cbow_gradient(U, outputs, labels, mean)
        num_U = numeric(lambda x: cbow_loss(x, outputs, labels, mean), U)
        num_t = numeric(lambda x: cbow_loss(U, x, labels, mean), outputs)
        assert np.linalg.norm(dU - num_U) / np.linalg.norm(num_U) < 1e-6
        assert np.linalg.norm(np.array(dts) - num_t) / np.linalg.norm(num_t) < 1e-6


def test_rng_matches_python_replay():
    state = seed_states(7, 1)[0]
    ref = XorShift(state)
    s = state
    for _ in range(1000):
        s, r = rng_next(np.uint64(s))
        assert int(r) & MASK64 == ref.next()
    assert int(s) & MASK64 == ref.state


def _tiny_problem(seed, vocab_size=25, dim=16, sample=0.02):
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, vocab_size + 1)
    sentences = [[f"w{w}" for w in rng.choice(vocab_size, size=rng.integers(1, 16), p=zipf / zipf.sum())]
                 for _ in range(60)]
    vocab, ids, starts = build_vocab(tokenize(sentences), 1)
    tables = vocab.tables(sample, 0.75)
    syn0 = ((rng.random((len(vocab), dim)) - 0.5) / dim).astype(np.float32)
    syn1neg = (rng.normal(0, 0.1, (len(vocab), dim))).astype(np.float32)
    syn1 = (rng.normal(0, 0.1, (len(vocab), dim))).astype(np.float32)
    return tables, ids, starts, syn0, syn1neg, (syn1,) + huffman_tree(vocab.counts)


def _params(rule, negative, dim=16, **settings):
    """The ``Params`` of a tiny run of ``rule``: window 3, soft batch over 3 pairs."""
    return Params(vector_size=dim, window=3, negative=negative, min_count=1, sg=int(rule.sg), hs=int(rule.hs),
                  optimizer=rule.optimizer, shared_negatives=rule.shared_negatives,
                  accumulate=3 if rule.optimizer == "softbatch" else None, **settings)


def has_hot_rows(rule):
    """Whether the rule's threads train the hottest output rows in their own copies (``hot.py``)."""
    params = _params(rule, 0 if rule.hs else 4, combine=3 if rule.combines else 1)
    return "hot_rows" in rule.scratch(lambda shape, dtype: None, params)._fields


def _thread(rule, state, params):
    thread = thread_arrays(rule, lambda shape, dtype: np.zeros(shape, dtype), state, params)
    if has_hot_rows(rule):  # 10 hot rows of the tiny syn1neg's 25 or tree's 24 nodes: the outputs go
        # from the shared rows to the thread's copy
        hot = np.zeros((10, params.vector_size), np.float32)
        thread = thread._replace(scratch=thread.scratch._replace(hot_rows=hot, hot_snapshot=hot.copy()))
    return thread


def rule_id(rule):
    return (("" if rule.sg else "cbow-") + ("hs-" if rule.hs else "") + rule.optimizer
            + ("-shared" if rule.shared_negatives else "") + ("-combined" if rule.combines else ""))


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
@pytest.mark.parametrize("seed", range(2))
def test_kernel_matches_naive_reference(rule, seed):
    """Every rule's kernel over two jobs against the slow reference on the same RNG stream: the
    vectors, the pair count, the loss and the RNG state match.  Soft batch accumulates 3 pairs: the
    jobs' pair counts are not multiples of 3, so a job's last, short accumulation is tested too.
    Seed 0: CBOW's context mean, reduced windows, hierarchical softmax alone; seed 1: CBOW's sum,
    whole windows (shrink off), hierarchical softmax with negative sampling.  Context combining groups
    3 centers (seed 0) and 4 (seed 1): its reference takes each pair's (CBOW: each example's) own
    gradient, independently of the kernel's block."""
    window, negative, accumulate = 3, 4, 3
    combine = 3 + seed if rule.combines else 1
    cbow_mean = shrink = int(seed == 0)
    tables, ids, starts, syn0, syn1neg, hs_layer = _tiny_problem(seed)
    hs_ref = None
    if rule.hs:
        negative = 4 * seed
        hs_ref = (hs_layer[0].copy(),) + hs_layer[1:]
    params = _params(rule, negative, combine=combine, cbow_mean=cbow_mean, shrink_windows=bool(shrink), workers=1)
    weights = kernel_weights(rule, syn0, syn1neg, params, hs_layer)
    half = (len(starts) - 1) // 2
    jobs = [(0, half, 0.05, 0.03), (half, len(starts) - 1, 0.03, 0.01)]
    state = seed_states(seed, 1)
    ref0, ref1 = syn0.copy(), syn1neg.copy()
    if rule.shared_negatives:
        assert len(jobs) == 2  # the shared reference takes one job: run the kernel on one too
        jobs = [(0, len(starts) - 1, 0.05, 0.01)]
        pairs_ref, loss_ref, _, state_ref = train_shared_reference(
            ref0, ref1, tables, ids, starts, window, negative, 0.05, 0.01, state[0], shrink, combine,
            None if rule.sg else cbow_mean)
    elif not rule.sg:
        pairs_ref, loss_ref, state_ref = train_cbow_reference(
            ref0, ref1[:len(weights.syn1neg)], tables, ids, starts, window, negative, state[0], jobs, cbow_mean,
            shrink, hs_ref)
    else:
        pairs_ref, loss_ref, state_ref = train_pairs_reference(
            ref0, ref1[:len(weights.syn1neg)], tables, ids, starts, window, negative, state[0], jobs,
            rule.optimizer, accumulate, shrink, hs_ref)
    job_pairs, loss, thread = _run_jobs(rule, weights, tables, ids, starts, jobs, state, params)
    pairs = sum(job_pairs)
    assert (pairs, int(state[0])) == (pairs_ref, state_ref)
    if rule.optimizer == "softbatch":
        assert all(p % accumulate != 0 for p in job_pairs)
    if has_hot_rows(rule):  # the hot rows were trained in the thread's copy (kernels/hot.py)
        local, snapshot = thread.scratch.hot_rows, thread.scratch.hot_snapshot
        assert np.abs(local - snapshot).max() > 1e-3
    assert math.isclose(loss, loss_ref, rel_tol=1e-5)
    moved = np.abs(ref0 - _tiny_problem(seed)[3]).max()
    assert moved > 1e-2  # the comparison below is not vacuous
    # float32 rounding, and LLVM's freedom under FASTMATH (NUMBA_BOUNDSCHECK=1 compiles RK4 to
    # 2.1e-6 here); a wrong term in a step moves rows by 1e-4 and more.
    np.testing.assert_allclose(syn0, ref0, rtol=0, atol=5e-6)
    np.testing.assert_allclose(syn1neg, ref1, rtol=0, atol=5e-6)
    if rule.hs:
        assert np.abs(hs_ref[0] - _tiny_problem(seed)[5][0]).max() > 1e-2
        np.testing.assert_allclose(hs_layer[0], hs_ref[0], rtol=0, atol=5e-6)
    # without the exact loss (compute_loss=False): the same steps, and no loss (not always bit for bit:
    # without the loss's code LLVM may sum a dot product in another order under FASTMATH)
    _, _, _, syn0_quiet, syn1neg_quiet, hs_quiet = _tiny_problem(seed)
    state_quiet = seed_states(seed, 1)
    quiet = kernel_weights(rule, syn0_quiet, syn1neg_quiet, params, hs_quiet)
    job_pairs_quiet, loss_quiet, _ = _run_jobs(rule, quiet, tables, ids, starts, jobs, state_quiet,
                                               Params(**dict(params.to_dict(), compute_loss=False)))
    assert (job_pairs_quiet, int(state_quiet[0]), loss_quiet) == (job_pairs, int(state[0]), 0.0)
    for ours, theirs in zip((syn0_quiet, syn1neg_quiet, hs_quiet[0]), (syn0, syn1neg, hs_layer[0])):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def _run_jobs(rule, weights, tables, ids, starts, jobs, state, params):
    """The rule's kernel over ``jobs`` on one thread from the RNG state ``state`` (uint64[1], advanced),
    with ``params`` (its ``workers``: the threads the run is told it has); returns (the pairs of each
    job, summed loss, the thread's arrays)."""
    thread = _thread(rule, state, params)
    pairs, loss = [], 0.0
    for job in jobs:
        p, job_loss, _ = rule.kernel(weights, tables, Corpus(ids, starts), Job(*job), kernel_config(params), thread,
                                     rule.sizes(params))
        pairs.append(p)
        loss += job_loss
    return pairs, loss, thread


@pytest.mark.parametrize("rule", RULES, ids=rule_id)
def test_without_the_loss_a_divergence_still_shows(rule):
    """compute_loss=False leaves the exact loss out, not the divergence check it fed: a learning rate
    of 1e30 blows the rows up within the job, and the job's loss is then not finite (the sizes of
    the reference test's seed 0, whose kernels it compiled)."""
    tables, ids, starts, syn0, syn1neg, hs_layer = _tiny_problem(0)
    params = _params(rule, 0 if rule.hs else 4, combine=3 if rule.combines else 1, compute_loss=False, workers=1)
    weights = kernel_weights(rule, syn0, syn1neg, params, hs_layer)
    _, loss, _ = _run_jobs(rule, weights, tables, ids, starts, [(0, len(starts) - 1, 1e30, 1e30)],
                           seed_states(0, 1), params)
    assert not math.isfinite(loss)


def test_hot_nodes_merge_every_threads_step():
    """The top of the tree in two threads' copies (``hot.hot_load``), moved apart, then merged
    (``hot.hot_merge``): with share 1 syn1 keeps the sum of both steps, the first merge, alone, its
    local rows bit for bit; with share 1/2 their mean; the other rows are untouched."""
    rng = np.random.default_rng(3)
    step_a, step_b = (rng.normal(0, 0.1, (5, 4)).astype(np.float32) for _ in range(2))
    start = rng.normal(size=(12, 4)).astype(np.float32)
    for share, first_merge, both in ((1.0, None, step_a + step_b), (0.5, step_a / 2, (step_a + step_b) / 2)):
        syn1 = start.copy()
        a, b = ([np.zeros((5, 4), np.float32) for _ in range(2)] for _ in range(2))
        hot_load(syn1, 6, 5, *a)
        hot_load(syn1, 6, 5, *b)
        assert np.array_equal(a[0], syn1[6:11]) and np.array_equal(b[1], syn1[6:11])
        a[0] += step_a
        b[0] += step_b
        hot_merge(syn1, 6, 5, *a, np.float32(share))
        if first_merge is None:
            assert np.array_equal(syn1[6:11], a[0])
        else:
            np.testing.assert_allclose(syn1[6:11], start[6:11] + first_merge, rtol=0, atol=1e-6)
        hot_merge(syn1, 6, 5, *b, np.float32(share))
        np.testing.assert_allclose(syn1[6:11], start[6:11] + both, rtol=0, atol=1e-6)
        assert np.array_equal(syn1[:6], start[:6]) and np.array_equal(syn1[11], start[11])
    assert (hot_first(syn1, a[0]), hot_count(syn1, 6)) == (6, 5)  # the tree's last 5 of its 11 inner nodes
    assert hot_first(syn1, np.zeros((40, 4), np.float32)) == 0 and hot_count(syn1, 0) == 11  # all of them


@pytest.mark.parametrize("rule", [rule for rule in RULES if has_hot_rows(rule)], ids=rule_id)
def test_hot_rows_merge_as_each_rule_chose(rule):
    """A job's end merges the thread's hot rows (``hot.py``) as its rule chose, in a run of two
    threads: CBOW HS the mean of the threads' steps (this thread merging alone: half its step), the
    others the sum (this thread alone: its copy, bit for bit)."""
    tables, ids, starts, syn0, syn1neg, hs_layer = _tiny_problem(0)
    params = _params(rule, 0 if rule.hs else 4, combine=3 if rule.combines else 1, workers=2)
    weights = kernel_weights(rule, syn0, syn1neg, params, hs_layer)
    rows = hs_layer[0] if rule.hs else syn1neg
    start = rows.copy()
    _, _, thread = _run_jobs(rule, weights, tables, ids, starts, [(0, len(starts) - 1, 0.05, 0.01)],
                             seed_states(0, 1), params)
    local, snapshot = thread.scratch.hot_rows, thread.scratch.hot_snapshot
    hot = slice(len(rows) - 1 - len(local), len(rows) - 1) if rule.hs else slice(0, len(local))
    assert np.array_equal(snapshot, start[hot]) and np.abs(local - snapshot).max() > 1e-3
    if rule.hs and not rule.sg:
        np.testing.assert_allclose(rows[hot], snapshot + (local - snapshot) / 2, rtol=0, atol=1e-7)
    else:
        assert np.array_equal(rows[hot], local)


def test_rules_refuse_what_they_cannot_do():
    assert find_rule("sgd").shared_negatives and not find_rule("sgd", False).shared_negatives
    assert find_rule("heun").kernel is not find_rule("rk4").kernel
    with pytest.raises(ValueError, match="shared_negatives=True is only for optimizer='sgd'"):
        find_rule("heun", True)
    with pytest.raises(ValueError, match="optimizer must be one of sgd, softbatch, heun, rk4"):
        find_rule("adam")
    assert find_rule("sgd", sg=False).kernel.__name__ == "cbow_word2vec"
    with pytest.raises(ValueError, match="CBOW draws one set of negatives"):
        find_rule("sgd", True, sg=False)
    with pytest.raises(ValueError, match="CBOW .sg=0. trains with optimizer='sgd'"):
        find_rule("heun", sg=False)
    assert find_rule("sgd", hs=True).kernel.__name__ == "sg_hs"
    assert find_rule("sgd", sg=False, hs=True).kernel.__name__ == "cbow_hs"
    with pytest.raises(ValueError, match="hierarchical softmax .hs=1. trains with optimizer='sgd'"):
        find_rule("softbatch", hs=True)
    assert find_rule("sgd", combine=2).combines and find_rule("sgd", True, combine=64).combines
    assert not find_rule("sgd", combine=1).combines
    assert find_rule("sgd", sg=False, combine=4).kernel.__name__ == "cbow_combined"
    for combination in (("sgd", False), ("heun", None), ("sgd", None, False, True), ("sgd", None, True, True)):
        with pytest.raises(ValueError, match="combine=2 shares negatives across centers"):
            find_rule(*combination, combine=2)
    with pytest.raises(ValueError, match="hierarchical softmax runs word2vec.c's pair stream"):
        find_rule("sgd", True, hs=True)


def test_huffman_tree_is_gensims_optimal_and_a_softmax():
    """gensim's tree node for node (points, codes, lengths as ``Word2Vec(hs=1)`` builds them, ties
    between equal counts included: counts rounded to tens, as a repeated corpus has them, and a
    vocabulary above 2,500 words, where CPython's heapify takes another traversal); a prefix code
    whose weighted length is Huffman's optimum; one id per inner node (V - 1 of them, root V - 2,
    first on every path); the path probabilities of all words sum to 1 for any input (a softmax)."""
    import heapq

    from gensim.models import Word2Vec as GensimWord2Vec

    from w2v_fastopt.gensim_word2vec import gensim_tree

    rng = np.random.default_rng(3)
    for V in (1, 2, 3, 7, 300, 3000):
        counts = np.sort(np.minimum(rng.zipf(1.3, V), 500) * 10).astype(np.int64)[::-1].copy()
        points, codes, lengths = huffman_tree(counts)
        gensim_model = GensimWord2Vec(hs=1, negative=0, min_count=1, vector_size=4)
        gensim_model.build_vocab_from_freq({f"w{i}": int(c) for i, c in enumerate(counts)})
        assert [gensim_model.wv.get_vecattr(w, "count") for w in range(V)] == counts.tolist()
        theirs = gensim_tree(gensim_model.wv)
        assert np.array_equal(lengths, theirs[2])
        for w in range(V):
            assert np.array_equal(points[w, :lengths[w]], theirs[0][w, :lengths[w]]), w
            assert np.array_equal(codes[w, :lengths[w]], theirs[1][w, :lengths[w]]), w
        heap, optimum = [int(c) for c in counts], 0
        heapq.heapify(heap)
        while len(heap) > 1:
            merged = heapq.heappop(heap) + heapq.heappop(heap)
            optimum += merged
            heapq.heappush(heap, merged)
        assert int((lengths * counts).sum()) == optimum
        paths = [tuple(codes[w, :lengths[w]]) for w in range(V)]
        assert len(set(paths)) == V and not any(p[:len(q)] == q for p in paths for q in paths if p != q)
        node_of = {}  # a path prefix names one inner node, and every inner node is named
        for w in range(V):
            for b in range(lengths[w]):
                assert node_of.setdefault(paths[w][:b], points[w, b]) == points[w, b]
        assert sorted(node_of.values()) == list(range(V - 1)) and (V == 1 or node_of[()] == V - 2)
        u, syn1 = rng.normal(0, 1, 5), rng.normal(0, 1, (max(V - 1, 1), 5))
        assert math.isclose(hs_probabilities(u, syn1, points, codes, lengths).sum(), 1.0, rel_tol=1e-12)


def test_alias_draws_follow_the_distribution():
    """Pearson's chi-square of 400,000 draws against count^0.75 over a Zipf vocabulary of 50 words.
    df = 49: the 0.1% critical value is 85.4; a table off by one slot's mass fails by far.  The
    kernels' packed table gives the two arrays' draw in every slot for the random bits at each
    side of its threshold, the always-kept slots' 2^32 (stored as 2^32 - 1) included."""
    counts = 1e6 / np.arange(1, 51) ** 1.1
    p = counts ** 0.75 / (counts ** 0.75).sum()
    accept, alias = build_alias_table(counts ** 0.75)
    table = pack_alias_table(accept, alias)
    assert (accept == ONE).any() and (accept < ONE).any()
    for i in range(len(accept)):
        high = -(-(i << 32) // len(accept))  # the smallest high half that picks slot i
        for low in {0, 1, int(accept[i]) - 1, min(int(accept[i]), 2**32 - 1), 2**32 - 2, 2**32 - 1} - {-1}:
            r = (high << 32) | low
            assert draw_alias(np.uint64(r), table) == alias_draw(r, accept, alias)
    rng = XorShift(12345)
    draws = np.array([draw_alias(np.uint64(rng.next()), table) for _ in range(400_000)])
    observed = np.bincount(draws, minlength=50)
    expected = p * len(draws)
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < 85.4


def test_kernels_get_full_vectors_unless_the_user_chose_the_target():
    """``prefer_full_vectors``: on an AVX-512 CPU Numba's target features gain ``-prefer-256-bit`` at
    import (and only then); a target the user set with NUMBA_CPU_FEATURES is left as it is."""
    import os
    import subprocess
    import sys
    probe = ("import w2v_fastopt.kernels, numba; from numba.core.codegen import get_host_cpu_features as f; "
             "print(numba.config.CPU_FEATURES); print('+avx512f' in f().split(','))")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")}
    features, avx512 = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                                      check=True).stdout.split("\n")[:2]
    if avx512 == "True":
        assert features.endswith(",-prefer-256-bit") and "+avx512f" in features.split(",")
    else:
        assert features == "None"
    chosen = subprocess.run([sys.executable, "-c", probe], env=dict(env, NUMBA_CPU_FEATURES="+avx2"),
                            capture_output=True, text=True, check=True).stdout.split("\n")[0]
    assert chosen == "+avx2"
