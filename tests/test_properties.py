"""Properties: hand-checked labels on real Brown and EWT sentences, helpful errors, the seeded probing split."""
import numpy as np
import pytest

from lib.pipeline import properties
from lib.pipeline.corpora import Sentence, read_brown, read_conllu
from lib.pipeline.properties import labels, split_sentences

# The first two sentences of Brown file ca01 (shortened after the tokens checked) and of EWT dev, verbatim.
BROWN_CA01 = (
    "\n\n\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn "
    "of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd ``/`` no/at evidence/nn ''/'' that/cs "
    "any/dti irregularities/nns took/vbd place/nn ./.\n\n\n"
    "\tThe/at jury/nn further/rbr said/vbd in/in term-end/nn presentments/nns that/cs the/at City/nn-tl "
    "Executive/jj-tl Committee/nn-tl ,/, which/wdt had/hvd over-all/jj charge/nn of/in the/at election/nn ,/, "
    "``/`` deserves/vbz the/at praise/nn ./.\n"
)
EWT_DEV = """# sent_id = weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0001
# text = From the AP comes this story :
1\tFrom\tfrom\tADP\tIN\t_\t3\tcase\t3:case\t_
2\tthe\tthe\tDET\tDT\tDefinite=Def|PronType=Art\t3\tdet\t3:det\t_
3\tAP\tAP\tPROPN\tNNP\tNumber=Sing\t4\tobl\t4:obl:from\t_
4\tcomes\tcome\tVERB\tVBZ\tMood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin\t0\troot\t0:root\t_
5\tthis\tthis\tDET\tDT\tNumber=Sing|PronType=Dem\t6\tdet\t6:det\t_
6\tstory\tstory\tNOUN\tNN\tNumber=Sing\t4\tnsubj\t4:nsubj\t_
7\t:\t:\tPUNCT\t:\t_\t4\tpunct\t4:punct\t_

# sent_id = weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0002
# text = President Bush on Tuesday nominated two individuals
1\tPresident\tPresident\tPROPN\tNNP\tNumber=Sing\t2\tnmod:desc\t2:nmod:desc\t_
2\tBush\tBush\tPROPN\tNNP\tNumber=Sing\t5\tnsubj\t5:nsubj\t_
3\ton\ton\tADP\tIN\t_\t4\tcase\t4:case\t_
4\tTuesday\tTuesday\tPROPN\tNNP\tNumber=Sing\t5\tobl\t5:obl:on\t_
5\tnominated\tnominate\tVERB\tVBD\tMood=Ind|Number=Sing|Person=3|Tense=Past|VerbForm=Fin\t0\troot\t0:root\t_
6\ttwo\ttwo\tNUM\tCD\tNumForm=Word|NumType=Card\t7\tnummod\t7:nummod\t_
7\tindividuals\tindividual\tNOUN\tNNS\tNumber=Plur\t5\tobj\t5:obj\t_
"""


@pytest.fixture
def brown(tmp_path):
    (tmp_path / "ca01").write_text(BROWN_CA01)
    return read_brown(tmp_path)


@pytest.fixture
def ud(tmp_path):
    (tmp_path / "dev.conllu").write_text(EWT_DEV)
    return read_conllu(tmp_path / "dev.conllu")


def words(sentences):
    return [list(s.words) for s in sentences]


def test_brown_pos_maps_to_the_12_universal_tags(brown):
    pos = labels("pos", brown)
    assert pos[0][:12] == ["DET", "NOUN", "NOUN", "ADJ", "NOUN", "VERB", "NOUN", "DET", "NOUN", "ADP", "NOUN", "ADJ"]
    assert pos[0][15:21] == [".", "DET", "NOUN", ".", "CONJ", "DET"]
    assert pos[1][:4] == ["DET", "NOUN", "ADV", "VERB"] and pos[1][13] == "DET"
    assert set(properties.BROWN_UNIVERSAL.values()) | {"."} == set(properties.UNIVERSAL_TAGS)


def test_brown_pos_of_compound_foreign_and_negated_tags():
    assert properties.brown_universal("pps+bez") == "PRON"
    assert properties.brown_universal("fw-nn-tl") == "X"
    assert properties.brown_universal("md*") == "VERB"
    assert properties.brown_universal("*") == "ADV"
    assert properties.brown_universal("---hl") == "."
    with pytest.raises(ValueError, match="unknown Brown tag 'zz'"):
        properties.brown_universal("zz")


def test_brown_pos_fine_drops_suffixes_and_foreign_prefix(brown):
    fine = labels("pos_fine", brown)
    assert fine[0][:7] == ["at", "np", "nn", "jj", "nn", "vbd", "nr"] and fine[0][10] == "np$"
    assert [properties.brown_fine(t) for t in ("nn-tl-hl", "fw-in+at-tl", "ppss+ber-n", "vbn-nc", "--")] == \
        ["nn", "in+at", "ppss+ber", "vbn", "--"]


