"""Neuron rankings (lib.methods.ranking): Algorithm 1 on hand-made weights, selections, probeless ranking."""
import numpy as np
import pytest

from lib.methods.ranking import (bottom, count, entry_steps, global_order, label_top_neurons, probeless_order,
                         probeless_scores, random_neurons, top)

# Label 0 has mass 4, 3, 2, 1 on neurons 0-3 (total 10); label 1 has 9 on neuron 4 and 1 on neuron 3.
HAND = np.array([[4.0, -3.0, 2.0, 1.0, 0.0, 0.0],
                 [0.0, 0.0, 0.0, -1.0, 9.0, 0.0]])


def reference_steps(weights: np.ndarray, stride: int) -> dict[int, set[int]]:
    """The paper's Algorithm 1 written literally: at each mass p, per label the shortest prefix reaching p."""
    w = np.abs(weights)
    seen: set[int] = set()
    steps = {}
    for j in range(stride + 1):
        chosen = set()
        for row in w:
            ids = np.argsort(-row, kind="stable")
            cum = np.cumsum(row[ids])
            k = int(np.searchsorted(cum, j / stride * cum[-1], side="left"))
            chosen |= {int(i) for i in ids[: k + 1] if row[i] > 0}
        steps[j] = chosen - seen
        seen |= chosen
    return steps


def test_hand_made_steps_include_the_neuron_crossing_the_threshold():
    # label 0 at p = 0.5 needs 4 + 3 >= 5, so neuron 1 enters at step 5 of 10; neuron 2 at 0.8 (4 + 3 < 8).
    assert entry_steps(HAND, stride=10).tolist() == [0, 5, 8, 10, 0, 11]


def test_hand_made_global_order():
    # step 0: neurons 4 (peak 9) and 0 (peak 4); then 1, 2, 3; the all-zero neuron 5 last.
    assert global_order(HAND, stride=10).tolist() == [4, 0, 1, 2, 3, 5]


def test_global_order_matches_the_literal_algorithm_step_by_step():
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((7, 60)) * rng.exponential(1.0, size=60)
    weights[:, [3, 17]] = 0.0
    stride = 100
    steps = entry_steps(weights, stride)
    for j, members in reference_steps(weights, stride).items():
        assert set(np.flatnonzero(steps == j)) == members
    order = global_order(weights, stride)
    assert sorted(order.tolist()) == list(range(60))
    assert set(order[-2:]) == {3, 17}
    assert np.all(np.diff(steps[order]) >= 0)


def test_ties_are_broken_by_neuron_id():
    assert global_order(np.ones((2, 5))).tolist() == [0, 1, 2, 3, 4]
    assert global_order(np.zeros((3, 4))).tolist() == [0, 1, 2, 3]


def test_label_top_neurons_at_a_mass_share():
    assert [t.tolist() for t in label_top_neurons(HAND, 0.25)] == [[0], [4]]
    assert [t.tolist() for t in label_top_neurons(HAND, 0.5)] == [[0, 1], [4]]
    assert [t.tolist() for t in label_top_neurons(HAND, 1.0)] == [[0, 1, 2, 3], [4, 3]]
    assert label_top_neurons(np.zeros((1, 3)), 0.5)[0].size == 0
    with pytest.raises(ValueError, match="share"):
        label_top_neurons(HAND, 25)


def test_counts_round_half_up_exactly():
    assert [count(1024, p) for p in (10, 15, 20)] == [102, 154, 205]
    assert count(10, 25) == 3 and count(3, 50) == 2 and count(10, 0) == 0 and count(7, 100) == 7
    with pytest.raises(ValueError, match="percentage"):
        count(10, 150)


def test_top_bottom_and_random_selections():
    order = np.array([5, 3, 9, 0, 1, 2, 4, 6, 7, 8])
    assert top(order, 20).tolist() == [5, 3] and bottom(order, 30).tolist() == [6, 7, 8]
    picked = random_neurons(1000, 15, seed=2)
    assert picked.size == 150 and np.unique(picked).size == 150 and np.all(np.diff(picked) > 0)
    np.testing.assert_array_equal(picked, random_neurons(1000, 15, seed=2))
    assert not np.array_equal(picked, random_neurons(1000, 15, seed=3))


def test_probeless_scores_by_hand():
    acts = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0], [6.0, 5.0]])
    classes, per_label, overall = probeless_scores(acts, ["a", "a", "b", "c"])
    # means: a = (1, 1), b = (4, 1), c = (6, 5)
    assert classes == ("a", "b", "c")
    np.testing.assert_allclose(per_label, [[3 + 5, 0 + 4], [3 + 2, 0 + 4], [5 + 2, 4 + 4]])
    np.testing.assert_allclose(overall, [10, 8])
    assert probeless_order(acts, ["a", "a", "b", "c"]).tolist() == [0, 1]


def test_ranking_variants_read_raw_or_scaled_weights():
    from types import SimpleNamespace

    from lib.methods.ranking import jaccard, ranking_weights

    # neuron 0 has the larger raw weight but a tiny spread: raw |W| ranks it first, |W·σ| last
    probe = SimpleNamespace(weights=np.array([[5.0, 1.0]]), scaled_weights=np.array([[0.05, 1.0]]))
    assert global_order(ranking_weights(probe, "raw"))[0] == 0
    assert global_order(ranking_weights(probe, "scaled"))[0] == 1
    with pytest.raises(ValueError, match="raw, scaled"):
        ranking_weights(probe, "abs")
    assert jaccard([1, 2, 3], [2, 3, 4]) == 0.5 and jaccard([], []) == 1.0
