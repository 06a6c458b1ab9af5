"""Ablation in the classifier: how well do the top, random and bottom neurons of an order predict a property?

Two ways (METHODS.md §1): **masking** keeps the trained probe and zeros every other neuron in the test activations;
**retraining** trains a fresh probe on the kept neurons alone. The minimal neuron set grows the top of the order
until a retrained probe comes within δ of the all-neuron one. ``data`` is anything with ``train``, ``dev``,
``test`` ``(acts, labels, words)`` triples (``lib.pipeline.extraction.ProbeData``, ``lib.methods.probing.Splits``).

Ablation inside the model is ``lib.methods.damage`` (and ``lib.pipeline.model_ablation``).
Used in: 01_linguistic_correlation, 04_localized_or_distributed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lib.methods.probing import Probe, ProbeSettings, Splits, accuracy, evaluate, train_probe
from lib.methods.ranking import bottom, count, global_order, random_neurons, top

SELECTIONS = ("top", "random", "bottom")


def mask(acts: np.ndarray, keep: Sequence[int]) -> np.ndarray:
    """A copy of ``acts`` (words × neurons) with every neuron not in ``keep`` set to zero."""
    acts = np.asarray(acts)
    masked = np.zeros(acts.shape, dtype=np.float32)
    keep = np.asarray(keep, dtype=np.int64)
    masked[:, keep] = acts[:, keep]
    return masked


def masked_accuracy(probe: Probe, acts: np.ndarray, labels: Sequence[str], keep: Sequence[int]) -> float:
    """Accuracy of ``probe`` when only the neurons in ``keep`` reach it (the others zeroed)."""
    return accuracy(probe, mask(acts, keep), labels)


def retrain(data, keep: Sequence[int], settings: ProbeSettings) -> Probe:
    """A fresh probe on the neurons ``keep`` of ``data.train``, early-stopped on ``data.dev``."""
    keep = np.asarray(keep, dtype=np.int64)
    return train_probe(np.asarray(data.train[0])[:, keep], data.train[1],
                       dev=(np.asarray(data.dev[0])[:, keep], data.dev[1]), settings=settings, progress=False)


def retrained_accuracy(data, keep: Sequence[int], settings: ProbeSettings) -> float:
    """Test accuracy of a fresh probe trained on the neurons ``keep`` alone."""
    keep = np.asarray(keep, dtype=np.int64)
    return accuracy(retrain(data, keep, settings), np.asarray(data.test[0])[:, keep], data.test[1])


def selections(order: Sequence[int], percentages: Sequence[float], seed: int) -> dict[tuple[str, float], np.ndarray]:
    """The neuron sets compared: (``"top"`` | ``"random"`` | ``"bottom"``, pct) → neuron ids."""
    order = np.asarray(order)
    pick = {"top": lambda p: top(order, p), "bottom": lambda p: bottom(order, p),
            "random": lambda p: random_neurons(order.size, p, seed)}
    return {(name, pct): pick[name](pct) for name in SELECTIONS for pct in percentages}


def ablation_table(probe: Probe, data, order: Sequence[int], settings: ProbeSettings,
                   percentages: Sequence[float] = (10, 15, 20), seed: int = 0, progress: bool = True
                   ) -> pd.DataFrame:
    """Test accuracy with all neurons and with top / random / bottom ``percentages`` by masking and retraining.

    Tidy table: method (all, masking, retraining), selection (all, top, random, bottom), pct, neurons, accuracy.
    The paper's Tables 2 and 4, plus the random baseline. Used in: 01_linguistic_correlation.
    """
    test_acts, test_labels = np.asarray(data.test[0]), data.test[1]
    rows = [{"method": "all", "selection": "all", "pct": 100, "neurons": probe.n_neurons,
             "accuracy": accuracy(probe, test_acts, test_labels)}]
    chosen = selections(order, percentages, seed)
    for (name, pct), keep in tqdm(chosen.items(), desc="top/random/bottom", disable=not progress):
        rows.append({"method": "masking", "selection": name, "pct": pct, "neurons": keep.size,
                     "accuracy": masked_accuracy(probe, test_acts, test_labels, keep)})
        rows.append({"method": "retraining", "selection": name, "pct": pct, "neurons": keep.size,
                     "accuracy": retrained_accuracy(data, keep, settings)})
    return pd.DataFrame(rows).sort_values(["method", "selection", "pct"], kind="stable", ignore_index=True)


def results_dict(table: pd.DataFrame) -> dict:
    """The nested form of :func:`ablation_table` used by notebook 01's results file:
    ``{"all": acc, "masking": {"top": {"10": acc, …}, "random": …, "bottom": …}, "retraining": …}``."""
    out: dict = {"all": float(table.loc[table.method == "all", "accuracy"].iloc[0])}
    for method in ("masking", "retraining"):
        part = table[table.method == method]
        out[method] = {name: {f"{pct:g}": float(acc) for pct, acc in zip(sel.pct, sel.accuracy)}
                       for name in SELECTIONS for sel in [part[part.selection == name]]}
    return out


@dataclass(frozen=True)
class MinimalSet:
    """The smallest top-of-order set found within ``delta`` of ``target``: its size, share of all neurons and score;
    ``curve`` holds every size tried → score."""

    neurons: int
    share: float
    score: float
    target: float
    delta: float
    curve: dict = field(default_factory=dict)


def minimal_set(data, order: Sequence[int], settings: ProbeSettings, target: float, delta: float,
                step_pct: float = 1.0, search: str = "bisect", scorer=None) -> MinimalSet:
    """Grow the top of ``order`` in steps of ``step_pct`` % of the neurons, retrain on each, and stop at the smallest
    set whose test score (accuracy unless ``scorer(probe, acts, labels)`` says otherwise) is ≥ ``target − delta``.

    ``search="scan"`` tries the steps in order (exact); ``"bisect"`` doubles the step until one passes, then
    bisects between the last failing and the first passing step: it returns a passing set whose one-step-smaller
    set fails, the smallest when accuracy grows with the set (as it does along an LCA order, up to noise), with
    about 2·log2(100 / step_pct) retrainings instead of up to 100 / step_pct. Used in: 01, 04.
    """
    if search not in ("bisect", "scan"):
        raise ValueError(f"search must be 'bisect' or 'scan', got {search!r}")
    order = np.asarray(order)
    scorer = scorer or accuracy
    n_steps = math.ceil(100 / step_pct)
    sizes = sorted({max(1, count(order.size, min(100.0, i * step_pct))) for i in range(1, n_steps + 1)})
    curve: dict[int, float] = {}

    def passes(i: int) -> bool:
        keep = order[: sizes[i]]
        if sizes[i] not in curve:
            probe = retrain(data, keep, settings)
            curve[sizes[i]] = scorer(probe, np.asarray(data.test[0])[:, keep], data.test[1])
        return curve[sizes[i]] >= target - delta

    last = len(sizes) - 1
    if search == "scan":
        found = next((i for i in range(len(sizes)) if passes(i)), last)
    else:
        fail, i = -1, 0
        while not passes(i) and i < last:
            fail, i = i, min(2 * i + 1, last)
        found = i
        while found - fail > 1:
            mid = (found + fail) // 2
            fail, found = (fail, mid) if passes(mid) else (mid, found)
    return MinimalSet(neurons=sizes[found], share=sizes[found] / order.size, score=curve[sizes[found]],
                      target=target, delta=delta, curve=dict(sorted(curve.items())))


def label_minimal_sets(data, settings: ProbeSettings, delta: float, labels: Sequence[str] | None = None,
                       step_pct: float = 1.0, search: str = "bisect", progress: bool = True) -> pd.DataFrame:
    """Per label, the minimal set of a one-vs-rest probe (label against every other label), scored by the label's
    F1 on the test split (accuracy would reward predicting "rest" for a rare label).

    The order is the global order of the scaled weights of the label's all-neuron one-vs-rest probe. Columns:
    label, neurons, share, f1_all, f1. Labels absent from the test split are skipped. Used in: 01, 04.
    """
    train_labels, dev_labels, test_labels = (np.asarray(part[1], dtype=str) for part in (data.train, data.dev,
                                                                                          data.test))
    labels = list(labels) if labels is not None else sorted(set(test_labels) & set(train_labels))
    unknown = sorted(set(labels) - set(train_labels))
    if unknown:
        raise ValueError(f"labels {unknown} have no training word; known labels: {sorted(set(train_labels))}")
    n_neurons = np.asarray(data.train[0]).shape[1]
    rows = []
    for label in tqdm(labels, desc="one-vs-rest", disable=not progress):
        if not (test_labels == label).any():
            continue
        one_vs_rest = Splits(*((part[0], np.where(y == label, label, "¬" + label), part[2])
                               for part, y in zip((data.train, data.dev, data.test),
                                                  (train_labels, dev_labels, test_labels))))

        def f1(probe: Probe, acts: np.ndarray, gold: np.ndarray, positive: str = label) -> float:
            return float(evaluate(probe, acts, gold).per_label.loc[positive, "f1"])

        probe = retrain(one_vs_rest, np.arange(n_neurons), settings)
        f1_all = f1(probe, np.asarray(data.test[0]), one_vs_rest.test[1])
        found = minimal_set(one_vs_rest, global_order(probe.scaled_weights), settings, f1_all, delta, step_pct,
                            search, scorer=f1)
        rows.append({"label": label, "neurons": found.neurons, "share": found.share, "f1_all": f1_all,
                     "f1": found.score})
    return pd.DataFrame(rows, columns=["label", "neurons", "share", "f1_all", "f1"])
