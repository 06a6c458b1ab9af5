"""Profiles: known names, helpful errors, sizes that grow from tiny to paper."""
import dataclasses

import pytest

from lib.pipeline import profiles


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(KeyError, match="tiny, demo, paper"):
        profiles.get_profile("huge")


def test_profiles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        profiles.TINY.seed = 1


def test_sizes_grow_from_tiny_to_paper():
    tiny, demo, paper = profiles.TINY, profiles.DEMO, profiles.PAPER
    assert tiny.nmt.hidden < demo.nmt.hidden < paper.nmt.hidden
    assert tiny.probe.train_sentences < demo.probe.train_sentences < paper.probe.train_sentences
    assert paper.nmt.hidden == 500 and paper.nmt.epochs == 20


def test_artifact_paths_follow_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    assert profiles.models_dir("tiny") == tmp_path / "models" / "tiny"
    assert profiles.activations_dir("demo") == tmp_path / "activations" / "demo"
