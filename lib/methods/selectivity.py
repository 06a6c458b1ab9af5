"""Control tasks and selectivity (Hewitt and Liang 2019): does a probe read the property, or just word identity?

A control task gives every word type a fixed random label drawn from the property's label distribution; a probe
can only learn it by memorising word types. Selectivity = property accuracy − control accuracy on held-out words,
same probe settings, same neurons (METHODS.md §1). Used in: 01_linguistic_correlation.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lib.methods.ablation import retrained_correct
from lib.methods.intervals import Interval, paired_difference
from lib.methods.probing import Probe, ProbeSettings, Splits


@dataclass(frozen=True)
class ControlTask:
    """Word type → control label: ``classes`` drawn with probabilities ``probs``, by a hash of (seed, word).

    The label of a word depends only on the word string and the seed, so it is the same on every split and every
    run, and a word never seen in training gets one too. Words are case-sensitive.
    """

    classes: tuple[str, ...]
    probs: tuple[float, ...]
    seed: int

    @classmethod
    def from_labels(cls, labels: Sequence[str], seed: int) -> ControlTask:
        """The control task of a property whose (training) word labels are ``labels``: same label distribution."""
        classes, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
        if classes.size == 0:
            raise ValueError("ControlTask.from_labels: no labels given")
        return cls(tuple(classes.tolist()), tuple((counts / counts.sum()).tolist()), seed)

    def labels(self, words: Sequence[str]) -> np.ndarray:
        """The control label of each word (one per row)."""
        types, inverse = np.unique(np.asarray(words, dtype=str), return_inverse=True)
        u = np.array([_uniform(word, self.seed) for word in types.tolist()])
        ids = np.minimum(np.searchsorted(np.cumsum(self.probs), u, side="right"), len(self.classes) - 1)
        return np.asarray(self.classes)[ids][inverse.reshape(-1)]


def _uniform(word: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, word): the first 8 bytes of their BLAKE2b hash."""
    digest = hashlib.blake2b(f"{seed}\x1f{word}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def control_splits(data, seed: int) -> Splits:
    """``data`` with every split's labels replaced by the control task built from ``data.train``'s labels."""
    task = ControlTask.from_labels(data.train[1], seed)
    return Splits(*((part[0], task.labels(part[2]), part[2]) for part in (data.train, data.dev, data.test)))


@dataclass(frozen=True, eq=False)
class Selectivity:
    """Test accuracy on the property and on its control task, their difference, and per test word whether each
    probe was right (``property_correct``, ``control_correct``: bools, for a paired interval)."""

    property_accuracy: float
    control_accuracy: float
    property_correct: np.ndarray | None = None
    control_correct: np.ndarray | None = None

    @property
    def selectivity(self) -> float:
        """Property accuracy minus control accuracy: high when the neurons encode the property, not word identity."""
        return self.property_accuracy - self.control_accuracy

    def interval(self, groups: Sequence[int], n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Interval:
        """Selectivity with a paired bootstrap interval over test sentences (``groups``: sentence id per word)."""
        if self.property_correct is None or self.control_correct is None:
            raise ValueError("this Selectivity holds no per-word results; compute it with selectivity()")
        return paired_difference(self.property_correct, self.control_correct, groups, n_boot, seed, level)


def selectivity(data, settings: ProbeSettings, neurons: Sequence[int] | None = None, seed: int = 0,
                start: Probe | None = None) -> Selectivity:
    """Train the same probe on the property and on its control task (on ``neurons``, default all), test both.
    ``start``, the property's all-neuron probe, warm-starts the property side (``lib.methods.ablation.retrain``);
    the control task always starts from zero.

    Used in: 01_linguistic_correlation.
    """
    keep = np.arange(np.asarray(data.train[0]).shape[1]) if neurons is None else np.asarray(neurons, dtype=np.int64)
    hits = [retrained_correct(data, keep, settings, start), retrained_correct(control_splits(data, seed), keep,
                                                                             settings)]
    return Selectivity(float(hits[0].mean()), float(hits[1].mean()), hits[0], hits[1])
