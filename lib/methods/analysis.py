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


# Q1 — localized or distributed: salient neurons per label, closed against open classes.

def salient_sets(weights: np.ndarray, classes: Sequence[str], mass: float) -> dict[str, np.ndarray]:
    """Per label, its salient neurons: the top neurons holding ``mass`` of its |W| (``weights`` labels × neurons,
    best the probe's ``scaled_weights``), largest first. Used in: 04, 05, 07."""
    from lib.methods.ranking import label_top_neurons

    weights = np.asarray(weights)
    if weights.shape[0] != len(classes):
        raise ValueError(f"weights have {weights.shape[0]} label rows but {len(classes)} classes were given")
    return dict(zip(classes, label_top_neurons(weights, mass)))


def property_salient_set(label_sets: Mapping[str, Sequence[int]]) -> np.ndarray:
    """A property's salient neurons: the union of its labels' salient sets (sorted ids).

    At mass p this is exactly the neurons that Algorithm 1's global order has taken in by step p, so it is also the
    head of the LCA order (see ``lib.methods.ranking.entry_steps``). Used in: 05_exclusive_neurons, 06_nmt_vs_lm.
    """
    parts = [np.asarray(ids, dtype=np.int64) for ids in label_sets.values()]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def salient_counts(label_sets: Mapping[str, Sequence[int]], classes: Mapping[str, str]) -> pd.DataFrame:
    """Columns label, neurons (salient set size), class (closed / open / other, from ``classes``: label → class,
    e.g. ``lib.pipeline.properties.word_class``; a label missing there is "other"). Used in: 04."""
    rows = [{"label": label, "neurons": len(ids), "class": classes.get(label, "other")}
            for label, ids in label_sets.items()]
    return pd.DataFrame(rows, columns=["label", "neurons", "class"])


def class_contrast(counts: pd.DataFrame, value: str = "neurons") -> pd.DataFrame:
    """Mean and median of ``value`` (neurons needed, or their share of the model) and the number of labels per word
    class (closed, open; "other" dropped), from rows with columns ``class`` and ``value``; extra columns such as the
    model are pooled (pool shares, not counts, across models of different sizes). Used in: 04."""
    known = counts[counts["class"].isin(["closed", "open"])]
    table = known.groupby("class")[value].agg(mean="mean", median="median", labels="size")
    return table.reindex(["closed", "open"]).dropna(how="all")


def localized_answer(contrast: pd.DataFrame, needed: pd.DataFrame, unit: str = "neurons",
                     tolerance: float = 0.1) -> str:
    """Q1 in plain words from :func:`class_contrast` (of counts, or of shares when ``unit`` is ``"share"``) and
    :func:`neurons_needed` (minimal sets per property). Means within ``tolerance`` (relative) count as equal."""
    parts = []
    if {"closed", "open"} <= set(contrast.index):
        closed, opened = contrast.loc["closed", "mean"], contrast.loc["open", "mean"]
        if abs(closed - opened) <= tolerance * max(abs(closed), abs(opened)):
            verdict, remark = "about as many salient neurons as", ", so this run does not show the paper's contrast."
        elif closed < opened:
            verdict, remark = "fewer salient neurons than", ", as the paper expects."
        else:
            verdict, remark = "more salient neurons than", ", unlike the paper's finding."
        shown = (lambda v: f"{100 * v:.1f} %") if unit == "share" else (lambda v: f"{v:.1f}")
        parts.append(f"Closed-class labels need {verdict} open-class ones "
                     f"({shown(closed)} against {shown(opened)} on average){remark}")
    else:
        parts.append("The labels shown do not include both closed and open classes, so the class contrast is open.")
    if len(needed):
        by_prop = needed.groupby("prop")["share"].mean().sort_values()
        parts.append(f"Per property, the minimal neuron set ranges from {100 * by_prop.iloc[0]:.1f} % of the neurons "
                     f"({by_prop.index[0]}) to {100 * by_prop.iloc[-1]:.1f} % ({by_prop.index[-1]}), averaged over "
                     "models: " + ("a small part of the model carries each property (localized)."
                                   if by_prop.iloc[-1] <= 0.5 else "some properties need most of the neurons "
                                   "(distributed)."))
    return " ".join(parts)


# Q2 — exclusive neurons.

def exclusive_share(table: pd.DataFrame) -> float:
    """Share of all salient memberships in an :func:`exclusivity_table` that are exclusive (0 for no neurons)."""
    return float(table["exclusive"].sum() / max(table["neurons"].sum(), 1))


