"""Ablation in the classifier (lib.methods.ablation): masking, retraining, the results table, minimal neuron sets."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from lib.methods.ablation import (ablation_table, fill_values, label_minimal_sets, mask, masked_accuracy,
                                  masked_predict, minimal_set, results_dict, results_table, retrained_accuracy,
                                  search_sizes)
from lib.methods.probing import ProbeSettings, accuracy, predict, synthetic_splits, train_probe
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
    assert (table.low <= table.accuracy).all() and (table.accuracy <= table.high).all()
    nested = results_dict(table)
    assert set(nested) == {"all", "masking", "retraining", "intervals"}
    for method in ("masking", "retraining"):
        assert set(nested[method]) == {"top", "random", "bottom"}
        assert set(nested[method]["top"]) == {"10", "20"}
        assert nested[method]["top"]["20"] > nested[method]["bottom"]["20"]
        low, high = nested["intervals"][method]["top"]["20"]
        assert low <= nested[method]["top"]["20"] <= high
    assert nested["intervals"]["all"][0] <= nested["all"] <= nested["intervals"]["all"][1]


def test_seeds_and_draws_are_averaged_and_widen_nothing_they_do_not_touch(planted):
    data, _, probe, order = planted
    adam = dataclasses.replace(FAST, solver="adam")
    converged = ablation_table(probe, data, order, FAST, percentages=(10,), seed=0, progress=False, seeds=2)
    assert converged.set_index(["method", "selection"]).loc[("retraining", "top"), "runs"] == 1, \
        "a deterministic solver gains nothing from seeds"
    one = ablation_table(probe, data, order, adam, percentages=(10,), seed=0, progress=False)
    many = ablation_table(probe, data, order, adam, percentages=(10,), seed=0, progress=False, seeds=2, draws=3)
    rows = many.set_index(["method", "selection"])
    assert rows.loc[("retraining", "top"), "runs"] == 2 and rows.loc[("retraining", "random"), "runs"] == 3
    assert rows.loc[("masking", "random"), "runs"] == 3 and rows.loc[("masking", "top"), "runs"] == 1
    same = one.set_index(["method", "selection"]).loc[("masking", "top")]
    assert rows.loc[("masking", "top"), "accuracy"] == same.accuracy
    assert "3 draws" in rows.loc[("retraining", "random"), "interval"]
    only_10 = ablation_table(probe, data, order, adam, percentages=(10, 20), seed=0, progress=False, seeds=2,
                             draws=3, replicate=(10,)).set_index(["method", "selection", "pct"])
    assert only_10.loc[("retraining", "top", 10), "runs"] == 2 and only_10.loc[("retraining", "top", 20), "runs"] == 1
    assert only_10.loc[("masking", "random", 20), "runs"] == 1


def test_the_tidy_table_comes_back_from_the_results_file_form(planted):
    data, _, probe, order = planted
    table = ablation_table(probe, data, order, FAST, percentages=(10, 20), seed=0, progress=False)
    back = results_table(results_dict(table))
    columns = ["method", "selection", "pct", "accuracy", "low", "high"]
    key = ["method", "selection", "pct"]
    pd.testing.assert_frame_equal(back[columns].sort_values(key, ignore_index=True),
                                  table[columns].astype({"pct": float}).sort_values(key, ignore_index=True),
                                  check_dtype=False)


def test_mean_fill_replaces_masked_neurons_by_their_training_mean(planted):
    data, _, probe, order = planted
    means = fill_values(data.train[0], "mean")
    np.testing.assert_allclose(means, data.train[0].mean(0), rtol=1e-5)
    masked = mask(data.test[0], [0, 1], means)
    np.testing.assert_array_equal(masked[:, :2], data.test[0][:, :2])
    assert np.allclose(masked[:, 2:], means[2:])
    table = ablation_table(probe, data, order, FAST, percentages=(10,), seed=0, progress=False, fill="mean")
    assert table.accuracy.between(0, 1).all()
    with pytest.raises(ValueError, match="zero, mean"):
        fill_values(data.train[0], "median")


def test_minimal_set_bisection_agrees_with_the_scan(planted):
    data, ids, probe, order = planted
    target = accuracy(probe, *data.test[:2])
    settings = dataclasses.replace(FAST, epochs=6)
    scan = minimal_set(data, order, settings, target, delta=0.02, step_pct=5, search="scan", exact_up_to=0)
    fast = minimal_set(data, order, settings, target, delta=0.02, step_pct=5, search="bisect", exact_up_to=0)
    assert fast.neurons == scan.neurons and fast.score >= target - 0.02
    assert 2 <= scan.neurons <= ids.size + 4 and scan.share == scan.neurons / 40
    smaller = [n for n in scan.curve if n < scan.neurons]
    assert all(scan.curve[n] < target - 0.02 for n in smaller)
    with pytest.raises(ValueError, match="search"):
        minimal_set(data, order, settings, target, delta=0.02, search="linear")


def test_search_sizes_are_single_neurons_where_sets_are_small():
    sizes = search_sizes(512, exact_up_to=32, step_pct=1.0)
    assert sizes[:32].tolist() == list(range(1, 33)) and sizes[-1] == 512
    assert np.all(np.diff(sizes[32:]) <= 6) and sizes.size < 32 + 100
    assert search_sizes(40, exact_up_to=0, step_pct=5).tolist() == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                                                     28, 30, 32, 34, 36, 38, 40]
    with pytest.raises(ValueError, match="step_pct"):
        search_sizes(40, step_pct=0)


@pytest.fixture(scope="module")
def one_per_label():
    """Six labels, one planted neuron each, ordered first: the planted set (6 neurons) is the minimal set."""
    data, ids = synthetic_splits(n_words=3000, n_neurons=96, n_labels=6, planted=1, signal=3.0, seed=4)
    planted = ids.ravel()
    order = np.concatenate([planted, np.setdiff1d(np.arange(96), planted)])
    return data, order, retrained_accuracy(data, planted, FAST)


@pytest.mark.parametrize("search", ["bisect", "scan"])
def test_a_planted_minimal_set_is_found_exactly_at_neuron_resolution(one_per_label, search):
    data, order, target = one_per_label
    # δ = 0.01: a converged probe on 5 of the 6 planted neurons already scores 0.976 (the sixth label is "none of
    # the others"), within 0.02 of the 0.991 of all six
    found = minimal_set(data, order, FAST, target, delta=0.01, search=search)
    assert found.neurons == 6 and found.share == 6 / 96
    assert found.curve[5] < target - 0.01 <= found.curve[6]
    assert found.retrainings == len(found.curve) <= 6


def test_bisection_stays_affordable_on_a_wide_model(one_per_label):
    data, order, target = one_per_label
    found = minimal_set(data, order, FAST, target, delta=0.01, exact_up_to=96)  # every count is a candidate
    assert found.neurons == 6 and found.retrainings <= 2 * np.ceil(np.log2(96))


def test_per_label_minimal_sets(planted):
    data, _, _, _ = planted
    table = label_minimal_sets(data, dataclasses.replace(FAST, epochs=6), delta=0.02, labels=["L00", "L03"],
                               progress=False)
    assert table.label.tolist() == ["L00", "L03"]
    assert table.neurons.between(1, 40).all() and (table.f1 >= table.f1_all - 0.02).all()
    assert (table.retrainings >= 1).all() and (table.retrainings < 40).all()
    with pytest.raises(ValueError, match="no training word"):
        label_minimal_sets(data, FAST, delta=0.02, labels=["nope"], progress=False)


def test_per_label_orders_come_from_a_probe_with_the_ranking_settings(planted, monkeypatch):
    from lib.methods import ablation

    data, _, _, _ = planted
    calls, real = [], ablation.retrain
    monkeypatch.setattr(ablation, "retrain", lambda split, keep, settings, start=None:
                        calls.append((len(keep), settings.tol)) or real(split, keep, settings, start))
    tight = dataclasses.replace(FAST, tol=FAST.tol / 10)
    label_minimal_sets(data, FAST, delta=0.02, labels=["L00"], progress=False, ranking_settings=tight)
    assert calls[0] == (data.train[0].shape[1], tight.tol)  # the all-neuron probe whose weights give the order
    assert len(calls) > 1 and all(tol == FAST.tol for _, tol in calls[1:])


def test_lca_summary_is_cached_in_the_results_file_shape(tmp_path, monkeypatch, planted):
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    from lib.methods import ablation
    from lib.pipeline import lca

    data = planted[0]
    monkeypatch.setattr(lca, "model_text", lambda p, model: frozenset(f"w{i}" for i in range(0, 400, 2)))
    first = lca.summary("tiny", "en-de", "synthetic", "pos", data=data)
    assert set(first) == {"all", "majority", "probe_minus_majority", "by_familiarity", "by_model_text", "masking",
                          "retraining", "minimal_set", "selectivity", "ranking_check", "verdicts", "variant",
                          "intervals"}
    check = first["ranking_check"]
    assert set(check["jaccard"]) == {"10", "15", "20"} and all(0 <= j <= 1 for j in check["jaccard"].values())
    assert check["settled"] == (min(check["jaccard"].values()) >= 0.9) and check["tighter_tol"] < 1e-3
    assert len(set(check["tighter_top"])) == 4 and set(check["tighter_top"]) <= set(range(40))  # 10 % of 40
    low, high = first["intervals"]["tighter_top_retrained"]
    assert low <= check["tighter_top_retrained"] <= high
    assert first["verdicts"]["tighter_top_vs_random"] in ("higher", "lower", "not resolved")
    start = lca.lca_probe("tiny", "en-de", "synthetic", "pos")
    again = ablation.retrained_correct(data, check["tighter_top"], lca.probe_settings("tiny"), start=start)
    assert check["tighter_top_retrained"] == pytest.approx(again.mean())  # retrained on the tighter probe's top set
    assert {"all", "majority", "masking", "retraining", "selectivity", "by_familiarity",
            "by_model_text"} <= set(first["intervals"])
    for split in ("by_familiarity", "by_model_text"):
        groups = first[split]
        assert sum(group["words"] for group in groups.values()) == len(data.test[1])
        assert sum(group["share"] for group in groups.values()) == pytest.approx(1.0)
        for name, group in groups.items():
            low, high = first["intervals"][split][name]["probe_minus_majority"]
            assert low <= group["probe_minus_majority"] <= high
            assert first["verdicts"][split][name] in ("higher", "lower", "not resolved")
    read = {name.split(", ")[1] for name in first["by_model_text"]}
    assert read == {"read", "unread"}  # the text holds every other word type
    low, high = first["intervals"]["retraining"]["top"]["10"]
    assert low <= first["retraining"]["top"]["10"] <= high
    assert first["variant"]["ranking"] == "scaled" and first["variant"]["fill"] == "zero"
    assert first["verdicts"]["probe_vs_majority"] in ("higher", "lower", "not resolved")
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


def test_lca_variants_are_cached_apart(tmp_path, monkeypatch, planted):
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    from lib.pipeline import lca

    data = planted[0]
    monkeypatch.setattr(lca, "model_text", lambda p, model: None)  # synthetic words: no training text to look up
    raw = lca.lca_order("tiny", "en-de", "synthetic", "pos", data, ranking="raw")
    scaled = lca.lca_order("tiny", "en-de", "synthetic", "pos", data, ranking="scaled")
    probe = lca.lca_probe("tiny", "en-de", "synthetic", "pos")
    np.testing.assert_array_equal(raw, global_order(probe.weights))
    np.testing.assert_array_equal(scaled, global_order(probe.scaled_weights))
    searched = lca.lca_probe("tiny", "en-de", "synthetic", "pos", data, lambdas=(1e-3, 0.0))
    assert searched.settings.l1 == 1e-3 and searched.settings.l2 == 0.0
    assert lca.lca_probe("tiny", "en-de", "synthetic", "pos", lambdas=(1e-3, 0.0)).settings.l1 == 1e-3
    assert lca.lca_probe("tiny", "en-de", "synthetic", "pos").settings.l1 == 1e-5
    folders = list((tmp_path / "results" / "tiny" / "lca").iterdir())
    assert len(folders) == 4  # profile probe, its two orders, the searched-λ probe
    zeroed = lca.summary("tiny", "en-de", "synthetic", "pos", data, fill="zero")
    by_mean = lca.summary("tiny", "en-de", "synthetic", "pos", data, fill="mean")
    assert zeroed["variant"]["fill"] == "zero" and by_mean["variant"]["fill"] == "mean"
    assert "by_model_text" not in zeroed and "by_model_text" not in zeroed["intervals"]
    compared = lca.ranking_comparison("tiny", "en-de", "synthetic", "pos", data)
    assert compared.jaccard.between(0, 1).all() and set(compared.verdict) <= {"higher", "lower", "not resolved"}
    assert (compared.raw_low <= compared.raw).all() and (compared.scaled <= compared.scaled_high).all()


def test_masked_predictions_from_masked_weights_equal_those_on_a_masked_copy():
    data, _ = synthetic_splits(n_words=2000, n_neurons=30, n_labels=4, seed=5)
    probe = train_probe(*data.train[:2], settings=ProbeSettings(tol=1e-3), progress=False)
    keep = np.array([3, 7, 8, 20])
    for fill in (None, fill_values(data.train[0], "mean")):
        np.testing.assert_array_equal(masked_predict(probe, data.test[0], keep, fill),
                                      predict(probe, mask(data.test[0], keep, fill)))


@pytest.mark.parametrize("precision", ["float32", "mixed"])  # a transposed float32 design; raw data, bfloat16 copies
def test_a_probe_on_some_columns_equals_one_on_a_copy_of_them(precision):
    data, _ = synthetic_splits(n_words=3000, n_neurons=30, n_labels=4, seed=6)
    keep = np.array([29, 0, 5, 11, 17])
    settings = ProbeSettings(tol=1e-4, precision=precision)
    copied = train_probe(data.train[0][:, keep], data.train[1], dev=(data.dev[0][:, keep], data.dev[1]),
                         settings=settings, progress=False)
    for _ in range(2):  # the second time from the kept design of the whole matrix
        inplace = train_probe(data.train[0], data.train[1], dev=data.dev[:2], settings=settings, progress=False,
                              columns=keep)
        np.testing.assert_allclose(inplace.weights, copied.weights, rtol=1e-4, atol=1e-6)
        assert inplace.dev_accuracy == copied.dev_accuracy
        np.testing.assert_array_equal(predict(inplace, data.test[0], columns=keep),
                                      predict(copied, data.test[0][:, keep]))
    with pytest.raises(ValueError, match="columns must lie in"):
        train_probe(data.train[0], data.train[1], columns=[30], progress=False)
