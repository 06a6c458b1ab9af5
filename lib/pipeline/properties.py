"""The linguistic properties probed in the paper: a label for every word of a sentence, and the probing split.

Brown gives ``pos`` (12 universal tags), ``pos_fine`` (Brown tags) and ``morph`` (what a Brown tag says about number,
verb form and degree); UD and any CoNLL-U file give ``upos``, ``xpos``, ``morph`` (FEATS) and ``deprel``; every corpus
gives ``position`` and ``month``; English corpora give ``sem`` (automatic WordNet supersenses, the paper's SEM
stand-in). Custom properties are named, not registered: ``column:<CoNLL-U column>``, ``feat:<feature>`` and
``labels:<path of a label file>`` (see :func:`get_property`). Used in: lib.pipeline.extraction (probe data) and
notebooks 00-08.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from lib.pipeline.corpora import CORPORA, CorpusFormatError, Sentence, corpus_path, full_corpus
from lib.pipeline.wordnet import POS_NAMES, supersenses
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
    (empty: words alone suffice). ``gold`` is False for labels a program assigned (``sem``), so every table can say
    they are automatic; their ``description`` says it too. ``label_sentences``, when set, labels many sentences at
    once (vectorised over word types) and replaces ``label_words`` in :func:`labels`.
    """

    name: str
    corpora: tuple[str, ...]
    description: str
    label_words: Callable[[Sentence], list[str]]
    needs: tuple[str, ...] = ()
    gold: bool = True
    label_sentences: Callable[[Sequence[Sentence]], list[list[str]]] | None = None


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


