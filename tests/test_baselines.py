"""The majority-per-word baseline a probe must beat."""
from lib.methods.baselines import majority_per_word


def test_majority_per_word_takes_each_words_most_frequent_label_and_the_overall_one_for_unseen_words():
    train_words = ["run", "run", "run", "the", "dog", "dog"]
    train_labels = ["VERB", "NOUN", "VERB", "DET", "NOUN", "VERB"]
    predicted = majority_per_word(train_words, train_labels, ["run", "the", "dog", "cat"])
    assert predicted.tolist() == ["VERB", "DET", "NOUN", "VERB"]  # dog: tie → sorted first; cat: overall VERB

