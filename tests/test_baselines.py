"""MAJ, the paper's Table 1 baseline (lib.methods.baselines)."""
import numpy as np
import pytest

from lib.methods.baselines import majority_accuracy, majority_correct, majority_per_word


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
