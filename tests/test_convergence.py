"""A probe trained on to a tighter tolerance: the objective only falls, and the report says whether the ranking
moved."""
import dataclasses

import pytest

from lib.methods.convergence import Convergence, convergence
from lib.methods.probing import ProbeSettings, synthetic_splits, train_probe
from lib.methods.ranking import global_order, top


@pytest.fixture(scope="module")
def data():
    return synthetic_splits(n_words=3000, n_neurons=40, n_labels=4, planted=2, seed=1)[0]


def test_a_loosely_stopped_probe_trains_on_to_a_lower_objective(data):
    settings = ProbeSettings(tol=3e-2, l2=1e-3)
    probe = train_probe(*data.train[:2], settings=settings, progress=False)
    found = convergence(probe, data, settings, percentages=(10, 20))
    assert found.tighter_tol == pytest.approx(3e-3)
    assert found.extra_iterations > 0 and found.tighter_objective <= found.objective
    assert found.objective_gap >= 0 and set(found.jaccard) == {"10", "20"}
    assert all(0 <= j <= 1 for j in found.jaccard.values())
    tighter = train_probe(*data.train[:2], settings=dataclasses.replace(settings, tol=3e-3), progress=False,
                          init=(probe.weights, probe.bias))
    assert found.tighter_top == tuple(top(global_order(tighter.scaled_weights), 10).tolist())
    assert len(found.tighter_top) == 4  # 10 % of 40 neurons


def test_a_converged_probe_is_settled(data):
    settings = ProbeSettings(tol=1e-6, l2=1e-3)
    probe = train_probe(*data.train[:2], settings=settings, progress=False)
    found = convergence(probe, data, settings)
    assert found.objective_gap == pytest.approx(0, abs=1e-6)
    assert found.settled and "the objective's, not the stopping point's" in found.text("en-de · pos")


def test_an_unsettled_ranking_is_said_plainly():
    found = Convergence(tol=1e-3, tighter_tol=1e-4, objective=0.07, tighter_objective=0.05, accuracy=0.97,
                        tighter_accuracy=0.97, extra_iterations=60, jaccard={"10": 0.4})
    assert not found.settled and "not settled" in found.text("minilm · pos")
    assert f"{100 * (0.07 / 0.05 - 1):.2f} %" in found.text("minilm · pos")


def test_adam_has_no_tolerance_to_tighten(data):
    settings = ProbeSettings(solver="adam", epochs=1)
    probe = train_probe(*data.train[:2], settings=settings, progress=False)
    with pytest.raises(ValueError, match="Adam"):
        convergence(probe, data, dataclasses.replace(settings))
