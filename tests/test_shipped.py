"""The demo checkpoints shipped in checkpoints/demo/: they match the profile, the vocabularies and the training code
that made them, and load_model installs them instead of training."""
import dataclasses

import pytest
import torch

import lib.pipeline.training as training
from lib.pipeline import shipped
from lib.pipeline.profiles import DEMO, TINY
from lib.pipeline.training import fingerprint, load_model, model_config, model_folder

SHIPPED = sorted(shipped.manifest("demo"))


def test_every_demo_model_is_shipped():
    assert SHIPPED == sorted(DEMO.trainable)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_checkpoint_fits_the_profile_the_vocabularies_and_the_training_code(name, tiny_data_dir):
    assert shipped.mismatch("demo", name, model_config("demo", name)) is None
    recorded = shipped.manifest("demo")[name]["fingerprint"]
    found = fingerprint("demo", name, steps=len(recorded["losses"]))
    assert found["losses"] == pytest.approx(recorded["losses"], rel=1e-5)
    assert found["start"] == pytest.approx(recorded["start"], rel=1e-6)
    assert found["update"] == pytest.approx(recorded["update"], rel=1e-3)


def test_load_model_installs_the_shipped_checkpoint_instead_of_training(tiny_data_dir, monkeypatch, capsys):
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: pytest.fail("trained a shipped model"))
    lm = load_model("demo", "lm")
    assert "lm: ready, installed from checkpoints/demo/" in capsys.readouterr().out
    assert shipped.source("demo", "lm") == "shipped"
    saved = torch.load(shipped.checkpoints_dir("demo") / shipped.manifest("demo")["lm"]["file"], weights_only=False)
    for key, value in lm.model.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value.cpu(), saved["model"][key].float()), key


def test_a_checkpoint_made_with_another_configuration_is_not_installed(tiny_data_dir, tmp_path, capsys):
    config = model_config("demo", "lm")
    other = {**config, "sizes": {**config["sizes"], "epochs": config["sizes"]["epochs"] + 1}}
    assert not shipped.install("demo", "lm", other, tmp_path)
    assert "differs in: sizes" in capsys.readouterr().out
    assert not (tmp_path / "model.pt").exists()
    assert not shipped.install("tiny", "lm", model_config("tiny", "lm"), tmp_path)


def test_final_weights_are_kept_in_the_profile_precision(tiny_data_dir):
    half = dataclasses.replace(TINY, lm=dataclasses.replace(TINY.lm, stored="float16"))
    trained = load_model(half, "lm", progress=False)
    file = torch.load(model_folder(half, "lm") / "model.pt", weights_only=False)
    saved = file["model"]
    assert file["threads"] == torch.get_num_threads()  # ship() records it: another thread count trains another model
    assert all(v.dtype == torch.float16 for v in saved.values())
    for key, value in trained.model.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(value.cpu(), saved[key].float())


def test_verify_retrains_on_the_thread_count_a_model_was_made_with(monkeypatch):
    assert {shipped.training_threads(entry, jobs=2) for entry in shipped.manifest("demo").values()} == {1}
    monkeypatch.setattr(shipped.os, "cpu_count", lambda: 8)
    assert shipped.training_threads({"made": {}}, jobs=2) == 4  # not recorded: this machine's share


def test_training_from_scratch_uses_the_shipped_thread_count_so_it_reproduces_the_checkpoint(monkeypatch):
    monkeypatch.setattr(shipped.os, "cpu_count", lambda: 8)
    assert training.training_threads("demo", "en-de", model_config("demo", "en-de"), jobs=2) == 1
    other = {**model_config("demo", "en-de"), "seed": 1}
    assert training.training_threads("demo", "en-de", other, jobs=2) == 4  # not the shipped model: cores ÷ jobs
    assert training.training_threads("tiny", "lm", model_config("tiny", "lm"), jobs=4) == 2
