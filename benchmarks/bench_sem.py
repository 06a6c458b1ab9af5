"""Speed of the ``sem`` property (WordNet supersenses), and its label distribution.

Ours (``lib.pipeline.properties.labels("sem", ...)``) looks each distinct (word, part of speech) type up once;
the baseline looks up every token (``lib.pipeline.wordnet.supersense`` per word, no cache), as a per-sentence
labeller would. Both run on the same sentences in the same process after WordNet is opened (timed apart), their
labels are checked equal, and the ratio is printed. Then all of Brown is labelled, and the label distribution of
the profile's Brown slice is printed (share of words per label; these are automatic labels, not gold).

Run: ``.venv/bin/python benchmarks/bench_sem.py --profile demo`` (the demo slice: 6,000 Brown sentences).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.pipeline import wordnet  # noqa: E402
from lib.pipeline.corpora import full_corpus, load_corpus  # noqa: E402
from lib.pipeline.properties import WORDNET_POS, _sem_coarse, _sem_word, labels  # noqa: E402


def per_token(sentences) -> list[list[str]]:
    """The baseline: one WordNet lookup per token, with the same rules as ``sem``."""
    result = []
    for s in sentences:
        row = []
        for word, tag, coarse in zip(s.words, s.tags or ("",) * len(s), _sem_coarse(s)):
            pos = WORDNET_POS.get(coarse)
            sense = wordnet.supersense(_sem_word(word, tag), pos) if pos else None
            row.append(sense or (f"{wordnet.POS_NAMES[pos]}.none" if pos else coarse))
        result.append(row)
    return result


def timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    args = parser.parse_args()
    sentences = load_corpus("brown", args.profile)
    n_words = sum(len(s) for s in sentences)
    _, opening = timed(lambda: (wordnet.wordnet_reader(), wordnet.first_senses()))
    print(f"open WordNet 3.1 (NLTK reader + index.sense): {opening:.1f} s")
    baseline, t_baseline = timed(per_token, sentences)
    ours, t_ours = timed(labels, "sem", sentences)
    assert ours == baseline, "the type-level labelling differs from the per-token one"
    print(f"Brown {args.profile} slice: {len(sentences)} sentences, {n_words} words")
    print(f"  per token (baseline): {t_baseline:.2f} s   per type (ours, cold cache): {t_ours:.2f} s   "
          f"ratio {t_baseline / t_ours:.1f}x")
    brown = full_corpus("brown")
    _, t_all = timed(labels, "sem", brown)
    print(f"all of Brown: {len(brown)} sentences, {sum(len(s) for s in brown)} words labelled in {t_all:.1f} s")
    counts = Counter(label for row in ours for label in row)
    print(f"label distribution on the {args.profile} slice ({len(counts)} labels; automatic, not gold):")
    for label, count in counts.most_common():
        print(f"  {label:20s} {count:7d}  {count / n_words:6.2%}")


if __name__ == "__main__":
    main()
