"""The run summary on hand-made notebook results: numbers beside the paper's, missing notebooks noted, HTML links."""
import json

import pytest

from lib import summary


def _lca(top, bottom):
    block = {"top": {"10": top}, "random": {"10": (top + bottom) / 2}, "bottom": {"10": bottom}}
    return {"all": 0.9, "masking": block, "retraining": block, "minimal_set": {"neurons": 12, "share": 0.1},
            "selectivity": 0.2}


RESULTS = {
    "00_data_and_models": {"bleu": {"en-de": 31.5}, "perplexity": {"en": 55.0}},
    "01_linguistic_correlation": {"results": {"en-de": {"pos": _lca(0.8, 0.6)}, "lm": {"pos": _lca(0.7, 0.3)}}},
    "03_ablation_in_the_model": {"curves": {"en-de": {"cca": [[0, 30.0], [10, 12.0]],
                                                      "bottom": [[0, 30.0], [10, 29.0]]},
                                            "lm": {"cca": [[0, 50.0], [5, 60.0]], "lca-pos": [[0, 50.0], [5, 400.0]]}},
                                 "metric": {"en-de": "bleu", "lm": "perplexity"}},
    "05_exclusive_neurons": {"answer": "Some are exclusive.", "exclusive_share": {"properties": 0.25, "labels": 0.4}},
    "06_nmt_vs_lm": {"answer": "The LM is more localized.",
                     "families": {"NMT": {"mean_gap": 11.0, "gap_interval": [0.0, 22.0], "gaps": 3,
                                          "mean_minimal_share": 0.3, "properties": 1},
                                  "LM": {"mean_gap": 33.0, "gap_interval": [20.0, 46.0], "gaps": 3,
                                         "mean_minimal_share": 0.2, "properties": 1}}},
}