def exclusive_answer(label_table: pd.DataFrame, property_table: pd.DataFrame, label_jaccard: pd.DataFrame) -> str:
    """Q2 in plain words from :func:`exclusivity_table` of labels and of properties and the labels' Jaccard table."""
    parts = []
    if len(property_table):
        parts.append(f"{100 * exclusive_share(property_table):.0f} % of the properties' salient neurons are "
                     f"exclusive to one property (from {100 * property_table['exclusive_share'].min():.0f} % for "
                     f"{property_table['exclusive_share'].idxmin()} to "
                     f"{100 * property_table['exclusive_share'].max():.0f} % for "
                     f"{property_table['exclusive_share'].idxmax()}).")
    if len(label_table):
        parts.append(f"Among labels, {100 * exclusive_share(label_table):.0f} % of the salient neurons serve a "
                     "single label.")
    pairs = label_jaccard.where(~np.eye(len(label_jaccard), dtype=bool)).stack()
    if len(pairs) and pairs.max() > 0:
        (a, b), value = pairs.idxmax(), pairs.max()
        parts.append(f"The most shared pair of labels is {a} / {b} (Jaccard {value:.2f}).")
    return " ".join(parts) or "No salient sets to compare."


# Q3 — NMT against LM.

def nmt_vs_lm_answer(table: pd.DataFrame, paper: Mapping[str, float]) -> str:
    """Q3 in plain words from :func:`nmt_vs_lm` beside the paper's gaps (``paper``: family → gap in points)."""
    gaps = table.set_index("family")["mean_gap"]
    if not {"NMT", "LM"} <= set(gaps.index):
        return "Q3 needs both an NMT model and the language model probed on the same properties; one is missing."
    more = "LM" if gaps["LM"] > gaps["NMT"] else "NMT"
    less = "NMT" if more == "LM" else "LM"
    agree = (more == "LM") == (paper["LM"] > paper["NMT"])
    return (f"The top-minus-bottom gap at 10 % (retraining) averages {gaps['NMT']:.1f} points for NMT and "
            f"{gaps['LM']:.1f} for the LM, so information is more localized in the {more} and more distributed in "
            f"the {less}; the paper measured {paper['NMT']:.1f} (NMT) and {paper['LM']:.1f} (LM), "
            + ("the same direction." if agree else "the opposite direction.")
            + " Caveat: the NMT encoder is bidirectional and has twice the analysed neurons per layer, the LM reads"
              " left to right only.")


# The explorer.

def ranks(order: Sequence[int]) -> np.ndarray:
    """The rank (1 = first) of every neuron id under ``order`` (neurons,): the inverse permutation plus one.
    Used in: 07_neuron_explorer."""
    order = np.asarray(order, dtype=np.int64)
    if np.sort(order).tolist() != list(range(order.size)):
        raise ValueError(f"an order must hold every neuron id 0..{order.size - 1} exactly once")
    rank = np.empty_like(order)
    rank[order] = np.arange(1, order.size + 1)
    return rank


def firing_labels(activation: np.ndarray, labels: Sequence[str], share: float = 0.02) -> pd.DataFrame:
    """Label distribution of the words where a neuron fires most (its top ``share`` of activations) against the
    whole corpus: columns label, count, share, base_share, lift (share / base_share), highest lift first.
    Used in: 07_neuron_explorer."""
    activation, labels = np.asarray(activation, dtype=np.float64), np.asarray(labels, dtype=str)
    if activation.shape != labels.shape:
        raise ValueError(f"one label per activation expected: {activation.shape} vs {labels.shape}")
    if not 0 < share <= 1:
        raise ValueError(f"share must lie in (0, 1], got {share}")
    k = max(1, int(round(share * activation.size)))
    top_rows = np.argsort(-activation, kind="stable")[:k]
    classes, inverse = np.unique(labels, return_inverse=True)
    base = np.bincount(inverse, minlength=classes.size) / labels.size
    counts = np.bincount(inverse[top_rows], minlength=classes.size)
    table = pd.DataFrame({"label": classes, "count": counts, "share": counts / k, "base_share": base})
    table["lift"] = table["share"] / table["base_share"]
    table = table[table["count"] > 0].sort_values(["lift", "label"], ascending=[False, True], kind="stable")
    return table.reset_index(drop=True)


def pooled_exclusivity(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Several :func:`exclusivity_table` results (one per model) summed per set, with the share recomputed."""
    table = pd.concat(tables).groupby(level=0)[["neurons", "exclusive"]].sum()
    table["exclusive_share"] = np.divide(table["exclusive"], table["neurons"], out=np.zeros(len(table)),
                                         where=table["neurons"] > 0)
    return table


def top_sentences(activation: np.ndarray, sentence_offsets: np.ndarray, k: int,
                  rows: np.ndarray | None = None) -> np.ndarray:
    """Ids of the ``k`` sentences where a neuron peaks highest (max over their words, or over the words marked in
    the boolean ``rows`` only), highest first; sentences with no marked word are left out. Used in: 07."""
    activation = np.asarray(activation, dtype=np.float64)
    offsets = np.asarray(sentence_offsets, dtype=np.int64)
    if offsets[-1] != activation.size:
        raise ValueError(f"sentence offsets end at {offsets[-1]} but there are {activation.size} activations")
    values = activation if rows is None else np.where(np.asarray(rows, dtype=bool), activation, -np.inf)
    lengths = np.diff(offsets)
    peaks = np.full(lengths.size, -np.inf)
    filled = lengths > 0
    peaks[filled] = np.maximum.reduceat(values, offsets[:-1][filled])
    order = np.argsort(-peaks, kind="stable")
    return order[np.isfinite(peaks[order])][:k]
