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
made the row loops slower, ``hs.py``).

Sum or mean is each rule's, chosen by measured quality over seeds at two workers
(bench/results/lab-notes.md).  Over a job a top row moves by about its own length, and the two
threads' steps point the same way, so the sum moves the row further than either thread did.  CBOW
HS trains better with the mean (better WordSim-353 on every seed); skip-gram HS and the
shared-negatives kernel train better with the sum, so they keep it.

Without the copies, hierarchical softmax trained fewer words/s at two workers than at one, and the
shared-negatives kernel scaled far less (bench/results/lab-notes.md; more rows than 256 did no
better).
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
