"""Train fastText (the pip package ``fasttext``, Facebook's C++ code) as a word2vec peer and save word2vec
binary: bench_engine's fastText rows.

    python bench/fasttext_train.py CORPUS OUTPUT --workers 2 --epochs 5 --sg 1 --hs 0 ...

Word vectors only, as word2vec trains them: no character n-grams (minn = maxn = 0), no word n-grams,
no hashing buckets (bucket = 0: with neither, fastText's input matrix would otherwise carry 2M unused
rows, 800 MB at d = 100); the same learning rate, window, negatives, min count, subsampling threshold
(fastText's keep probability is word2vec.c's, sqrt(t/f) + t/f) and epochs as the other systems.
Taken and not used (``peer_args``): --seed (the Python binding takes none), --min-alpha (fastText
decays the rate to 0), --cbow-mean (fastText's CBOW always averages).
Prints one JSON line: train_s (fastText's train_unsupervised: reading the vocabulary and training),
save_s.
"""
import json
import time

import fasttext
import numpy as np
from peer_args import training_arguments


def main():
    a = training_arguments(__doc__.splitlines()[0])
    t0 = time.perf_counter()
    model = fasttext.train_unsupervised(
        a.corpus, model="skipgram" if a.sg else "cbow", loss="hs" if a.hs else "ns", lr=a.alpha,
        dim=a.vector_size, ws=a.window, epoch=a.epochs, minCount=a.min_count, neg=a.negative, t=a.sample,
        minn=0, maxn=0, wordNgrams=1, bucket=0, thread=a.workers, verbose=0)
    t1 = time.perf_counter()
    # Written here, not by w2v_fastopt.io or gensim: importing either would add its start-up to
    # fastText's wall time.
    words = model.get_words()
    vectors = np.asarray(model.get_input_matrix()[:len(words)], dtype="<f4")
    with open(a.output, "wb") as out:
        out.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        for word, row in zip(words, vectors):
            out.write(word.encode() + b" " + row.tobytes() + b"\n")
    t2 = time.perf_counter()
    print(json.dumps({"train_s": t1 - t0, "save_s": t2 - t1}))


if __name__ == "__main__":
    main()
