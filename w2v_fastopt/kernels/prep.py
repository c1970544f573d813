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


@njit(nogil=True, cache=True)
def huffman_tree(counts):
    """word2vec.c's ``CreateBinaryTree``: the Huffman tree of a vocabulary for hierarchical softmax.

    counts: int64[V] in descending order (the vocabulary's).  Two cursors walk the leaves (from the
    rarest up) and the inner nodes (in the order they are made), so the tree takes O(V), no heap.
    Inner node k (0..V-2) is made by the k-th merge; the root is V-2.
    Returns (points int32[V, L], codes uint8[V, L], lengths int32[V]): word w's path from the root,
    its first lengths[w] inner nodes and the branch taken at each (1: the second-smallest child),
    L the longest path.  A one-word vocabulary has no inner node: its path is empty.
    """
    V = counts.shape[0]
    count = np.empty(2 * V, np.int64)
    count[:V] = counts
    count[V:] = np.iinfo(np.int64).max
    parent = np.zeros(2 * V, np.int64)
    branch = np.zeros(2 * V, np.uint8)
    leaf, inner = V - 1, V
    for k in range(V - 1):
        smallest = np.empty(2, np.int64)
        for s in range(2):
            if leaf >= 0 and count[leaf] < count[inner]:
                smallest[s] = leaf
                leaf -= 1
            else:
                smallest[s] = inner
                inner += 1
        count[V + k] = count[smallest[0]] + count[smallest[1]]
        parent[smallest[0]] = parent[smallest[1]] = V + k
        branch[smallest[1]] = 1
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
