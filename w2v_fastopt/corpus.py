"""Read a corpus into int32 token ids: UTF-8 text, whitespace-separated tokens, one sentence per line.

Plain, gzip or bzip2 input (told by the file's first bytes, not its name).  The text is streamed: what
stays in memory is one int32 per token, one int64 per sentence and one entry per distinct word.
Lines longer than ``MAX_SENTENCE`` tokens are split into consecutive chunks (never truncated, never
dropped).  Bytes that are not valid UTF-8 are replaced by U+FFFD (the rest of the word is kept) and
counted (``invalid_tokens``); a NUL byte means a binary file and is an error naming its line.
Files are tokenized in compiled code (``kernels/tokenize.py``); iterables of sentences in Python,
with the same result for the same text.  A large plain file is read by several threads, each
tokenizing a part of whole lines into its own table, and the parts are joined in order into the
result one thread gives (``read_corpus_file``'s ``threads``).
"""
import bz2
import errno
import gzip
import mmap
import os
import sys
import tempfile
import threading
import zlib
from array import array
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .kernels.walk import MAX_SENTENCE
from .kernels.tokenize import (BUILD, COUNT, DONE, GROW_IDS, GROW_POOL, GROW_WORDS, LOOKUP, N_IDS,
                               N_STARTS, N_WORDS, POS, PRUNE, SENTENCE_LEN, append_words, keep_words,
                               rehash, tokenize_bytes, words_text)
from .resident import hand_back_after_loading

CHUNK_BYTES = 1 << 22  # 4 MB: a chunk and its carried copy are the reader's only buffers
PART_BYTES = 1 << 23  # a plain file is read by up to ``threads`` threads, in parts of at least 8 MB
APPEND_IDS = 1 << 20  # ids renumbered at a time when the parts are joined (their pages then handed back)
# A page fault in a file mapping maps more than the page: Linux's fault-around (64 KB), or the
# whole page-cache folio, which is up to 2 MB with large folios (ext4 on Linux 6.18 here).
MAPPED_AROUND_BYTES = 1 << 21


@dataclass
class TokenizedCorpus:
    """A corpus as ids in first-seen order.

    words: list[str], words[i] is the word with first-seen id i.
    counts: int64[len(words)], occurrences of each word.
    ids: int32[N], the corpus as first-seen ids.
    starts: int64[S+1], sentence s is ids[starts[s]:starts[s+1]].
    """
    words: list
    counts: np.ndarray
    ids: np.ndarray
    starts: np.ndarray
    invalid_tokens: int = 0  # tokens whose bytes were not UTF-8 (decoded with U+FFFD)
    merge: object = None  # int32[first-seen ids] -> index into words, when decoding merged some
    store: object = None  # the CorpusStore holding ``ids`` and ``starts``, for a file; None: in memory

    @property
    def n_tokens(self):
        return int(self.ids.shape[0])


def open_binary(path):
    """Open ``path`` for reading bytes, decompressing gzip or bzip2 by magic number.

    Raises FileNotFoundError / IsADirectoryError / PermissionError with the path in the message.
    """
    path = os.fspath(path)
    if path == "-":  # standard input, read once, as it comes (a pipe cannot seek: peek)
        raw = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    else:
        try:
            os.stat(path)
        except OSError as err:
            if err.errno == errno.ELOOP:
                loop = OSError(f"{path}: a loop of symbolic links")
                loop.errno = errno.ELOOP
                raise loop from None
            raise FileNotFoundError(f"{path}: no such file") from None
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path}: is a directory, not a corpus file")
        if not os.access(path, os.R_OK):
            raise PermissionError(f"{path}: permission denied")
        raw = open(path, "rb")
    magic = raw.peek(3)[:3]
    f = raw
    if magic[:2] == b"\x1f\x8b":
        f = gzip.GzipFile(fileobj=raw)
    elif magic == b"BZh":
        f = bz2.BZ2File(raw)
    head = f.peek(3)[:3]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        f.close()
        raise ValueError(f"{path}: UTF-16 text (it starts with a UTF-16 byte-order mark); the corpus must "
                         f"be UTF-8: convert it first, e.g. iconv -f UTF-16 -t UTF-8")
    if head == b"\xef\xbb\xbf":  # a UTF-8 byte-order mark is not part of the first word
        f.read(3)
    return f


