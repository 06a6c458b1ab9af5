"""The majority-per-word baseline and the paired interval a probe's margin over it is reported with."""
import numpy as np
import pytest

from lib.methods.baselines import majority_per_word, paired_difference


def test_majority_per_word_takes_each_words_most_frequent_label_and_the_overall_one_for_unseen_words():
    train_words = ["run", "run", "run", "the", "dog", "dog"]
    train_labels = ["VERB", "NOUN", "VERB", "DET", "NOUN", "VERB"]
    predicted = majority_per_word(train_words, train_labels, ["run", "the", "dog", "cat"])
    assert predicted.tolist() == ["VERB", "DET", "NOUN", "VERB"]  # dog: tie → sorted first; cat: overall VERB


def test_paired_difference_interval_contains_the_difference_and_shrinks_with_more_words():
    rng = np.random.default_rng(0)
    a, b = rng.random(400) < 0.9, rng.random(400) < 0.8
    diff, low, high = paired_difference(a, b)
    assert low < diff < high and diff == pytest.approx(a.mean() - b.mean())
    _, low4, high4 = paired_difference(np.tile(a, 4), np.tile(b, 4))
    assert high4 - low4 < high - low
    assert paired_difference(np.ones(10), np.ones(10)) == (0.0, 0.0, 0.0)
