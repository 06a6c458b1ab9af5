"""The paper's questions on hand-made rankings: known overlaps, exclusive neurons, minimal sets and gaps."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lib.methods import analysis
from lib.methods.intervals import Interval

SETS = {"noun": [0, 1, 2, 3], "verb": [2, 3, 4], "month": [7]}


def test_overlap_counts_and_jaccard_by_hand():
    counts, jaccard = analysis.overlap(SETS, n_neurons=10)
    assert counts.loc["noun", "verb"] == 2 and counts.loc["noun", "noun"] == 4
    assert jaccard.loc["noun", "verb"] == pytest.approx(2 / 5)
    assert jaccard.loc["month", "noun"] == 0.0
    assert np.allclose(jaccard.values, jaccard.values.T)


def test_empty_sets_have_zero_jaccard_not_nan():
    _, jaccard = analysis.overlap({"a": [], "b": []}, n_neurons=3)
    assert (jaccard.values == 0).all()


def test_exclusive_neurons_belong_to_one_set_only():
    exclusive = analysis.exclusive_neurons(SETS, n_neurons=10)
    assert exclusive["noun"].tolist() == [0, 1]
    assert exclusive["verb"].tolist() == [4]
    assert exclusive["month"].tolist() == [7]
    table = analysis.exclusivity_table(SETS, 10)
    assert table.loc["noun", "exclusive_share"] == pytest.approx(0.5)


def test_sharing_histogram_counts_every_neuron_once():
    hist = analysis.sharing_histogram(SETS, n_neurons=10)
    assert hist.sum() == 10
    assert hist[0] == 4 and hist[1] == 4 and hist[2] == 2  # 5, 6, 8, 9 in none; 2, 3 in two sets


def test_out_of_range_ids_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        analysis.membership({"a": [5]}, n_neurons=5)


def _result(all_acc, top, bottom, neurons, share):
    by_pct = lambda v: {"10": v, "15": v, "20": v}  # noqa: E731
    block = {"top": by_pct(top), "random": by_pct((top + bottom) / 2), "bottom": by_pct(bottom)}
    return {"all": all_acc, "masking": block, "retraining": block,
            "minimal_set": {"neurons": neurons, "share": share}, "selectivity": 0.1}


FAMILIES = {"en-de": "NMT", "lm": "LM"}
RESULTS = {
    "en-de": {"pos": _result(0.9, 0.8, 0.7, 40, 0.2), "month": _result(0.99, 0.99, 0.98, 2, 0.01)},
    "lm": {"pos": _result(0.85, 0.8, 0.5, 20, 0.1), "month": _result(0.99, 0.99, 0.9, 1, 0.005)},
}


def test_neurons_needed_reads_minimal_sets():
    table = analysis.neurons_needed(RESULTS)
    row = table[(table.model == "en-de") & (table.prop == "pos")].iloc[0]
    assert row.neurons == 40 and row.share == 0.2 and row["all"] == 0.9


def test_nmt_vs_lm_averages_top_minus_bottom_gaps_per_family():
    table = analysis.nmt_vs_lm(RESULTS, FAMILIES).set_index("family")
    assert table.loc["NMT", "mean_gap"] == pytest.approx((10 + 1) / 2)
    assert table.loc["LM", "mean_gap"] == pytest.approx((30 + 9) / 2)
    assert table.loc["LM", "mean_minimal_share"] == pytest.approx(0.0525)


def test_top_words_rank_types_by_mean_activation():
    words = ["the", "cat", "the", "dog", "cat", "rare"]
    activation = np.array([1.0, 5.0, 3.0, -2.0, 3.0, 9.0])
    table = analysis.top_words(activation, words, k=3, min_count=2)
    assert table["word"].tolist() == ["cat", "the"]
    assert table["mean"].tolist() == [4.0, 2.0] and table["count"].tolist() == [2, 2]
    negative = analysis.top_words(activation, words, k=1, negative=True)
    assert negative["word"].tolist() == ["dog"]


# Weights by hand: label "." rests on neuron 0 alone; "NOUN" spreads evenly over neurons 1-4.
WEIGHTS = np.array([[8.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                    [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]])


def test_salient_sets_at_a_quarter_of_the_weight_mass():
    sets = analysis.salient_sets(WEIGHTS, (".", "NOUN"), mass=0.5)
    assert sets["."].tolist() == [0]
    assert sorted(sets["NOUN"].tolist()) == [1, 2]  # half the mass of four equal weights: two neurons
    assert analysis.property_salient_set(sets).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="2 label rows but 3 classes"):
        analysis.salient_sets(WEIGHTS, ("a", "b", "c"), 0.25)


def test_property_salient_set_is_the_head_of_the_global_order():
    from lib.methods.ranking import global_order

    rng = np.random.default_rng(0)
    weights = rng.standard_normal((5, 40)) * (rng.random((5, 40)) < 0.3)
    union = analysis.property_salient_set(analysis.salient_sets(weights, list("abcde"), 0.25))
    assert sorted(global_order(weights)[: union.size].tolist()) == union.tolist()


def _counts(closed, opened):
    return pd.DataFrame({"label": [f"c{i}" for i in range(len(closed))] + [f"o{i}" for i in range(len(opened))],
                         "neurons": [*closed, *opened], "class": ["closed"] * len(closed) + ["open"] * len(opened)})


def test_class_contrast_carries_a_t_interval_over_labels():
    contrast = analysis.class_contrast(_counts([1, 2, 3], [10, 12]))
    assert contrast.loc["closed", "mean"] == 2 and contrast.loc["closed", "labels"] == 3
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # sd of 1, 2, 3 is 1
    assert contrast.loc["closed", "low"] == pytest.approx(2 - half)
    assert contrast.loc["closed", "high"] == pytest.approx(2 + half)


def test_closed_classes_needing_fewer_neurons_only_where_intervals_separate():
    separated = analysis.class_contrast(_counts([2, 3, 2, 3], [20, 22, 21, 23]))
    answer = analysis.localized_answer(separated, analysis.neurons_needed(RESULTS))
    assert "need fewer salient neurons" in answer and "as the paper expects" in answer
    assert "0.8 % of the neurons (month)" in answer and "15.0 % (pos)" in answer
    assert "1 of 2 properties are localized (≤ 10 % of the neurons): month" in answer
    reverse = analysis.class_contrast(_counts([20, 22, 21, 23], [2, 3, 2, 3]))
    assert "unlike the paper" in analysis.localized_answer(reverse, analysis.neurons_needed({}))


def test_overlapping_class_intervals_are_not_resolved():
    overlapping = analysis.class_contrast(_counts([2, 9, 4], [5, 12, 3]))
    answer = analysis.localized_answer(overlapping, analysis.neurons_needed({}))
    assert "not resolved at this scale" in answer and "paper` profile" in answer and "MiniLM" in answer
    single = analysis.class_contrast(_counts([1], [50]))  # one label per class: no spread, no verdict
    assert "not resolved" in analysis.localized_answer(single, analysis.neurons_needed({}))
    shares = analysis.class_contrast(_counts([0.50, 0.49], [0.52, 0.51]).rename(columns={"neurons": "share"}),
                                     value="share")
    answer = analysis.localized_answer(shares, analysis.neurons_needed({}), unit="share")
    assert "labels: 49.5 % [43.1 %, 55.9 %] against 51.5 %" in answer


def test_the_gaussian_reference_needs_a_tenth_of_the_neurons_for_a_quarter_of_the_mass():
    reference = analysis.gaussian_salient_reference(512, 0.25, draws=500, seed=1)
    analytic = 2 * (1 - stats.norm.cdf(np.sqrt(2 * np.log(4))))  # ≈ 0.096
    assert reference.low < analytic * 512 < reference.high and reference.high - reference.low < 15
    assert analysis.localization([3, int(reference.estimate), 200], reference) == [
        "localized", "like random weights", "distributed"]


def test_a_label_resting_on_few_neurons_is_localized_against_the_reference():
    sets = analysis.salient_sets(WEIGHTS, (".", "NOUN"), 0.25)
    reference = analysis.gaussian_salient_reference(6, 0.25, draws=200)
    assert analysis.localization([len(sets["."])], reference) == ["like random weights"]  # 6 neurons: too few
    wide = np.zeros((2, 200))
    wide[0, :2] = 5.0
    wide[1] = 1.0
    counts = [len(ids) for ids in analysis.salient_sets(wide, (".", "NOUN"), 0.25).values()]
    assert analysis.localization(counts, analysis.gaussian_salient_reference(200, 0.25)) == [
        "localized", "distributed"]


def test_chance_exclusive_share_by_hand():
    assert analysis.chance_exclusive_share([10, 20, 30], 100) == pytest.approx((10 * .8 * .7 + 20 * .9 * .7
                                                                                + 30 * .9 * .8) / 60)
    assert analysis.chance_exclusive_share([100, 5], 100) == pytest.approx(95 / 105)
    assert analysis.chance_exclusive_share([], 10) == 0.0


def test_exclusive_answer_gives_a_verdict_against_chance_only_when_resolved():
    labels, (_, jaccard) = analysis.exclusivity_table(SETS, 10), analysis.overlap(SETS, 10)
    props = analysis.exclusivity_table({"pos": [0, 1, 2], "morph": [2, 3]}, 10)
    far = analysis.exclusive_versus_chance([props, props.assign(exclusive=[3, 2])], [1000, 1000])
    assert far[0].estimate < far[1].estimate
    overlapping = analysis.exclusive_versus_chance([props, props.assign(exclusive=[3, 2])], [10, 10])
    assert "not resolved at this scale" in analysis.exclusive_answer(labels, props, jaccard, overlapping)
    clear = (Interval(0.9, 0.85, 0.95, 4, "t"), Interval(0.5, 0.45, 0.55, 4, "t"))
    assert "more neurons to themselves than chance" in analysis.exclusive_answer(labels, props, jaccard, clear)


def test_exclusive_answer_names_shares_and_the_most_shared_labels():
    labels = analysis.exclusivity_table(SETS, 10)
    _, jaccard = analysis.overlap(SETS, 10)
    props = analysis.exclusivity_table({"pos": [0, 1, 2], "morph": [2, 3]}, 10)
    answer = analysis.exclusive_answer(labels, props, jaccard)
    assert "60 % of the properties' salient neurons" in answer  # 0, 1, 3 of 5 memberships
    assert "noun / verb (Jaccard 0.40)" in answer


def test_nmt_vs_lm_overlapping_family_intervals_are_not_resolved():
    table = analysis.nmt_vs_lm(RESULTS, FAMILIES)
    answer = analysis.nmt_vs_lm_answer(table, {"NMT": 12.8, "LM": 25.5})
    assert "5.5 points [" in answer and "19.5 [" in answer and "not resolved at this scale" in answer
    assert "bidirectional" in answer
    assert "missing" in analysis.nmt_vs_lm_answer(table[table.family == "NMT"], {"NMT": 1, "LM": 2})


def test_nmt_vs_lm_separated_intervals_give_the_direction():
    results = {"en-de": {q: _result(0.9, 0.8, 0.78 + d, 40, 0.2) for q, d in zip("abc", (0, .01, .02))},
               "lm": {q: _result(0.9, 0.8, 0.5 + d, 40, 0.2) for q, d in zip("abc", (0, .01, .02))}}
    table = analysis.nmt_vs_lm(results, FAMILIES).set_index("family")
    assert table.loc["LM", "gap_low"] > table.loc["NMT", "gap_high"] and table.loc["LM", "gaps"] == 3
    answer = analysis.nmt_vs_lm_answer(table.reset_index(), {"NMT": 12.8, "LM": 25.5})
    assert "more localized in the LM" in answer and "the paper's direction" in answer
    assert "opposite" in analysis.nmt_vs_lm_answer(table.reset_index(), {"NMT": 30.0, "LM": 25.5})


def test_top_bottom_gap_reads_notebook_01_intervals_defensively():
    with_intervals = _result(0.9, 0.8, 0.5, 40, 0.2)
    with_intervals["intervals"] = {"retraining": {"top": {"10": [0.75, 0.85]}, "bottom": {"10": [0.45, 0.55]}}}
    gaps = analysis.top_bottom_gap({"lm": {"pos": with_intervals}, "en-de": {"pos": _result(.9, .8, .7, 4, .1)}},
                                  FAMILIES)
    row = gaps.set_index("model").loc["lm"]
    assert row.gap == pytest.approx(30) and row.gap_low == pytest.approx(20) and row.gap_high == pytest.approx(40)
    assert np.isnan(gaps.set_index("model").loc["en-de", "gap_low"])