def read_corpus_file(path, chunk_bytes=CHUNK_BYTES, vocabulary=None, threads=1, part_bytes=PART_BYTES):
    """Tokenize the file at ``path`` in compiled code; returns a TokenizedCorpus.

    vocabulary: None (number every word, first seen first), or the UTF-8 bytes of the words to keep,
    in their final order: then the ids are indices into it and other words are left out (the second
    pass after ``count_corpus_file``).
    threads: without ``vocabulary``, a plain (uncompressed) file of at least 2 ``part_bytes`` is cut
    into up to ``threads`` parts of whole lines (``_parts``), each tokenized by its own thread into
    its own table; the parts are then joined in order (``_CompiledTokenizer.append``).  The result
    is the same as one thread's, to the bit.
    """
    tokenizer = _CompiledTokenizer(BUILD)
    if vocabulary is not None:
        tokenizer.feed(b"\n".join(vocabulary), sum(map(len, vocabulary)) + len(vocabulary) - 1)
        tokenizer.restart(LOOKUP)
    else:
        parts = _parts(path, threads, part_bytes)
        if len(parts) > 1:
            return _read_parts([(path, start, end) for start, end in parts], chunk_bytes)
    _read_chunks(path, tokenizer.feed, chunk_bytes)
    return tokenizer.result()


