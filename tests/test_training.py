"""Training: seeded, resumable after an interruption, refuses foreign checkpoints; evaluation and load_model."""
import dataclasses
import math

import pytest
import torch

import lib.pipeline.training as training
from lib.pipeline import evaluation
from lib.pipeline.evaluation import score_bleu, translate
from lib.pipeline.profiles import TINY
from lib.pipeline.subwords import train_vocab
from lib.pipeline.specs import trained_spec
from lib.pipeline.training import Trained, build_model, encode_examples, load_checkpoint, load_model, train

EN = ["a dog runs on the grass .", "two men play football .", "a woman reads a book .",
      "a child eats an apple .", "the cat sleeps on a bed .", "a man rides a bike ."]
DE = ["ein hund läuft auf dem gras .", "zwei männer spielen fußball .", "eine frau liest ein buch .",
      "ein kind isst einen apfel .", "die katze schläft auf einem bett .", "ein mann fährt ein fahrrad ."]


@pytest.fixture(scope="module")
def vocabs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vocabs")
    return train_vocab(EN * 3, 60, folder / "en.model", 0), train_vocab(DE * 3, 60, folder / "de.model", 0)


def config(name="en-de", epochs=3, dropout=0.2, lr=1e-2, seed=0, hidden=16, batch=2):
    sizes = dataclasses.replace(TINY.nmt, emb=hidden, hidden=hidden, dropout=dropout, epochs=epochs, batch_size=batch, lr=lr,
                                warmup_steps=2, beam=2)
    return {"name": name, "kind": "lm" if name == "lm" else "nmt", "seed": seed, "sizes": dataclasses.asdict(sizes)}


def examples(vocabs, name="en-de"):
    if name == "lm":
        return encode_examples({"en": EN}, ["en"], vocabs[0], None, 50)
    return encode_examples({"en": EN, "de": DE}, ["en", "de"], *vocabs, 50)


def run(cfg, vocabs, folder):
    model = build_model(cfg, vocabs[0].size, vocabs[1].size if cfg["name"] != "lm" else None)
    data = examples(vocabs, cfg["name"])
    history = train(model, cfg, data, data, folder, progress=False)
    return model, history


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("name", ["en-de", "lm"])
def test_two_runs_with_one_seed_give_identical_weights(name, vocabs, tmp_path):
    first, _ = run(config(name), vocabs, tmp_path / "a")
    second, _ = run(config(name), vocabs, tmp_path / "b")
    assert_same_weights(weights(first), weights(second))
    other, _ = run(config(name, seed=1), vocabs, tmp_path / "c")
    assert not torch.equal(weights(first)["out.weight"], weights(other)["out.weight"])


def test_resume_continues_from_the_saved_epoch_and_ends_as_an_uninterrupted_run(vocabs, tmp_path, monkeypatch):
    cfg = config(epochs=3)
    uninterrupted, _ = run(cfg, vocabs, tmp_path / "full")

    real_run_epoch, epochs_run = training.run_epoch, []

    def interrupted(*args, **kwargs):
        if len(epochs_run) == 2:
            raise KeyboardInterrupt
        epochs_run.append(kwargs["desc"])
        return real_run_epoch(*args, **kwargs)

    monkeypatch.setattr(training, "run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, vocabs, tmp_path / "resumed")
    assert not (tmp_path / "resumed" / "model.pt").exists()
    assert len(torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)["history"]) == 2

    epochs_run.clear()
    monkeypatch.setattr(training, "run_epoch", lambda *a, **k: epochs_run.append(k["desc"]) or real_run_epoch(*a, **k))
    resumed, history = run(cfg, vocabs, tmp_path / "resumed")
    assert epochs_run == ["en-de epoch 3/3"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert_same_weights(weights(resumed), weights(uninterrupted))


def test_the_best_dev_loss_checkpoint_is_the_final_model(vocabs, tmp_path):
    _, history = run(config(epochs=3), vocabs, tmp_path)
    final = load_checkpoint(tmp_path / "model.pt", config(epochs=3))
    best = min(history, key=lambda h: h["dev_loss"])
    assert final["epoch"] == best["epoch"]


def test_a_checkpoint_from_another_configuration_is_refused(vocabs, tmp_path):
    run(config(epochs=1), vocabs, tmp_path)
    with pytest.raises(ValueError, match="another configuration.*sizes"):
        load_checkpoint(tmp_path / "model.pt", config(epochs=2))
    with pytest.raises(ValueError, match="another configuration"):
        run(config(epochs=2, lr=5e-3), vocabs, tmp_path)


def test_a_tiny_model_overfits_a_handful_of_sentence_pairs(vocabs, tmp_path):
    cfg = config(epochs=60, dropout=0.0, lr=2e-2, hidden=32, batch=6)
    model, _ = run(cfg, vocabs, tmp_path)
    trained = Trained(trained_spec("en-de"), model.eval(), vocabs[0], vocabs[1], cfg)
    assert score_bleu(translate(trained, EN, beam=1), DE) > 90
    assert score_bleu(translate(trained, EN, beam=2), DE) > 90


def test_empty_or_untokenisable_sentences_translate_to_empty_strings(vocabs, tmp_path):
    cfg = config(epochs=1)
    model, _ = run(cfg, vocabs, tmp_path)
    out = translate(Trained(trained_spec("en-de"), model.eval(), vocabs[0], vocabs[1], cfg), ["", "   ", "a dog runs ."])
    assert out[:2] == ["", ""] and isinstance(out[2], str)


def test_load_model_trains_once_then_loads_the_cache(monkeypatch, tiny_data_dir):
    first = load_model("tiny", "en-de", progress=False)
    assert first.model.neuron_map.size == 2 * 2 * TINY.nmt.hidden
    assert first.src_vocab.path.parent == tiny_data_dir / "models" / "tiny"
    with monkeypatch.context() as patch:
        calls = []
        patch.setattr(training, "train", lambda *a, **k: calls.append(a))
        second = load_model("tiny", "en-de", progress=False)
    assert calls == []
    assert_same_weights(weights(first.model), weights(second.model))
    assert 0 <= evaluation.bleu(second, "tiny") <= 100
    lm = load_model("tiny", "lm", progress=False)
    assert lm.tgt_vocab is None and lm.src_vocab.path == first.src_vocab.path
    ppl = evaluation.perplexity(lm, "tiny")
    assert 1 < ppl < lm.src_vocab.size and math.isfinite(ppl)
    assert evaluation.perplexity(lm, "tiny", zero=range(lm.model.neuron_map.size)) != ppl


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="en-de, en-fr, en-cs, lm"):
        training.model_config("tiny", "en-xx")


def test_every_model_starts_from_its_own_random_weights():
    de, fr = training.model_config("tiny", "en-de"), training.model_config("tiny", "en-fr")
    assert de["seed"] != fr["seed"] and de["seed"] == training.model_config("tiny", "en-de")["seed"]
    first, second = (training.build_model({**config, "sizes": de["sizes"]}, 50, 50) for config in (de, fr))
    a, b = weights(first), weights(second)
    assert not any(torch.equal(a[key], b[key]) for key in a if a[key].numel() > 1 and a[key].std() > 0)
