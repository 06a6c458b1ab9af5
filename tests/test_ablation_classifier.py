"""Ablation in the classifier (lib.methods.ablation): masking, retraining, the results table, minimal neuron sets."""
import dataclasses

import numpy as np
import pytest

from lib.methods.ablation import (ablation_table, label_minimal_sets, mask, masked_accuracy, minimal_set, results_dict,
                          retrained_accuracy)
from lib.methods.probing import ProbeSettings, accuracy, synthetic_splits, train_probe
from lib.methods.ranking import global_order

FAST = ProbeSettings(epochs=12, batch_size=256, lr=2e-2, seed=3)


@pytest.fixture(scope="module")
def planted():
    data, ids = synthetic_splits(n_words=2500, n_neurons=40, n_labels=4, planted=2, seed=2)
    probe = train_probe(*data.train[:2], dev=data.dev[:2], settings=FAST, progress=False)
    return data, ids, probe, global_order(probe.scaled_weights)


def test_mask_zeros_every_other_neuron():
    acts = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    masked = mask(acts, [1, 3])
    assert np.all(masked[:, [0, 2]] == 0)
    np.testing.assert_array_equal(masked[:, [1, 3]], acts[:, [1, 3]])
    assert acts.min() > 0


def test_masking_keeps_the_probe_and_drops_the_rest(planted):
    data, ids, probe, _ = planted
    acts, labels = data.test[:2]
    everything = accuracy(probe, acts, labels)
    assert masked_accuracy(probe, acts, labels, np.arange(40)) == everything
    keep = ids.ravel()
    zeroed = acts.copy()
    zeroed[:, np.setdiff1d(np.arange(40), keep)] = 0
    assert masked_accuracy(probe, acts, labels, keep) == accuracy(probe, zeroed, labels)
    assert masked_accuracy(probe, acts, labels, np.setdiff1d(np.arange(40), keep)) < everything - 0.2


def test_retraining_on_planted_neurons_beats_retraining_on_noise(planted):
    data, ids, _, _ = planted
    noise = np.setdiff1d(np.arange(40), ids.ravel())[:8]
    assert retrained_accuracy(data, ids.ravel(), FAST) > retrained_accuracy(data, noise, FAST) + 0.2


def test_table_and_results_file_shape(planted):
    data, _, probe, order = planted
    table = ablation_table(probe, data, order, FAST, percentages=(10, 20), seed=0, progress=False)
    assert len(table) == 1 + 2 * 3 * 2 and table.accuracy.between(0, 1).all()
    assert set(table.neurons[table.pct == 10]) == {4} and set(table.neurons[table.pct == 20]) == {8}
    nested = results_dict(table)
    assert set(nested) == {"all", "masking", "retraining"}
    for method in ("masking", "retraining"):
        assert set(nested[method]) == {"top", "random", "bottom"}
        assert set(nested[method]["top"]) == {"10", "20"}
        assert nested[method]["top"]["20"] > nested[method]["bottom"]["20"]


def test_minimal_set_bisection_agrees_with_the_scan(planted):
    data, ids, probe, order = planted
    target = accuracy(probe, *data.test[:2])
    settings = dataclasses.replace(FAST, epochs=6)
    scan = minimal_set(data, order, settings, target, delta=0.02, step_pct=5, search="scan")
    fast = minimal_set(data, order, settings, target, delta=0.02, step_pct=5, search="bisect")
    assert fast.neurons == scan.neurons and fast.score >= target - 0.02
    assert 2 <= scan.neurons <= ids.size + 4 and scan.share == scan.neurons / 40
    smaller = [n for n in scan.curve if n < scan.neurons]
    assert all(scan.curve[n] < target - 0.02 for n in smaller)
    with pytest.raises(ValueError, match="search"):
        minimal_set(data, order, settings, target, delta=0.02, search="linear")


def test_per_label_minimal_sets(planted):
    data, _, _, _ = planted
    table = label_minimal_sets(data, dataclasses.replace(FAST, epochs=6), delta=0.02, labels=["L00", "L03"],
                               step_pct=5, progress=False)
    assert table.label.tolist() == ["L00", "L03"]
    assert table.neurons.between(1, 40).all() and (table.f1 >= table.f1_all - 0.02).all()
    with pytest.raises(ValueError, match="no training word"):
        label_minimal_sets(data, FAST, delta=0.02, labels=["nope"], progress=False)


def test_lca_summary_is_cached_in_the_results_file_shape(tmp_path, monkeypatch, planted):
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    from lib.methods import ablation
    from lib.pipeline import lca

    data = planted[0]
    first = lca.summary("tiny", "en-de", "synthetic", "pos", data=data)
    assert set(first) == {"all", "masking", "retraining", "minimal_set", "selectivity"}
    assert set(first["masking"]["top"]) == {"10", "15", "20"} and 0 <= first["all"] <= 1
    assert 1 <= first["minimal_set"]["neurons"] <= 40
    assert first["minimal_set"]["share"] == first["minimal_set"]["neurons"] / 40
    order = lca.lca_order("tiny", "en-de", "synthetic", "pos")
    probe = lca.lca_probe("tiny", "en-de", "synthetic", "pos")
    np.testing.assert_array_equal(order, global_order(probe.scaled_weights))

    for module in (lca, ablation):
        monkeypatch.setattr(module, "train_probe", lambda *a, **k: pytest.fail("cached results must not retrain"))
    assert lca.summary("tiny", "en-de", "synthetic", "pos") == first
    assert list((tmp_path / "results" / "tiny" / "lca").iterdir())
