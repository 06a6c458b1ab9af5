"""Atomic writes leave either the old artifact or the new one, never half of one."""
import pytest

from lib.pipeline import artifacts


def test_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    artifacts.write_json(target, {"version": 1})
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_text("{half")
            raise RuntimeError("interrupted")
    assert artifacts.read_json(target) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_folders_are_replaced_whole(tmp_path):
    target = tmp_path / "corpus"
    for content in ("old", "new"):
        with artifacts.atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "file.txt").write_text(content)
    assert (target / "file.txt").read_text() == "new"


def test_config_key_is_stable_and_sensitive():
    assert artifacts.config_key({"a": 1, "b": 2}) == artifacts.config_key({"b": 2, "a": 1})
    assert artifacts.config_key({"a": 1}) != artifacts.config_key({"a": 2})
