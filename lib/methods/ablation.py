"""Ablation in the classifier: how well do the top, random and bottom neurons of an order predict a property?

Two ways (METHODS.md §1): **masking** keeps the trained probe and zeros every other neuron in the test activations;
**retraining** trains a fresh probe on the kept neurons alone. The minimal neuron set grows the top of the order
until a retrained probe comes within δ of the all-neuron one. ``data`` is anything with ``train``, ``dev``,
``test`` ``(acts, labels, words)`` triples (``lib.pipeline.extraction.ProbeData``, ``lib.methods.probing.Splits``).

Ablation inside the model is ``lib.methods.damage`` (and ``lib.pipeline.model_ablation``).
Used in: 01_linguistic_correlation, 04_localized_or_distributed.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from lib.methods.intervals import Interval, bootstrap_runs
from lib.methods.probing import Probe, ProbeSettings, Splits, accuracy, evaluate, predict, train_probe
from lib.methods.ranking import bottom, count, global_order, random_neurons, top
from lib.progress import tqdm

SELECTIONS = ("top", "random", "bottom")


FILLS = ("zero", "mean")


def fill_values(train_acts: np.ndarray, fill: str = "zero") -> np.ndarray:
    """What a masked neuron reads instead of its activation (neurons,): zero (the paper) or its mean over the
    training words (Grains' addition: no constant shift for saturated units, METHODS.md §6)."""
    if fill not in FILLS:
        raise ValueError(f"unknown fill {fill!r}; use one of {', '.join(FILLS)}")
    train_acts = np.asarray(train_acts)
    if fill == "zero":
        return np.zeros(train_acts.shape[1], dtype=np.float32)
    return train_acts.mean(0, dtype=np.float64).astype(np.float32)


def mask(acts: np.ndarray, keep: Sequence[int], fill: np.ndarray | None = None) -> np.ndarray:
    """A copy of ``acts`` (words × neurons) with every neuron not in ``keep`` replaced by ``fill`` (neurons,; default
    zero, see :func:`fill_values`)."""
    acts = np.asarray(acts)
    masked = np.empty(acts.shape, dtype=np.float32)
    masked[:] = 0.0 if fill is None else np.asarray(fill, dtype=np.float32)
    keep = np.asarray(keep, dtype=np.int64)
    masked[:, keep] = acts[:, keep]
    return masked


def masked_predict(probe: Probe, acts: np.ndarray, keep: Sequence[int], fill: np.ndarray | None = None
                   ) -> np.ndarray:
    """The labels ``probe`` predicts when only the neurons in ``keep`` reach it (the others zeroed, or set to
    ``fill``): ``predict(probe, mask(acts, keep, fill))``, computed from masked weights and a constant instead of a
    masked copy of ``acts``."""
    acts = np.asarray(acts)
    kept = np.zeros(probe.n_neurons, dtype=bool)
    kept[np.asarray(keep, dtype=np.int64)] = True
    weights = np.where(kept, probe.weights, 0.0).astype(np.float32)
    bias = probe.bias if fill is None else probe.bias + probe.weights[:, ~kept] @ np.asarray(fill)[~kept]
    return np.asarray(probe.classes)[(np.asarray(acts, dtype=np.float32) @ weights.T + bias).argmax(1)]


def masked_accuracy(probe: Probe, acts: np.ndarray, labels: Sequence[str], keep: Sequence[int],
                    fill: np.ndarray | None = None) -> float:
    """Accuracy of ``probe`` when only the neurons in ``keep`` reach it (the others zeroed, or set to ``fill``)."""
    return float(np.mean(masked_predict(probe, acts, keep, fill) == np.asarray(labels, dtype=str)))


def retrain(data, keep: Sequence[int], settings: ProbeSettings, start: Probe | None = None) -> Probe:
    """A fresh probe on the neurons ``keep`` of ``data.train``, scored (or, with Adam, early-stopped) on ``data.dev``.

    ``start``, a probe over all neurons for the same labels, starts a converged solver from its weights on ``keep``:
    the same optimum (to the solver's tolerance), reached 3-4× faster for large sets. Adam always starts from zero."""
    keep = np.asarray(keep, dtype=np.int64)
    init = None
    if start is not None and settings.solver != "adam":
        init = (start.weights[:, keep], start.bias)
    return train_probe(data.train[0], data.train[1], dev=(data.dev[0], data.dev[1]), settings=settings,
                       progress=False, init=init, columns=keep)


def retrained_correct(data, keep: Sequence[int], settings: ProbeSettings, start: Probe | None = None) -> np.ndarray:
    """Per test word (bools), whether a fresh probe trained on the neurons ``keep`` alone gets it right (``start``:
    see :func:`retrain`)."""
    keep = np.asarray(keep, dtype=np.int64)
    probe = retrain(data, keep, settings, start)
    return predict(probe, data.test[0], columns=keep) == np.asarray(data.test[1], dtype=str)


def retrained_runs(data, keep: Sequence[int], settings: ProbeSettings, seeds: int = 1,
                   start: Probe | None = None) -> np.ndarray:
    """Per probe seed (``settings.seed``, +1, …) and test word, whether a fresh probe on ``keep`` gets it right:
    bools, seeds × words, the input of :func:`lib.methods.intervals.bootstrap_runs` (``start``: see
    :func:`retrain`)."""
    return np.stack([retrained_correct(data, keep, dataclasses.replace(settings, seed=settings.seed + i), start)
                     for i in range(seeds)])


def retrained_accuracy(data, keep: Sequence[int], settings: ProbeSettings) -> float:
    """Test accuracy of a fresh probe trained on the neurons ``keep`` alone."""
    return float(np.mean(retrained_correct(data, keep, settings)))


def groups_of_test(data) -> np.ndarray:
    """The sentence id of each test word (``data.groups[2]``); data without groups counts each word as its own
    sentence, which narrows bootstrap intervals (words of a sentence are not independent)."""
    groups = getattr(data, "groups", None)
    return np.arange(len(data.test[1])) if groups is None else np.asarray(groups[2])


def selections(order: Sequence[int], percentages: Sequence[float], seed: int, draws: int = 1
               ) -> dict[tuple[str, float], list[np.ndarray]]:
    """The neuron sets compared: (``"top"`` | ``"random"`` | ``"bottom"``, pct) → list of neuron-id arrays: one for
    top and bottom, ``draws`` seeded random samples (seeds ``seed``, ``seed + 1``, …) for random."""
    order = np.asarray(order)
    pick = {"top": lambda p: [top(order, p)], "bottom": lambda p: [bottom(order, p)],
            "random": lambda p: [random_neurons(order.size, p, seed + i) for i in range(draws)]}
    return {(name, pct): pick[name](pct) for name in SELECTIONS for pct in percentages}


def _row(method: str, selection: str, pct: float, neurons: int, correct: np.ndarray, groups: np.ndarray,
         n_boot: int, seed: int, runs: str) -> dict:
    """One table row: accuracy over runs × words ``correct`` with its two-level bootstrap interval."""
    found = bootstrap_runs(correct, groups, n_boot=n_boot, seed=seed)
    return {"method": method, "selection": selection, "pct": pct, "neurons": neurons, "accuracy": found.estimate,
            "low": found.low, "high": found.high, "runs": correct.shape[0], "interval": f"{found.method} ({runs})"}


def ablation_table(probe: Probe, data, order: Sequence[int], settings: ProbeSettings,
                   percentages: Sequence[float] = (10, 15, 20), seed: int = 0, progress: bool = True,
                   seeds: int = 1, draws: int = 1, fill: str = "zero", n_boot: int = 1000,
                   replicate: Sequence[float] | None = None) -> pd.DataFrame:
    """Test accuracy with all neurons and with top / random / bottom ``percentages`` by masking and retraining,
    each with a 95 % interval.

    Masking uses ``probe`` with the other neurons set to ``fill`` ("zero", the paper, or "mean"); retraining starts
    from ``probe``'s weights on the kept neurons (:func:`retrain`) and trains ``seeds`` probes (seeds
    ``settings.seed``, +1, …) on top and bottom and one probe per random draw; random takes ``draws`` seeded
    samples, at the percentages in ``replicate`` (default all; one seed and one draw elsewhere, to save
    retrainings). Intervals resample test sentences and runs together (:func:`bootstrap_runs`).
    Tidy table: method (all, masking, retraining), selection, pct, neurons, accuracy, low, high, runs, interval.
    The paper's Tables 2 and 4, plus the random baseline (Grains'). Used in: 01_linguistic_correlation.
    """
    test_acts, test_labels = np.asarray(data.test[0]), np.asarray(data.test[1], dtype=str)
    groups, values = groups_of_test(data), fill_values(data.train[0], fill)
    hits = (predict(probe, test_acts) == test_labels)[None]
    rows = [_row("all", "all", 100, probe.n_neurons, hits, groups, n_boot, seed, "the LCA probe")]
    replicate = percentages if replicate is None else replicate
    chosen = {**selections(order, percentages, seed, 1),
              **selections(order, [pct for pct in percentages if pct in replicate], seed, draws)}
    for (name, pct), sets in tqdm(chosen.items(), desc="top/random/bottom", disable=not progress):
        n_seeds = seeds if pct in replicate and settings.seeded else 1  # a converged probe ignores its seed
        masked = np.stack([masked_predict(probe, test_acts, keep, values) == test_labels for keep in sets])
        what = f"{len(sets)} draws" if name == "random" else "one probe"
        rows.append(_row("masking", name, pct, sets[0].size, masked, groups, n_boot, seed, what))
        retrained = np.concatenate([retrained_runs(data, keep, dataclasses.replace(settings, seed=settings.seed + i),
                                                   start=probe)
                                    for i, keep in enumerate(sets)]) if name == "random" \
            else retrained_runs(data, sets[0], settings, n_seeds, start=probe)
        what = f"{len(sets)} draws, one probe each" if name == "random" else f"{n_seeds} probe seeds"
        rows.append(_row("retraining", name, pct, sets[0].size, retrained, groups, n_boot, seed, what))
    return pd.DataFrame(rows).sort_values(["method", "selection", "pct"], kind="stable", ignore_index=True)


def table_interval(table: pd.DataFrame, method: str, selection: str, pct: float = 100) -> Interval:
    """The interval of one row of :func:`ablation_table` (``method``, ``selection``, ``pct``)."""
    row = table[(table.method == method) & (table.selection == selection) & (table.pct == pct)]
    if row.empty:
        raise KeyError(f"no row {method} / {selection} / {pct} in the ablation table")
    row = row.iloc[0]
    return Interval(float(row.accuracy), float(row.low), float(row.high), int(row.runs), str(row.interval))


def results_dict(table: pd.DataFrame) -> dict:
    """The nested form of :func:`ablation_table` used by notebook 01's results file:
    ``{"all": acc, "masking": {"top": {"10": acc, …}, "random": …, "bottom": …}, "retraining": …,
    "intervals": {"all": [lo, hi], "masking": {"top": {"10": [lo, hi], …}, …}, "retraining": …}}``."""
    out: dict = {"all": float(table.loc[table.method == "all", "accuracy"].iloc[0])}
    intervals: dict = {"all": [float(v) for v in table.loc[table.method == "all", ["low", "high"]].iloc[0]]}
    for method in ("masking", "retraining"):
        part = table[table.method == method]
        out[method] = {name: {f"{pct:g}": float(acc) for pct, acc in zip(sel.pct, sel.accuracy)}
                       for name in SELECTIONS for sel in [part[part.selection == name]]}
        intervals[method] = {name: {f"{pct:g}": [float(lo), float(hi)] for pct, lo, hi in zip(sel.pct, sel.low,
                                                                                             sel.high)}
                             for name in SELECTIONS for sel in [part[part.selection == name]]}
    out["intervals"] = intervals
    return out


def results_table(nested: dict) -> pd.DataFrame:
    """The tidy table (method, selection, pct, accuracy, low, high) back from :func:`results_dict`'s nested form, so
    a cached results entry can be plotted without retraining. Used in: 01_linguistic_correlation."""
    iv = nested["intervals"]
    rows = [{"method": "all", "selection": "all", "pct": 100, "accuracy": nested["all"], "low": iv["all"][0],
             "high": iv["all"][1]}]
    rows += [{"method": method, "selection": name, "pct": float(pct), "accuracy": acc,
              "low": iv[method][name][pct][0], "high": iv[method][name][pct][1]}
             for method in ("masking", "retraining") for name in SELECTIONS
             for pct, acc in nested[method][name].items()]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class MinimalSet:
    """The smallest top-of-order set found within ``delta`` of ``target``: its size, share of all neurons and score;
    ``curve`` holds every size tried → score, ``retrainings`` how many probes the search trained."""

    neurons: int
    share: float
    score: float
    target: float
    delta: float
    curve: dict = field(default_factory=dict)
    retrainings: int = 0


def minimal_set(data, order: Sequence[int], settings: ProbeSettings, target: float, delta: float,
                step_pct: float = 1.0, search: str = "bisect", scorer=None, exact_up_to: int = 32,
                start: Probe | None = None) -> MinimalSet:
    """The shortest head of ``order`` whose retrained probe scores ≥ ``target − delta`` on the test split (accuracy
    unless ``scorer(probe, acts, labels)`` says otherwise), at neuron resolution where sets are small.

    Candidate sizes (:func:`search_sizes`) are every count 1, 2, …, ``exact_up_to``, then ``step_pct`` % steps, so a
    label that needs 4 neurons reports 4. ``search="scan"`` tries them in order (exact); ``"bisect"`` gallops
    (sizes 1, 2, 4, 8, … of the grid) until one passes, then bisects between the last failing and the first passing
    size. Bisection assumes the score grows with the set along the order (true of an LCA order up to probe noise;
    an early-stopped probe's noise can break it, a converged one keeps it: ``benchmarks/bench_minimal_set.py``);
    where it does not hold, it still returns a passing size whose grid predecessor fails, with about
    2·log2(len(grid)) retrainings (≈ 14 on 512 neurons) instead of up to len(grid) ≈ 127. ``start``, the all-neuron
    probe, warm-starts each retraining (:func:`retrain`). Used in: 01, 04.
    """
    if search not in ("bisect", "scan"):
        raise ValueError(f"search must be 'bisect' or 'scan', got {search!r}")
    order = np.asarray(order)
    scorer = scorer or accuracy
    sizes = search_sizes(order.size, exact_up_to, step_pct)
    curve: dict[int, float] = {}

    def passes(i: int) -> bool:
        size = int(sizes[i])
        if size not in curve:
            keep = order[:size]
            curve[size] = scorer(retrain(data, keep, settings, start), np.asarray(data.test[0])[:, keep],
                                 data.test[1])
        return curve[size] >= target - delta

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
    size = int(sizes[found])
    return MinimalSet(neurons=size, share=size / order.size, score=curve[size], target=target, delta=delta,
                      curve=dict(sorted(curve.items())), retrainings=len(curve))


def label_minimal_sets(data, settings: ProbeSettings, delta: float, labels: Sequence[str] | None = None,
                       step_pct: float = 1.0, search: str = "bisect", progress: bool = True,
                       exact_up_to: int = 32, ranking_settings: ProbeSettings | None = None) -> pd.DataFrame:
    """Per label, the minimal set of a one-vs-rest probe (label against every other label), scored by the label's
    F1 on the test split (accuracy would reward predicting "rest" for a rare label), at neuron resolution up to
    ``exact_up_to`` neurons (see :func:`minimal_set`).

    The order is the global order of the scaled weights of the label's all-neuron one-vs-rest probe, trained with
    ``ranking_settings`` (default ``settings``; a tighter tolerance settles the order), the subsets with
    ``settings``. Columns:
    label, neurons, share, f1_all, f1, retrainings (probes trained by the search, the all-neuron one excluded).
    Labels absent from the test split are skipped. Used in: 01, 04.
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

        probe = retrain(one_vs_rest, np.arange(n_neurons), ranking_settings or settings)
        f1_all = f1(probe, np.asarray(data.test[0]), one_vs_rest.test[1])
        found = minimal_set(one_vs_rest, global_order(probe.scaled_weights), settings, f1_all, delta, step_pct,
                            search, scorer=f1, exact_up_to=exact_up_to, start=probe)
        rows.append({"label": label, "neurons": found.neurons, "share": found.share, "f1_all": f1_all,
                     "f1": found.score, "retrainings": found.retrainings})
    return pd.DataFrame(rows, columns=["label", "neurons", "share", "f1_all", "f1", "retrainings"])


def search_sizes(n_neurons: int, exact_up_to: int = 32, step_pct: float = 1.0) -> np.ndarray:
    """The set sizes a minimal-set search may try, ascending: every count 1 … ``exact_up_to`` (neuron resolution
    where sets are small), then every ``step_pct`` % of ``n_neurons`` above it, ending at ``n_neurons``."""
    if n_neurons < 1 or exact_up_to < 0 or not 0 < step_pct <= 100:
        raise ValueError(f"need n_neurons ≥ 1, exact_up_to ≥ 0 and step_pct in (0, 100]; got {n_neurons}, "
                         f"{exact_up_to}, {step_pct}")
    steps = [count(n_neurons, min(100.0, i * step_pct)) for i in range(1, math.ceil(100 / step_pct) + 1)]
    exact = range(1, min(exact_up_to, n_neurons) + 1)
    return np.unique(np.array([*exact, *steps, n_neurons]).clip(1, n_neurons))
