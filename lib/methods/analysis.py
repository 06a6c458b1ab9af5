"""The paper's questions as tables: neurons needed, shared and exclusive neurons, NMT versus LM.

Everything here works on plain rankings and results (sets of neuron ids, the nested results of notebook 01), so
the functions are cheap and testable on hand-made inputs; the heavy lifting (probes, correlations) happens before.
Used in: 04_localized_or_distributed, 05_exclusive_neurons, 06_nmt_vs_lm.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from lib.methods.intervals import Interval, spread, verdict


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


def top_bottom_gap(lca_results: Mapping[str, Mapping[str, Mapping]], families: Mapping[str, str], pct: int = 10,
                   how: str = "retraining") -> pd.DataFrame:
    """Top-minus-bottom accuracy (points) at ``pct`` % of neurons per model and property, with a 95 % interval.

    The paper's Q3 measure: a larger gap means the property is more localized in the top neurons. ``families``
    maps each model to its family ("NMT", "LM", ...: ``lib.pipeline.specs.ModelSpec.family``). ``gap_low`` /
    ``gap_high`` come from the top and bottom intervals notebook 01 records (``"intervals"``), combined
    conservatively (top low − bottom high, top high − bottom low); NaN where 01 recorded none.
    Used in: 06_nmt_vs_lm.
    """
    key = str(pct)
    rows = []
    for model, props in lca_results.items():
        for prop, r in props.items():
            top, bottom = (_interval_of(r, how, sel, key) for sel in ("top", "bottom"))
            rows.append({"model": model, "family": families[model], "prop": prop,
                         "top": r[how]["top"][key], "bottom": r[how]["bottom"][key],
                         "gap": 100.0 * (r[how]["top"][key] - r[how]["bottom"][key]),
                         "gap_low": 100.0 * (top[0] - bottom[1]), "gap_high": 100.0 * (top[1] - bottom[0])})
    return pd.DataFrame(rows, columns=["model", "family", "prop", "top", "bottom", "gap", "gap_low", "gap_high"])


def _interval_of(result: Mapping, how: str, selection: str, pct: str) -> tuple[float, float]:
    """``[low, high]`` of one accuracy in notebook 01's ``"intervals"`` block, or (NaN, NaN) when absent."""
    try:
        low, high = result["intervals"][how][selection][pct]
        return float(low), float(high)
    except (KeyError, TypeError, ValueError):
        return float("nan"), float("nan")


def nmt_vs_lm(lca_results: Mapping[str, Mapping[str, Mapping]], families: Mapping[str, str], pct: int = 10
              ) -> pd.DataFrame:
    """Per family (NMT, LM): mean top-minus-bottom gap (points) with a 95 % t interval over its (model, property)
    gaps (``gap_low``, ``gap_high``, ``gaps``), and the mean minimal-set share over properties.

    Only properties probed in both families are averaged, so the comparison is like for like. The interval treats
    the properties (and models) as a sample, so it holds their spread and, through it, the probes' noise.
    Used in: 06_nmt_vs_lm.
    """
    gaps = top_bottom_gap(lca_results, families, pct)
    needed = neurons_needed(lca_results)
    needed["family"] = needed["model"].map(families)
    common = set.intersection(*(set(g["prop"]) for _, g in gaps.groupby("family"))) if len(gaps) else set()
    gaps, needed = gaps[gaps["prop"].isin(common)], needed[needed["prop"].isin(common)]
    table = pd.concat([gaps.groupby("family")["gap"].mean().rename("mean_gap"),
                       needed.groupby("family")["share"].mean().rename("mean_minimal_share"),
                       gaps.groupby("family")["prop"].nunique().rename("properties")], axis=1)
    bounds = {family: spread(g["gap"]) for family, g in gaps.groupby("family")}
    table["gap_low"] = [bounds[f].low for f in table.index]
    table["gap_high"] = [bounds[f].high for f in table.index]
    table["gaps"] = [bounds[f].n for f in table.index]
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
    """Mean, median, 95 % t interval (``low``, ``high``, over labels) of ``value`` (neurons needed, or their share
    of the model) and the number of labels per word class (closed, open; "other" dropped), from rows with columns
    ``class`` and ``value``; extra columns such as the model are pooled (pool shares, not counts, across models of
    different sizes). Used in: 04."""
    known = counts[counts["class"].isin(["closed", "open"])]
    table = known.groupby("class")[value].agg(mean="mean", median="median", labels="size")
    bounds = {c: spread(g[value]) for c, g in known.groupby("class")}
    table["low"] = [bounds[c].low for c in table.index]
    table["high"] = [bounds[c].high for c in table.index]
    return table.reindex(["closed", "open"]).dropna(how="all")


