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
