"""Verdict sentences of notebook 01 (lib.pipeline.lca.evidence_text): generated from the numbers and intervals."""
from lib.pipeline.lca import evidence_text, with_interval


def entry(all_, majority, vs_majority, top_vs_random):
    block = {"top": {"10": 0.7}, "random": {"10": 0.6}, "bottom": {"10": 0.4}}
    return {"all": all_, "majority": majority, "probe_minus_majority": all_ - majority, "retraining": block,
            "verdicts": {"probe_vs_majority": vs_majority, "top_vs_random": top_vs_random,
                         "top_vs_bottom": "higher"},
            "variant": {"verdict_pct": 10},
            "intervals": {"all": [all_ - 0.01, all_ + 0.01], "majority": [majority - 0.01, majority + 0.01],
                          "probe_minus_majority": [all_ - majority - 0.02, all_ - majority + 0.02],
                          "retraining": {sel: {"10": [v["10"] - 0.05, v["10"] + 0.05]} for sel, v in block.items()}}}


def test_a_probe_below_maj_is_said_plainly_and_overlaps_are_not_resolved():
    text = evidence_text({"en-de": {"pos": entry(0.80, 0.91, "lower", "not resolved")},
                          "lm": {"pos": entry(0.95, 0.91, "higher", "higher")}})
    first, rest = text.split("- **lm · pos**")
    assert "**below MAJ**" in first and "0.800 [0.790, 0.810]" in first and "0.910 [0.900, 0.920]" in first
    assert "not resolved at this scale" in first and "paper" in first and "MiniLM" in first
    assert "above MAJ" in rest and "top is better" in rest and "below MAJ" not in rest


def test_numbers_are_shown_with_their_interval():
    assert with_interval(0.5, [0.4, 0.6]) == "0.500 [0.400, 0.600]"
    assert with_interval(-4.26, [-7.1, -1.6], 1) == "-4.3 [-7.1, -1.6]" and with_interval(0.5, None) == "0.500"


def test_the_best_layer_is_compared_with_the_embedding_layer():
    from lib.pipeline.lca import layer_text

    r = {"layers": {"L1": 0.9, "L2": 0.7}, "embedding": 0.8,
         "intervals": {"layers": {"L1": [0.88, 0.92], "L2": [0.6, 0.8]}, "embedding": [0.78, 0.82]}}
    text = layer_text({"lm": {"pos": r}, "en-de": {"morph": {"layers": {}, "embedding": None}}})
    assert text.startswith("- **lm · pos**: the best hidden layer, L1 (0.900 [0.880, 0.920]), beats")
    assert "en-de" not in text
    r["intervals"]["layers"]["L1"] = [0.7, 0.95]
    assert "is not resolved against" in layer_text({"lm": {"pos": r}})


def test_the_familiarity_split_says_where_the_probe_loses_to_maj():
    r = entry(0.84, 0.91, "lower", "higher")
    r["by_familiarity"] = {"seen": {"share": 0.9, "words": 900, "all": 0.86, "majority": 0.95,
                                    "probe_minus_majority": -0.09},
                           "unseen": {"share": 0.1, "words": 100, "all": 0.71, "majority": 0.57,
                                      "probe_minus_majority": 0.14}}
    r["intervals"]["by_familiarity"] = {"seen": {"all": [0.85, 0.87], "majority": [0.94, 0.96],
                                                 "probe_minus_majority": [-0.10, -0.08]},
                                        "unseen": {"all": [0.68, 0.74], "majority": [0.53, 0.61],
                                                   "probe_minus_majority": [0.10, 0.18]}}
    r["verdicts"]["by_familiarity"] = {"seen": "lower", "unseen": "higher"}
    text = evidence_text({"en-de": {"pos": r}})
    seen, unseen = (line for line in text.splitlines() if "of test words" in line)
    assert "90 % of test words seen" in seen and "probe is **worse**" in seen and "-9.0 [-10.0, -8.0]" in seen
    assert "10 % of test words unseen" in unseen and "probe is better" in unseen and "0.710 [0.680, 0.740]" in unseen
    assert "of test words" not in evidence_text({"en-de": {"pos": entry(0.84, 0.91, "lower", "higher")}})


def test_the_familiarity_table_has_a_row_per_model_property_and_group_and_draws():
    import matplotlib

    matplotlib.use("Agg")
    from lib import viz
    from lib.pipeline.lca import familiarity_table, familiarity_view

    r = entry(0.84, 0.91, "lower", "higher")
    r["by_familiarity"] = {"seen": {"share": 1.0, "words": 10, "all": 0.8, "majority": 0.9,
                                    "probe_minus_majority": -0.1}}
    r["intervals"]["by_familiarity"] = {"seen": {"all": [0.7, 0.9], "majority": [0.8, 1.0],
                                                 "probe_minus_majority": [-0.2, 0.05]}}
    r["verdicts"]["by_familiarity"] = {"seen": "not resolved"}
    table = familiarity_table({"en-de": {"pos": r, "sem": entry(0.8, 0.7, "higher", "higher")}})
    assert table[["model", "prop", "words", "verdict"]].values.tolist() == [["en-de", "pos", "seen", "not resolved"]]
    assert table.loc[0, ["difference", "low", "high"]].tolist() == [-10.0, -20.0, 5.0]
    view = familiarity_view(table)
    assert view.loc[("en-de", "pos"), ("probe − MAJ", "seen")] == "-10.0 [-20.0, 5.0]"
    assert view.loc[("en-de", "pos"), ("verdict", "seen")] == "not resolved"
    fig = viz.plot_familiarity(table)
    fig.canvas.draw()
    assert [ax.get_title() for ax in fig.axes] == ["pos"]


