"""Neuron rankings of Linguistic Correlation Analysis: the paper's Algorithm 1, top / bottom / random selections,
per-label salient neurons, and the probe-free probeless ranking (Antverg and Belinkov 2022).

An ``order`` is an integer array holding every neuron id exactly once, most important first (METHODS.md §1).
Used in: 01_linguistic_correlation, 03_ablation_in_the_model, 04_localized_or_distributed, 05_exclusive_neurons.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np



def _sorted_mass(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per label (row): neuron ids by |W| descending (ties by id), their |W| and running sums, each labels × neurons."""
    w = np.abs(np.asarray(weights, dtype=np.float64))
    if w.ndim != 2:
        raise ValueError(f"weights must be a labels × neurons matrix, got shape {w.shape}")
    ids = np.argsort(-w, axis=1, kind="stable")
    mass = np.take_along_axis(w, ids, axis=1)
    return ids, mass, np.cumsum(mass, axis=1)


def entry_steps(weights: np.ndarray, stride: int = 100) -> np.ndarray:
    """The step ``j`` (mass p = j / stride) at which each neuron first joins some label's top neurons (neurons,).

    A label's top neurons at mass p are the shortest prefix of its |W|-sorted neurons whose running sum reaches
    p × Σ|W| (the crossing neuron included; the first neuron is in at every p). So the neuron at sorted position
    k > 0 enters at the smallest j with j/stride · total > cumsum[k-1], i.e. ``floor(cumsum[k-1]·stride/total)+1``.
    Neurons whose weights are all zero never enter: their step is ``stride + 1``.
    """
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")
    ids, mass, cum = _sorted_mass(weights)
    total = cum[:, -1:]
    before = np.concatenate([np.zeros_like(total), cum[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.floor(before * stride / total).astype(np.int64) + 1
    step[:, 0] = 0
    step[(mass == 0) | (step > stride)] = stride + 1
    per_label = np.empty_like(step)
    np.put_along_axis(per_label, ids, step, axis=1)
    return per_label.min(axis=0)


def global_order(weights: np.ndarray, stride: int = 100) -> np.ndarray:
    """The paper's Algorithm 1 in one pass: neurons by entry step, within a step by largest |W| over labels (then id).

    ``weights`` is labels × neurons (a probe's weight matrix); returns every neuron id once, most important first,
    all-zero neurons last. Used in: 01_linguistic_correlation, 03_ablation_in_the_model.
    """
    steps = entry_steps(weights, stride)
    peak = np.abs(np.asarray(weights, dtype=np.float64)).max(axis=0)
    return np.lexsort((np.arange(steps.size), -peak, steps))


def label_top_neurons(weights: np.ndarray, mass: float) -> list[np.ndarray]:
    """Per label (row of ``weights``), its top neurons at weight-mass share ``mass``, largest |W| first.

    The shortest prefix of the label's |W|-sorted neurons whose running sum reaches ``mass`` × Σ|W| (the crossing
    neuron included); an all-zero label gets none. Used in: 01 (salient neurons at 25 %), 04, 05.
    """
    if not 0 <= mass <= 1:
        raise ValueError(f"mass must be a share in [0, 1], got {mass}")
    ids, sorted_mass, cum = _sorted_mass(weights)
    total = cum[:, -1]
    count = np.minimum((cum < mass * total[:, None]).sum(axis=1) + 1, (sorted_mass > 0).sum(axis=1))
    return [row[:k] for row, k in zip(ids, count)]


def count(n_neurons: int, pct: float) -> int:
    """How many neurons make ``pct`` % of ``n_neurons``: rounded half up, computed exactly (10 % of 1024 is 102,
    15 % is 154, 20 % is 205)."""
    if not 0 <= pct <= 100:
        raise ValueError(f"pct must be a percentage in [0, 100], got {pct}")
    exact = Fraction(n_neurons) * Fraction(str(pct)) / 100
    return int(exact + Fraction(1, 2))


def top(order: Sequence[int], pct: float) -> np.ndarray:
    """The first ``pct`` % of ``order`` (see :func:`count` for the rounding)."""
    order = np.asarray(order)
    return order[: count(order.size, pct)]


def bottom(order: Sequence[int], pct: float) -> np.ndarray:
    """The last ``pct`` % of ``order`` (least important last, as in ``order``)."""
    order = np.asarray(order)
    return order[order.size - count(order.size, pct):]


def random_neurons(n_neurons: int, pct: float, seed: int) -> np.ndarray:
    """A seeded uniform sample of exactly ``count(n_neurons, pct)`` neuron ids, sorted."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_neurons, size=count(n_neurons, pct), replace=False))


def probeless_scores(acts: np.ndarray, labels: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Antverg and Belinkov's probe-free scores: per label l and neuron, Σ over other labels l' of |μ_l − μ_l'|.

    Returns the labels (sorted), the per-label scores (labels × neurons) and the overall score (neurons,), the sum
    over label pairs (half the sum of the per-label scores). ``μ_l`` is the mean activation over words labelled l.
    """
    acts = np.asarray(acts, dtype=np.float64)
    classes, y = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    if acts.ndim != 2 or y.size != acts.shape[0]:
        raise ValueError(f"need acts words × neurons and one label per word; got {acts.shape} and {y.size} labels")
    onehot = np.zeros((classes.size, y.size))
    onehot[y, np.arange(y.size)] = 1.0
    means = (onehot @ acts) / onehot.sum(1, keepdims=True)
    per_label = np.abs(means[:, None, :] - means[None, :, :]).sum(axis=1)
    return tuple(classes.tolist()), per_label, per_label.sum(axis=0) / 2


def probeless_order(acts: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Neurons by their overall probeless score, highest first (ties by id). Used in: 01_linguistic_correlation."""
    overall = probeless_scores(acts, labels)[2]
    return np.argsort(-overall, kind="stable")
RANKINGS = ("raw", "scaled")


def ranking_weights(probe, ranking: str = "scaled") -> np.ndarray:
    """The weights (labels × neurons) a ranking reads: ``"raw"`` |W| as the paper and NeuroX, or ``"scaled"``
    |W · σ| (Grains' default: a raw weight is per unit of activation, so a neuron with a small spread gets a large
    |W| for little evidence; ``lib.methods.probing``). Used in: 01_linguistic_correlation."""
    if ranking not in RANKINGS:
        raise ValueError(f"unknown ranking {ranking!r}; use one of {', '.join(RANKINGS)}")
    return probe.weights if ranking == "raw" else probe.scaled_weights


def jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """|a ∩ b| / |a ∪ b| of two neuron sets (1.0 for two empty sets). Used in: 01 (how rankings differ)."""
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / len(a | b) if a | b else 1.0