def test_brown_morph_reads_number_verb_form_and_degree(brown):
    morph = labels("morph", brown)
    assert morph[0][:7] == ["none", "noun:sg", "noun:sg", "adj:pos", "noun:sg", "verb:past", "noun:sg"]
    assert morph[0][10:12] == ["noun:sg", "adj:pos"] and morph[0][21] == "noun:pl"
    assert morph[1][2] == "adv:cmp" and morph[1][6] == "noun:pl" and morph[1][14] == "verb:past"
    assert morph[1][-4] == "verb:pres3sg"
    assert [properties.brown_morph(t) for t in ("bez*", "ben", "jjt", "ppss+ber", "md")] == \
        ["verb:pres3sg", "verb:part", "adj:sup", "none", "none"]


def test_ud_properties(ud):
    assert labels("upos", ud)[0] == ["ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT"]
    assert labels("xpos", ud)[1] == ["NNP", "NNP", "IN", "NNP", "VBD", "CD", "NNS"]
    assert labels("morph", ud)[0][:3] == ["_", "Definite=Def|PronType=Art", "Number=Sing"]
    assert labels("deprel", ud) == [["case", "det", "obl", "root", "det", "nsubj", "punct"],
                                    ["nmod", "nsubj", "case", "obl", "root", "nummod", "obj"]]


def test_position_is_first_last_and_the_rest(ud):
    assert labels("position", ud)[0] == ["begin"] + ["middle"] * 5 + ["end"]
    short = [Sentence(words=("Yes",), source="s"), Sentence(words=("Go", "!"), source="s")]
    assert labels("position", short) == [["begin"], ["begin", "end"]]


def test_month_names_are_capitalised_names_or_abbreviations_with_a_full_stop(ud):
    sentence = Sentence(words=("In", "May", "you", "may", "march", "in", "March", "or", "Sept.", "or", "Jan",
                               "JUNE"), source="s")
    assert labels("month", [sentence])[0] == ["other", "month", "other", "other", "other", "other", "month",
                                              "other", "month", "other", "other", "month"]
    assert set(labels("month", ud)[1]) == {"other"}


def test_properties_per_corpus_and_unknown_names():
    assert properties.properties_for("brown") == ["pos", "pos_fine", "morph", "position", "month", "sem"]
    assert properties.properties_for("ud") == ["upos", "xpos", "morph", "deprel", "position", "month", "sem"]
    with pytest.raises(KeyError, match="known properties: pos, pos_fine, upos.*column:<lemma|upos.*labels:<path"):
        labels("tense", [])
    with pytest.raises(KeyError, match="known properties"):
        labels("column:form", [])
    with pytest.raises(KeyError, match="known: brown, ud, or the path of a CoNLL-U file"):
        properties.properties_for("ptb")


def test_property_of_a_corpus_without_its_annotation_is_a_value_error(brown, ud):
    with pytest.raises(ValueError, match="'upos'.*sentences from ca01 lack.*pos, pos_fine"):
        labels("upos", brown)
    with pytest.raises(ValueError, match="'pos_fine'.*needs annotation tags"):
        labels("pos_fine", ud)


def test_split_is_seeded_disjoint_and_profile_sized():
    split = split_sentences(1000, "tiny")
    assert (len(split.train), len(split.dev), len(split.test)) == (200, 50, 100)
    everything = np.concatenate([split.train, split.dev, split.test])
    assert len(np.unique(everything)) == 350 and everything.max() < 1000
    again = split_sentences(1000, "tiny")
    assert all(np.array_equal(a, b) for a, b in zip((split.train, split.dev, split.test),
                                                     (again.train, again.dev, again.test)))
    other = split_sentences(1000, "tiny", seed=14)
    assert not np.array_equal(split.test, other.test)
    assert np.all(np.diff(split.train) > 0)


def test_split_shrinks_proportionally_on_a_small_corpus():
    split = split_sentences(300, "tiny")
    assert (len(split.train), len(split.dev), len(split.test)) == (173, 42, 85)
    assert len(np.unique(np.concatenate([split.train, split.dev, split.test]))) == 300
    with pytest.raises(ValueError, match="need at least 3"):
        split_sentences(2, "tiny")


