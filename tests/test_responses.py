"""What a neuron responds to: label correlations, correlation ratio and word positions on planted data."""
import numpy as np
import pytest

from lib.methods import responses


def test_label_correlations_and_positions():
    rng = np.random.default_rng(1)
    labels = rng.choice(["DET", "NOUN", "VERB"], size=2000)
    acts = rng.standard_normal((2000, 4))
    acts[:, 2] += 5.0 * (labels == "NOUN")
    classes, r = responses.point_biserial(acts, labels)
    assert classes.tolist() == ["DET", "NOUN", "VERB"]
    assert r[2, 1] > 0.9 and np.abs(r[[0, 1, 3]]).max() < 0.1
    strongest = responses.strongest_labels(acts, [2, 0], {"pos": labels})
    assert strongest.index.tolist() == [2, 0] and strongest.loc[2, "pos"].startswith("NOUN (+0.9")
    eta = responses.correlation_ratio(acts, labels)
    assert eta[2] > 0.9 and eta[[0, 1, 3]].max() < 0.1
    offsets = np.array([0, 3, 5, 6])
    assert responses.positions(offsets).tolist() == [0, 1, 2, 0, 1, 0]
    word_acts = np.stack([responses.positions(offsets), [1, 0, 0, 1, 0, 1], [0.5, 1, 2, 0, 3, 1]], axis=1)
    table = responses.responses(word_acts, [1, 0, 2], offsets, {"begin": ["B", "I", "I", "B", "I", "B"]})
    assert table.columns.tolist() == ["position_corr", "eta_begin"] and table.index.tolist() == [1, 0, 2]
    assert table.position_corr[0] == pytest.approx(1.0) and table.eta_begin[1] == pytest.approx(1.0)
