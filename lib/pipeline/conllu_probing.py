"""Probing data from any CoNLL-U file and any Hugging Face transformer, for the template notebook a researcher copies.

The file is read with ``lib.pipeline.corpora.read_conllu`` (bad lines fail with file:line); the labels of a word are
one of its annotation columns (``upos``, ``xpos``, ``feats``, ``deprel``). Sentences are cut to the profile's probe
sizes and split train / dev / test with the profile's seed, as for the project's corpora; activations are extracted
in memory (a CoNLL-U file of a treebank fits). An empty path means the project's UD English EWT test file.
Used in: 08_your_own_model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.pipeline.corpora import UD_FILES, Sentence, ensure_corpus, read_conllu
from lib.pipeline.extraction import ProbeData
from lib.pipeline.profiles import Profile, get_profile
from lib.pipeline.properties import split_sentences
from lib.pipeline.transformer import Transformer, extract

COLUMNS = ("upos", "xpos", "feats", "deprel")


@dataclass(frozen=True)
class ConlluProbing:
    """``data`` (train / dev / test triples of acts [words, neurons], labels, words), the ``sentences`` of each part
    (same order as their rows) and ``path`` of the file read."""

    data: ProbeData
    sentences: dict[str, list[Sentence]]
    path: Path


def conllu_path(path: str = "") -> Path:
    """``path``, or the project's UD EWT test file (fetched from the corpora mirror when missing) when empty."""
    if path:
        return Path(path)
    return ensure_corpus("ud") / UD_FILES[1]


def conllu_probing(transformer: Transformer, path: str, prop: str, profile: str | Profile,
                   aggregation: str = "last", progress: bool = True) -> ConlluProbing:
    """Activations of ``transformer`` and labels of column ``prop`` over the CoNLL-U file ``path`` (empty: UD EWT
    test), split by the profile's probe sizes and seed."""
    if prop not in COLUMNS:
        raise ValueError(f"unknown CoNLL-U property {prop!r}; use one of {', '.join(COLUMNS)}")
    p, file = get_profile(profile), conllu_path(path)
    sentences = read_conllu(file)
    wanted = p.probe.train_sentences + p.probe.dev_sentences + p.probe.test_sentences
    if len(sentences) > wanted:
        keep = np.sort(np.random.default_rng(p.seed).choice(len(sentences), size=wanted, replace=False))
        sentences = [sentences[i] for i in keep]
    split = split_sentences(len(sentences), p)
    parts, chosen = {}, {}
    for name in ("train", "dev", "test"):
        chosen[name] = [sentences[i] for i in getattr(split, name)]
        acts = extract(transformer, chosen[name], aggregation, progress=progress)
        labels = np.array([label for s in chosen[name] for label in getattr(s, prop)])
        parts[name] = (acts, labels, np.array([w for s in chosen[name] for w in s.words]))
    return ConlluProbing(ProbeData(**parts), chosen, file)
