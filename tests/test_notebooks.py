"""Every notebook follows the house conventions and runs headless under papermill in the tiny profile."""
import ast
import json
import math

import nbformat
import pytest

from lib import runner

NOTEBOOKS = runner.notebooks()
IDS = [nb.stem for nb in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name.startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("#"), "first cell: a markdown title"
    code = [c for c in cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged 'parameters'"
    for statement in ast.parse(code[0].source).body:
        assert isinstance(statement, ast.Assign), f"parameters cell holds only assignments: {ast.dump(statement)}"
        ast.literal_eval(statement.value)
    names = {t.id for s in ast.parse(code[0].source).body for t in s.targets}
    assert {"profile", "interactive"} <= names
    for cell in code:
        assert not cell.outputs and cell.execution_count is None, "committed notebooks carry no outputs"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Reports of this test run go to a temporary folder; trained tiny models stay cached under data/."""
    path = tmp_path_factory.mktemp("reports")
    mp = pytest.MonkeyPatch()
    mp.setenv("GRAINS_REPORTS_DIR", str(path))
    yield path / "tiny"
    mp.undo()


def _finite_numbers(obj):
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _finite_numbers(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _finite_numbers(value)
    elif isinstance(obj, float):
        yield obj


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_in_tiny_and_records_its_results(path, reports):
    executed = runner.run_notebook(path, "tiny")
    assert executed == reports / path.name and executed.with_suffix(".html").exists()
    results = json.loads((reports / f"{path.stem}.json").read_text())
    assert results, "the notebook records its key numbers"
    assert all(math.isfinite(x) for x in _finite_numbers(results)), "no NaN or infinity in the results"
    CHECKS.get(path.stem, lambda r: None)(results)


def _check_00(results):
    full = {(row["corpus"], row["part"], row["lang"]): row for row in results["corpora"]["full"]}
    assert full["brown", "all", "en"]["words"] == 1_161_192 and full["brown", "all", "en"]["files"] == 500
    assert full["ud", "dev", "en"]["words"] == 25_147 and full["ud", "test", "en"]["words"] == 25_094
    for lang in ("en", "de", "fr", "cs"):
        sizes = [full["multi30k", part, lang]["sentences"] for part in ("train", "val", "test_2016_flickr")]
        assert sizes == [29_000, 1_014, 1_000]
    assert set(results["bleu"]) == {"en-de", "en-fr", "en-cs"}
    assert all(0 <= b <= 100 for b in results["bleu"].values())
    assert results["perplexity"]["en"] > 1
    for metric, values in (("bleu", results["bleu"]), ("perplexity", results["perplexity"])):
        for name, value in values.items():
            low, high = results["intervals"][metric][name]
            assert low <= value <= high


VERDICTS = ("higher", "lower", "not resolved")


def _check_01(results):
    for model, per_prop in results["results"].items():
        for prop, r in per_prop.items():
            accuracies = [r["all"]] + [r[how][sel][pct] for how in ("masking", "retraining")
                                       for sel in ("top", "random", "bottom") for pct in ("10", "15", "20")]
            assert all(0 <= a <= 1 for a in accuracies), (model, prop)
            assert 0 < r["minimal_set"]["share"] <= 1 and r["minimal_set"]["neurons"] >= 1
            assert -1 <= r["selectivity"] <= 1
            assert 0 <= r["majority"] <= 1 and r["verdicts"]["probe_vs_majority"] in VERDICTS
            intervals = [r["intervals"]["all"], r["intervals"]["majority"], r["intervals"]["selectivity"]] + [
                r["intervals"]["retraining"][sel]["10"] for sel in ("top", "random", "bottom")]
            assert all(low <= high for low, high in intervals), (model, prop)
            low, high = r["intervals"]["all"]
            assert low <= r["all"] <= high
            familiar = r["by_familiarity"]
            assert familiar and sum(group["share"] for group in familiar.values()) == pytest.approx(1.0)
            assert all(r["verdicts"]["by_familiarity"][name] in VERDICTS for name in familiar)
            check = r["ranking_check"]
            assert check["settled"] == (min(check["jaccard"].values()) >= 0.9), (model, prop)
            low, high = r["intervals"]["tighter_top_retrained"]
            assert low <= check["tighter_top_retrained"] <= high, (model, prop)
            assert r["verdicts"]["tighter_top_vs_random"] in VERDICTS, (model, prop)
            read = r.get("by_model_text", {})
            assert bool(read) == (model != "minilm"), model  # the project's models have a known training text
            assert not read or sum(group["share"] for group in read.values()) == pytest.approx(1.0)
    assert results["ranking"] in ("raw", "scaled") and results["fill"] in ("zero", "mean")
    focus = results["results"]["en-de"]["pos"]
    assert set(focus["layers"]) == {"L1", "L2"} and 0 <= focus["embedding"] <= 1


def _check_02(results):
    for kind, (mean, low, high) in results.get("replicates", {}).get("mean_svcca", {}).items():
        assert low <= mean <= high and 0 <= mean <= 1.0 + 1e-9, kind


def _check_03(results):
    assert set(results["curves"]) == set(results["metric"]) and results["ablation"] in ("zero", "mean")
    for model, per_order in results["damage"].items():
        for order, value in per_order.items():
            low, high = results["intervals"][model][order]
            assert low <= value <= high, (model, order)
    for model, per_order in results["curves"].items():
        assert results["metric"][model] == ("perplexity" if model == "lm" else "bleu")
        starts = {points[0][1] for points in per_order.values()}
        assert len(starts) == 1 and all(points[0][0] == 0 for points in per_order.values()), \
            "every order starts from the same unablated point"


def _check_answer(results):
    assert isinstance(results["answer"], str) and len(results["answer"]) > 40


def _check_08(results):
    assert results["model"] == "minilm" and results["neurons"] == 7 * 384
    assert 0 <= results["baseline"] <= 1 and 0 <= results["probe"] <= 1
    margin = results["margin"]
    assert margin["interval"][0] <= margin["difference"] <= margin["interval"][1]
    assert margin["verdict"] in ("higher", "lower", "not resolved")
    assert margin["difference"] == pytest.approx(results["probe"] - results["baseline"], abs=1e-9)
    assert results["probe"] > 0.5 and 1 <= results["minimal_set"]["neurons"] <= results["neurons"]
    in_model = results["in_model"]
    assert set(in_model["ablated"]) == {"zero", "mean"}
    for r in [in_model["clean"]] + [r for per in in_model["ablated"].values() for r in per.values()]:
        assert 0 <= r["interval"][0] <= r["estimate"] <= r["interval"][1] <= 1


CHECKS = {"00_data_and_models": _check_00, "01_linguistic_correlation": _check_01,
          "02_cross_model_correlation": _check_02, "03_ablation_in_the_model": _check_03, "04_localized_or_distributed": _check_answer,
          "05_exclusive_neurons": _check_answer, "06_nmt_vs_lm": _check_answer, "07_neuron_explorer": _check_answer,
          "08_your_own_model": _check_08}
