"""Read a corpus into int32 token ids: UTF-8 text, whitespace-separated tokens, one sentence per line.

Plain, gzip or bzip2 input (told by the file's first bytes, not its name).  The text is streamed: what
stays in memory is one int32 per token, one int64 per sentence and one entry per distinct word.
Lines longer than ``MAX_SENTENCE`` tokens are split into consecutive chunks (never truncated, never
dropped).  Bytes that are not valid UTF-8 are replaced by U+FFFD (the rest of the line is kept).
"""
import bz2
import gzip
import io
import os
import zlib
from array import array
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .kernels.sgns import MAX_SENTENCE


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

    @property
    def n_tokens(self):
        return int(self.ids.shape[0])


def open_text(path):
    """Open ``path`` for reading as UTF-8 text, decompressing gzip or bzip2 by magic number.

    Raises FileNotFoundError / IsADirectoryError / PermissionError with the path in the message.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a directory, not a corpus file")
    raw = open(path, "rb")
    magic = raw.read(3)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=raw)
    elif magic == b"BZh":
        raw = bz2.BZ2File(raw)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline=None)


def read_corpus_file(path):
    """Tokenize the file at ``path``; returns a TokenizedCorpus (see module doc for the format)."""
    try:
        with open_text(path) as lines:
            return tokenize(lines)
    except (EOFError, OSError, zlib.error) as err:
        if isinstance(err, (FileNotFoundError, IsADirectoryError)):
            raise
        raise OSError(f"{os.fspath(path)}: cannot read corpus: {err}") from None


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
