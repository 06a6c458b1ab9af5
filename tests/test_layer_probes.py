"""Per-layer probe accuracies (lib.methods.per_layer): the layer that holds the signal reads best."""
import numpy as np
import pytest

from lib.methods.per_layer import layer_accuracies, probe_interval
from lib.methods.probing import ProbeSettings, synthetic_splits

FAST = ProbeSettings(epochs=10, batch_size=256, lr=2e-2, seed=1)


def test_the_layer_with_the_planted_neurons_reads_the_property_best():
    data, ids = synthetic_splits(n_words=2000, n_neurons=40, n_labels=4, planted=2, seed=5)
    layer_of = np.ones(40, dtype=int)
    layer_of[ids.ravel()] = 0  # layer "L1" holds every planted neuron
    table = layer_accuracies(data, layer_of, FAST, n_boot=200).set_index("layer")
    assert table.loc["L1", "neurons"] == 8 and table.loc["L2", "neurons"] == 32
    assert table.loc["L1", "low"] > table.loc["L2", "high"]
    everything = probe_interval(data, FAST, n_boot=200)
    assert everything.low <= everything.estimate <= everything.high
    with pytest.raises(ValueError, match="one layer per neuron"):
        layer_accuracies(data, layer_of[:-1], FAST)
