"""The paper's questions on hand-made rankings: known overlaps, exclusive neurons, minimal sets and gaps."""
import numpy as np
import pytest

from lib.methods import analysis

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


RESULTS = {
    "en-de": {"pos": _result(0.9, 0.8, 0.7, 40, 0.2), "month": _result(0.99, 0.99, 0.98, 2, 0.01)},
    "lm": {"pos": _result(0.85, 0.8, 0.5, 20, 0.1), "month": _result(0.99, 0.99, 0.9, 1, 0.005)},
}


def test_neurons_needed_reads_minimal_sets():
    table = analysis.neurons_needed(RESULTS)
    row = table[(table.model == "en-de") & (table.prop == "pos")].iloc[0]
    assert row.neurons == 40 and row.share == 0.2 and row["all"] == 0.9


def test_nmt_vs_lm_averages_top_minus_bottom_gaps_per_family():
    table = analysis.nmt_vs_lm(RESULTS).set_index("family")
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


def test_closed_classes_needing_fewer_neurons_are_reported_as_localized():
    counts = analysis.salient_counts(analysis.salient_sets(WEIGHTS, (".", "NOUN"), 0.5),
                                     {".": "closed", "NOUN": "open"})
    contrast = analysis.class_contrast(counts)
    assert contrast.loc["closed", "mean"] == 1 and contrast.loc["open", "mean"] == 2
    answer = analysis.localized_answer(contrast, analysis.neurons_needed(RESULTS))
    assert "need fewer salient neurons" in answer and "as the paper expects" in answer
    assert "0.8 % of the neurons (month)" in answer and "15.0 % (pos)" in answer
    reverse = analysis.class_contrast(counts.assign(**{"class": ["open", "closed"]}))
    assert "unlike the paper" in analysis.localized_answer(reverse, analysis.neurons_needed({}))
    shares = analysis.class_contrast(counts.assign(share=[0.50, 0.52]), value="share")
    answer = analysis.localized_answer(shares, analysis.neurons_needed({}), unit="share")
    assert "about as many" in answer and "(50.0 % against 52.0 %" in answer


def test_exclusive_answer_names_shares_and_the_most_shared_labels():
    labels = analysis.exclusivity_table(SETS, 10)
    _, jaccard = analysis.overlap(SETS, 10)
    props = analysis.exclusivity_table({"pos": [0, 1, 2], "morph": [2, 3]}, 10)
    answer = analysis.exclusive_answer(labels, props, jaccard)
    assert "60 % of the properties' salient neurons" in answer  # 0, 1, 3 of 5 memberships
    assert "noun / verb (Jaccard 0.40)" in answer


def test_nmt_vs_lm_answer_compares_direction_with_the_paper():
    table = analysis.nmt_vs_lm(RESULTS)
    answer = analysis.nmt_vs_lm_answer(table, {"NMT": 12.8, "LM": 25.5})
    assert "5.5 points for NMT and 19.5 for the LM" in answer and "more localized in the LM" in answer
    assert "the same direction" in answer and "bidirectional" in answer
    assert "opposite" in analysis.nmt_vs_lm_answer(table, {"NMT": 30.0, "LM": 25.5})
    assert "missing" in analysis.nmt_vs_lm_answer(table[table.family == "NMT"], {"NMT": 1, "LM": 2})


def test_ranks_invert_an_order_and_refuse_a_non_permutation():
    assert analysis.ranks([2, 0, 1]).tolist() == [2, 3, 1]
    with pytest.raises(ValueError, match="exactly once"):
        analysis.ranks([0, 0, 1])


def test_firing_labels_show_what_the_top_activations_are():
    activation = np.array([5.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    labels = ["month", "month"] + ["other"] * 8
    table = analysis.firing_labels(activation, labels, share=0.2)
    assert table.iloc[0]["label"] == "month" and table.iloc[0]["count"] == 2
    assert table.iloc[0]["lift"] == pytest.approx(5.0) and len(table) == 1


def test_pooled_exclusivity_sums_models():
    a = analysis.exclusivity_table({"pos": [0, 1], "morph": [1]}, 4)
    b = analysis.exclusivity_table({"pos": [2], "morph": [3]}, 4)
    pooled = analysis.pooled_exclusivity([a, b])
    assert pooled.loc["pos", "neurons"] == 3 and pooled.loc["pos", "exclusive"] == 2
    assert pooled.loc["morph", "exclusive_share"] == pytest.approx(0.5)
    assert analysis.exclusive_share(pooled) == pytest.approx(3 / 5)


def test_top_sentences_rank_by_peak_and_respect_the_row_mask():
    activation = np.array([0.0, 9.0, 1.0, 2.0, 5.0, 0.5])  # sentences: [0, 1], [2, 3, 4], [5]
    offsets = np.array([0, 2, 5, 6])
    assert analysis.top_sentences(activation, offsets, k=2).tolist() == [0, 1]
    mask = np.array([True, False, False, False, False, True])
    assert analysis.top_sentences(activation, offsets, k=3, rows=mask).tolist() == [2, 0]
    with pytest.raises(ValueError, match="end at 5"):
        analysis.top_sentences(activation, np.array([0, 5]), k=1)
