"""The notebook harness: parameter checks and results files."""
import pytest

from lib import runner


def test_check_parameters_names_the_wrong_one():
    runner.check_parameters([("profile", "tiny", str), ("models", ["en-de"], list), ("share", 1, float)])
    with pytest.raises(TypeError, match="parameter top_k must be of type int, got '5'"):
        runner.check_parameters([("profile", "tiny", str), ("top_k", "5", int)])
    with pytest.raises(TypeError, match="models must be of type list of str"):
        runner.check_parameters([("models", ["en-de", 3], list)])


def test_results_round_trip_and_missing_results_say_what_to_run(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAINS_REPORTS_DIR", str(tmp_path))
    runner.write_results("tiny", "09_example", {"accuracy": 0.5})
    assert runner.read_results("tiny", "09_example") == {"accuracy": 0.5}
    with pytest.raises(FileNotFoundError, match="run notebooks/10_missing.ipynb"):
        runner.read_results("tiny", "10_missing")


def test_unknown_notebook_lists_the_known_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="00_data_and_models.ipynb"):
        runner.run_notebook(tmp_path / "nope.ipynb", "tiny")