def test_the_model_text_table_crosses_both_splits_and_draws_every_group():
    import matplotlib

    matplotlib.use("Agg")
    from lib import viz
    from lib.methods.baselines import MODEL_TEXT
    from lib.pipeline.lca import familiarity_table

    r = entry(0.84, 0.91, "lower", "higher")
    r["by_model_text"] = {name: {"share": 0.25, "words": 5, "all": 0.8, "majority": 0.9 - 0.1 * i,
                                 "probe_minus_majority": 0.1 * i - 0.1} for i, name in enumerate(MODEL_TEXT)}
    r["intervals"]["by_model_text"] = {name: {"all": [0.7, 0.9], "majority": [0.6, 1.0],
                                              "probe_minus_majority": [0.1 * i - 0.2, 0.1 * i]}
                                       for i, name in enumerate(MODEL_TEXT)}
    r["verdicts"]["by_model_text"] = dict(zip(MODEL_TEXT, ("lower", "not resolved", "not resolved", "higher")))
    results = {"lm": {"pos": r}, "minilm": {"pos": entry(0.97, 0.91, "higher", "higher")}}
    table = familiarity_table(results, "by_model_text")
    assert table["words"].tolist() == list(MODEL_TEXT) and set(table["model"]) == {"lm"}
    assert table["verdict"].tolist() == ["lower", "not resolved", "not resolved", "higher"]
    assert familiarity_table(results).empty  # neither entry has the seen / unseen split
    fig = viz.plot_familiarity(table, MODEL_TEXT, "{}")
    fig.canvas.draw()
    assert [text.get_text() for text in fig.legends[0].get_texts()] == list(MODEL_TEXT)
    assert len(fig.axes[0].lines) >= len(MODEL_TEXT)  # a point (and its interval) per group


def test_the_model_text_verdict_counts_models_whose_unread_words_lose_more():
    from lib.methods.baselines import MODEL_TEXT
    from lib.pipeline.lca import model_text_text

    def with_text(read_gap, unread_gap, half_width):
        r = entry(0.84, 0.91, "lower", "higher")
        gaps = dict(zip(MODEL_TEXT, (read_gap, unread_gap, 0.1, 0.1)))
        r["by_model_text"] = {name: {"share": 0.25, "words": 5, "all": 0.8, "majority": 0.8 - gap,
                                     "probe_minus_majority": gap} for name, gap in gaps.items()}
        r["intervals"]["by_model_text"] = {name: {"all": [0.7, 0.9], "majority": [0.6, 1.0],
                                                  "probe_minus_majority": [gap - half_width, gap + half_width]}
                                           for name, gap in gaps.items()}
        r["verdicts"]["by_model_text"] = {name: "lower" if gap < 0 else "higher" for name, gap in gaps.items()}
        return r

    results = {"en-de": {"pos": with_text(-0.08, -0.17, 0.01)}, "lm": {"pos": with_text(-0.10, -0.12, 0.05)},
               "minilm": {"pos": entry(0.97, 0.91, "higher", "higher")}}
    text = model_text_text(results)
    assert text == ("- **pos**: probe − MAJ on seen words the model read -10.0 to -8.0 points, on seen words it "
                    "never read -17.0 to -12.0; lower where it never read them, intervals apart, for 1 of 2 models.")
    assert model_text_text({"minilm": {"pos": entry(0.97, 0.91, "higher", "higher")}}) == ""


def test_the_top_against_random_verdict_is_given_again_with_the_tighter_ranking():
    r = entry(0.84, 0.91, "lower", "higher")
    r["ranking_check"] = {"tighter_tol": 1e-5, "jaccard": {"10": 0.81, "15": 0.86}, "tighter_top_retrained": 0.62}
    r["intervals"]["tighter_top_retrained"] = [0.58, 0.66]
    r["verdicts"]["tighter_top_vs_random"] = "not resolved"
    line = evidence_text({"en-de": {"pos": r}}).splitlines()[-1]
    assert line.startswith("  - ranked by the probe trained on to tol 1e-05 (top sets kept 0.81): top 10 % 0.620 "
                           "[0.580, 0.660] against random: not resolved at this scale")
    assert "**the verdict changes as the ranking converges**" in line
    r["verdicts"]["tighter_top_vs_random"] = "higher"
    assert evidence_text({"en-de": {"pos": r}}).endswith("top is better; the same verdict.")
    assert "ranked by the probe" not in evidence_text({"en-de": {"pos": entry(0.84, 0.91, "lower", "higher")}})
