"""Baselines a probe must beat, on arrays: the most frequent label of each word in the training words.

A probe's accuracy means little alone: most words of a POS-tagged corpus have one tag, so "the tag this word had
most often in train" (the most frequent label overall for unseen words) already scores high. A finding is the probe's
margin over it (``lib.methods.intervals.paired_difference``, bootstrapped over sentences). Used in: 08_your_own_model.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def majority_per_word(train_words: Sequence[str], train_labels: Sequence[str], words: Sequence[str]) -> np.ndarray:
    """The most frequent training label of each of ``words`` [n] (ties: the label first in sorted order), or the
    most frequent label overall for a word unseen in training."""
    table = pd.DataFrame({"word": np.asarray(train_words), "label": np.asarray(train_labels)})
    counts = table.groupby(["word", "label"]).size().rename("n").reset_index()
    counts = counts.sort_values(["word", "n", "label"], ascending=[True, False, True], kind="stable")
    best = counts.drop_duplicates("word").set_index("word")["label"]
    fallback = table["label"].value_counts().sort_index(kind="stable").idxmax()
    return pd.Series(np.asarray(words)).map(best).fillna(fallback).to_numpy(dtype=object)

