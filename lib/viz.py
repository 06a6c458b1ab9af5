"""Figures and HTML renderings shared by the notebooks (the only lib module that imports plotting libraries).

Used in: every notebook.
"""
from __future__ import annotations

import html
from collections import Counter
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lib.methods.baselines import FAMILIARITY

# Labels come from corpora (Brown's "PP$$") and are drawn as written, never parsed as TeX math.
plt.rcParams["text.parse_math"] = False


def plot_label_distribution(counts: Counter, title: str, top: int = 25, ax: plt.Axes | None = None,
                            max_chars: int = 32) -> plt.Axes:
    """Horizontal bars of the ``top`` most frequent labels of one property (share of words), the rest pooled.

    Labels longer than ``max_chars`` (UD feature bundles) are shortened with an ellipsis.
    """
    total = sum(counts.values())
    common = counts.most_common(top)
    rest = total - sum(n for _, n in common)
    frame = pd.DataFrame(common + ([(f"(other {len(counts) - top})", rest)] if rest else []),
                         columns=["label", "words"])
    frame["share"] = frame["words"] / total
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 0.25 * len(frame) + 1))
    sns.barplot(x=frame["share"], y=frame.index.astype(str), orient="h", ax=ax, color="tab:blue")
    ax.set_yticks(range(len(frame)),
                  [label if len(label) <= max_chars else label[:max_chars - 1] + "…" for label in frame["label"]])
    ax.set(title=f"{title} ({len(counts)} labels)", xlabel="share of words", ylabel="")
    return ax


