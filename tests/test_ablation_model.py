"""Ablation inside the models: no neurons zeroed is the plain model, all encoder neurons zeroed breaks it, and
curve points are cached so that a rerun gives identical numbers without recomputing them."""
import numpy as np
import pytest

from lib.methods import ablation
from lib.pipeline import evaluation, model_ablation
from lib.pipeline.corpora import multi30k
from lib.pipeline.training import load_model


@pytest.fixture
def models(tiny_data_dir):
    return {name: load_model("tiny", name, progress=False) for name in ("en-de", "lm")}


def test_ablation_counts_step_through_the_shares():
    assert ablation.ablation_counts(40, step=0.1, max_share=0.5) == [0, 4, 8, 12, 16, 20]
    assert ablation.ablation_counts(10, step=0.025, max_share=0.2) == [0, 1, 2]
    with pytest.raises(ValueError, match="step"):
        ablation.ablation_counts(10, step=0.0, max_share=0.2)


def test_zeroing_no_neurons_gives_the_unablated_scores_exactly(models):
    test = multi30k("test_2016_flickr", ["en", "de"], "tiny")
    n = model_ablation.task_sentences("tiny")
    plain = evaluation.score_bleu(evaluation.translate(models["en-de"], test["en"][:n], beam=1), test["de"][:n])
    assert model_ablation.task_metric(models["en-de"], "tiny", np.array([], dtype=int)) == plain
    assert model_ablation.task_metric(models["lm"], "tiny", np.array([], dtype=int)) == \
        evaluation.sentence_perplexity(models["lm"], test["en"][:n])


def test_zeroing_every_encoder_neuron_breaks_the_task(models):
    every = np.arange(models["en-de"].model.neuron_map.size)
    assert model_ablation.task_metric(models["en-de"], "tiny", every) < 1.0
    lm_every = np.arange(models["lm"].model.neuron_map.size)
    assert model_ablation.task_metric(models["lm"], "tiny", lm_every) > model_ablation.task_metric(models["lm"], "tiny", None)


def test_curves_are_cached_and_identical_on_rerun(models, monkeypatch):
    n = models["lm"].model.neuron_map.size
    orders = {"forward": np.arange(n), "backward": np.arange(n)[::-1]}
    first = model_ablation.ablation_curves("tiny", "lm", orders, counts=[0, 4], progress=False)
    assert first["forward"][0] == first["backward"][0], "the point at 0 neurons is shared by every order"

    def fail(*args, **kwargs):
        raise AssertionError("a cached point was recomputed")

    monkeypatch.setattr(model_ablation, "task_metric", fail)
    assert model_ablation.ablation_curves("tiny", "lm", orders, counts=[0, 4], progress=False) == first


def test_drop_table_reads_the_change_at_each_share():
    curves = {"top": [[0, 30.0], [1, 20.0], [4, 5.0]], "bottom": [[0, 30.0], [1, 29.0], [4, 28.0]]}
    table = ablation.drop_table(curves, n_neurons=10, shares=(0.1, 0.4))
    assert table.loc["top", "10%"] == -10.0 and table.loc["bottom", "40%"] == -2.0


def test_damage_ranks_orders_by_how_much_they_hurt():
    bleu = {"CCA-top": [[0, 30.0], [5, 10.0]], "LCA-top pos": [[0, 30.0], [5, 20.0]], "random": [[0, 30.0], [5, 25.0]]}
    assert list(ablation.damage(bleu, "bleu").index) == ["CCA-top", "LCA-top pos", "random"]
    ppl = {"a": [[0, 50.0], [5, 60.0]], "b": [[0, 50.0], [5, 500.0]]}
    assert list(ablation.damage(ppl, "perplexity").index) == ["b", "a"]
