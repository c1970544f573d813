"""Corpus preparation in compiled code: one pass, in place, no temporaries the size of the corpus."""
import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def compact_ids(ids, starts, remap, s_begin, s_end, out):
    """Map first-seen token ids to vocabulary ids and drop tokens outside the vocabulary, in place,
    for sentences s_begin..s_end-1 (call in order over all sentences, ``out`` carried along).

    ids: int32[N] first-seen ids, overwritten; starts: int64[S+1] sentence boundaries, overwritten
    (each start once its sentence is done; the caller sets starts[S] at the end);
    remap: int32[types] vocabulary id of each first-seen id, or -1 for a dropped word.
    out: tokens kept before s_begin.  Returns the tokens kept before s_end.  Since out <= p, a
    token is read before anything is written over it.
    """
    end = starts[s_begin]
    for s in range(s_begin, s_end):
        begin = end
        end = starts[s + 1]
        starts[s] = out
        for p in range(begin, end):
            w = remap[ids[p]]
            if w >= 0:
                ids[out] = w
                out += 1
    return out


@njit(inline="always", cache=True)
def heap_sift_down(count, heap, start, pos):
    """heapq's ``_siftdown``: move heap[pos] toward ``start`` while its count is below its parent's."""
    item = heap[pos]
    while pos > start:
        parent = (pos - 1) >> 1
        if count[item] < count[heap[parent]]:
            heap[pos] = heap[parent]
            pos = parent
            continue
        break
    heap[pos] = item


@njit(inline="always", cache=True)
def heap_sift_up(count, heap, end, pos):
    """heapq's ``_siftup`` on heap[:end]: the smaller child up to a leaf (the right one unless the
    left is strictly smaller), then heap[pos]'s old item down into place."""
    start = pos
    item = heap[pos]
    child = 2 * pos + 1
    while child < end:
        if child + 1 < end and not count[heap[child]] < count[heap[child + 1]]:
            child += 1
        heap[pos] = heap[child]
        pos = child
        child = 2 * pos + 1
    heap[pos] = item
    heap_sift_down(count, heap, start, pos)


@njit(inline="always", cache=True)
def heap_pop(count, heap, end):
    """heapq's ``heappop`` on heap[:end]: the smallest item; the heap is then heap[:end - 1]."""
    last = heap[end - 1]
    if end == 1:
        return last
    top = heap[0]
    heap[0] = last
    heap_sift_up(count, heap, end - 1, 0)
    return top


@njit(nogil=True, cache=True)
def huffman_tree(counts):
    """gensim's Huffman tree (``word2vec._build_heap`` and ``_assign_binary_codes``), node for node:
    the leaves in vocabulary order in a binary heap keyed on count alone, ``heapify``, then V - 1
    times pop the two smallest and push their merge, with Python's ``heapq`` algorithms, so that
    ties between equal counts fall as they fall in gensim (the same tree as ``Word2Vec(hs=1)``).
    The tie-breaking matters: word2vec.c's two-cursor merge pairs equal-count words that sit side by
    side in the vocabulary, i.e. in first-seen order (likely making topically close words
    siblings); with it skip-gram HS scored well below gensim on SimLex-999, and as gensim with this
    tree (bench/results/lab-notes.md).

    counts: int64[V] in descending order (the vocabulary's).  Inner node k (0..V-2) is made by the
    k-th merge, in nondecreasing count (so the last ones are the most visited); the root is V-2.
    Returns (points int32[V, L], codes uint8[V, L], lengths int32[V]): word w's path from the root,
    its first lengths[w] inner nodes and the branch taken at each (1: the second popped, gensim's
    ``right``), L the longest path.  A one-word vocabulary has no inner node: its path is empty.
    """
    V = counts.shape[0]
    count = np.empty(2 * V, np.int64)
    count[:V] = counts
    parent = np.zeros(2 * V, np.int64)
    branch = np.zeros(2 * V, np.uint8)
    heap = np.arange(V)
    for pos in range(V // 2 - 1, -1, -1):  # heapify
        heap_sift_up(count, heap, V, pos)
    end = V
    for k in range(V - 1):
        first = heap_pop(count, heap, end)
        second = heap_pop(count, heap, end - 1)
        node = V + k
        count[node] = count[first] + count[second]
        parent[first] = parent[second] = node
        branch[second] = 1
        heap[end - 2] = node  # heappush
        heap_sift_down(count, heap, 0, end - 2)
        end -= 1
    root = 2 * V - 2
    lengths = np.zeros(V, np.int32)
    for w in range(V if V > 1 else 0):
        node = w
        while node != root:
            lengths[w] += 1
            node = parent[node]
    width = max(lengths.max(), 1) if V > 0 else 1
    points = np.zeros((V, width), np.int32)
    codes = np.zeros((V, width), np.uint8)
    for w in range(V if V > 1 else 0):
        node, b = w, lengths[w] - 1
        while node != root:  # leaf to root, written root first
            codes[w, b] = branch[node]
            node = parent[node]
            points[w, b] = node - V
            b -= 1
    return points, codes, lengths
