"""Probe accuracy per layer: a fresh probe on the columns of one layer at a time, each with a 95 % interval, so a
reader sees where in the model a property is readable (the paper reports layer-wise accuracies in its Table 1
discussion; the embedding layer is the lexical baseline). Arrays in, table out. Used in: 01_linguistic_correlation.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lib.methods.ablation import groups_of_test, retrained_correct
from lib.methods.intervals import Interval, bootstrap_accuracy
from lib.methods.probing import Probe, ProbeSettings


def probe_interval(data, settings: ProbeSettings, keep: Sequence[int] | None = None, n_boot: int = 1000,
                   seed: int = 0, start: Probe | None = None) -> Interval:
    """Test accuracy of a fresh probe on the columns ``keep`` (default all) of ``data``, bootstrapped over test
    sentences (``start``: a probe over all columns to warm-start from, ``lib.methods.ablation.retrain``).
    Used in: 01 (the embedding-layer probe)."""
    keep = np.arange(np.asarray(data.train[0]).shape[1]) if keep is None else np.asarray(keep, dtype=np.int64)
    return bootstrap_accuracy(retrained_correct(data, keep, settings, start), groups_of_test(data), n_boot, seed)


def layer_accuracies(data, layer_of: Sequence[int], settings: ProbeSettings, n_boot: int = 1000, seed: int = 0,
                     start: Probe | None = None) -> pd.DataFrame:
    """One fresh probe per layer on that layer's columns; ``layer_of`` [neurons] gives each column's 0-based layer
    (``NeuronMap.from_id(ids)[0]``). ``start``, the all-neuron probe, warm-starts each layer's probe from its
    weights on that layer: the same optimum, fewer iterations. Columns: layer ("L1", …), neurons, accuracy, low,
    high."""
    layer_of = np.asarray(layer_of)
    if layer_of.shape != (np.asarray(data.train[0]).shape[1],):
        raise ValueError(f"layer_of needs one layer per neuron; got {layer_of.shape} for "
                         f"{np.asarray(data.train[0]).shape[1]} neurons")
    rows = []
    for layer in np.unique(layer_of):
        keep = np.flatnonzero(layer_of == layer)
        found = probe_interval(data, settings, keep, n_boot, seed, start)
        rows.append({"layer": f"L{layer + 1}", "neurons": keep.size, "accuracy": found.estimate, "low": found.low,
                     "high": found.high})
    return pd.DataFrame(rows, columns=["layer", "neurons", "accuracy", "low", "high"])
