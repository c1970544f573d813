"""Compiled tokenizer: UTF-8 bytes -> int32 first-seen word ids, with exactly ``str.split()``'s notion of
whitespace and ``for line in file``'s notion of a line: universal newlines (\\n, \\r, \\r\\n), as a
file opened as text reads, or \\n alone, as a file opened in binary (gensim's ``LineSentence``) reads,
where a lone \\r is whitespace inside the line.

Words are hashed (FNV-1a, 64 bit) into an open-addressing table; their bytes are kept once in a pool.
Python decodes only the distinct words at the end, not every token (the slow part of a Python
tokenizer).  Arrays never grow inside the kernel: when one is full it returns a status code, Python
enlarges that array and calls again; ``counters`` carries the position and the counts across calls.
Parts of a file tokenized by several threads, each into its own table, are joined by
``append_words`` (the later part's words numbered on from the earlier's, as one pass would).
"""
import numpy as np
from numba import njit

# counters[...] slots
POS, N_WORDS, POOL_USED, N_IDS, N_STARTS, SENTENCE_LEN = range(6)
# statuses
DONE, GROW_WORDS, GROW_POOL, GROW_IDS, GROW_STARTS, PRUNE = range(6)
# modes: BUILD numbers new words and writes ids; COUNT only counts (and asks to PRUNE at a sentence
# end when more than max_words words are held, as gensim's scan_vocab); LOOKUP writes the ids of
# the words already in the table and skips the others.
BUILD, COUNT, LOOKUP = range(3)

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


@njit(inline="always", cache=True)
def space_length(buf, p, n):
    """Bytes taken by the whitespace character at buf[p] (``str.isspace``), or 0 if it is not one."""
    b = buf[p]
    if b == 32 or 9 <= b <= 13 or 28 <= b <= 31:
        return 1
    if b == 0xC2:
        if p + 1 < n and (buf[p + 1] == 0x85 or buf[p + 1] == 0xA0):  # U+0085, U+00A0
            return 2
    elif b == 0xE1:
        if p + 2 < n and buf[p + 1] == 0x9A and buf[p + 2] == 0x80:  # U+1680
            return 3
    elif b == 0xE2:
        if p + 2 < n:
            c = buf[p + 1]
            d = buf[p + 2]
            if c == 0x80 and (0x80 <= d <= 0x8A or d == 0xA8 or d == 0xA9 or d == 0xAF):
                return 3  # U+2000..U+200A, U+2028, U+2029, U+202F
            if c == 0x81 and d == 0x9F:  # U+205F
                return 3
    elif b == 0xE3:
        if p + 2 < n and buf[p + 1] == 0x80 and buf[p + 2] == 0x80:  # U+3000
            return 3
    return 0


@njit(nogil=True, cache=True)
def rehash(table, hashes, n_words):
    """Insert words 0..n_words-1 into an empty table (int32[power of two], all -1) by their hashes."""
    mask = np.uint64(table.shape[0] - 1)
    for w in range(n_words):
        slot = hashes[w] & mask
        while table[slot] != -1:
            slot = (slot + np.uint64(1)) & mask
        table[slot] = w


@njit(nogil=True, cache=True)
def keep_words(pool, offsets, hashes, counts, min_count):
    """Forget the words counted fewer than ``min_count`` times, in place (gensim's prune_vocab).

    The survivors keep their first-seen order; their bytes move down in ``pool``, their hashes,
    counts and ``offsets`` with them (no temporaries: the pool can hold millions of words).
    Returns the number of survivors; the caller rebuilds the hash table (``rehash``).
    """
    n = counts.shape[0]  # offsets[:n + 1]
    kept = 0
    end = 0
    for w in range(n):
        if counts[w] < min_count:
            continue
        begin, stop = offsets[w], offsets[w + 1]
        offsets[kept] = end
        for b in range(begin, stop):
            pool[end] = pool[b]
            end += 1
        hashes[kept] = hashes[w]
        counts[kept] = counts[w]
        kept += 1
    offsets[kept] = end
    return kept


@njit(inline="always", cache=True)
def find_word(table, hashes, offsets, pool, h, text, start, length):
    """(slot, word) of the word text[start:start+length] (hash h): its id, or -1 and the free slot
    where it goes (linear probing)."""
    mask = np.uint64(table.shape[0] - 1)
    slot = h & mask
    while table[slot] != -1:
        w = table[slot]
        if hashes[w] == h and offsets[w + 1] - offsets[w] == length:
            same = True
            base = offsets[w]
            for j in range(length):
                if pool[base + j] != text[start + j]:
                    same = False
                    break
            if same:
                return slot, w
        slot = (slot + np.uint64(1)) & mask
    return slot, -1


@njit(inline="always", cache=True)
def add_word(words, slot, word, h, text, start, length):
    """Store text[start:start+length] (hash h) as word id ``word`` (the next one) at the free
    ``slot``, count 0; the arrays must have room (the callers check).  Returns ``word``."""
    table, hashes, offsets, pool, counts = words
    table[slot] = word
    hashes[word] = h
    base = offsets[word]
    for j in range(length):
        pool[base + j] = text[start + j]
    offsets[word + 1] = base + length
    counts[word] = 0
    return word


