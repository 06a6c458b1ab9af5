"""The paper's questions as tables: neurons needed, shared and exclusive neurons, NMT versus LM.

Everything here works on plain rankings and results (sets of neuron ids, the nested results of notebook 01), so
the functions are cheap and testable on hand-made inputs; the heavy lifting (probes, correlations) happens before.
Used in: 04_localized_or_distributed, 05_exclusive_neurons, 06_nmt_vs_lm.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd


def membership(sets: Mapping[str, Sequence[int]], n_neurons: int) -> np.ndarray:
    """Boolean matrix sets × neurons: row ``i`` marks the neurons of the ``i``-th set (in ``sets`` order)."""
    matrix = np.zeros((len(sets), n_neurons), dtype=bool)
    for row, ids in enumerate(sets.values()):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= n_neurons):
            raise ValueError(f"neuron ids must lie in [0, {n_neurons}); got {ids.min()}..{ids.max()}")
        matrix[row, ids] = True
    return matrix


def overlap(sets: Mapping[str, Sequence[int]], n_neurons: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise shared-neuron counts and Jaccard indices between named neuron sets (two sets × sets frames).

    Two empty sets have Jaccard 0, not NaN. Used in: 05_exclusive_neurons.
    """
    m = membership(sets, n_neurons).astype(np.int64)
    counts = m @ m.T
    sizes = np.diag(counts)
    union = sizes[:, None] + sizes[None, :] - counts
    jaccard = np.divide(counts, union, out=np.zeros(counts.shape, dtype=float), where=union > 0)
    names = list(sets)
    return (pd.DataFrame(counts, index=names, columns=names),
            pd.DataFrame(jaccard, index=names, columns=names))


def exclusive_neurons(sets: Mapping[str, Sequence[int]], n_neurons: int) -> dict[str, np.ndarray]:
    """For each named set, its neurons that belong to no other set (sorted ids). Used in: 05_exclusive_neurons."""
    m = membership(sets, n_neurons)
    only_once = m.sum(axis=0) == 1
    return {name: np.flatnonzero(row & only_once) for name, row in zip(sets, m)}


def sharing_histogram(sets: Mapping[str, Sequence[int]], n_neurons: int) -> pd.Series:
    """How many neurons are salient for exactly 0, 1, 2, … of the sets (index: number of sets)."""
    per_neuron = membership(sets, n_neurons).sum(axis=0)
    counts = np.bincount(per_neuron, minlength=len(sets) + 1)
    return pd.Series(counts, index=pd.RangeIndex(len(counts), name="sets"), name="neurons")


def exclusivity_table(sets: Mapping[str, Sequence[int]], n_neurons: int) -> pd.DataFrame:
    """Per set: its size, how many of its neurons are exclusive to it, and that share."""
    exclusive = exclusive_neurons(sets, n_neurons)
    rows = [{"set": name, "neurons": len(np.unique(ids)), "exclusive": len(exclusive[name])}
            for name, ids in sets.items()]
    table = pd.DataFrame(rows).set_index("set")
    table["exclusive_share"] = np.divide(table["exclusive"], table["neurons"],
                                         out=np.zeros(len(table)), where=table["neurons"] > 0)
    return table


def neurons_needed(lca_results: Mapping[str, Mapping[str, Mapping]]) -> pd.DataFrame:
    """Minimal-set sizes per model and property from notebook 01's ``results`` (model → property → numbers).

    Columns: model, prop, neurons, share, all (accuracy with every neuron). Used in: 04, 06.
    """
    rows = [{"model": model, "prop": prop, "neurons": r["minimal_set"]["neurons"],
             "share": r["minimal_set"]["share"], "all": r["all"]}
            for model, props in lca_results.items() for prop, r in props.items()]
    return pd.DataFrame(rows, columns=["model", "prop", "neurons", "share", "all"])


def model_family(model: str) -> str:
    """``"LM"`` for the language model, ``"NMT"`` for a translation pair such as ``"en-de"``."""
    return "LM" if model == "lm" else "NMT"


def top_bottom_gap(lca_results: Mapping[str, Mapping[str, Mapping]], pct: int = 10,
                   how: str = "retraining") -> pd.DataFrame:
    """Top-minus-bottom accuracy (points) at ``pct`` % of neurons per model and property.

    The paper's Q3 measure: a larger gap means the property is more localized in the top neurons.
    Used in: 06_nmt_vs_lm.
    """
    key = str(pct)
    rows = [{"model": model, "family": model_family(model), "prop": prop,
             "top": r[how]["top"][key], "bottom": r[how]["bottom"][key],
             "gap": 100.0 * (r[how]["top"][key] - r[how]["bottom"][key])}
            for model, props in lca_results.items() for prop, r in props.items()]
    return pd.DataFrame(rows, columns=["model", "family", "prop", "top", "bottom", "gap"])


def nmt_vs_lm(lca_results: Mapping[str, Mapping[str, Mapping]], pct: int = 10) -> pd.DataFrame:
    """Per family (NMT, LM): mean top-minus-bottom gap (points) and mean minimal-set share over properties.

    Only properties probed in both families are averaged, so the comparison is like for like.
    Used in: 06_nmt_vs_lm.
    """
    gaps = top_bottom_gap(lca_results, pct)
    needed = neurons_needed(lca_results)
    needed["family"] = needed["model"].map(model_family)
    common = set.intersection(*(set(g["prop"]) for _, g in gaps.groupby("family"))) if len(gaps) else set()
    gaps, needed = gaps[gaps["prop"].isin(common)], needed[needed["prop"].isin(common)]
    table = pd.concat([gaps.groupby("family")["gap"].mean().rename("mean_gap"),
                       needed.groupby("family")["share"].mean().rename("mean_minimal_share"),
                       gaps.groupby("family")["prop"].nunique().rename("properties")], axis=1)
    return table.reset_index()


def top_words(activation: np.ndarray, words: Sequence[str], k: int = 10, min_count: int = 1,
              negative: bool = False) -> pd.DataFrame:
    """Word types ranked by one neuron's mean activation (most negative first when ``negative``), with counts.

    ``activation`` has one value per row of the activations (one per word token); ``min_count`` drops rare types
    whose mean rests on a single occurrence. Used in: 02_cross_model_correlation, 07_neuron_explorer.
    """
    activation = np.asarray(activation, dtype=np.float64)
    if activation.shape != (len(words),):
        raise ValueError(f"one activation per word expected: {activation.shape} vs {len(words)} words")
    types, inverse = np.unique(np.asarray(words, dtype=object), return_inverse=True)
    counts = np.bincount(inverse, minlength=len(types))
    means = np.bincount(inverse, weights=activation, minlength=len(types)) / np.maximum(counts, 1)
    keep = counts >= min_count
    table = pd.DataFrame({"word": types[keep], "mean": means[keep], "count": counts[keep]})
    table = table.sort_values(["mean", "word"], ascending=[negative, True], kind="stable")
    return table.head(k).reset_index(drop=True)