def class_intervals(contrast: pd.DataFrame) -> tuple[Interval, Interval] | None:
    """The closed and open rows of :func:`class_contrast` as intervals, or None when a class is missing."""
    if not {"closed", "open"} <= set(contrast.index):
        return None
    return tuple(Interval(float(r["mean"]), float(r["low"]), float(r["high"]), int(r["labels"]), "t over labels")
                 for _, r in contrast.loc[["closed", "open"]].iterrows())


def resolved(a: Interval, b: Interval) -> str:
    """:func:`lib.methods.intervals.verdict`, except that a side resting on fewer than two values (no spread
    measured) is always "not resolved": an interval of width zero separates from anything."""
    return "not resolved" if min(a.n, b.n) < 2 else verdict(a, b)


LOCALIZED_SHARE = 0.10
"""A property is called localized when its minimal neuron set is at most 10 % of the neurons: the share the paper's
own top / bottom experiments (10, 15, 20 %) treat as "a few" neurons, and below the ≈ 9.6 % of neurons that a random
Gaussian weight vector needs for a quarter of its mass (:func:`gaussian_salient_reference`)."""


def gaussian_salient_reference(n_neurons: int, mass: float, draws: int = 2000, seed: int = 0) -> Interval:
    """How many neurons a label would need to hold ``mass`` of its |W| if its weights were i.i.d. Gaussian (no
    neuron preferred): median and central 95 % range over ``draws`` random weight vectors of ``n_neurons``.

    The null for "localized": a uniform weight vector needs ``mass`` of the neurons, a Gaussian one
    2·(1 − Φ(√(2 ln 1/mass))) of them (≈ 9.6 % at 25 %, since the top-t share of E|w| is exp(−t²/2)); a label is
    localized when its salient set is below this range, distributed when above. Used in: 04.
    """
    from lib.methods.ranking import label_top_neurons

    if n_neurons < 1 or draws < 1:
        raise ValueError(f"need n_neurons ≥ 1 and draws ≥ 1, got {n_neurons}, {draws}")
    weights = np.random.default_rng(seed).standard_normal((draws, n_neurons))
    sizes = np.array([ids.size for ids in label_top_neurons(weights, mass)], dtype=np.float64)
    low, median, high = np.percentile(sizes, [2.5, 50, 97.5])
    return Interval(float(median), float(low), float(high), draws,
                    f"salient-set size of {draws} i.i.d. Gaussian weight vectors, central 95 %")


def localization(neurons: Sequence[int], reference: Interval) -> list[str]:
    """Per salient-set size: "localized" below ``reference`` (:func:`gaussian_salient_reference`), "distributed"
    above it, "like random weights" inside it. Used in: 04."""
    sizes = np.asarray(neurons, dtype=np.float64)
    return np.where(sizes < reference.low, "localized",
                    np.where(sizes > reference.high, "distributed", "like random weights")).tolist()


RESOLVE_BY = ("more test sentences and probe seeds (the `paper` profile), or the question asked of a stronger model "
              "alone, such as MiniLM (`models = [\"minilm\"]`)")
"""What would resolve a verdict that the intervals leave open, named in every "not resolved" answer."""


