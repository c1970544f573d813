"""Train gensim's skip-gram (or CBOW, --sg 0; hierarchical softmax with --hs 1) in corpus_file mode and save
word2vec binary: bench_engine's baseline.

    python bench/gensim_train.py CORPUS OUTPUT --workers 2 --epochs 5 ...
Prints one JSON line: vocab_s, train_s, save_s, effective_words, raw_words.
"""
import json
import time

from gensim.models import Word2Vec
from peer_args import training_arguments


def main():
    a = training_arguments(__doc__.splitlines()[0])
    t0 = time.perf_counter()
    model = Word2Vec(sg=a.sg, cbow_mean=a.cbow_mean, hs=a.hs, vector_size=a.vector_size, window=a.window,
                     negative=a.negative, min_count=a.min_count, sample=a.sample, epochs=a.epochs, alpha=a.alpha,
                     min_alpha=a.min_alpha, workers=a.workers, seed=a.seed)
    model.build_vocab(corpus_file=a.corpus)
    t1 = time.perf_counter()
    effective, raw = model.train(corpus_file=a.corpus, total_examples=model.corpus_count,
                                 total_words=model.corpus_total_words, epochs=a.epochs)
    t2 = time.perf_counter()
    model.wv.save_word2vec_format(a.output, binary=True)
    t3 = time.perf_counter()
    print(json.dumps({"vocab_s": t1 - t0, "train_s": t2 - t1, "save_s": t3 - t2,
                      "effective_words": effective, "raw_words": raw}))


if __name__ == "__main__":
    main()
