"""Cross-model correlation: planted shared neurons rank first, blocking and memmaps change nothing, degenerate input is
handled (constant neurons, collinear predictors), and the cached rankings round-trip."""
from __future__ import annotations

import sys
import types
import warnings

import numpy as np
import pytest

from lib.methods import correlation as cc
from lib.pipeline.cca import cca_rankings, maxcorr_order
from lib.pipeline import extraction
from lib.pipeline.profiles import results_dir

SHARED = {0: [3, 11, 20], 1: [7, 0, 15], 2: [13, 4, 8]}  # where each model holds the 3 shared signals
SIZES = (24, 24, 16)


def planted(n: int = 3000, seed: int = 0) -> list[np.ndarray]:
    """Three models of independent noise neurons, plus 3 shared signals copied with noise into each model."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((n, 3))
    acts = []
    for m, size in enumerate(SIZES):
        a = rng.standard_normal((n, size))
        a[:, SHARED[m]] = signal * [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal((n, 3)) + 3.0
        acts.append(a.astype(np.float32))
    return acts


@pytest.fixture(scope="module")
def acts() -> list[np.ndarray]:
    return planted()


def test_planted_shared_neurons_rank_first_under_maxcorr_mincorr_and_linreg(acts):
    for method, higher_first in ((cc.maxcorr, True), (cc.mincorr, True), (cc.linreg, False)):
        for m, scores in enumerate(method(acts)):
            top = cc.order_from_scores(scores, higher_first=higher_first)[:3]
            assert sorted(top) == sorted(SHARED[m]), method.__name__


def test_maxcorr_is_at_least_mincorr_and_both_in_unit_interval(acts):
    for hi, lo in zip(cc.maxcorr(acts), cc.mincorr(acts)):
        assert np.all(hi >= lo) and np.all(lo >= 0) and np.all(hi <= 1)


def test_correlations_match_numpy_corrcoef_and_blocking_changes_nothing(acts):
    exact = np.corrcoef(acts[0].T.astype(np.float64), acts[2].T.astype(np.float64))[:SIZES[0], SIZES[0]:]
    whole64 = cc.cross_stats(acts, dtype="float64")
    blocked64 = cc.cross_stats(acts, dtype="float64", max_bytes=2 * sum(SIZES) * 8 * 7)  # 7 rows per block
    blocked32 = cc.cross_stats(acts, max_bytes=2 * sum(SIZES) * 4 * 100)
    np.testing.assert_allclose(whole64.corr(0, 2), exact, atol=1e-12)
    np.testing.assert_allclose(blocked64.corr(0, 2), exact, atol=1e-12)
    np.testing.assert_allclose(blocked32.corr(0, 2), exact, atol=1e-5)
    np.testing.assert_allclose(blocked64.mean[1], acts[1].mean(axis=0, dtype=np.float64), atol=1e-10)
    for whole, blocked in zip(cc.maxcorr(acts, dtype="float64"), cc.maxcorr(blocked64)):
        np.testing.assert_allclose(whole, blocked, atol=1e-12)


def test_memmap_input_gives_the_same_scores_float16_included(acts, tmp_path):
    maps = []
    for m, a in enumerate(acts):
        dtype = np.float16 if m == 2 else np.float32
        mm = np.lib.format.open_memmap(tmp_path / f"{m}.npy", mode="w+", dtype=dtype, shape=a.shape)
        mm[:] = a
        mm.flush()
        maps.append(np.load(tmp_path / f"{m}.npy", mmap_mode="r"))
    rounded = [maps[0], maps[1], np.asarray(maps[2], dtype=np.float32)]
    for from_map, from_array in zip(cc.maxcorr(maps, max_bytes=50_000), cc.maxcorr(rounded)):
        np.testing.assert_allclose(from_map, from_array, atol=1e-6)


def test_svcca_of_two_copies_gives_canonical_correlations_of_one(acts):
    result = cc.svcca(acts[0], acts[0].copy())
    np.testing.assert_allclose(result.correlations, 1.0, atol=1e-6)
    assert result.kept[0] == result.kept[1] == len(result.correlations) <= SIZES[0]


def test_svcca_finds_the_shared_directions_that_survive_the_variance_cut(acts):
    result = cc.svcca(acts[0], acts[1])
    assert np.all(np.diff(result.correlations) <= 1e-12)
    # the third shared signal (variance 0.25 among unit-variance noise) falls in the dropped last 1 % of variance
    assert result.kept == (SIZES[0] - 1, SIZES[1] - 1)
    assert result.correlations[1] > 0.95 and result.correlations[2] < 0.2
    assert cc.svcca(acts[0], acts[1], variance=1.0).correlations[2] > 0.95
    variates_a = (acts[0] - acts[0].mean(0)) @ result.directions_a[:, 0]
    variates_b = (acts[1] - acts[1].mean(0)) @ result.directions_b[:, 0]
    assert np.corrcoef(variates_a, variates_b)[0, 1] == pytest.approx(result.correlations[0], abs=1e-5)


def test_constant_neuron_gets_zero_and_a_warning_never_nan(acts):
    broken = [a.copy() for a in acts]
    broken[1][:, 5] = 0.7
    with pytest.warns(UserWarning, match=r"constant neurons.*'model 1': \[5\]"):
        stats = cc.cross_stats(broken)
    assert np.all(stats.corr(0, 1)[:, 5] == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for scores in (*cc.maxcorr(stats), *cc.linreg(broken)):
            assert np.isfinite(scores).all()
        assert cc.maxcorr(stats)[1][5] == 0 and cc.linreg(broken)[1][5] == pytest.approx(1.0)
        assert cc.matches(stats)[1].partner[:, 5].tolist() == [-1, -1]


def test_linreg_error_is_zero_for_an_exact_linear_combination_in_every_other_model(acts):
    combined = [a.copy() for a in acts]
    combined[0][:, 9] = 2 * acts[1][:, 2] - acts[1][:, 6] + 4
    only_one = cc.linreg(combined, dtype="float64")
    assert only_one[0][9] > 0.9  # model 2 cannot rebuild it, and the worst other model decides
    combined[2][:, 3] = 3 * combined[0][:, 9] - 1
    errors = cc.linreg(combined, dtype="float64")
    assert errors[0][9] < 1e-5 and errors[0][0] > 0.9  # ~ the 1e-6 ridge


def test_linreg_tolerates_collinear_predictors(acts):
    collinear = [a.copy() for a in acts]
    collinear[1][:, 1] = collinear[1][:, 0]
    for errors in cc.linreg(collinear):
        assert np.all((errors >= 0) & (errors <= 1))


def test_ridge_grows_until_an_indefinite_correlation_matrix_factorises():
    rounded = np.array([[1.0, 1.001], [1.001, 1.0]])  # eigenvalue -0.001, as float32 rounding could leave
    factor = cc._ridge_cholesky(rounded, 1e-6).numpy()
    assert np.isfinite(factor).all()
    np.testing.assert_allclose(factor @ factor.T, rounded + 1e-2 * np.eye(2), atol=1e-12)


def test_order_from_scores_breaks_ties_by_lower_id_and_rejects_nan():
    assert cc.order_from_scores(np.array([0.5, 0.9, 0.5, 0.9])).tolist() == [1, 3, 0, 2]
    assert cc.order_from_scores(np.array([0.5, 0.9, 0.5]), higher_first=False).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="finite"):
        cc.order_from_scores(np.array([0.1, np.nan]))


def test_partners_name_the_planted_counterpart(acts):
    found = cc.matches(cc.cross_stats(acts, ["de", "fr", "lm"]))
    table = cc.partners(found, "de", SHARED[0])
    fr = table[table.other_model == "fr"]
    assert fr.partner.tolist() == SHARED[1]
    assert (fr.abs_corr > 0.95).all() and table.groupby("neuron").best.sum().eq(1).all()
    assert table.set_index(["neuron", "other_model"]).loc[(11, "lm"), "corr"] > 0.95
    names = {m: [f"{m}{i}" for i in range(size)] for m, size in zip(["de", "fr", "lm"], SIZES)}
    named = cc.partners(found, "de", SHARED[0], names)
    assert named[named.other_model == "lm"].partner_name.tolist() == [f"lm{i}" for i in SHARED[2]]


def test_bad_input_is_explained(acts):
    with pytest.raises(ValueError, match="aligned"):
        cc.maxcorr([acts[0], acts[1][:-1]])
    with pytest.raises(ValueError, match="at least two"):
        cc.maxcorr([acts[0]])
    with pytest.raises(ValueError, match="max_bytes"):
        cc.maxcorr(acts, max_bytes=10)
    with pytest.raises(ValueError, match="NaN"):
        cc.maxcorr([acts[0], np.full_like(acts[1], np.nan)])
    with pytest.raises(KeyError, match="within=True"):
        cc.linreg(cc.cross_stats(acts, within=False))


def test_cca_rankings_are_computed_once_then_read_from_cache(acts, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))

    def every_activation(profile, models, corpus):
        return {model: types.SimpleNamespace(acts=acts[m], words=[str(i % 50) for i in range(len(acts[m]))])
                for model in models for m in [("en-de", "en-fr", "lm").index(model)]}

    fake = types.SimpleNamespace(every_activation=every_activation)
    monkeypatch.setitem(sys.modules, "lib.pipeline.extraction", fake)
    first = cca_rankings("tiny", "brown", models=("en-de", "en-fr", "lm"))
    second = cca_rankings("tiny", models=("en-de", "en-fr", "lm"))  # brown: the first probing corpus
    assert len(list((results_dir("tiny") / "correlation").iterdir())) == 1
    assert sorted(first.order("lm")[:3]) == sorted(SHARED[2])
    for method in cc.METHODS:
        np.testing.assert_array_equal(first.order("en-fr", method), second.order("en-fr", method))
    np.testing.assert_array_equal(first.matches["en-de"].partner, second.matches["en-de"].partner)
    assert set(second.svcca) == {("en-de", "en-fr"), ("en-de", "lm"), ("en-fr", "lm")}
    with pytest.raises(KeyError, match="known methods"):
        first.order("lm", "lca")
    with pytest.raises(KeyError, match="unknown model 'xx'.*known models: en-de"):
        cca_rankings("tiny", "brown", models=("en-de", "xx"))
    with pytest.raises(ValueError, match="at least two"):
        cca_rankings("tiny", "brown", models=("en-de",))


def test_maxcorr_order_ranks_trained_models_as_notebook_02_and_others_against_them(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAINS_DATA_DIR", str(tmp_path))
    names = ("en-de", "en-fr", "en-cs", "lm", "minilm")
    rng = np.random.default_rng(1)
    signal = rng.standard_normal((2000, 2))
    acts = {}
    for i, name in enumerate(names):
        a = rng.standard_normal((2000, 12)).astype(np.float32)
        a[:, [i, i + 5]] = signal + 0.1 * rng.standard_normal((2000, 2))  # two neurons every model shares
        acts[name] = a

    def get_activations(profile, model, corpus, progress=True, wait=True):
        return types.SimpleNamespace(acts=acts[model], words=[str(i % 50) for i in range(2000)])

    monkeypatch.setattr(extraction, "get_activations", get_activations)
    order = maxcorr_order("tiny", "en-fr", "brown")
    np.testing.assert_array_equal(order, cca_rankings("tiny", "brown", names[:4]).order("en-fr"))
    assert sorted(order[:2]) == [1, 6]
    assert len(list((results_dir("tiny") / "correlation").iterdir())) == 1  # one ranking serves 02, 03 and 07
    assert sorted(maxcorr_order("tiny", "minilm", "brown")[:2]) == [4, 9]
    assert len(list((results_dir("tiny") / "correlation").iterdir())) == 2  # MiniLM against the trained models


def test_ranking_table_and_top_overlap(acts):
    rankings = cc.rank_models(acts, ["de", "fr", "lm"])
    table = cc.ranking_table(rankings, "fr", 3, neuron_names=[f"n{i}" for i in range(SIZES[1])])
    assert sorted(table.neuron) == sorted(SHARED[1]) and table["rank"].tolist() == [1, 2, 3]
    assert set(table.mincorr_rank) == set(table.linreg_rank) == {1, 2, 3}
    assert (table.name == "n" + table.neuron.astype(str)).all()
    order = rankings.order("de")
    assert cc.top_overlap(order, order, 10) == 1.0
    assert cc.top_overlap(order, order[::-1], 50) == 0.0
    assert cc.top_overlap(np.arange(10), np.array([0, 5, 1, 2, 3, 4, 6, 7, 8, 9]), 20) == 0.5