def localized_answer(contrast: pd.DataFrame, needed: pd.DataFrame, unit: str = "neurons") -> str:
    """Q1 in plain words from :func:`class_contrast` (of counts, or of shares when ``unit`` is ``"share"``) and
    :func:`neurons_needed` (minimal sets per property): the closed-against-open verdict comes from the classes'
    95 % intervals over labels ("not resolved at this scale" when they overlap), the per-property reading from
    :data:`LOCALIZED_SHARE`."""
    parts = []
    sides = class_intervals(contrast)
    if sides is None:
        parts.append("The labels shown do not include both closed and open classes, so the class contrast is open.")
    else:
        closed, opened = sides
        shown = (lambda v: f"{100 * v:.1f} %") if unit == "share" else (lambda v: f"{v:.1f}")
        numbers = (f"{shown(closed.estimate)} [{shown(closed.low)}, {shown(closed.high)}] against "
                   f"{shown(opened.estimate)} [{shown(opened.low)}, {shown(opened.high)}], 95 % intervals over "
                   f"{closed.n} and {opened.n} labels")
        call = resolved(closed, opened)
        if call == "not resolved":
            parts.append(f"Closed- and open-class labels: {numbers}. The intervals overlap, so whether closed "
                         f"classes need fewer neurons is not resolved at this scale; {RESOLVE_BY} would resolve it.")
        else:
            fewer = call == "lower"
            parts.append(f"Closed-class labels need {'fewer' if fewer else 'more'} salient neurons than open-class "
                         f"ones ({numbers}; the intervals separate), "
                         + ("as the paper expects." if fewer else "unlike the paper's finding."))
    if len(needed):
        by_prop = needed.groupby("prop")["share"].mean().sort_values()
        small = by_prop[by_prop <= LOCALIZED_SHARE]
        parts.append(f"Per property, the minimal neuron set ranges from {100 * by_prop.iloc[0]:.1f} % of the neurons "
                     f"({by_prop.index[0]}) to {100 * by_prop.iloc[-1]:.1f} % ({by_prop.index[-1]}), averaged over "
                     f"models; {len(small)} of {len(by_prop)} properties are localized (≤ "
                     f"{100 * LOCALIZED_SHARE:.0f} % of the neurons)"
                     + (f": {', '.join(small.index)}." if len(small) else "."))
    return " ".join(parts)


# Q2 — exclusive neurons.

def exclusive_share(table: pd.DataFrame) -> float:
    """Share of all salient memberships in an :func:`exclusivity_table` that are exclusive (0 for no neurons)."""
    return float(table["exclusive"].sum() / max(table["neurons"].sum(), 1))


def chance_exclusive_share(sizes: Sequence[int], n_neurons: int) -> float:
    """The exclusive share :func:`exclusive_share` would expect if sets of these ``sizes`` were drawn uniformly at
    random from ``n_neurons``: Σᵢ sᵢ·Πⱼ≠ᵢ(1 − sⱼ/n) / Σᵢ sᵢ. The baseline Q2's "exclusive" is read against: large sets
    overlap by chance, small ones are exclusive by chance. Used in: 05_exclusive_neurons."""
    s = np.asarray(sizes, dtype=np.float64)
    if s.size == 0 or s.sum() == 0:
        return 0.0
    free = np.tile(1.0 - s / n_neurons, (s.size, 1))  # sets × sets: chance a neuron misses set j
    np.fill_diagonal(free, 1.0)
    return float((s * free.prod(axis=1)).sum() / s.sum())


def exclusive_versus_chance(tables: Sequence[pd.DataFrame], n_neurons: Sequence[int]) -> tuple[Interval, Interval]:
    """Observed and chance exclusive shares (:func:`exclusive_share`, :func:`chance_exclusive_share`) of one
    :func:`exclusivity_table` per model, each as a 95 % t interval over the models. Used in: 05."""
    observed = [exclusive_share(t) for t in tables]
    chance = [chance_exclusive_share(t["neurons"].to_numpy(), n) for t, n in zip(tables, n_neurons)]
    return spread(observed), spread(chance)