def test_word_classes_of_the_paper_closed_and_open_labels():
    assert properties.word_class("pos", ".") == "closed" and properties.word_class("pos", "DET") == "closed"
    assert properties.word_class("pos", "NOUN") == "open" and properties.word_class("pos", "X") == "other"
    assert properties.word_class("pos_fine", "wdt") == "closed" and properties.word_class("pos_fine", "nns") == "open"
    assert properties.word_class("month", "month") == "closed" and properties.word_class("month", "other") == "other"
    assert properties.word_class("position", "begin") == "other"

    assert properties.word_class("sem", "noun.person") == "open" and properties.word_class("sem", "AUX") == "closed"
    assert properties.word_class("sem", "noun.none") == "open" and properties.word_class("sem", "X") == "other"


# ---------------------------------------------------------------- custom properties

def test_any_conllu_column_and_feature_is_a_property(ud):
    assert labels("column:lemma", ud)[0] == ["from", "the", "AP", "come", "this", "story", ":"]
    assert labels("column:head", ud)[0] == ["3", "3", "4", "0", "6", "4", "4"]
    assert labels("column:deps", ud)[0][2] == "4:obl:from"
    assert labels("feat:Number", ud)[1] == ["Sing", "Sing", "_", "Sing", "Sing", "_", "Plur"]
    assert labels("feat:Tense", ud)[1][4] == "Past"
    assert properties.get_property("feat:Number").gold


@pytest.fixture
def own_data(monkeypatch, tmp_path):
    """A temporary data folder: reading a corpus by path caches its sentences under ``corpora/cache``."""
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path / "data"))


def test_label_file_one_line_per_sentence(tmp_path, own_data):
    (tmp_path / "dev.conllu").write_text(EWT_DEV)
    corpus = tmp_path / "dev.conllu"
    from lib.pipeline.corpora import full_corpus
    sentences = full_corpus(corpus)
    (tmp_path / "animacy.txt").write_text("o o o o o o o\nhuman human o o o o human\n")
    prop = f"labels:{tmp_path / 'animacy.txt'}"
    assert labels(prop, sentences) == [["o"] * 7, ["human", "human", "o", "o", "o", "o", "human"]]
    assert labels(prop, sentences[1:]) == [["human", "human", "o", "o", "o", "o", "human"]]


def test_label_file_with_a_wrong_count_names_the_sentence_and_line(tmp_path, own_data):
    (tmp_path / "dev.conllu").write_text(EWT_DEV)
    from lib.pipeline.corpora import CorpusFormatError, full_corpus
    sentences = full_corpus(tmp_path / "dev.conllu")
    (tmp_path / "bad.txt").write_text("o o o o o o o\nhuman human o\n")
    with pytest.raises(CorpusFormatError, match=r"bad\.txt:2: sentence 2 \(dev\.conllu: President Bush on .*\) has 7 "
                                                r"words, the label file gives 3 labels"):
        labels(f"labels:{tmp_path / 'bad.txt'}", sentences)
    (tmp_path / "short.txt").write_text("o o o o o o o\n")
    with pytest.raises(CorpusFormatError, match=r"short\.txt: has 1 sentences, but the corpus has sentence 2"):
        labels(f"labels:{tmp_path / 'short.txt'}", sentences)


def test_label_tsv_checks_the_words(tmp_path, own_data):
    (tmp_path / "dev.conllu").write_text(EWT_DEV)
    from lib.pipeline.corpora import CorpusFormatError, full_corpus
    sentences = full_corpus(tmp_path / "dev.conllu")
    first = "".join(f"{w}\t{i}\n" for i, w in enumerate(sentences[0].words))
    second = "".join(f"{w}\tx\n" for w in sentences[1].words)
    (tmp_path / "good.tsv").write_text(first + "\n" + second)
    assert labels(f"labels:{tmp_path / 'good.tsv'}", sentences)[0] == [str(i) for i in range(7)]
    (tmp_path / "swapped.tsv").write_text(first + "\n" + second.replace("Bush", "Obama"))
    with pytest.raises(CorpusFormatError, match=r"swapped\.tsv:9: sentence 2 .* for different words"):
        labels(f"labels:{tmp_path / 'swapped.tsv'}", sentences)
    (tmp_path / "notab.tsv").write_text("From ADP\n")
    with pytest.raises(CorpusFormatError, match=r"notab\.tsv:1: a label TSV line is word<TAB>label"):
        labels(f"labels:{tmp_path / 'notab.tsv'}", sentences)


def test_property_ids_are_file_name_safe_and_follow_a_label_file_content(tmp_path):
    assert properties.property_id("pos") == "pos" and properties.property_id("feat:Number") == "feat-Number"
    path = tmp_path / "my labels.txt"
    path.write_text("a b\n")
    first = properties.property_id(f"labels:{path}")
    assert first.startswith("labels-my-labels-") and "/" not in first
    path.write_text("a c\n")
    assert properties.property_id(f"labels:{path}") != first
