"""LCA as cached pipeline steps (lib.pipeline.lca): summaries and orders computed by worker processes are the ones
the notebook would compute in its own process, and cached pairs are read, not recomputed."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from lib.pipeline.lca import (_label_minimal_path, _summary_path, label_minimal, lca_order, lca_orders, lca_path,
                              lca_probe, probe_settings, summaries, summary)
from lib.pipeline.profiles import get_profile


def test_summaries_from_two_workers_equal_in_process_ones_and_are_cached(tiny_data_dir):
    p, pairs = get_profile("tiny"), [("en-de", "pos"), ("lm", "pos")]
    parallel = summaries(p, ["en-de", "lm"], "brown", ["pos"], jobs=2, progress=False)
    paths = [_summary_path(p, model, "brown", prop, "scaled", "zero", None) for model, prop in pairs]
    written = [path.stat().st_mtime_ns for path in paths]
    assert summaries(p, ["en-de", "lm"], "brown", ["pos"], jobs=2, progress=False) == parallel
    assert [path.stat().st_mtime_ns for path in paths] == written
    for (model, prop), path in zip(pairs, paths):
        path.unlink()
        assert summary(p, model, "brown", prop) == parallel[model][prop]
    assert parallel["en-de"]["pos"]["variant"]["ranking"] == "scaled"


def test_orders_from_two_workers_equal_in_process_ones(tiny_data_dir):
    p = get_profile("tiny")
    parallel = lca_orders(p, ["en-de", "lm"], "brown", ["morph"], jobs=2, progress=False)
    for model in ("en-de", "lm"):
        lca_path(p, model, "brown", "morph", "order.npy", lambdas=None, ranking="scaled").unlink()
        lca_path(p, model, "brown", "morph", "probe.npz", lambdas=None).unlink()
        np.testing.assert_array_equal(lca_order(p, model, "brown", "morph"), parallel[model]["morph"])


def test_one_vs_rest_minimal_sets_from_two_workers_equal_in_process_ones_and_are_cached(tiny_data_dir, monkeypatch):
    p = get_profile("tiny")
    parallel = label_minimal(p, "lm", "brown", "position", exact_up_to=4, step_pct=25.0, jobs=2, progress=False)
    assert list(parallel.label) == sorted(parallel.label) and len(parallel) == 3
    for label in parallel.label:
        _label_minimal_path(p, "lm", "brown", "position", label, 4, 25.0).unlink()
    here = label_minimal(p, "lm", "brown", "position", exact_up_to=4, step_pct=25.0, jobs=1, progress=False)
    pd.testing.assert_frame_equal(here, parallel)
    monkeypatch.setattr("lib.pipeline.lca.label_minimal_sets", lambda *a, **k: pytest.fail("recomputed"))
    pd.testing.assert_frame_equal(label_minimal(p, "lm", "brown", "position", exact_up_to=4, step_pct=25.0,
                                                progress=False), here)


def test_the_ranking_probe_stops_at_the_ranking_tolerance_and_is_cached_by_it(tiny_data_dir):
    """A profile's ``rank_tol`` trains the all-neuron probe, whose weights rank the neurons, further than the probes
    retrained on subsets, and a probe cached under another ranking tolerance is never read in its place."""
    p = get_profile("tiny")
    tight = dataclasses.replace(p, probe=dataclasses.replace(p.probe, rank_tol=p.probe.tol / 100))
    loose_probe, tight_probe = (lca_probe(q, "lm", "brown", "pos", progress=False) for q in (p, tight))
    assert loose_probe.settings.tol == p.probe.tol and tight_probe.settings.tol == p.probe.tol / 100
    assert tight_probe.converged and tight_probe.epochs_run > loose_probe.epochs_run
    assert tight_probe.objective <= loose_probe.objective
    assert probe_settings(tight).tol == p.probe.tol and probe_settings(tight, ranking=True).tol == p.probe.tol / 100
    assert lca_path(p, "lm", "brown", "pos", "probe.npz") != lca_path(tight, "lm", "brown", "pos", "probe.npz")
