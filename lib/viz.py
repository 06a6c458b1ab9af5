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
    model -> per-neuron scores, as in ``lib.correlation.CCARankings.scores``). Used in: 02_cross_model_correlation."""
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
    values = table.abs()
    _, ax = plt.subplots(figsize=(1.0 * values.shape[1] + 2, 0.3 * len(values) + 1.2), layout="constrained")
    sns.heatmap(values, vmin=0, vmax=1, annot=True, fmt=".2f", cmap="viridis", cbar=False, ax=ax)
    ax.set(title=title, xlabel="", ylabel="")
    return ax
