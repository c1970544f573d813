"""Build a second real-text corpus, ~11x data/ (~5M tokens), from freely licensed English prose
that Debian packages ship, for bench/ (not the tests: it is not committed).

    sudo apt-get install bible-kjv wordnet-base python3-doc linux-doc python-django-doc
    python scripts/make_big_corpus.py [OUTPUT]          (default bench/big-corpus.txt)

Sources and licences (OUTPUT.LICENSE lists them beside the corpus):
- the King James Bible (Debian's ``bible-kjv``, printed by its ``bible`` command): public domain
  outside the UK; one chapter per line;
- WordNet 3.0's glosses (``wordnet-base``, /usr/share/wordnet/data.*): the WordNet 3.0 licence
  (BSD-like; Princeton University); one synset's gloss and examples per line;
- the Python 3 documentation's reStructuredText sources (``python3-doc``): PSF licence;
- the Linux kernel's documentation sources (``linux-doc``, its translations left out): GPL-2.0;
  for both, one paragraph per line, literal blocks (indented paragraphs) and directives left out;
- the Django documentation's HTML (``python-django-doc``): BSD-3-Clause; one <p> per line.
Every line is tokenized as data/ is (gensim's WikiCorpus tokenizer: lowercase alphabetic tokens of
2 to 15 characters); lines of fewer than 3 tokens are dropped, and the lines are shuffled with a
fixed seed so that every 10th line (the experiment's held-out share) samples all sources alike.
The output is the same bytes on every run with the same package versions.
"""
import glob
import gzip
import html.parser
import os
import random
import subprocess
import sys

from gensim.corpora.wikicorpus import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from w2v_fastopt.io import atomic_path  # noqa: E402

PYTHON_DOCS = "/usr/share/doc/python3/html/_sources"
LINUX_DOCS = "/usr/share/doc/linux-doc-*/html/_sources"
DJANGO_DOCS = "/usr/share/doc/python-django-doc/html"
WORDNET = "/usr/share/wordnet"
LICENSE = """\
{name}: built by scripts/make_big_corpus.py from Debian packages
- King James Bible (bible-kjv {kjv}): public domain (outside the United Kingdom)
- WordNet 3.0 glosses (wordnet-base {wordnet}): WordNet 3.0 license, Copyright 2006 by Princeton
  University, https://wordnet.princeton.edu/license-and-commercial-use
- Python documentation sources (python3-doc {python}): PSF License Version 2
- Linux kernel documentation sources (linux-doc {linux}): GPL-2.0
- Django documentation (python-django-doc {django}): BSD-3-Clause
Lines: {lines:,}; tokens: {tokens:,}; tokenized as data/ (lowercase alphabetic, 2-15 characters).
"""


def bible_chapters():
    text = subprocess.run(["bible", "-f", "Ge1:1-Re22:21"], capture_output=True, text=True,
                          check=True).stdout
    chapter, verses = None, []
    for line in text.splitlines():
        ref, _, verse = line.partition(" ")
        here = ref.split(":")[0]
        if here != chapter and verses:
            yield " ".join(verses)
            verses = []
        chapter = here
        verses.append(verse)
    if verses:
        yield " ".join(verses)


def wordnet_glosses():
    for path in sorted(glob.glob(os.path.join(WORDNET, "data.*"))):
        with open(path, encoding="latin-1") as f:
            for line in f:
                if not line.startswith("  ") and "|" in line:  # the licence header lines start with 2 spaces
                    yield line.split("|", 1)[1]


def rst_paragraphs(pattern):
    for path in sorted(glob.glob(os.path.join(pattern, "**", "*.txt"), recursive=True)):
        if os.sep + "translations" + os.sep in path:  # the kernel's Chinese, Japanese, ... pages
            continue
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            text = f.read()
        for paragraph in text.split("\n\n"):
            if paragraph.strip() and not paragraph[:1].isspace() and not paragraph.startswith(".."):
                yield paragraph.replace("\n", " ")


class _Paragraphs(html.parser.HTMLParser):
    """The text of each <p> element of an HTML page (code inside it included, as words)."""

    def __init__(self):
        super().__init__()
        self.paragraphs, self.depth, self.text = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self.depth += 1

    def handle_endtag(self, tag):
        if tag == "p" and self.depth:
            self.depth -= 1
            if not self.depth:
                self.paragraphs.append("".join(self.text))
                self.text = []

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def html_paragraphs(folder):
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.html"), recursive=True)):
        if os.sep + "_" in path[len(folder):]:  # _modules (source code), _static, _images
            continue
        parser = _Paragraphs()
        with open(path, encoding="utf-8", errors="replace") as f:
            parser.feed(f.read())
        yield from parser.paragraphs


def version(package):
    return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True,
                          text=True).stdout or "?"


def main(output):
    missing = [p for p in ("bible",) if subprocess.run(["which", p], capture_output=True).returncode]
    missing += [p for p in (WORDNET, PYTHON_DOCS, DJANGO_DOCS) if not os.path.isdir(p)]
    missing += [] if glob.glob(LINUX_DOCS) else [LINUX_DOCS]
    if missing:
        sys.exit(f"make_big_corpus: error: not found: {', '.join(missing)} "
                 "(sudo apt-get install bible-kjv wordnet-base python3-doc linux-doc python-django-doc)")
    lines = []
    for source in (bible_chapters(), wordnet_glosses(), rst_paragraphs(PYTHON_DOCS),
                   rst_paragraphs(glob.glob(LINUX_DOCS)[0]), html_paragraphs(DJANGO_DOCS)):
        for text in source:
            tokens = tokenize(text, token_min_len=2, token_max_len=15, lower=True)
            if len(tokens) >= 3:
                lines.append(" ".join(tokens))
    random.Random(0).shuffle(lines)
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    tokens = sum(len(line.split()) for line in lines)
    with atomic_path(output + ".LICENSE") as tmp, open(tmp, "w") as f:
        f.write(LICENSE.format(name=os.path.basename(output), kjv=version("bible-kjv-text"),
                               wordnet=version("wordnet-base"), python=version("python3-doc"),
                               linux=version("linux-doc"), django=version("python-django-doc"),
                               lines=len(lines), tokens=tokens))
    print(f"{output}: {len(lines):,} lines, {tokens:,} tokens")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench", "big-corpus.txt"))