@njit(nogil=True, cache=True, _nrt=False)  # no reference counting: see kernels/__init__.py's KERNEL
def tokenize_bytes(buf, n, words, output, counters, max_sentence, mode, max_words, cr_ends_line):
    """Tokenize buf[counters[POS]:n] (complete lines, or cut at an ASCII space).

    words:    (table int32[2^k], hashes uint64[W], offsets int64[W+1], pool uint8[P], counts int64[W]),
              the vocabulary so far: word w's bytes are pool[offsets[w]:offsets[w+1]].
    output:   (ids int32[N], starts int64[S]): the corpus so far; a sentence ends at a line end or
              after ``max_sentence`` tokens (the rest of a long line continues as the next one).
    counters: int64[6], see the slots above; updated in place.
    mode, max_words: see BUILD, COUNT, LOOKUP above (max_words only for COUNT).
    cr_ends_line: whether \\r ends a line (universal newlines) or is whitespace (binary lines).
    Returns DONE, PRUNE, or the GROW_* status of the array to enlarge before calling again.
    """
    table, hashes, offsets, pool, counts = words
    ids, starts = output
    p = counters[POS]
    n_words = counters[N_WORDS]
    n_ids = counters[N_IDS]
    n_starts = counters[N_STARTS]
    sentence_len = counters[SENTENCE_LEN]
    status = DONE
    while p < n:
        b = buf[p]
        width = space_length(buf, p, n) if (b <= 32 or b >= 0xC2) else 0
        if width > 0:
            if (b == 10 or (b == 13 and cr_ends_line)) and sentence_len > 0:
                if mode == COUNT:
                    sentence_len = 0
                    if n_words > max_words:
                        p += width
                        status = PRUNE
                        break
                else:
                    if n_starts >= starts.shape[0]:
                        status = GROW_STARTS
                        break
                    starts[n_starts] = n_ids
                    n_starts += 1
                    sentence_len = 0
            p += width
            continue
        q = p + 1
        h = (np.uint64(FNV_OFFSET) ^ np.uint64(buf[p])) * np.uint64(FNV_PRIME)
        while q < n:
            b = buf[q]
            if (b <= 32 or b >= 0xC2) and space_length(buf, q, n) > 0:  # letters skip the check
                break
            h = (h ^ np.uint64(b)) * np.uint64(FNV_PRIME)
            q += 1
        length = q - p
        if n_ids >= ids.shape[0]:
            status = GROW_IDS
            break
        if n_starts >= starts.shape[0]:
            status = GROW_STARTS
            break
        slot, word = find_word(table, hashes, offsets, pool, h, buf, p, length)
        if word == -1 and mode != LOOKUP:
            if 2 * (n_words + 1) > table.shape[0] or n_words >= hashes.shape[0]:
                status = GROW_WORDS
                break
            if offsets[n_words] + length > pool.shape[0]:
                status = GROW_POOL
                break
            word = add_word(words, slot, n_words, h, buf, p, length)
            n_words += 1
        p = q
        sentence_len += 1
        if word >= 0:
            counts[word] += 1
            if mode != COUNT:
                ids[n_ids] = word
                n_ids += 1
        if sentence_len == max_sentence:
            sentence_len = 0
            if mode == COUNT:
                if n_words > max_words:
                    status = PRUNE
                    break
            else:
                starts[n_starts] = n_ids
                n_starts += 1
    counters[POS] = p
    counters[N_WORDS] = n_words
    counters[N_IDS] = n_ids
    counters[N_STARTS] = n_starts
    counters[SENTENCE_LEN] = sentence_len
    return status


@njit(nogil=True, cache=True, _nrt=False)
def append_words(words, n_words, later, n_later, mapping):
    """Add the words of ``later``, a table filled in BUILD mode from the text that follows ours, to
    ``words`` as BUILD would have numbered them reading on: its words we have keep our ids, the others
    get the next ids in its first-seen order; their counts add.

    words: (table, hashes, offsets, pool, counts) as in ``tokenize_bytes``, with room for
    n_words + n_later words and their bytes (the caller grows the arrays); later: (hashes, offsets,
    pool, counts) of its first n_later words.  Writes mapping[v] = our id of its word v
    (int32[n_later]); returns the new number of words.
    """
    table, hashes, offsets, pool, counts = words
    later_hashes, later_offsets, later_pool, later_counts = later
    for v in range(n_later):
        h = later_hashes[v]
        start = later_offsets[v]
        length = later_offsets[v + 1] - start
        slot, word = find_word(table, hashes, offsets, pool, h, later_pool, start, length)
        if word == -1:
            word = add_word(words, slot, n_words, h, later_pool, start, length)
            n_words += 1
        counts[word] += later_counts[v]
        mapping[v] = word
    return n_words


@njit(nogil=True, cache=True, _nrt=False)
def words_text(pool, offsets, n_words, out):
    """out[:offsets[n_words] + n_words] <- the bytes of words 0..n_words-1, each followed by a line
    end (10): one string for Python to decode at once (``corpus._CompiledTokenizer.decoded``)."""
    at = 0
    for w in range(n_words):
        for b in range(offsets[w], offsets[w + 1]):
            out[at] = pool[b]
            at += 1
        out[at] = 10
        at += 1
