"""Subword vocabularies: deterministic training, specials, word-by-word encoding that extraction relies on."""
import pytest

from lib.pipeline.subwords import BOS, EOS, PAD, UNK, load_vocab, train_vocab

SENTENCES = ["A dog runs on the green grass.", "Two men are playing football in a park.",
             "A woman in a red dress reads a book.", "A little child eats an apple outside.",
             "The black cat sleeps on a white bed.", "A man rides his bike down the street."] * 5


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    return train_vocab(SENTENCES, 80, tmp_path_factory.mktemp("vocab") / "en.model", seed=1)


def test_training_is_deterministic(vocab, tmp_path):
    again = train_vocab(SENTENCES, 80, tmp_path / "again.model", seed=1)
    assert again.path.read_bytes() == vocab.path.read_bytes()


def test_specials_have_fixed_ids(vocab):
    assert (vocab.pad, vocab.unk, vocab.bos, vocab.eos) == (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
    assert vocab.pieces([PAD, UNK, BOS, EOS]) == ["<pad>", "<unk>", "<s>", "</s>"]


def test_encode_decode_round_trip(vocab):
    text = "A dog reads a book in the park."
    assert vocab.decode(vocab.encode([text])) == [text]
    assert vocab.encode([""]) == [[]]


def test_decode_stops_at_eos_and_drops_specials(vocab):
    ids = vocab.encode(["A dog"])[0]
    assert vocab.decode([[BOS, *ids, EOS, *ids]]) == ["A dog"]


def test_words_are_encoded_one_by_one(vocab):
    words = ["The", "dog", ",", "unbelievably", "green", "."]
    ids, word_index = vocab.encode_words(words)
    assert ids == vocab.encode([" ".join(words)])[0]
    assert len(ids) == len(word_index)
    assert word_index == sorted(word_index) and set(word_index) == set(range(len(words)))
    for index, word in enumerate(words):
        assert [i for i, w in zip(ids, word_index) if w == index] == vocab.encode([word])[0]


def test_a_word_without_pieces_is_an_error_naming_it(vocab):
    with pytest.raises(ValueError, match=r"word 1 \(' '\)"):
        vocab.encode_words(["dog", " ", "cat"])


def test_loading_a_missing_model_says_where(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sentencepiece model"):
        load_vocab(tmp_path / "missing.model")