# Parts of speech whose words get a WordNet supersense: universal (Brown) and UPOS (UD) open classes.
WORDNET_POS = {"NOUN": "n", "PROPN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}
# Brown tags of auxiliaries, copulas and modals (be, do, have, modals): closed class AUX, as UD tags them.
_BROWN_AUX = re.compile(r"(be|bed|bedz|beg|bem|ben|ber|bez|do|dod|doz|hv|hvd|hvg|hvn|hvz|md)\*?")


def sem_labels(sentences: Sequence[Sentence]) -> list[list[str]]:
    """Automatic semantic classes: the WordNet 3.1 supersense of each open-class word's most frequent sense for its
    gold part of speech (``dog``/NOUN -> noun.animal); see :func:`lib.pipeline.wordnet.supersense`. Brown
    possessives are looked up without their 's.

    The part of speech comes from the gold tag (Brown: its universal tag; UD: UPOS, PROPN as a noun). Closed-class
    words keep their coarse tag as their label (DET, ADP, PRON, CONJ/CCONJ, NUM, punctuation, ...), and auxiliaries,
    copulas and modals (Brown be/do/have/md, UD AUX) are AUX: the paper's SEM tags likewise give function words
    classes of their own, and WordNet's senses of "be", "have" or "will" would mislabel their auxiliary uses. An
    open-class word WordNet lacks gets ``<noun|verb|adj|adv>.none``, so a missing entry is visible, not guessed.
    Vectorised over word types. Used in: the ``sem`` property, notebooks 01, 04, 05.
    """
    coarse = [_sem_coarse(s) for s in sentences]
    flat = [tag for tags in coarse for tag in tags]
    pos = [WORDNET_POS.get(tag) for tag in flat]
    words = [_sem_word(w, t) for s in sentences for w, t in zip(s.words, s.tags or ("",) * len(s))]
    senses = supersenses(words, pos)
    missing = np.array([f"{POS_NAMES[p]}.none" if p else tag for p, tag in zip(pos, flat)], dtype=object)
    chosen = np.where(senses.astype(bool), senses, missing).tolist()
    bounds = np.cumsum([0] + [len(s) for s in sentences])
    return [chosen[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _sem_word(word: str, tag: str) -> str:
    """The word WordNet is asked about: a Brown possessive (tag ending in $) without its 's (Atlanta's -> Atlanta)."""
    return re.sub(r"'s?$", "", word) if tag.endswith("$") else word


def _sem_coarse(sentence: Sentence) -> list[str]:
    return [_brown_sem_coarse(t) for t in sentence.tags] if sentence.tags is not None else list(sentence.upos)


@functools.lru_cache(maxsize=None)
def _brown_sem_coarse(tag: str) -> str:
    """A Brown tag's coarse class for ``sem``: AUX for be/do/have/modals, else its universal tag."""
    return "AUX" if _BROWN_AUX.fullmatch(brown_fine(tag).split("+")[0]) else brown_universal(tag)


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
    Property("sem", CORPORA, "semantic class, AUTOMATIC (not gold): the WordNet 3.1 supersense of the word's most "
             "frequent sense for its gold part of speech (noun.person, verb.motion, ...); closed classes keep their "
             "coarse tag, words WordNet lacks are <pos>.none — a stand-in for the paper's gold SEM tags",
             lambda s: sem_labels([s])[0], ("tags", "upos"), gold=False, label_sentences=sem_labels),
)}
# Properties that only make sense for English text (a CoNLL-U file of another language does not offer them).
ENGLISH_ONLY = ("sem", "month")
CONLLU_COLUMNS = {"lemma": "lemmas", "upos": "upos", "xpos": "xpos", "feats": "feats", "head": "heads",
                  "deprel": "deprel", "deps": "deps", "misc": "misc"}


def get_property(name: str | Property) -> Property:
    """The property called ``name``: a known one, or a custom one by its name.

    ``column:<c>``: the raw CoNLL-U column ``c`` (lemma, upos, xpos, feats, head, deprel, deps, misc);
    ``feat:<F>``: the value of morphological feature ``F`` in FEATS (``Number`` -> Sing / Plur), ``_`` without it;
    ``labels:<path>``: a label file, one line per sentence of the whole corpus in corpus order with one
    whitespace-separated label per word, or, for a ``.tsv`` file, one ``word<TAB>label`` line per word and a blank
    line after each sentence (the words are checked). An unknown name raises a ``KeyError`` listing the known ones.
    """
    if isinstance(name, Property):
        return name
    if name in PROPERTIES:
        return PROPERTIES[name]
    kind, _, arg = name.partition(":")
    if kind == "column" and arg in CONLLU_COLUMNS:
        column = CONLLU_COLUMNS[arg]
        return Property(name, (), f"the CoNLL-U {arg.upper()} column as it is in the file",
                        lambda s: [str(v) for v in getattr(s, column)], (column,))
    if kind == "feat" and arg:
        return Property(name, (), f"the value of the morphological feature {arg} (FEATS), '_' where absent",
                        lambda s: [_feature(f, arg) for f in s.feats], ("feats",))
    if kind == "labels" and arg:
        path = os.path.abspath(arg)
        table = _label_file(path, os.stat(path).st_mtime_ns if os.path.isfile(path) else None)
        return Property(name, (), f"labels from the file {arg} (user-supplied)", lambda s: _file_labels(table, s))
    raise KeyError(f"unknown property {name!r}; known properties: {', '.join(PROPERTIES)}, or column:<"
                   f"{'|'.join(CONLLU_COLUMNS)}>, feat:<feature>, labels:<path of a label file>")


def property_id(prop: str | Property) -> str:
    """A file-name-safe identifier of a property for cache keys and folders: its name, and for a label file
    ``labels-<file stem>-<first 12 hex digits of its SHA-256>``, so an edited label file is a new property."""
    name = get_property(prop).name
    if name.startswith("labels:"):
        path = Path(name.partition(":")[2])
        return f"labels-{_safe(path.stem)}-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
    return _safe(name)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def _feature(feats: str, feature: str) -> str:
    """The value of ``feature`` in a FEATS bundle ``A=x|B=y``, ``_`` where absent."""
    for pair in feats.split("|"):
        key, _, value = pair.partition("=")
        if key == feature:
            return value
    return "_"


@dataclass(frozen=True)
class _LabelFile:
    path: str
    labels: tuple[tuple[str, ...], ...]
    words: tuple[tuple[str, ...], ...] | None
    lines: tuple[int, ...]


@functools.lru_cache(maxsize=16)
def _label_file(path: str, mtime_ns: int | None) -> _LabelFile:
    """Read a label file (see :func:`get_property`): labels per sentence, words (TSV only), first line of each;
    cached per modification time, so an edited file is read again."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        raise FileNotFoundError(f"label file {path}: {e.strerror}") from e
    if not path.endswith(".tsv"):
        lines = text.splitlines()
        return _LabelFile(path, tuple(tuple(line.split()) for line in lines), None, tuple(range(1, len(lines) + 1)))
    labels, words, starts, block = [], [], [], []
    for number, line in enumerate(text.splitlines() + [""], start=1):
        if line.strip():
            if line.count("\t") != 1:
                raise CorpusFormatError(f"{path}:{number}: a label TSV line is word<TAB>label, got {line[:80]!r}")
            block.append((number, *line.split("\t")))
        elif block:
            starts.append(block[0][0])
            words.append(tuple(w for _, w, _ in block))
            labels.append(tuple(label for _, _, label in block))
            block = []
    return _LabelFile(path, tuple(labels), tuple(words), tuple(starts))


def _file_labels(table: _LabelFile, sentence: Sentence) -> list[str]:
    """The labels of ``sentence`` (by its corpus ``number``) from a label file, checked against its words."""
    n = sentence.number
    if n is None:
        raise ValueError(f"label file {table.path}: sentence from {sentence.source} has no corpus number; load it "
                         f"with lib.pipeline.corpora.load_corpus or full_corpus")
    if n >= len(table.labels):
        raise CorpusFormatError(f"{table.path}: has {len(table.labels)} sentences, but the corpus has sentence "
                                f"{n + 1} ({sentence.source}: {' '.join(sentence.words[:8])} ...)")
    found, line = table.labels[n], table.lines[n]
    if len(found) != len(sentence.words) or (table.words is not None and table.words[n] != sentence.words):
        raise CorpusFormatError(f"{table.path}:{line}: sentence {n + 1} ({sentence.source}: "
                                f"{' '.join(sentence.words[:8])} ...) has {len(sentence.words)} words, the label "
                                f"file gives {len(found)} labels" +
                                ("" if table.words is None or len(found) != len(sentence.words) else
                                 " for different words"))
    return list(found)


def properties_for(corpus: str | os.PathLike) -> list[str]:
    """Names of the properties that ``corpus`` ("brown", "ud" or a corpus path) has labels for.

    For a path: the properties whose annotation its sentences carry, English-only ones (``sem``, ``month``) only
    when the file name starts with ``en`` (the UD convention, ``en_ewt-ud-test.conllu``) or for a Brown-format
    folder. An unknown corpus raises a ``KeyError`` listing the known ones.
    """
    if str(corpus) in CORPORA:
        return [name for name, p in PROPERTIES.items() if str(corpus) in p.corpora]
    path = corpus_path(corpus)
    columns = set(full_corpus(path)[0].columns()) if full_corpus(path) else set()
    english = path.is_dir() or path.name.lower().startswith("en")
    return [name for name, p in PROPERTIES.items()
            if (not p.needs or columns & set(p.needs)) and (english or name not in ENGLISH_ONLY)]


def labels(prop: str | Property, sentences: Sequence[Sentence]) -> list[list[str]]:
    """One label per word of each sentence for property ``prop``.

    A property whose annotation the sentences lack (``upos`` of Brown sentences) raises a ``ValueError``.
    Used in: lib.pipeline.extraction.probe_data and notebooks 00-08.
    """
    prop = get_property(prop)
    for s in sentences:
        if prop.needs and all(getattr(s, column) is None for column in prop.needs):
            raise ValueError(f"property {prop.name!r} (corpora: {', '.join(prop.corpora) or 'any with it'}) needs "
                             f"annotation {' or '.join(prop.needs)}, which sentences from {s.source} lack; their "
                             f"corpus has properties {', '.join(properties_for(_corpus_of(s)))}")
    if prop.label_sentences is not None:
        return prop.label_sentences(sentences)
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
    ``sem`` supersenses (noun.person, ... and noun.none) are open and its coarse tags closed, the ``month`` label is
    closed; labels of other properties (position, morphology) are ``"other"``.
    """
    if prop == "month":
        return "closed" if label == "month" else "other"
    if prop == "sem":
        return "open" if label.split(".")[0] in POS_NAMES.values() else \
            "closed" if label in UNIVERSAL_CLOSED else "other"
    if prop == "pos_fine":
        try:
            label = brown_universal(label)
        except ValueError:
            return "other"
    elif prop not in ("pos", "upos"):
        return "other"
    return "closed" if label in UNIVERSAL_CLOSED else "open" if label in UNIVERSAL_OPEN else "other"