@pytest.fixture
def reports(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAINS_REPORTS_DIR", str(tmp_path))
    folder = tmp_path / "tiny"
    folder.mkdir()
    for stem, result in RESULTS.items():
        (folder / f"{stem}.json").write_text(json.dumps(result))
    (folder / "06_nmt_vs_lm.html").write_text("<html></html>")
    return folder


def test_summary_puts_measured_numbers_beside_the_papers(reports):
    path = summary.write_summary("tiny")
    assert path == reports / "summary.md"
    text = path.read_text()
    assert "| top − bottom 10 % gap, LM (points) | 33.000 | [20.000, 46.000] | 25.500 | not resolved |" in text
    assert "| top − bottom 10 % gap, NMT (points) | 11.000 | [0.000, 22.000] | 12.800 | not resolved |" in text
    assert "| BLEU en-de | 31.500 | none recorded |" in text and "| LM perplexity (en) | 55.000 |" in text
    assert "| LCA top − bottom 10 % retrained (points, mean over model × property) | 30.000 |" in text  # (20+40)/2


def _lca_with_evidence(top, bottom, majority, vs_majority):
    result = _lca(top, bottom)
    block = {sel: {"10": [value - 0.05, value + 0.05]} for sel, value in (("top", top), ("bottom", bottom),
                                                                         ("random", (top + bottom) / 2))}
    result["ranking_check"] = {"tighter_tol": 1e-4, "jaccard": {"10": 0.95, "15": 0.85 if top > 0.75 else 0.92},
                               "objective_gap": 0.001, "settled": top <= 0.75}
    read_gap = -0.05 if vs_majority == "lower" else -0.07
    result["by_model_text"] = {"seen, read": {"probe_minus_majority": read_gap},
                               "seen, unread": {"probe_minus_majority": 3 * read_gap}}
    return {**result, "majority": majority, "verdicts": {"probe_vs_majority": vs_majority,
                                                         "top_vs_random": "not resolved",
                                                         "tighter_top_vs_random": "higher" if top > 0.75
                                                         else "not resolved",
                                                         "by_familiarity": {"seen": "lower", "unseen": vs_majority}},
            "intervals": {"all": [0.88, 0.92], "majority": [majority - 0.01, majority + 0.01],
                          "retraining": block, "selectivity": [0.1, 0.3]}}


def test_lca_numbers_carry_intervals_maj_and_verdicts(reports):
    lca = {"ranking": "raw", "fill": "zero",
           "probe": {"solver": "owlqn", "tol": 1e-3, "rank_tol": 1e-5, "precision": "mixed"},
           "results": {"en-de": {"pos": _lca_with_evidence(0.8, 0.6, 0.93, "lower")},
                       "lm": {"pos": _lca_with_evidence(0.7, 0.3, 0.85, "higher")}}}
    (reports / "01_linguistic_correlation.json").write_text(json.dumps(lca))
    rows = {r["quantity"]: r for r in summary.key_numbers("tiny")}
    gap = rows["LCA top − bottom 10 % retrained (points, mean over model × property)"]
    assert gap["interval"] is not None and gap["verdict"] == "not resolved"  # 20 and 40 over two pairs: t wide
    assert rows["all-neuron probe against MAJ (model × property pairs)"]["measured"] == "1 higher, 1 lower"
    assert rows["probe against MAJ on test words seen in training (model × property pairs)"]["measured"] == "2 lower"
    assert rows["probe against MAJ on test words unseen in training (model × property pairs)"]["measured"] == \
        "1 higher, 1 lower"
    read, unread = (rows[f"probe − MAJ on test words seen in training, {words} by the model (points, mean over model "
                         "× property)"] for words in ("read", "unread"))
    assert read["measured"] == pytest.approx(-6.0) and unread["measured"] == pytest.approx(-18.0)
    assert unread["interval"][0] < -18.0 < unread["interval"][1] and unread["verdict"] == "not resolved"
    assert rows["rankings settled (model × property pairs; top sets kept ≥ 0.9 by a ten times tighter probe)"][
        "measured"] == "1 of 2"
    tighter = rows["the same, top set ranked by the ten times tighter probe (model × property pairs)"]
    assert tighter["measured"] == "1 higher, 1 not resolved" and tighter["verdict"] == "1 of 2 verdicts change"
    text = summary.write_summary("tiny").read_text()
    assert "| en-de | pos | 0.930 [0.920, 0.940] | 0.900 [0.880, 0.920] | lower | 0.800 [0.750, 0.850] |" in text
    assert "| 0.85 (not settled) |" in text and "| 0.92 (settled) |" in text
    assert "raw |W| (the paper)" in text and "not resolved" in text
    assert ("Probes: owlqn, mixed precision, the ranking probes to tol 1e-05, those retrained on subsets to tol "
            "0.001.") in text


def test_key_numbers_have_an_interval_and_a_verdict_column(reports):
    text = summary.write_summary("tiny").read_text()
    assert "| quantity | measured | 95 % interval | paper | verdict | notebook |" in text
    assert "MAJ is its Table 1 baseline" in text and "EN-FR only" in text and "Grains' additions" in text


def test_separated_intervals_give_a_verdict_and_overlapping_ones_do_not(reports):
    separated = {"answer": "x" * 50, "families": {
        "NMT": {"mean_gap": 10.0, "gap_interval": [8.0, 12.0], "gaps": 9, "mean_minimal_share": 0.3, "properties": 3},
        "LM": {"mean_gap": 30.0, "gap_interval": [25.0, 35.0], "gaps": 3, "mean_minimal_share": 0.2, "properties": 3}}}
    (reports / "06_nmt_vs_lm.json").write_text(json.dumps(separated))
    (reports / "04_localized_or_distributed.json").write_text(json.dumps({"answer": "y" * 50, "class_contrast": {
        "closed": {"mean": 0.05, "median": 0.05, "labels": 8, "low": 0.03, "high": 0.07},
        "open": {"mean": 0.06, "median": 0.06, "labels": 4, "low": 0.04, "high": 0.09}}}))
    rows = {r["quantity"]: r for r in summary.key_numbers("tiny")}
    assert rows["top − bottom 10 % gap, LM (points)"]["verdict"] == "LM more localized"
    closed = rows["salient share of a label, closed class"]
    assert closed["verdict"] == "not resolved" and closed["interval"].as_list() == [0.03, 0.07]
    assert rows["share of property-salient neurons exclusive to one property"]["verdict"].startswith("not resolved")


def test_the_exclusive_share_is_shown_as_the_mean_its_interval_belongs_to(reports):
    (reports / "05_exclusive_neurons.json").write_text(json.dumps({
        "answer": "z" * 50, "exclusive_share": {"properties": 0.32, "labels": 0.43},  # pooled over models
        "versus_chance": {"observed": 0.28, "observed_interval": [0.20, 0.36], "chance": 0.44,
                          "chance_interval": [0.34, 0.54], "models": 5, "verdict": "not resolved"}}))
    rows = {r["quantity"]: r for r in summary.key_numbers("tiny")}
    share = rows["share of property-salient neurons exclusive to one property (mean over models)"]
    assert share["measured"] == 0.28 and share["interval"].as_list() == [0.20, 0.36]
    assert share["verdict"] == "not resolved"
    assert rows["the same share for random sets of the same sizes (chance)"]["measured"] == 0.44


def test_ablation_damage_intervals_decide_the_most_harmful_order(reports):
    result = dict(RESULTS["03_ablation_in_the_model"], ablation="mean",  # the shape notebook 03 writes
                  damage={"en-de": {"cca": 9.0, "bottom": 1.0}, "lm": {"cca": 0.3, "lca-pos": 0.4}},
                  intervals={"en-de": {"cca": [7.0, 11.0], "bottom": [0.0, 2.0]},
                             "lm": {"cca": [0.1, 0.5], "lca-pos": [0.2, 0.6]}})
    (reports / "03_ablation_in_the_model.json").write_text(json.dumps(result))
    rows = {r["quantity"]: r for r in summary.key_numbers("tiny")}
    assert rows["most harmful ablation order, en-de (mean)"]["measured"] == "cca"
    assert rows["most harmful ablation order, en-de (mean)"]["verdict"] == "above every other order"
    assert rows["most harmful ablation order, lm (mean)"]["verdict"] == "not resolved"
    text = summary.write_summary("tiny").read_text()
    assert "Ablation by the mean activation." in text and "| [7.000, 11.000] |" in text


def test_most_harmful_ablation_order_respects_the_metric_direction(reports):
    rows = {r["quantity"]: r["measured"] for r in summary.key_numbers("tiny")}
    assert rows["most harmful ablation order, en-de (zero)"] == "cca"  # BLEU falls most
    assert rows["most harmful ablation order, lm (zero)"] == "lca-pos"  # perplexity rises most


def test_ablation_orders_that_all_tie_name_no_winner(reports):
    flat = {"curves": {"en-de": {"cca": [[0, 0.0], [5, 0.0]], "random": [[0, 0.0], [5, 0.0]]},
                       "lm": {"cca": [[0, 9.0], [5, 12.0]], "lca-pos": [[0, 9.0], [5, 12.0]], "bottom": [[0, 9.0]]}},
            "metric": {"en-de": "bleu", "lm": "perplexity"}}
    (reports / "03_ablation_in_the_model.json").write_text(json.dumps(flat))
    rows = {r["quantity"]: r["measured"] for r in summary.key_numbers("tiny")}
    assert rows["most harmful ablation order, en-de (zero)"] == "none (all orders equal)"
    assert rows["most harmful ablation order, lm (zero)"] == "cca / lca-pos"


def test_damage_recorded_as_interval_forms_is_read_too(reports):
    result = dict(RESULTS["03_ablation_in_the_model"], damage={
        "en-de": {"cca": {"estimate": 9.0, "interval": [7.0, 11.0]}, "bottom": [0.0, 2.0]}})
    (reports / "03_ablation_in_the_model.json").write_text(json.dumps(result))
    rows = {r["quantity"]: r for r in summary.key_numbers("tiny")}
    assert rows["most harmful ablation order, en-de (zero)"]["verdict"] == "above every other order"
    assert rows["most harmful ablation order, lm (zero)"]["verdict"].startswith("not resolved")


def test_missing_notebooks_are_noted_not_fatal_and_html_is_linked(reports):
    text = summary.write_summary("tiny").read_text()
    assert "_Not run: `04_localized_or_distributed.json` is missing._" in text
    assert "_Not run: `07_neuron_explorer.json` is missing._" in text
    assert "## NMT against LM (Q3) ([06_nmt_vs_lm.html](06_nmt_vs_lm.html))" in text
    assert "[06_nmt_vs_lm](06_nmt_vs_lm.html)" in text  # key table links too
    assert "Measured: Some are exclusive." in text and "Paper: Some neurons are exclusive" in text


def test_a_malformed_results_file_is_reported_in_its_section(reports):
    (reports / "02_cross_model_correlation.json").write_text(json.dumps({"models": {"en-de": {}}}))
    text = summary.write_summary("tiny").read_text()
    assert "_Could not read `02_cross_model_correlation.json`: KeyError" in text


def test_an_empty_reports_folder_still_gives_a_summary(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAINS_REPORTS_DIR", str(tmp_path))
    text = summary.write_summary("tiny").read_text()
    assert "_No notebook has run yet._" in text and text.count("_Not run:") == len(summary.SECTIONS)


def test_markdown_table_formats_floats_and_blanks():
    table = summary.markdown_table([{"a": 1.23456, "b": None}], ["a", "b"])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1.235 |  |"]
