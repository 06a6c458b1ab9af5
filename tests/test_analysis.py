"""The paper's questions on hand-made rankings: known overlaps, exclusive neurons, minimal sets and gaps."""
import numpy as np
import pytest

from lib import analysis

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