def exclusive_answer(label_table: pd.DataFrame, property_table: pd.DataFrame, label_jaccard: pd.DataFrame,
                     versus_chance: tuple[Interval, Interval] | None = None) -> str:
    """Q2 in plain words from :func:`exclusivity_table` of labels and of properties, the labels' Jaccard table and,
    when given, :func:`exclusive_versus_chance` of the properties: "more exclusive than chance" only where the
    intervals separate, "not resolved at this scale" where they overlap."""
    parts = []
    if len(property_table):
        parts.append(f"{100 * exclusive_share(property_table):.0f} % of the properties' salient neurons are "
                     f"exclusive to one property (from {100 * property_table['exclusive_share'].min():.0f} % for "
                     f"{property_table['exclusive_share'].idxmin()} to "
                     f"{100 * property_table['exclusive_share'].max():.0f} % for "
                     f"{property_table['exclusive_share'].idxmax()}).")
    if versus_chance is not None:
        observed, chance = versus_chance
        numbers = (f"{100 * observed.estimate:.0f} % [{100 * observed.low:.0f}, {100 * observed.high:.0f}] against "
                   f"{100 * chance.estimate:.0f} % [{100 * chance.low:.0f}, {100 * chance.high:.0f}] for random sets "
                   f"of the same sizes (95 % intervals over {observed.n} models)")
        call = resolved(observed, chance)
        parts.append(f"Exclusive share {numbers}: " + (
            f"not resolved at this scale; {RESOLVE_BY} would resolve it." if call == "not resolved" else
            f"properties keep {'more' if call == 'higher' else 'fewer'} neurons to themselves than chance."))
    if len(label_table):
        parts.append(f"Among labels, {100 * exclusive_share(label_table):.0f} % of the salient neurons serve a "
                     "single label.")
    pairs = label_jaccard.where(~np.eye(len(label_jaccard), dtype=bool)).stack()
    if len(pairs) and pairs.max() > 0:
        (a, b), value = pairs.idxmax(), pairs.max()
        parts.append(f"The most shared pair of labels is {a} / {b} (Jaccard {value:.2f}).")
    return " ".join(parts) or "No salient sets to compare."


# Q3 — NMT against LM.

def family_intervals(table: pd.DataFrame) -> tuple[Interval, Interval] | None:
    """The NMT and LM rows of :func:`nmt_vs_lm` as gap intervals (points), or None when a family is missing."""
    rows = table.set_index("family")
    if not {"NMT", "LM"} <= set(rows.index):
        return None
    return tuple(Interval(float(rows.loc[f, "mean_gap"]), float(rows.loc[f, "gap_low"]), float(rows.loc[f, "gap_high"]),
                          int(rows.loc[f, "gaps"]), "t over model-property gaps") for f in ("NMT", "LM"))


def nmt_vs_lm_answer(table: pd.DataFrame, paper: Mapping[str, float]) -> str:
    """Q3 in plain words from :func:`nmt_vs_lm` beside the paper's gaps (``paper``: family → gap in points): which
    family is more localized only where the families' 95 % intervals separate, otherwise "not resolved at this
    scale" and what would resolve it."""
    sides = family_intervals(table)
    if sides is None:
        return "Q3 needs both an NMT model and the language model probed on the same properties; one is missing."
    nmt, lm = sides
    paper_more = "LM" if paper["LM"] > paper["NMT"] else "NMT"
    text = (f"The top-minus-bottom gap at 10 % (retraining) averages {nmt.estimate:.1f} points "
            f"[{nmt.low:.1f}, {nmt.high:.1f}] for NMT and {lm.estimate:.1f} [{lm.low:.1f}, {lm.high:.1f}] for the "
            f"LM (95 % intervals over {nmt.n} and {lm.n} model-property gaps); the paper measured "
            f"{paper['NMT']:.1f} (NMT) and {paper['LM']:.1f} (LM). ")
    call = resolved(lm, nmt)
    if call == "not resolved":
        text += (f"The intervals overlap, so which family is more localized is not resolved at this scale; "
                 f"{RESOLVE_BY} would resolve it.")
    else:
        more = "LM" if call == "higher" else "NMT"
        text += (f"Information is more localized in the {more} and more distributed in the "
                 f"{'NMT' if more == 'LM' else 'LM'}, " + ("the paper's direction." if more == paper_more
                                                           else "the opposite of the paper's direction."))
    return text + (" Caveat: the NMT encoder is bidirectional and has twice the analysed neurons per layer, the LM"
                   " reads left to right only, so the families differ in more than their training objective.")


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
