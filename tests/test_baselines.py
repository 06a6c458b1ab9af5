"""MAJ, the paper's Table 1 baseline (lib.methods.baselines)."""
import numpy as np
import pytest

from lib.methods.baselines import (majority_accuracy, majority_correct, majority_per_word, read_by_model,
                                  seen_in_training, text_words)


def test_each_word_gets_its_most_frequent_training_label_and_unseen_words_the_overall_one():
    train_words = ["the", "the", "run", "run", "run", "dog", "dog", "dog"]
    train_labels = ["DET", "DET", "VERB", "NOUN", "NOUN", "NOUN", "NOUN", "NOUN"]
    predicted = majority_per_word(train_words, train_labels, ["run", "the", "cat", "dog"])
    assert predicted.tolist() == ["NOUN", "DET", "NOUN", "NOUN"]


def test_ties_do_not_depend_on_row_order():
    words, labels = ["a", "a", "b", "b"], ["Y", "X", "Y", "X"]
    first = majority_per_word(words, labels, ["a", "b", "zzz"])
    second = majority_per_word(words[::-1], labels[::-1], ["a", "b", "zzz"])
    assert first.tolist() == second.tolist() == ["X", "X", "X"]


def test_accuracy_counts_right_test_words():
    train = (["a", "b"], ["X", "Y"])
    assert majority_accuracy(*train, ["a", "b", "c"], ["X", "X", "X"]) == pytest.approx(2 / 3)
    np.testing.assert_array_equal(majority_correct(*train, ["a", "b"], ["X", "X"]), [True, False])


def test_mismatched_training_data_is_refused():
    with pytest.raises(ValueError, match="one label per training word"):
        majority_per_word(["a", "b"], ["X"], ["a"])


def test_seen_in_training_looks_words_up_as_maj_does():
    seen = seen_in_training(["The", "cat", "cat", "sat"], ["the", "cat", "sat", "dog", "The"])
    np.testing.assert_array_equal(seen, [False, True, True, False, True])


def test_a_model_has_read_the_words_of_its_training_text_whatever_their_case():
    text = text_words(["Two young, White males are near many bushes.", "A man's well-known dog sleeps."])
    assert {"white", ",", ".", "man's", "well-known"} <= text and "White" not in text and "man" not in text
    read = read_by_model(text, ["White", "bushes", "well-known", "cat", ",", "U.S."])
    np.testing.assert_array_equal(read, [True, True, True, False, True, False])


def test_familiarity_split_finds_where_the_probe_loses_to_maj():
    from lib.pipeline.lca import _by_group
    from lib.pipeline.profiles import get_profile

    seen = np.repeat([True, False], [300, 100])  # 400 test words in 200 sentences of two words
    groups = np.repeat(np.arange(200), 2)
    majority = seen.copy()  # MAJ right on every seen word, wrong on every unseen one
    hits = ~seen | (np.arange(400) % 2 == 0)  # the probe right on half the seen words and on every unseen one
    by, intervals, verdicts = _by_group(get_profile("tiny"), hits, majority, groups, {"seen": seen, "unseen": ~seen})
    assert by["seen"]["share"] == 0.75 and by["seen"]["words"] == 300 and by["unseen"]["words"] == 100
    assert by["seen"]["all"] == 0.5 and by["seen"]["majority"] == 1.0 and by["unseen"]["all"] == 1.0
    assert verdicts == {"seen": "lower", "unseen": "higher"}
    low, high = intervals["seen"]["probe_minus_majority"]
    assert low <= -0.5 <= high < 0
    only_seen = _by_group(get_profile("tiny"), hits[:300], majority[:300], groups[:300],
                          {"seen": seen[:300], "unseen": ~seen[:300]})
    assert set(only_seen[0]) == {"seen"}  # a group without words is left out, not given an empty interval
