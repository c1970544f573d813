"""Files for the TensorBoard Embedding Projector (``tensorboard --logdir DIR``) and
projector.tensorflow.org ("Load": the two TSV files).

The projector's formats: ``vectors.tsv``, one row per word of tab-separated float values, no header;
``metadata.tsv``, a header row then one row per word in the same order, columns separated by tabs
(a header is allowed only with two or more columns: ours are ``word`` and ``count``); and
``projector_config.pbtxt``, the text protobuf TensorBoard's projector plugin reads from the log
directory, naming the two files relative to it.
"""
import os

import numpy as np

from .io import atomic_folder, check_output, fsync_file

VECTORS, METADATA, CONFIG = "vectors.tsv", "metadata.tsv", "projector_config.pbtxt"


def export_projector(wv, folder, counts_known=True, limit=None, tensor_name="word2vec", inputs=()):
    """Write the projector's three files into ``folder`` (made, with the folders above it, if missing);
    return their paths.

    ``wv``: KeyedVectors, its words in frequency order; ``limit``: only the first N words.
    ``counts_known``: False for vectors read from a word2vec file, whose counts gensim makes up;
    the count column is then left empty rather than filled with invented numbers.
    ``inputs``: paths the export must not overwrite.  The three files change together: they are
    written into a fresh folder beside ``folder``, which then takes its place in one rename
    (``io.atomic_folder``); a ``folder`` holding other files is refused.

    A word holding a tab, newline or carriage return would break the TSV rows (the projector splits
    on them, and quotes nothing): such a word is refused with its position, before anything is
    written.  The trainer's tokenizer splits on all three, so they occur only in foreign files.
    """
    folder = os.fsdecode(os.fspath(folder))
    n = len(wv) if limit is None else min(limit, len(wv))
    words = wv.index_to_key[:n]
    for i, w in enumerate(words):
        if any(c in w for c in "\t\n\r"):
            raise ValueError(f"word {i + 1} ({w!r}) holds a tab or line break, which the projector's "
                             "TSV cannot represent: nothing written")
    paths = [os.path.join(folder, name) for name in (VECTORS, METADATA, CONFIG)]
    if os.path.isdir(folder):
        for path in paths:
            check_output(path, inputs=inputs)
    for other in inputs:
        if os.path.realpath(other).startswith(os.path.join(os.path.realpath(folder), "")):
            raise ValueError(f"{folder}: holds the input {other}; the export replaces the folder: "
                             "choose another folder")
    vectors = np.asarray(wv.vectors[:n], dtype=np.float32)
    name = tensor_name.replace("\\", "\\\\").replace('"', '\\"')  # a protobuf string literal
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent):
        os.makedirs(parent)  # as ``mkdir -p``: the folders above it
    with atomic_folder(folder, (VECTORS, METADATA, CONFIG)) as tmp:
        np.savetxt(os.path.join(tmp, VECTORS), vectors, fmt="%.6g", delimiter="\t", encoding="utf-8")
        with open(os.path.join(tmp, METADATA), "w", encoding="utf-8", newline="\n") as f:
            f.write("word\tcount\n")
            for w in words:
                count = wv.get_vecattr(w, "count") if counts_known else ""
                f.write(f"{w}\t{count}\n")
        with open(os.path.join(tmp, CONFIG), "w", encoding="utf-8") as f:
            f.write("embeddings {\n"
                    f'  tensor_name: "{name}"\n'
                    f'  tensor_path: "{VECTORS}"\n'
                    f'  metadata_path: "{METADATA}"\n'
                    "}\n")
        for file in (VECTORS, METADATA, CONFIG):
            fsync_file(os.path.join(tmp, file))
    return paths
