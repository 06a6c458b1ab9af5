"""What a neuron responds to: its correlation with the word's position and with the labels of each property.

Vectorised over neurons and labels (one-hot indicators as a sparse matrix, products through
``lib.methods.correlation.cross_stats``), so the top neurons of any ranking can be characterised in one pass: the paper found
position and closed-class neurons at the top of the cross-model ranking.
Used in: 02_cross_model_correlation.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse

from lib.methods.correlation import cross_stats

def point_biserial(acts: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of each neuron with each label's one-hot indicator: (classes, D × classes matrix).

    ``acts`` is words × neurons, ``labels`` one label per word. Used in: 02_cross_model_correlation.
    """
    classes, onehot = _onehot(labels, len(acts))
    stats = cross_stats([acts, onehot.T.toarray().astype(np.float32)], ["neurons", "labels"], within=False)
    return classes, stats.corr(0, 1)


def correlation_ratio(acts: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Correlation ratio η of each neuron with a categorical labelling (D): the share of its spread, as a standard
    deviation ratio, explained by the label means; 0 for constant neurons. Used in: 02_cross_model_correlation."""
    acts = np.asarray(acts, dtype=np.float64)
    _, onehot = _onehot(labels, len(acts))
    centred = acts - acts.mean(axis=0)
    counts = np.asarray(onehot.sum(axis=1)).ravel()
    class_sums = onehot @ centred
    between = (class_sums**2 / counts[:, None]).sum(axis=0)
    total = (centred**2).sum(axis=0)
    return np.sqrt(np.divide(between, total, out=np.zeros_like(total), where=total > 0).clip(0.0, 1.0))


def responses(acts: Any, neurons: Sequence[int], sentence_offsets: np.ndarray,
              labels: dict[str, Sequence[str]]) -> pd.DataFrame:
    """What each of ``neurons`` responds to: Pearson ρ of its activation with the word's position in its sentence
    (``position_corr``) and the correlation ratio η with each labelling in ``labels`` (property → one label per word;
    columns ``eta_<property>``). ``acts`` is words × neurons (a memory map is read for those columns only); rows of
    the table follow ``neurons``. Used in: 02_cross_model_correlation."""
    neurons = np.asarray(neurons, dtype=int)
    sorted_ids, inverse = np.unique(neurons, return_inverse=True)
    columns = np.asarray(acts[:, sorted_ids], dtype=np.float32)[:, inverse]
    table = {"position_corr": cross_stats([columns, positions(sentence_offsets)[:, None].astype(np.float32)],
                                          ["neurons", "position"], within=False).corr(0, 1)[:, 0]}
    for prop, per_word in labels.items():
        table[f"eta_{prop}"] = correlation_ratio(columns, per_word)
    return pd.DataFrame(table, index=pd.Index(neurons, name="neuron"))


def strongest_labels(acts: Any, neurons: Sequence[int], labels: dict[str, Sequence[str]]) -> pd.DataFrame:
    """For each of ``neurons`` and each labelling in ``labels``: the label whose one-hot indicator correlates most
    with the neuron (point-biserial ρ), written like ``"DET (+0.61)"``. Rows follow ``neurons``.
    Used in: 02_cross_model_correlation."""
    neurons = np.asarray(neurons, dtype=int)
    sorted_ids, inverse = np.unique(neurons, return_inverse=True)
    columns = np.asarray(acts[:, sorted_ids], dtype=np.float32)[:, inverse]
    table = {}
    for prop, per_word in labels.items():
        classes, r = point_biserial(columns, per_word)
        best = np.abs(r).argmax(axis=1)
        table[prop] = [f"{classes[b]} ({r[i, b]:+.2f})" for i, b in enumerate(best)]
    return pd.DataFrame(table, index=pd.Index(neurons, name="neuron"))


def positions(sentence_offsets: np.ndarray) -> np.ndarray:
    """Index of each word within its sentence (0 for the first), from sentence row offsets (n_sentences + 1)."""
    offsets = np.asarray(sentence_offsets)
    lengths = np.diff(offsets)
    return np.arange(offsets[-1] - offsets[0]) - np.repeat(offsets[:-1] - offsets[0], lengths)


def _onehot(labels: Sequence[str], n: int) -> tuple[np.ndarray, scipy.sparse.csr_matrix]:
    labels = np.asarray(labels, dtype=object)
    if labels.shape != (n,):
        raise ValueError(f"one label per word expected: {labels.shape[0] if labels.ndim else 0} labels for {n} words")
    classes, inverse = np.unique(labels, return_inverse=True)
    onehot = scipy.sparse.csr_matrix((np.ones(n), (inverse, np.arange(n))), shape=(len(classes), n))
    return classes, onehot
