"""Ablation inside the models: no neurons ablated is the plain model, all encoder neurons zeroed breaks it, mean
ablation differs from zeroing, sweep points are cached, and damage intervals come from per-sentence statistics
that reproduce sacrebleu's corpus BLEU exactly."""
import numpy as np
import pytest
import sacrebleu

from lib.methods import damage
from lib.methods.neurons import Ablation
from lib.pipeline import evaluation, model_ablation
from lib.pipeline.corpora import multi30k
from lib.pipeline.training import load_model


@pytest.fixture
def models(tiny_data_dir):
    return {name: load_model("tiny", name, progress=False) for name in ("en-de", "lm")}


def metric(stats, name):
    return float(damage.metric_from_totals(stats.sum(0), name))


def test_ablation_counts_step_through_the_shares():
    assert damage.ablation_counts(40, step=0.1, max_share=0.5) == [0, 4, 8, 12, 16, 20]
    assert damage.ablation_counts(10, step=0.025, max_share=0.2) == [0, 1, 2]
    with pytest.raises(ValueError, match="step"):
        damage.ablation_counts(10, step=0.0, max_share=0.2)


def test_no_ablation_gives_the_unablated_scores(models):
    test = multi30k("test_2016_flickr", ["en", "de"], "tiny")
    n = model_ablation.task_sentences("tiny")
    plain = evaluation.score_bleu(evaluation.translate(models["en-de"], test["en"][:n], beam=1), test["de"][:n])
    assert metric(model_ablation.task_statistics(models["en-de"], "tiny"), "bleu") == pytest.approx(plain, abs=1e-9)
    assert metric(model_ablation.task_statistics(models["lm"], "tiny"), "perplexity") == \
        pytest.approx(evaluation.sentence_perplexity(models["lm"], test["en"][:n]))


def test_zeroing_every_encoder_neuron_breaks_the_task_and_mean_ablation_differs(models):
    every = np.arange(models["en-de"].model.neuron_map.size)
    assert metric(model_ablation.task_statistics(models["en-de"], "tiny", every), "bleu") < 1.0
    lm = models["lm"]
    ids = np.arange(lm.model.neuron_map.size)
    plain = metric(model_ablation.task_statistics(lm, "tiny"), "perplexity")
    zeroed = metric(model_ablation.task_statistics(lm, "tiny", ids), "perplexity")
    held = metric(model_ablation.task_statistics(lm, "tiny", Ablation(ids, np.full(ids.size, 0.3))), "perplexity")
    assert zeroed > plain and held > plain and held != zeroed


def test_sweeps_are_cached_and_identical_on_rerun(models, monkeypatch):
    n = models["lm"].model.neuron_map.size
    orders = {"forward": np.arange(n), "backward": np.arange(n)[::-1]}
    first = model_ablation.ablation_sweep("tiny", "lm", orders, counts=[0, 4], progress=False)
    mean = model_ablation.ablation_sweep("tiny", "lm", orders, counts=[0, 4], mode="mean", progress=False)
    curves = first.curves()
    assert curves["forward"][0] == curves["backward"][0], "the point at 0 neurons is shared by every order"
    assert mean.curves()["forward"][0] == curves["forward"][0] and mean.curves()["forward"][1] != curves["forward"][1]

    def fail(*args, **kwargs):
        raise AssertionError("a cached point was recomputed")

    monkeypatch.setattr(model_ablation, "task_statistics", fail)
    again = model_ablation.ablation_sweep("tiny", "lm", orders, counts=[0, 4], progress=False)
    assert again.curves() == curves
    with pytest.raises(ValueError, match="unknown ablation mode"):
        model_ablation.ablation_sweep("tiny", "lm", orders, counts=[0, 4], mode="noise", progress=False)


def test_sweeps_measured_in_worker_processes_equal_those_measured_here(models, tiny_data_dir, tmp_path, monkeypatch):
    n = models["en-de"].model.neuron_map.size
    orders = {"en-de": {"forward": np.arange(n), "backward": np.arange(n)[::-1]},
              "lm": {"forward": np.arange(models["lm"].model.neuron_map.size)}}
    here = {m: model_ablation.ablation_sweep("tiny", m, o, progress=False) for m, o in orders.items()}
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    for name in ("corpora", "models"):
        (tmp_path / name).symlink_to(tiny_data_dir / name)
    parallel = model_ablation.ablation_sweeps("tiny", orders, jobs=2, progress=False)
    assert sorted(parallel) == ["en-de", "lm"]
    for m in orders:
        assert parallel[m].curves() == here[m].curves()
        for name in orders[m]:
            np.testing.assert_array_equal(parallel[m].stats[name], here[m].stats[name])