def read_pieces(pieces, threads=1, chunk_bytes=CHUNK_BYTES, part_bytes=PART_BYTES):
    """The TokenizedCorpus of ``pieces`` [(path, start, end)] read one after the other, as if
    concatenated (``cat``): a shard of ``split_files``.  A plain piece of at least 2 ``part_bytes`` is
    read by up to ``threads`` threads in parts (``read_corpus_file``); the result is one thread's."""
    parts = [(path, a, b) for path, start, end in pieces
             for a, b in _parts(path, max(1, threads // len(pieces)), part_bytes, start, end)]
    if len(parts) > 1:
        return _read_parts(parts, chunk_bytes)
    tokenizer = _CompiledTokenizer(BUILD)
    for path, start, end in parts:  # none: an empty shard, an empty corpus
        _read_chunks(path, tokenizer.feed, chunk_bytes, start, end)
    return tokenizer.result()


def read_lines(blocks):
    """The TokenizedCorpus of ``blocks``, an iterable of sequences of lines (str or bytes; a line may
    hold line ends of its own): a shard of a ``ray.data`` dataset's text column, batch by batch.  The
    same tokenizer as for files; a NUL byte is refused as in a file."""
    tokenizer = _CompiledTokenizer(BUILD)
    rows = 0
    for lines in blocks:
        data = b"".join((line.encode("utf-8", "surrogateescape") if isinstance(line, str) else bytes(line)) + b"\n"
                        for line in lines)
        nul = data.find(b"\0")
        if nul >= 0:
            row = rows + data.count(b"\n", 0, nul) + 1
            raise ValueError(f"row {row} of the dataset's text: NUL byte: binary data, not text")
        rows += len(lines)
        tokenizer.feed(data, len(data))
    return tokenizer.result()


def read_binary_lines(paths, max_sentence_length, chunk_bytes=CHUNK_BYTES):
    """The TokenizedCorpus of gensim's ``LineSentence`` (one path) or ``PathLineSentences`` (its
    files, in order), exactly as they iterate: each file opened as gensim's ``utils.open(path, 'rb')``
    opens it (compression told by the name's extension: .gz, .bz2, else the raw bytes; no byte-order
    mark removed), its lines ended by \\n alone (a lone \\r is whitespace), each line's words
    (``str.split``) cut into sentences of ``max_sentence_length`` words, a file's last line ended at
    the file's end, NUL an ordinary byte.  None where gensim's own iteration must decide: a name
    with another compression's extension, or text that is not strictly UTF-8 (gensim raises
    UnicodeDecodeError)."""
    tokenizer = _CompiledTokenizer(BUILD, max_sentence=max_sentence_length, cr_ends_line=False)
    for path in paths:
        opener = _GENSIM_OPENERS.get(os.path.splitext(os.fsdecode(path))[1].lower(), open)
        if opener is None:
            return None
        with opener(path, "rb") as f:
            carry = b""
            while chunk := f.read(chunk_bytes):
                data = carry + chunk if carry else chunk
                cut = max(data.rfind(b"\n"), data.rfind(b" "), data.rfind(b"\t")) + 1
                if cut:
                    tokenizer.feed(data, cut)
                carry = data[cut:]
            tokenizer.feed(carry + b"\n", len(carry) + 1)  # the file's last line ends with the file
    corpus = tokenizer.result()
    return None if corpus.invalid_tokens else corpus


def read_text8(path, max_sentence_length, chunk_bytes=CHUNK_BYTES):
    """The TokenizedCorpus of gensim's ``Text8Corpus(path, max_sentence_length)``, exactly as it
    iterates: the file (opened as ``read_binary_lines`` opens it) is one stream of words, read
    TEXT8_READ bytes at a time; each read's text up to its last ASCII space is split into words,
    the rest (``bytes.strip``-ped: a word that ends a read with a tab or line end after it joins
    the next read's first word, as in gensim) goes before the next read, and the words are cut
    into sentences of ``max_sentence_length``.  The words after the last space read go into the
    last sentence uncut (it may be longer than ``max_sentence_length``; a file without spaces is one
    sentence).  Line ends are whitespace.  None where gensim's own iteration must decide: another
    compression, text that is not strictly UTF-8."""
    opener = _GENSIM_OPENERS.get(os.path.splitext(os.fsdecode(path))[1].lower(), open)
    if opener is None:
        return None
    tokenizer = _CompiledTokenizer(BUILD, max_sentence=max_sentence_length, cr_ends_line=False)

    def feed(pieces):
        data = b" ".join(pieces).replace(b"\n", b" ") + b" "
        tokenizer.feed(data, len(data))

    pieces, size, rest = [], 0, b""
    with opener(path, "rb") as f:
        while True:  # gensim's loop over reads, on bytes
            text = rest + f.read(TEXT8_READ)
            if text == rest:
                break
            last_space = text.rfind(b" ")
            if last_space < 0:
                rest = text
                continue
            pieces.append(text[:last_space])
            size += last_space
            rest = text[last_space:].strip()
            if size >= chunk_bytes:
                feed(pieces)
                pieces, size = [], 0
    feed(pieces)
    tokenizer.max_sentence = 0  # never reached: the last words join the last sentence
    feed([rest])
    corpus = tokenizer.result()
    return None if corpus.invalid_tokens else corpus


TEXT8_READ = 8192  # bytes gensim's Text8Corpus reads at a time: where it cuts words at reads' ends


# How gensim's utils.open (smart_open) opens a name for reading bytes, by its extension; None: a
# compression read here by gensim alone.
_GENSIM_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".lz4": None, ".xz": None, ".zst": None}


def split_files(paths, shards):
    """Cut the concatenation of the files ``paths`` into ``shards`` shards of about equal size:
    a list of ``shards`` lists of pieces (path, start, end) (end None: to the end of the file), each
    cut just after a line end, so that the shards read one after the other are the files read one
    after the other.  A compressed file is never cut (its bytes are not lines): it goes whole to
    the shard its middle falls in.  A shard can be empty (a corpus of fewer lines than shards)."""
    sizes = [os.path.getsize(path) for path in paths]
    total = max(sum(sizes), 1)
    cuts = []  # (file index, byte): where shards 1, 2, ... begin
    offset = 0
    for index, (path, size) in enumerate(zip(paths, sizes)):
        compressed = _compressed(path)
        with open(path, "rb") as f:
            for k in range(len(cuts) + 1, shards):
                target = k * total // shards - offset
                if target >= size:
                    break
                if compressed:
                    at = 0 if target < size // 2 else size
                else:
                    at = _next_line_start(f, max(target, cuts[-1][1] if cuts and cuts[-1][0] == index else 0))
                cuts.append((index, at) if at < size else (index + 1, 0))
        offset += size
    cuts += [(len(paths), 0)] * (shards - 1 - len(cuts))
    bounds = [(0, 0)] + cuts + [(len(paths), 0)]
    result = []
    for (i0, b0), (i1, b1) in zip(bounds, bounds[1:]):
        pieces = []
        for index in range(i0, min(i1 + 1, len(paths))):
            start = b0 if index == i0 else 0
            end = b1 if index == i1 else None
            if (sizes[index] if end is None else end) > start:
                pieces.append((paths[index], start, end))
        result.append(pieces)
    return result


def _compressed(path):
    with open(path, "rb") as f:
        magic = f.read(3)
    return magic[:2] == b"\x1f\x8b" or magic == b"BZh"


def _next_line_start(f, at):
    """The offset just after the first \\n at or after ``at`` in the open file ``f`` (its end if none)."""
    f.seek(at)
    while True:
        block = f.read(1 << 16)
        newline = block.find(b"\n")
        if newline >= 0:
            return at + newline + 1
        if not block:
            return at
        at += len(block)


def _parts(path, threads, part_bytes, start=0, end=None):
    """[(start, end)]: byte ranges of the file at ``path`` (of its range [start, end): the whole file
    by default) that cut it into up to ``threads`` parts of at least ``part_bytes``, each cut just
    after a \\n (so never inside a line, a \\r\\n or a UTF-8 character), the last one's end ``end``;
    [(start, end)], one part, for standard input, a compressed file, a small one, or one
    ``open_binary`` will refuse (it says why).
    """
    path = os.fspath(path)
    if threads < 2 or path == "-":
        return [(start, end)]
    try:
        size = (os.path.getsize(path) if end is None else end) - start
        count = min(threads, size // part_bytes)
        if count < 2 or _compressed(path):
            return [(start, end)]
        with open(path, "rb") as f:
            cuts = [start]
            for k in range(1, count):
                cuts.append(_next_line_start(f, max(start + k * size // count, cuts[-1])))
    except OSError:
        return [(start, end)]
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if (start + size if b is None else b) > a]


class _Stopped(Exception):
    """A part's reader stopped because another one failed (or the reading was interrupted)."""


def _read_parts(parts, chunk_bytes):
    """The TokenizedCorpus of ``parts`` [(path, start, end)] (``_parts``) read one after the other,
    one thread each.

    A reader stops at its next chunk once another has failed or this thread is interrupted (Ctrl-C);
    then the error of the first part (in file order) that failed on its own is raised."""
    tokenizers = [_CompiledTokenizer(BUILD) for _ in parts]
    errors = [None] * len(parts)
    stop = threading.Event()

    def read(k):
        def feed(data, n):
            if stop.is_set():
                raise _Stopped
            tokenizers[k].feed(data, n)

        try:
            _read_chunks(parts[k][0], feed, chunk_bytes, *parts[k][1:])
        except BaseException as err:  # re-raised below
            errors[k] = err
            stop.set()

    readers = [threading.Thread(target=read, args=(k,), daemon=True) for k in range(1, len(parts))]
    try:
        for reader in readers:
            reader.start()
        read(0)
        for reader in readers:
            reader.join()
    finally:
        stop.set()  # an interrupted join: the readers stop too
    error = next((err for err in errors if err is not None and not isinstance(err, _Stopped)), None)
    if error is not None:
        raise error
    whole = tokenizers[0]
    for k in range(1, len(parts)):
        whole.append(tokenizers[k])
        tokenizers[k] = None  # its arrays and temporary files go now
    return whole.result()


def count_corpus_file(path, max_vocab_size, chunk_bytes=CHUNK_BYTES):
    """Count the words of ``path`` holding at most ``max_vocab_size`` of them, as gensim's scan_vocab:
    whenever a sentence ends with more words held, those seen fewer than ``min_reduce`` times are
    forgotten and ``min_reduce`` (from 1) grows by one.  Returns (words, counts int64, UTF-8 bytes
    of each word), words in first-seen order of the survivors."""
    tokenizer = _CompiledTokenizer(COUNT, max_vocab_size)
    _read_chunks(path, tokenizer.feed, chunk_bytes)
    if tokenizer.counters[N_WORDS] == 0 and tokenizer.min_reduce > 1:
        raise ValueError(f"{os.fsdecode(path)}: max_vocab_size={max_vocab_size} pruned every word (whenever more "
                         f"than {max_vocab_size} words were held, those seen fewer than min_reduce times were "
                         f"forgotten, min_reduce growing to {tokenizer.min_reduce - 1}): raise max_vocab_size")
    return tokenizer.counted()


def _lines_before(path, start):
    """The number of \\n in the first ``start`` bytes of the file at ``path`` (for error messages)."""
    lines = 0
    with open(path, "rb") as f:
        while start > 0:
            block = f.read(min(start, CHUNK_BYTES))
            if not block:
                break
            lines += block.count(b"\n")
            start -= len(block)
    return lines


def _looks_utf16(data):
    """Whether ``data`` looks like UTF-16 text without a byte-order mark: NULs at one parity."""
    sample = data[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    return max(even, odd) > 0.4 * len(sample) / 2 and min(even, odd) < 0.05 * len(sample) / 2


def _read_chunks(path, feed, chunk_bytes, start=0, end=None):
    """Feed the file's bytes to ``feed(data, n)`` in chunks of whole lines (see read_corpus_file):
    all of them, or those of the part [start, end) of a plain file (``_parts``; end None: to the end).

    Each chunk is cut after its last line end (or, inside a line longer than a chunk, after its last
    ASCII space) and the rest is carried to the next.
    """
    path = os.fspath(path)
    lines = 0  # line ends before ``data``, for error messages
    try:
        with open_binary(path) if start == 0 else open(path, "rb") as f:
            if start:
                f.seek(start)
            left = None if end is None else end - f.tell()  # open_binary may have skipped a BOM
            carry = b""
            while True:
                chunk = f.read(chunk_bytes if left is None else min(chunk_bytes, left))
                if left is not None:
                    left -= len(chunk)
                data = carry + chunk if carry else chunk
                nul = chunk.find(b"\0")
                if nul >= 0:
                    line = lines + data.count(b"\n", 0, len(data) - len(chunk) + nul) + 1
                    line += _lines_before(path, start) if start else 0
                    if line == 1 and _looks_utf16(data):
                        raise ValueError(f"{path}: UTF-16 text (every other byte is NUL); the corpus must be "
                                         "UTF-8: convert it first, e.g. iconv -f UTF-16LE -t UTF-8")
                    raise ValueError(f"{path}: line {line}: NUL byte: this is a binary file, not text")
                if not chunk:
                    feed(data, len(data))
                    break
                cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
                if cut == 0:
                    cut = max(data.rfind(b" "), data.rfind(b"\t")) + 1
                if cut == 0:  # not one separator in the chunk: read on
                    carry = data
                    continue
                feed(data, cut)
                lines += data.count(b"\n", 0, cut)
                carry = data[cut:]
    except (EOFError, OSError, zlib.error) as err:
        if isinstance(err, (FileNotFoundError, IsADirectoryError, PermissionError)) or (
                isinstance(err, OSError) and err.errno == errno.ELOOP):
            raise
        raise OSError(f"{path}: cannot read corpus: {err}") from None


class IdStore:
    """A growable array in an unlinked temporary file mapped into memory (MAP_SHARED): the token ids
    (int32), and the sentence boundaries (int64).

    Growing remaps the file (``mremap`` on Linux): no copy, no second array in memory while it
    grows.  Pages the program is done with are handed back (``release``: madvise MADV_DONTNEED): their
    data stays in the file and the page cache, but not in the process's resident memory, so a corpus
    of any size costs ~JOB_WORDS-scale RSS, not 4 bytes per token.  The file lives in TMPDIR and
    disappears with the process.
    """

    def __init__(self, capacity=1 << 20, dtype=np.int32, what="the token ids"):
        self.capacity = capacity
        self.dtype = np.dtype(dtype)
        self.what = what
        try:
            self.file = tempfile.TemporaryFile(prefix="w2v-fastopt-ids.")
            self._reserve()
            self.map = mmap.mmap(self.file.fileno(), self.dtype.itemsize * capacity)
        except OSError as err:
            raise self._no_room(err) from None
        self.array = np.frombuffer(self.map, dtype=self.dtype)

    def grow(self):
        """1.5x the capacity; ``array`` is a new view (drop every old view of it first)."""
        self.array = None
        self.capacity = self.capacity * 3 // 2
        try:
            self._reserve()
            self.map.resize(self.dtype.itemsize * self.capacity)
        except OSError as err:
            raise self._no_room(err) from None
        self.array = np.frombuffer(self.map, dtype=self.dtype)

    def _reserve(self):
        """Give the file its blocks for ``capacity`` entries before they are mapped: a page of a
        mapping that the file system cannot back kills the process with SIGBUS when it is written,
        where an allocation that fails now is an error we can name (ENOSPC).  Where the file system
        cannot allocate ahead (``posix_fallocate`` unsupported), its free space is checked instead."""
        size = self.dtype.itemsize * self.capacity
        try:
            os.posix_fallocate(self.file.fileno(), 0, size)
            return
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
        except AttributeError:  # no posix_fallocate (macOS)
            pass
        used = os.fstat(self.file.fileno()).st_size
        room = os.fstatvfs(self.file.fileno())
        if room.f_bavail * room.f_frsize < size - used:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.file.truncate(size)

    def _no_room(self, err):
        error = OSError(f"no room for {self.what} ({self.dtype.itemsize * self.capacity / 1e6:.0f} MB) in "
                        f"{tempfile.gettempdir()}: {err.strerror}; set TMPDIR to a larger disk")
        error.errno = err.errno
        return error

    def release(self, end, start=0):
        """Give back the resident pages holding array[start:end] and those up to MAPPED_AROUND_BYTES
        either side of it (a fault maps the pages around the faulting one: reading a job's ids
        maps some of its neighbours' too, which would otherwise stay).

        Safe at any time, even while another thread reads or writes those pages: the mapping is
        shared and file-backed, so a page given back keeps its data in the file (the page cache)
        and is mapped again at its next use.
        """
        first = max(self.dtype.itemsize * int(start) - MAPPED_AROUND_BYTES, 0) // mmap.PAGESIZE * mmap.PAGESIZE
        last = -(-(self.dtype.itemsize * int(end) + MAPPED_AROUND_BYTES) // mmap.PAGESIZE) * mmap.PAGESIZE
        last = min(last, len(self.map))
        if last > first and hasattr(mmap, "MADV_DONTNEED"):  # Linux and macOS; elsewhere a no-op
            self.map.madvise(mmap.MADV_DONTNEED, first, last - first)


class CorpusStore:
    """The two memory-mapped arrays of a corpus read from a file: token ids and sentence boundaries."""

    def __init__(self):
        self.ids = IdStore()
        self.boundaries = IdStore(1 << 12, np.int64, "the sentence boundaries")

    def release(self, end_sentence, end_token, start_sentence=0, start_token=0):
        """Give back the resident pages of boundaries[start_sentence:end_sentence] and
        ids[start_token:end_token] (``IdStore.release``)."""
        self.ids.release(end_token, start_token)
        self.boundaries.release(end_sentence, start_sentence)


class _CompiledTokenizer:
    """Python side of ``kernels.tokenize``: owns the arrays, enlarges them when the kernel asks."""

    def __init__(self, mode, max_words=0, max_sentence=MAX_SENTENCE, cr_ends_line=True):
        self.mode = mode
        self.max_words = max_words
        self.max_sentence = max_sentence
        self.cr_ends_line = cr_ends_line
        self.min_reduce = 1
        self.table = np.full(1 << 16, -1, dtype=np.int32)
        self.hashes = np.empty(1 << 15, dtype=np.uint64)
        self.offsets = np.zeros((1 << 15) + 1, dtype=np.int64)
        self.pool = np.empty(1 << 18, dtype=np.uint8)
        self.counts = np.zeros(1 << 15, dtype=np.int64)
        self.store = CorpusStore()
        self.counters = np.zeros(6, dtype=np.int64)
        self.counters[N_STARTS] = 1

    def feed(self, data, n):
        buf = np.frombuffer(data, dtype=np.uint8)
        self.counters[POS] = 0
        while True:
            status = tokenize_bytes(buf, n, (self.table, self.hashes, self.offsets, self.pool, self.counts),
                                    (self.store.ids.array, self.store.boundaries.array), self.counters,
                                    self.max_sentence, self.mode, self.max_words, self.cr_ends_line)
            hand_back_after_loading(tokenize_bytes)  # LLVM's code is not needed while it reads
            if status == DONE:
                self.store.release(self.counters[N_STARTS], self.counters[N_IDS])
                return
            if status == PRUNE:
                self.prune()
                continue
            if status == GROW_WORDS:
                self.room_for_words(int(self.counters[N_WORDS]) + 1)
            elif status == GROW_POOL:
                self.pool = _grow(self.pool)
            elif status == GROW_IDS:
                self.store.ids.grow()
            else:
                self.store.boundaries.grow()

    def room_for_words(self, words):
        """Grow the word table to hold ``words`` words: the hash table doubled (and rehashed) until
        at most half full, the hashes, offsets and counts by half again until long enough."""
        if 2 * words > self.table.shape[0]:
            size = self.table.shape[0]
            while 2 * words > size:
                size *= 2
            self.table = np.full(size, -1, dtype=np.int32)
            rehash(self.table, self.hashes, self.counters[N_WORDS])
        while self.hashes.shape[0] < words:
            self.hashes = _grow(self.hashes)
            self.offsets = _grow(self.offsets, extra=1)
            self.counts = _grow(self.counts)

    def append(self, later):
        """Continue this corpus with ``later``'s: a tokenizer that read, in BUILD mode, the text that
        follows ours (from a line start: ours ended with a line end).  Its words are numbered on from
        ours in its first-seen order (``append_words``), its ids renumbered after ours, its sentences
        after ours: the state one tokenizer would have reached reading both."""
        n, m = int(self.counters[N_WORDS]), int(later.counters[N_WORDS])
        self.room_for_words(n + m)
        while self.pool.shape[0] < self.offsets[n] + later.offsets[m]:
            self.pool = _grow(self.pool)
        mapping = np.empty(m, dtype=np.int32)
        self.counters[N_WORDS] = append_words((self.table, self.hashes, self.offsets, self.pool, self.counts), n,
                                              (later.hashes, later.offsets, later.pool, later.counts), m, mapping)
        n_ids, m_ids = int(self.counters[N_IDS]), int(later.counters[N_IDS])
        n_starts, m_starts = int(self.counters[N_STARTS]) - 1, int(later.counters[N_STARTS]) - 1
        _append_blocks(self.store.ids, n_ids, later.store.ids, 0, m_ids, lambda ids: np.take(mapping, ids))
        _append_blocks(self.store.boundaries, n_starts + 1, later.store.boundaries, 1, m_starts,
                       lambda starts: starts + n_ids)
        self.counters[N_IDS] = n_ids + m_ids
        self.counters[N_STARTS] = n_starts + 1 + m_starts
        self.counters[SENTENCE_LEN] = later.counters[SENTENCE_LEN]  # the last line may have no line end

    def restart(self, mode):
        """Keep the words, forget the corpus: the next feed starts a new one in ``mode``."""
        self.mode = mode
        self.counters[N_IDS] = 0
        self.counters[N_STARTS] = 1
        self.counters[SENTENCE_LEN] = 0
        self.counts[:] = 0

    def prune(self):
        """gensim's prune_vocab: forget the words seen fewer than min_reduce times, then raise it."""
        n = int(self.counters[N_WORDS])
        kept = keep_words(self.pool, self.offsets[:n + 1], self.hashes, self.counts[:n], self.min_reduce)
        self.table[:] = -1
        rehash(self.table, self.hashes, kept)
        self.counters[N_WORDS] = kept
        self.min_reduce += 1

    def counted(self):
        """(words, counts, UTF-8 bytes of each word) after a COUNT pass; U+FFFD twins merged."""
        n = int(self.counters[N_WORDS])
        raw = [self.pool[self.offsets[w]:self.offsets[w + 1]].tobytes() for w in range(n)]
        words = [r.decode("utf-8", "replace") for r in raw]
        counts = self.counts[:n].copy()
        if len(set(words)) < n:
            words, counts, merge = _merge_duplicates(words, counts)
            raw = [raw[i] for i in np.unique(merge, return_index=True)[1]]  # first spelling of each
        return words, counts, raw

    def decoded(self, n):
        """(words, invalid): the first ``n`` words as str, and the ids of those whose bytes are not
        UTF-8 (decoded with U+FFFD in their place).

        All at once when every word is UTF-8: their bytes joined by line ends (``words_text``)
        decode iff each word does, since a line end is never in a word and ends any partial UTF-8
        character before it.  Else word by word."""
        text = np.empty(int(self.offsets[n]) + n, dtype=np.uint8)
        words_text(self.pool, self.offsets, n, text)
        try:
            return text.tobytes().decode("utf-8").split("\n")[:-1], []
        except UnicodeDecodeError:
            pass
        words, invalid = [], []
        for w in range(n):
            raw = self.pool[self.offsets[w]:self.offsets[w + 1]].tobytes()
            try:
                words.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                words.append(raw.decode("utf-8", "replace"))
                invalid.append(w)
        return words, invalid

    def result(self):
        n_words, n_ids, n_starts = (int(self.counters[k]) for k in (N_WORDS, N_IDS, N_STARTS))
        if self.counters[SENTENCE_LEN] > 0:  # the last line had no newline
            if n_starts >= self.store.boundaries.capacity:
                self.store.boundaries.grow()
            self.store.boundaries.array[n_starts] = n_ids
            n_starts += 1
        starts = self.store.boundaries.array[:n_starts]
        words, invalid = self.decoded(n_words)
        counts = self.counts[:n_words].copy()
        invalid_tokens = int(counts[invalid].sum())
        merge = None
        if len(set(words)) < n_words:
            words, counts, merge = _merge_duplicates(words, counts)
        return TokenizedCorpus(words, counts, self.store.ids.array[:n_ids], starts, invalid_tokens, merge,
                               self.store)


def _append_blocks(store, at, later, first, count, convert):
    """store[at:at+count] = convert(later[first:first+count]) (two ``IdStore``), growing ``store``
    as needed, APPEND_IDS at a time: each block's pages are handed back as it is done."""
    while store.capacity < at + count:
        store.grow()
    for done in range(0, count, APPEND_IDS):
        block = min(APPEND_IDS, count - done)
        store.array[at + done:at + done + block] = convert(later.array[first + done:first + done + block])
        later.release(first + done + block, first + done)
        store.release(at + done + block, at + done)


def _grow(array, extra=0):
    """A copy 1.5 times as long (the word table's arrays; the corpus arrays grow by remapping)."""
    bigger = np.empty((array.shape[0] - extra) * 3 // 2 + extra, dtype=array.dtype)
    bigger[:array.shape[0]] = array
    return bigger


def _merge_duplicates(words, counts):
    """Distinct byte strings that decode to the same text (invalid UTF-8 -> U+FFFD) become one word.

    Returns the merged words and counts, and ``merge`` (int32: first-seen id -> merged word id),
    which ``build_vocab`` folds into its id mapping (the token ids are not rewritten here)."""
    first = {}
    merge = np.array([first.setdefault(w, len(first)) for w in words], dtype=np.int32)
    return list(first), np.bincount(merge, weights=counts).astype(np.int64), merge


def tokenize(sentences):
    """Tokenize an iterable of lines (str, split on whitespace) or of token lists.

    Ids are given in first-seen order by a ``defaultdict`` whose factory is its own ``len``: the
    lookup of a known word and the numbering of a new one both stay in C.
    """
    first_seen = defaultdict()
    first_seen.default_factory = first_seen.__len__
    lookup = first_seen.__getitem__
    ids = array("i")
    starts = array("q", [0])
    for sentence in sentences:
        tokens = sentence.split() if isinstance(sentence, str) else sentence
        if len(tokens) <= MAX_SENTENCE:
            ids.extend(map(lookup, tokens))
            if len(ids) > starts[-1]:
                starts.append(len(ids))
        else:
            for c in range(0, len(tokens), MAX_SENTENCE):
                ids.extend(map(lookup, tokens[c:c + MAX_SENTENCE]))
                starts.append(len(ids))
    ids = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.zeros(0, dtype=np.int32)
    counts = np.bincount(ids, minlength=len(first_seen)).astype(np.int64)
    return TokenizedCorpus(list(first_seen), counts, ids, np.frombuffer(starts, dtype=np.int64))
