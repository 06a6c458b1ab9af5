"""The linguistic properties probed in the paper: a label for every word of a sentence, and the probing split.

Brown gives ``pos`` (12 universal tags), ``pos_fine`` (Brown tags) and ``morph`` (what a Brown tag says about number,
verb form and degree); UD gives ``upos``, ``xpos``, ``morph`` (FEATS) and ``deprel``; every corpus gives ``position``
and ``month``. Used in: lib.pipeline.extraction (probe data) and notebooks 00-07.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from lib.pipeline.corpora import CORPORA, Sentence
from lib.pipeline.profiles import Profile, get_profile

UNIVERSAL_TAGS = ("NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", "X", ".")

# Brown base tags (no suffix, no "fw-", no "*" negation, no "$" possessive) -> universal tag of Petrov et al. (2012).
# Our own table: NLTK's map_tag("en-brown", "universal") needs the `universal_tagset` resource, which is not installed
# and cannot be downloaded here. Choices follow the Penn Treebank map of the same paper where Brown has an analogue:
# be/do/have/modals are VERB, ordinals (od) ADJ, qualifiers (ql, qlp, wql) and pre-qualifiers (abl) ADV,
# existential "there" (ex) DET, the negator "*" (not, n't) ADV, interjections (uh) and "nil" X.
BROWN_UNIVERSAL: dict[str, str] = {
    **dict.fromkeys(("nn", "nns", "np", "nps", "nr", "nrs"), "NOUN"),
    **dict.fromkeys(("vb", "vbd", "vbg", "vbn", "vbz", "be", "bed", "bedz", "beg", "bem", "ben", "ber", "bez",
                     "do", "dod", "doz", "hv", "hvd", "hvg", "hvn", "hvz", "md"), "VERB"),
    **dict.fromkeys(("jj", "jjr", "jjs", "jjt", "od"), "ADJ"),
    **dict.fromkeys(("rb", "rbr", "rbt", "rn", "ql", "qlp", "wql", "wrb", "abl", "*"), "ADV"),
    **dict.fromkeys(("pn", "pp$", "pp$$", "ppl", "ppls", "ppo", "pps", "ppss", "wp$", "wpo", "wps"), "PRON"),
    **dict.fromkeys(("at", "abn", "abx", "ap", "dt", "dti", "dts", "dtx", "wdt", "ex"), "DET"),
    "in": "ADP",
    **dict.fromkeys(("cc", "cs"), "CONJ"),
    "cd": "NUM",
    **dict.fromkeys(("to", "rp"), "PRT"),
    **dict.fromkeys(("uh", "nil"), "X"),
}

# Brown base tag -> what it says about number, verb form/tense or degree; any other tag says "none".
BROWN_MORPH: dict[str, str] = {
    **dict.fromkeys(("nn", "np", "nr"), "noun:sg"),
    **dict.fromkeys(("nns", "nps", "nrs"), "noun:pl"),
    **dict.fromkeys(("vb", "be", "do", "hv"), "verb:base"),
    **dict.fromkeys(("bem", "ber"), "verb:pres"),
    **dict.fromkeys(("vbz", "bez", "doz", "hvz"), "verb:pres3sg"),
    **dict.fromkeys(("vbd", "bed", "bedz", "dod", "hvd"), "verb:past"),
    **dict.fromkeys(("vbg", "beg", "hvg"), "verb:ger"),
    **dict.fromkeys(("vbn", "ben", "hvn"), "verb:part"),
    "jj": "adj:pos", "jjr": "adj:cmp", "jjs": "adj:sup", "jjt": "adj:sup",
    "rb": "adv:pos", "rbr": "adv:cmp", "rbt": "adv:sup",
}

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
MONTH_ABBREVIATIONS = ("jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.",
                       "dec.")
_SUFFIXES = re.compile(r"(-(tl|hl|nc|t|n))+$")


@dataclass(frozen=True)
class Property:
    """A linguistic property: its name, the corpora that have it, what it is, and how to label a sentence's words.

    ``needs`` names the Sentence annotation columns the labels come from; a sentence must have one of them
    (empty: words alone suffice).
    """

    name: str
    corpora: tuple[str, ...]
    description: str
    label_words: Callable[[Sentence], list[str]]
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Split:
    """Disjoint sorted sentence indices for probe training, model selection and testing (each an int64 array)."""

    train: np.ndarray
    dev: np.ndarray
    test: np.ndarray


def brown_fine(tag: str) -> str:
    """A Brown tag without its title/headline/not-cited suffixes (-tl, -hl, -nc) and without the foreign-word prefix.

    ``fw-`` marks a foreign word and precedes the tag of its function (``fw-nn`` -> ``nn``); the universal ``pos``
    keeps foreign words apart as X instead. Also strips the corpus's few truncated suffixes (-t, -n).
    """
    return _SUFFIXES.sub("", tag.removeprefix("fw-"))


@functools.lru_cache(maxsize=None)
def brown_universal(tag: str) -> str:
    """The universal tag of a Brown tag: foreign words X, punctuation ".", else the head (first) part of the tag.

    Contractions get the tag of their first part (``pps+bez`` "he's" -> PRON). An unknown tag raises ``ValueError``.
    """
    if tag.startswith("fw-"):
        return "X"
    base = _base(tag)
    if not any(c.isalpha() for c in base) and base != "*":
        return "."
    try:
        return BROWN_UNIVERSAL[base]
    except KeyError:
        raise ValueError(f"unknown Brown tag {tag!r} (base {base!r}); known bases: "
                         f"{', '.join(sorted(BROWN_UNIVERSAL))}") from None


@functools.lru_cache(maxsize=None)
def brown_morph(tag: str) -> str:
    """What a Brown tag says about noun number (noun:sg/pl), verb form (verb:base/pres/pres3sg/past/ger/part) or
    degree (adj:pos/cmp/sup, adv:pos/cmp/sup); "none" where it says nothing. Contractions are read by their first
    part, foreign words by their function tag (``fw-nns`` -> noun:pl), negated verbs as the verb (``bez*``)."""
    return BROWN_MORPH.get(_base(brown_fine(tag)), "none")


def _base(tag: str) -> str:
    """The first part of a (suffix-free) compound tag, without negation ``*`` or possessive ``$``."""
    head = brown_fine(tag).split("+")[0]
    if head in ("*", "pp$", "pp$$", "wp$"):
        return head
    return head.rstrip("*").removesuffix("$") or head


def position_labels(sentence: Sentence) -> list[str]:
    """``begin`` for the first word, ``end`` for the last, ``middle`` for the rest; a one-word sentence is ``begin``.

    Punctuation counts as a word, so in Brown the ``end`` word is usually the final full stop.
    """
    n = len(sentence.words)
    return ["begin" if i == 0 else "end" if i == n - 1 else "middle" for i in range(n)]


def is_month(word: str) -> bool:
    """Whether ``word`` names a month: a full name starting with a capital ("May", "MAY"; lower-case "may" and
    "march" are not months), or an abbreviation with its full stop ("Jan.", "Sept."). "May" at the start of a
    sentence is taken as a month (the ambiguity is rare and accepted)."""
    lower = word.lower()
    return word[:1].isupper() and (lower in MONTHS or lower in MONTH_ABBREVIATIONS)


def month_labels(sentence: Sentence) -> list[str]:
    """``month`` for month names (see :func:`is_month`), ``other`` for every other word."""
    return ["month" if is_month(w) else "other" for w in sentence.words]


PROPERTIES: dict[str, Property] = {p.name: p for p in (
    Property("pos", ("brown",), "coarse part of speech: the 12 universal tags of Petrov et al. mapped from Brown tags",
             lambda s: [brown_universal(t) for t in s.tags], ("tags",)),
    Property("pos_fine", ("brown",), "fine part of speech: the Brown tag without -tl/-hl/-nc and fw-",
             lambda s: [brown_fine(t) for t in s.tags], ("tags",)),
    Property("upos", ("ud",), "UD universal part of speech (17 tags)", lambda s: list(s.upos), ("upos",)),
    Property("xpos", ("ud",), "Penn Treebank part of speech (UD XPOS)", lambda s: list(s.xpos), ("xpos",)),
    Property("morph", ("brown", "ud"),
             "morphology: Brown — number, verb form, degree from the tag ('none' otherwise); UD — the FEATS bundle",
             lambda s: [brown_morph(t) for t in s.tags] if s.tags is not None else list(s.feats), ("tags", "feats")),
    Property("deprel", ("ud",), "dependency relation to the head, without subtype (nmod:poss -> nmod)",
             lambda s: [r.split(":")[0] for r in s.deprel], ("deprel",)),
    Property("position", CORPORA, "position in the sentence: begin / middle / end", position_labels),
    Property("month", CORPORA, "month names vs. every other word", month_labels),
)}


def get_property(name: str | Property) -> Property:
    """The property called ``name``; an unknown name raises a ``KeyError`` listing the known ones."""
    if isinstance(name, Property):
        return name
    try:
        return PROPERTIES[name]
    except KeyError:
        raise KeyError(f"unknown property {name!r}; known properties: {', '.join(PROPERTIES)}") from None


def properties_for(corpus: str) -> list[str]:
    """Names of the properties that corpus ``corpus`` has labels for (unknown corpus: ``KeyError``)."""
    if corpus not in CORPORA:
        raise KeyError(f"unknown corpus {corpus!r}; known corpora: {', '.join(CORPORA)}")
    return [name for name, p in PROPERTIES.items() if corpus in p.corpora]


def labels(prop: str | Property, sentences: Sequence[Sentence]) -> list[list[str]]:
    """One label per word of each sentence for property ``prop``.

    A property whose annotation the sentences lack (``upos`` of Brown sentences) raises a ``ValueError``.
    Used in: lib.pipeline.extraction.probe_data and notebooks 00-07.
    """
    prop = get_property(prop)
    for s in sentences:
        if prop.needs and all(getattr(s, column) is None for column in prop.needs):
            raise ValueError(f"property {prop.name!r} (corpora: {', '.join(prop.corpora)}) needs annotation "
                             f"{' or '.join(prop.needs)}, which sentences from {s.source} lack; their corpus has "
                             f"properties {', '.join(properties_for(_corpus_of(s)))}")
    return [prop.label_words(s) for s in sentences]


def label_counts(prop: str | Property, sentences: Sequence[Sentence]) -> Counter:
    """How many words carry each label of property ``prop``. Used in: 00_data_and_models."""
    return Counter(label for sentence_labels in labels(prop, sentences) for label in sentence_labels)


def _corpus_of(sentence: Sentence) -> str:
    return "brown" if sentence.tags is not None else "ud"


def split_sentences(n_sentences: int, profile: str | Profile, seed: int | None = None) -> Split:
    """A seeded split of ``n_sentences`` sentence indices into disjoint train / dev / test index arrays.

    Sizes are ``profile.probe.{train,dev,test}_sentences``. When they add up to more than ``n_sentences``, each
    shrinks to ``floor(size * n_sentences / total)`` and the sentences this rounding leaves over go to train, so the
    whole corpus is used. ``seed`` defaults to ``profile.seed``. Used in: lib.pipeline.extraction.probe_data.
    """
    probe = get_profile(profile).probe
    if n_sentences < 3:
        raise ValueError(f"cannot split {n_sentences} sentences into train, dev and test; need at least 3")
    sizes = np.array([probe.train_sentences, probe.dev_sentences, probe.test_sentences])
    if sizes.sum() > n_sentences:
        sizes = np.maximum(sizes * n_sentences // sizes.sum(), 1)
        sizes[0] = n_sentences - sizes[1:].sum()
    order = np.random.default_rng(get_profile(profile).seed if seed is None else seed).permutation(n_sentences)
    train, dev, test = np.split(order[:sizes.sum()], np.cumsum(sizes)[:2])
    return Split(train=np.sort(train), dev=np.sort(dev), test=np.sort(test))


UNIVERSAL_CLOSED = frozenset({".", "DET", "PRON", "ADP", "CONJ", "PRT", "NUM", "PUNCT", "CCONJ", "SCONJ", "PART",
                              "AUX", "SYM"})
UNIVERSAL_OPEN = frozenset({"NOUN", "VERB", "ADJ", "ADV", "PROPN"})


def word_class(prop: str, label: str) -> str:
    """``"closed"`` (function words, punctuation, months), ``"open"`` (nouns, verbs, adjectives, adverbs) or
    ``"other"`` for a label of property ``prop``: the paper expects closed classes to need fewer neurons.

    Universal tags (``pos``, ``upos``) are read directly, Brown tags (``pos_fine``) through their universal tag,
    the ``month`` label is closed; labels of other properties (position, morphology) are ``"other"``.
    """
    if prop == "month":
        return "closed" if label == "month" else "other"
    if prop == "pos_fine":
        try:
            label = brown_universal(label)
        except ValueError:
            return "other"
    elif prop not in ("pos", "upos"):
        return "other"
    return "closed" if label in UNIVERSAL_CLOSED else "open" if label in UNIVERSAL_OPEN else "other"