def test_bleu_from_summed_statistics_is_sacrebleus_corpus_bleu():
    rng = np.random.default_rng(0)
    words = "a dog cat runs on the grass man woman red ball plays".split()
    refs = [" ".join(rng.choice(words, rng.integers(3, 12))) for _ in range(40)]
    hyps = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(40)]
    stats = evaluation.bleu_statistics(hyps, refs)
    assert stats.shape == (40, 10)
    for part in (slice(None), slice(0, 3), slice(5, 6)):
        expected = sacrebleu.corpus_bleu(hyps[part], [refs[part]]).score
        assert float(damage.bleu_from_totals(stats[part].sum(0))) == pytest.approx(expected, abs=1e-9)


def test_unablated_scores_carry_bootstrap_intervals_around_sacrebleus_value(models):
    found = evaluation.bleu_interval(models["en-de"], "tiny", n_boot=200)  # a tiny model's BLEU may well be 0
    assert found.estimate == pytest.approx(evaluation.bleu(models["en-de"], "tiny"), abs=1e-9)
    assert found.low <= found.estimate <= found.high
    rng = np.random.default_rng(1)
    words = "a dog cat runs on the grass man woman red ball plays".split()
    refs = [" ".join(rng.choice(words, rng.integers(3, 12))) for _ in range(60)]
    hyps = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(60)]
    bleu = damage.metric_interval(evaluation.bleu_statistics(hyps, refs), "bleu", n_boot=200)
    assert bleu.estimate == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert bleu.low < bleu.estimate < bleu.high
    ppl = evaluation.perplexity_interval(models["lm"], "tiny", n_boot=200)
    assert ppl.estimate == pytest.approx(evaluation.perplexity(models["lm"], "tiny"), rel=1e-9)
    assert ppl.low < ppl.estimate < ppl.high
    stats = np.array([[10.0, 5.0]] * 50)  # every sentence alike: no spread to resample
    assert damage.metric_interval(stats, "perplexity").as_list() == pytest.approx([np.exp(2.0)] * 2)


def planted_sweep(n=200, seed=0):
    """Per-sentence perplexity statistics: "strong" raises every sentence's NLL by 30 %, "same" changes nothing."""
    rng = np.random.default_rng(seed)
    pieces = rng.integers(5, 20, n).astype(float)
    nll = pieces * rng.uniform(2.0, 4.0, n)
    base = np.stack([nll, pieces], axis=1)
    strong = np.stack([base, base * [1.3, 1.0]])
    same = np.stack([base, base])
    return {"strong": strong, "same": same}, {"strong": [0, 5], "same": [0, 5]}


def test_damage_intervals_separate_a_real_effect_and_leave_none_unresolved():
    stats, counts = planted_sweep()
    found = damage.damage(stats, counts, "perplexity", n_boot=300, seed=1)
    table = found.table()
    assert list(table.index) == ["strong", "same"]
    assert table.loc["strong", "low"] <= table.loc["strong", "damage"] <= table.loc["strong", "high"]
    per_piece = stats["same"][0, :, 0].sum() / stats["same"][0, :, 1].sum()
    assert table.loc["strong", "damage"] == pytest.approx(0.3 * per_piece), "log-perplexity gained"
    estimate, low, high = found.difference(["strong"], ["same"], "mean")
    assert damage.verdict(low, high) == "holds" and low > 0.2
    estimate, low, high = found.difference(["same"], ["same"], "mean")
    assert damage.verdict(low, high) == "not resolved"
    assert damage.verdict(-2.0, -1.0) == "fails"


def test_paper_finding_gives_a_verdict_per_claim_with_its_interval():
    stats, counts = planted_sweep()
    renamed = {"CCA-top": stats["strong"], "LCA-top pos": stats["same"], "random": stats["same"],
               "CCA-bottom": stats["same"]}
    found = damage.damage(renamed, {name: [0, 5] for name in renamed}, "perplexity", n_boot=200)
    finding = damage.paper_finding(found)
    assert finding["cca_top_hurts_most"]["verdict"] == "holds"
    assert finding["lca_top_hurts_more_than_random"]["verdict"] == "not resolved"
    assert "sem_hurts_more_than_pos" not in finding and finding["ranking"][0] == "CCA-top"
    text = damage.finding_text({"lm": finding}, {"lm": "log-perplexity"})
    assert "holds for lm" in text and "not resolved for lm" in text


def test_drop_table_reads_the_change_at_each_share():
    curves = {"top": [[0, 30.0], [1, 20.0], [4, 5.0]], "bottom": [[0, 30.0], [1, 29.0], [4, 28.0]]}
    table = damage.drop_table(curves, n_neurons=10, shares=(0.1, 0.4))
    assert table.loc["top", "10%"] == -10.0 and table.loc["bottom", "40%"] == -2.0
