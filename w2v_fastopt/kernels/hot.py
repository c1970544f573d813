"""Hot rows, per thread: the most written rows of a shared matrix, trained in each thread's own copy
for the length of a job.

Some output rows are written on nearly every example: the top of the Huffman tree (every path
starts at the root, half of them pass a given node of depth 1, ...) and the syn1neg rows of the most
frequent words (the most drawn negatives, and the centers of many windows).  With two threads
(Hogwild), both write those rows all the time and their cache lines travel between the cores at
every write.  So each thread trains its own copy of ``n`` such rows, [first, first + n), for the
length of a job (~10,000 words, a few ms) and adds what it moved at the job's end:

    at the job's start:  local <- rows[first:first+n], snapshot <- rows[first:first+n]
    during the job:      the steps read and write local instead of those rows
    at the job's end:    rows[first:first+n] += share * (local - snapshot)

The merge adds the thread's step (local - snapshot) to whatever the rows hold by then, so the other
threads' steps, merged meanwhile, are kept.  With share = 1 the rows take the sum of the threads'
steps, as Hogwild would give if no write were lost, each thread seeing the others' moves at job
boundaries instead of at once.  With share = 1 / threads they take the mean (local SGD's model
averaging: threads that loaded the same rows leave them at the mean of their copies).  With one
thread share is 1, the rows equal the snapshot at the merge and take local exactly: the same bits
as training the rows in place.  The kernel picks a row as ``local[t - first] if first <= t < first + n
else rows[t]``, a row view (choosing between the two matrices instead, and indexing the choice,
made the row loops 30% slower, measured in ``hs.py``).

Sum or mean is each rule's, chosen by measurement (bench/results/lab-notes.md, 2026-12-03; two
workers, data/ x10 cut, 5 epochs, seeds 1-10 for CBOW HS, 1-4 for the others).  Over a job a top row
moves by about its own length (root: 0.7x its norm per job in CBOW HS, 1.0x in skip-gram HS), and
the two threads' steps point the same way (cosine 0.45-0.5), so the sum moves the row further than
either thread did.  CBOW HS trains better with the mean (WordSim .266 -> .341, better on every seed,
SimLex .131 -> .135; gensim's Hogwild: .302, .138).  Skip-gram HS and the shared-negatives kernel
train better with the sum (the mean lowers skip-gram HS's WordSim .462 -> .427 and the shared
kernel's analogies .017 -> .013), so they keep it.

Measured (bench/results/lab-notes.md, 2026-12-02): hierarchical softmax's top 256 nodes took 2
workers from fewer words/s than 1 to more; the top 256 syn1neg rows, +25% words/s for the
shared-negatives kernel at 2 workers, unchanged at 1 (1,024 rows: no better).
"""
from numba import njit

from . import FASTMATH


@njit(inline="always", cache=True, fastmath=FASTMATH)
def hot_load(rows, first, n, local, snapshot):
    """A thread's copy at its job's start: local[:n] = snapshot[:n] = rows[first:first+n] (local and
    snapshot may have longer rows, ``rules.padded``: their first rows.shape[1] columns are used)."""
    for r in range(n):
        for i in range(rows.shape[1]):
            local[r, i] = snapshot[r, i] = rows[first + r, i]


@njit(inline="always", cache=True, fastmath=FASTMATH)
def hot_merge(rows, first, n, local, snapshot, share):
    """The thread's step into the shared rows at its job's end: rows[first:first+n] += share *
    (local - snapshot).  share 1 sums the threads' steps (written local + (rows - snapshot): exactly
    local where no other thread has merged since the load); share 1 / threads averages them."""
    for r in range(n):
        for i in range(rows.shape[1]):
            now = rows[first + r, i]
            if share == 1:
                moved = now - snapshot[r, i]
                rows[first + r, i] = local[r, i] if moved == 0 else local[r, i] + moved
            else:
                rows[first + r, i] = now + share * (local[r, i] - snapshot[r, i])