def plot_label_distributions(counts: Mapping[str, Counter], title: str, top: int = 25, columns: int = 3) -> plt.Figure:
    """One bar plot per property (``counts``: property name -> label counts), ``columns`` plots to a row."""
    columns = min(columns, len(counts))
    rows = -(-len(counts) // columns)
    height = 0.22 * min(max(len(c) for c in counts.values()), top + 1) + 1.2
    fig, axes = plt.subplots(rows, columns, figsize=(6 * columns, height * rows), squeeze=False,
                             layout="constrained")
    for ax, (name, label_counts) in zip(axes.flat, counts.items()):
        plot_label_distribution(label_counts, name, top, ax)
    for ax in axes.flat[len(counts):]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig


def sentence_html(words: Sequence[str], rows: Mapping[str, Sequence[str]], caption: str = "") -> str:
    """An HTML table of one sentence: a header row of its words, then one row of labels per property."""
    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(f"<{tag} style='text-align:center;padding:2px 6px'>{html.escape(str(v))}</{tag}>"
                       for v in values)
    body = [f"<tr><th style='text-align:left'>word</th>{cells('th', words)}</tr>"]
    body += [f"<tr><th style='text-align:left'>{html.escape(name)}</th>{cells('td', labels)}</tr>"
             for name, labels in rows.items()]
    caption_html = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return f"<table style='font-size:85%;margin-bottom:1em'>{caption_html}{''.join(body)}</table>"


def plot_cca_scores(scores: Mapping[str, Mapping[str, np.ndarray]]) -> plt.Figure:
    """Distribution of each CCA score over the neurons of each model: one panel per method (``scores``: method ->
    model -> per-neuron scores, as in ``lib.methods.correlation.CCARankings.scores``). Used in: 02_cross_model_correlation."""
    fig, axes = plt.subplots(1, len(scores), figsize=(4.5 * len(scores), 3.4), squeeze=False, layout="constrained")
    labels = {"maxcorr": "MaxCorr (max |ρ|)", "mincorr": "MinCorr", "linreg": "LinReg error (1 − R²)"}
    for ax, (method, per_model) in zip(axes.flat, scores.items()):
        frame = pd.DataFrame([(model, float(v)) for model, values in per_model.items() for v in values],
                             columns=["model", "score"])
        sns.histplot(frame, x="score", hue="model", element="step", stat="density", common_norm=False,
                     bins=30, ax=ax)
        ax.set(xlabel=labels.get(method, method), title=method)
    return fig


def plot_svcca(correlations: Mapping[tuple[str, str], np.ndarray]) -> plt.Axes:
    """SVCCA canonical correlations of each pair of models, highest first. Used in: 02_cross_model_correlation."""
    _, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    for (a, b), values in correlations.items():
        ax.plot(range(1, len(values) + 1), values, label=f"{a} / {b}")
    ax.set(xlabel="canonical direction", ylabel="canonical correlation", ylim=(0, 1.02),
           title="SVCCA (99 % of variance kept per model)")
    ax.legend(fontsize="small")
    return ax


def plot_responses(table: pd.DataFrame, title: str) -> plt.Axes:
    """Heat-map of what neurons respond to: rows are neurons, columns |ρ| with position and η per property.
    Used in: 02_cross_model_correlation."""
    values = table.abs().rename(columns={"position_corr": "|ρ position|"})
    _, ax = plt.subplots(figsize=(1.0 * values.shape[1] + 2, 0.3 * len(values) + 1.2), layout="constrained")
    sns.heatmap(values, vmin=0, vmax=1, annot=True, fmt=".2f", cmap="viridis", cbar=False, ax=ax)
    ax.set(title=title, xlabel="", ylabel="")
    return ax


def plot_lambda_search(table: pd.DataFrame, chosen: tuple[float, float] | None = None) -> plt.Figure:
    """The paper's Fig. 2: dev accuracy against λ1 (one line per λ2) and against λ2 (one line per λ1), log scale with
    λ = 0 drawn at the left edge; ``table`` as in ``lib.methods.probing.LambdaSearch.table``. Used in: 01."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained", sharey=True)
    positive = table[["l1", "l2"]].to_numpy()
    floor = positive[positive > 0].min() / 10 if (positive > 0).any() else 1e-8
    shown = table.assign(l1=table.l1.where(table.l1 > 0, floor), l2=table.l2.where(table.l2 > 0, floor))
    for ax, (x, hue) in zip(axes, (("l1", "l2"), ("l2", "l1"))):
        levels = sorted(table[hue].unique())
        lines = shown.assign(**{hue: table[hue].map(lambda v: f"{v:g}")})
        sns.lineplot(lines, x=x, y="dev_accuracy", hue=hue, hue_order=[f"{v:g}" for v in levels], marker="o",
                     palette="viridis", ax=ax)
        ax.set(xscale="log", xlabel=f"λ{x[1]} (leftmost point: 0)", ylabel="dev accuracy")
        ax.legend(title=f"λ{hue[1]}", fontsize="x-small", title_fontsize="small")
        if chosen is not None:
            ax.axvline(max(chosen[0] if x == "l1" else chosen[1], floor), color="grey", ls="--", lw=1)
    fig.suptitle("Probe accuracy against the elastic-net strengths (dashed: chosen)")
    return fig


def plot_ablation(table: pd.DataFrame, title: str, majority: float | None = None) -> plt.Figure:
    """Accuracy bars of top / random / bottom neurons at each percentage, by masking and by retraining, with their
    95 % intervals (``low``, ``high`` columns, when present) as error bars, the all-neuron accuracy as a dashed line
    and MAJ (the paper's Table 1 baseline, when given) as a dotted one; ``table`` as in
    ``lib.methods.ablation.ablation_table``. Used in: 01."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained", sharey=True)
    everything = float(table.loc[table.method == "all", "accuracy"].iloc[0])
    pcts = sorted(table.loc[table.method != "all", "pct"].unique())
    width = 0.27
    for ax, method in zip(axes, ("masking", "retraining")):
        part = table[table.method == method]
        for i, (name, colour) in enumerate(zip(("top", "random", "bottom"), sns.color_palette(n_colors=3))):
            rows = part[part.selection == name].set_index("pct").loc[pcts]
            err = [rows.accuracy - rows.low, rows.high - rows.accuracy] if "low" in rows else None
            ax.bar(np.arange(len(pcts)) + (i - 1) * width, rows.accuracy, width, yerr=err, capsize=2,
                   color=colour, label=name)
        ax.axhline(everything, color="black", ls="--", lw=1, label="all neurons")
        if majority is not None:
            ax.axhline(majority, color="grey", ls=":", lw=1.5, label="MAJ (paper's baseline)")
        ax.set_xticks(np.arange(len(pcts)), [f"{pct:g}" for pct in pcts])
        ax.set(title=method, xlabel="% of neurons kept", ylabel="accuracy", ylim=(0, 1))
    axes[1].legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(title)
    return fig


def plot_label_counts(counts: pd.Series, title: str) -> plt.Axes:
    """Horizontal bars: salient neurons per label (``counts`` indexed by label). Used in: 01, 04."""
    ordered = counts.sort_values()
    _, ax = plt.subplots(figsize=(6, 0.25 * len(ordered) + 1.2), layout="constrained")
    ax.barh(ordered.index.astype(str), ordered.to_numpy(), color=sns.color_palette()[0])
    ax.set(xlabel="neurons", title=title)
    return ax



def neuron_text_html(sentences: Sequence[Sequence[str]], values: Sequence[np.ndarray], scale: float | None = None,
                     title: str = "") -> str:
    """Sentences with each word shaded by one neuron's activation: red positive, blue negative.

    All sentences share one colour scale (``scale`` = the largest |activation| shown, unless given), so shades are
    comparable across sentences; hovering a word shows its value. Used in: 07_neuron_explorer.
    """
    if len(sentences) != len(values):
        raise ValueError(f"{len(sentences)} sentences but {len(values)} activation rows")
    flat = np.concatenate([np.asarray(v, dtype=float).ravel() for v in values]) if values else np.zeros(1)
    scale = float(scale if scale is not None else np.abs(flat).max()) or 1.0
    lines = []
    for words, acts in zip(sentences, values):
        spans = []
        for word, value in zip(words, np.asarray(acts, dtype=float)):
            alpha = min(abs(value) / scale, 1.0)
            rgb = "214,39,40" if value >= 0 else "31,119,180"
            spans.append(f"<span title='{value:+.3f}' style='background:rgba({rgb},{alpha:.2f});"
                         f"padding:1px 2px;border-radius:3px'>{html.escape(word)}</span>")
        lines.append(f"<div style='line-height:1.9'>{' '.join(spans)}</div>")
    legend = (f"<div style='font-size:80%;color:#555'>{html.escape(title)} shared scale: ±{scale:.3f} "
              "(red positive, blue negative)</div>")
    return legend + "".join(lines)


def plot_ablation_curves(curves: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
                         metrics: Mapping[str, str], n_neurons: Mapping[str, int]) -> plt.Figure:
    """Task metric against the share of neurons ablated, one panel per model and one line per order.

    ``curves``: model -> order name -> [[neurons zeroed, metric], …]. Used in: 03_ablation_in_the_model.
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(4.6 * len(curves), 3.6), squeeze=False, layout="constrained")
    for ax, (model, per_order) in zip(axes.flat, curves.items()):
        for name, points in per_order.items():
            points = np.asarray(points, dtype=float)
            ax.plot(100 * points[:, 0] / n_neurons[model], points[:, 1], marker="o", ms=3, label=name,
                    linestyle="--" if "random" in name or "bottom" in name else "-")
        ax.set(title=model, xlabel="neurons ablated (%)", ylabel=metrics[model].upper()
               if metrics[model] == "bleu" else metrics[model])
        if metrics[model] == "perplexity":
            ax.set_yscale("log")
    axes.flat[-1].legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def plot_damage(tables: Mapping[str, pd.DataFrame], units: Mapping[str, str]) -> plt.Figure:
    """Each order's damage with its 95 % interval, one panel per model (``tables``: model -> frame with columns
    damage, low, high indexed by order, as ``lib.methods.damage.Damage.table``). Used in: 03_ablation_in_the_model."""
    fig, axes = plt.subplots(1, len(tables), figsize=(4.6 * len(tables), 0.35 * max(map(len, tables.values())) + 1.4),
                             squeeze=False, layout="constrained")
    for ax, (model, table) in zip(axes.flat, tables.items()):
        rows = table.iloc[::-1]
        ax.errorbar(rows["damage"], range(len(rows)), xerr=[rows["damage"] - rows["low"], rows["high"] - rows["damage"]],
                    fmt="o", capsize=3)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set(title=model, xlabel=f"damage ({units[model]})", yticks=range(len(rows)), yticklabels=rows.index)
    return fig


def plot_familiarity(table: pd.DataFrame, groups: Sequence[str] = FAMILIARITY, legend: str = "words {} in training"
                     ) -> plt.Figure:
    """Probe minus MAJ (points) with its 95 % interval on each group of test words (``groups``, each in its own
    colour and place: by default seen and unseen in training), one panel per property, a row per model (``table``:
    ``lib.pipeline.lca.familiarity_table``); ``legend`` names a group. Left of zero the neurons know less than word
    identity. Used in: 01_linguistic_correlation."""
    props, models = table["prop"].unique(), table["model"].unique()
    fig, axes = plt.subplots(1, len(props), figsize=(4.2 * len(props), 0.25 * len(groups) * len(models) + 1.5),
                             squeeze=False, sharey=True, layout="constrained")
    offsets = 0.24 * (np.arange(len(groups)) - (len(groups) - 1) / 2)  # the groups 0.24 apart around each row
    for ax, prop in zip(axes.flat, props):
        for i, name in enumerate(groups):
            rows = table[(table["prop"] == prop) & (table["words"] == name)]
            y = [list(models).index(m) + offsets[i] for m in rows["model"]]
            spread = [rows["difference"] - rows["low"], rows["high"] - rows["difference"]]
            ax.errorbar(rows["difference"], y, xerr=spread, fmt="o", capsize=3, color=f"C{i}",
                        label=legend.format(name))
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set(title=prop, xlabel="probe − MAJ (points)", yticks=range(len(models)), yticklabels=models)
        ax.invert_yaxis()
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center", ncols=len(groups),
               fontsize="small")
    return fig


def plot_overlap(table: pd.DataFrame, title: str, fmt: str = ".2f") -> plt.Axes:
    """Heat-map of a square overlap table (Jaccard or shared counts) between labels or properties.
    Used in: 05_exclusive_neurons."""
    size = 0.45 * len(table) + 2
    _, ax = plt.subplots(figsize=(size + 1, size), layout="constrained")
    sns.heatmap(table, annot=len(table) <= 16, fmt=fmt, cmap="rocket_r", square=True, ax=ax,
                cbar_kws={"shrink": 0.6})
    ax.set(title=title, xlabel="", ylabel="")
    return ax


def plot_neurons_needed(table: pd.DataFrame, x: str, y: str, hue: str | None, title: str) -> plt.Axes:
    """Bars of neurons needed (``y``) per property or label (``x``), optionally split by ``hue`` (e.g. model).
    Used in: 04_localized_or_distributed, 06_nmt_vs_lm."""
    _, ax = plt.subplots(figsize=(max(5.0, 0.45 * table[x].nunique() + 2), 3.6), layout="constrained")
    sns.barplot(table, x=x, y=y, hue=hue, ax=ax)
    ax.tick_params(axis="x", rotation=60)
    ax.set(title=title, xlabel="")
    return ax


def plot_top_words(high: pd.DataFrame, low: pd.DataFrame, title: str) -> plt.Figure:
    """A neuron's top words: types with the highest (left) and the most negative (right) mean activation, from two
    ``lib.methods.analysis.top_words`` tables (columns word, mean, count). Used in: 07_neuron_explorer."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 0.25 * max(len(high), len(low)) + 1.4), layout="constrained")
    for ax, table, colour, name in ((axes[0], high, "#d62728", "highest"), (axes[1], low, "#1f77b4", "lowest")):
        ax.barh([f"{w} ({c})" for w, c in zip(table["word"], table["count"])][::-1], table["mean"].to_numpy()[::-1],
                color=colour)
        ax.set(title=f"{name} mean activation", xlabel="mean activation (count)")
    fig.suptitle(title)
    return fig


def plot_training(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> plt.Figure:
    """Train and dev loss per epoch of each model (``histories``: model -> per-epoch records with ``epoch``,
    ``train_loss``, ``dev_loss``), one panel per model. Used in: 00_data_and_models."""
    fig, axes = plt.subplots(1, len(histories), figsize=(3.6 * len(histories), 3.0), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, (model, history) in zip(axes.flat, histories.items()):
        frame = pd.DataFrame(history)
        ax.plot(frame["epoch"], frame["train_loss"], marker="o", label="train")
        ax.plot(frame["epoch"], frame["dev_loss"], marker="o", label="dev")
        ax.set(title=model, xlabel="epoch", ylabel="loss per piece")
    axes.flat[0].legend()
    return fig
