"""MAJ, the paper's Table 1 baseline: every test word gets the label it carried most often in the probe's training
words, an unseen word the most frequent label overall (METHODS.md §6). A probe that does not beat MAJ says the model
encodes the property no better than word identity does; split by whether a test word was seen in training, and by
whether the model's own training text holds it, it says where. Used in: 01_linguistic_correlation, summary.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np
import pandas as pd


def majority_per_word(train_words: Sequence[str], train_labels: Sequence[str], test_words: Sequence[str]
                      ) -> np.ndarray:
    """The MAJ label of each test word (strings, one per test word): the word's most frequent training label;
    unseen words get the most frequent training label overall. Ties go to the label that sorts first, so the
    answer never depends on row order. Words are case-sensitive, as the probe's inputs are."""
    words, labels = np.asarray(train_words, dtype=str), np.asarray(train_labels, dtype=str)
    if words.shape != labels.shape or words.size == 0:
        raise ValueError(f"majority_per_word: need one label per training word and at least one; "
                         f"got {words.size} words and {labels.size} labels")
    counts = pd.DataFrame({"word": words, "label": labels}).value_counts().reset_index(name="n")
    best = counts.sort_values(["word", "n", "label"], ascending=[True, False, True], kind="stable")
    per_word = best.drop_duplicates("word").set_index("word")["label"]
    totals = counts.groupby("label")["n"].sum()
    overall = totals[totals == totals.max()].index.min()
    test = pd.Series(np.asarray(test_words, dtype=str))
    return test.map(per_word).fillna(overall).to_numpy(dtype=str)


def majority_correct(train_words: Sequence[str], train_labels: Sequence[str], test_words: Sequence[str],
                     test_labels: Sequence[str]) -> np.ndarray:
    """Per test word, whether MAJ gets it right (bools): the input of a bootstrap interval."""
    return majority_per_word(train_words, train_labels, test_words) == np.asarray(test_labels, dtype=str)


def majority_accuracy(train_words: Sequence[str], train_labels: Sequence[str], test_words: Sequence[str],
                      test_labels: Sequence[str]) -> float:
    """MAJ's accuracy on the test words. Used in: 01_linguistic_correlation."""
    return float(np.mean(majority_correct(train_words, train_labels, test_words, test_labels)))


FAMILIARITY = ("seen", "unseen")  # the test words by whether the training words hold them (seen_in_training)


MODEL_TEXT = ("seen, read", "seen, unread", "unseen, read", "unseen, unread")  # seen_in_training × read_by_model


def text_words(lines: Iterable[str]) -> frozenset[str]:
    """The lower-cased words and punctuation marks of raw text ``lines`` (a model's training text): runs of word
    characters, joined across inner apostrophes and hyphens, and single other symbols. A split by regex, not the
    corpus's own tokeniser, so a test token such as "U.S." counts as unread where the text has only its pieces."""
    return frozenset(word for line in lines for word in _WORD.findall(line.lower()))


_WORD = re.compile(r"\w+(?:['-]\w+)*|[^\w\s]")


def read_by_model(text: frozenset[str], test_words: Sequence[str]) -> np.ndarray:
    """Per test word, whether the model's training text (:func:`text_words`) holds it, lower-cased: a word the model
    never read reaches it only through its sub-word pieces. Used in: 01_linguistic_correlation."""
    return np.isin(np.char.lower(np.asarray(test_words, dtype=str)), np.asarray(sorted(text), dtype=str))


def seen_in_training(train_words: Sequence[str], test_words: Sequence[str]) -> np.ndarray:
    """Per test word, whether it occurs among the training words (case-sensitive, as MAJ looks words up): there MAJ
    answers from memory, elsewhere it guesses the most frequent label. Accuracies split by it show where a model's
    neurons lose to word identity: on words MAJ has memorised, on words it has not, or both. Used in:
    01_linguistic_correlation."""
    return np.isin(np.asarray(test_words, dtype=str), np.asarray(train_words, dtype=str))
