"""Rebuild data/enwiki-sample.txt from the Wikipedia dump that gensim ships as test data.

    python scripts/make_data_corpus.py data/enwiki-sample.txt
"""
import sys

from gensim.corpora.wikicorpus import WikiCorpus
from gensim.test.utils import datapath

from w2v_fastopt.io import atomic_path

DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def main(output):
    wiki = WikiCorpus(datapath(DUMP), dictionary={}, processes=1)
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for tokens in wiki.get_texts():
            f.write(" ".join(tokens) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/enwiki-sample.txt")
