"""LCA as cached pipeline steps (lib.pipeline.lca): summaries computed by worker processes are the ones the notebook
would compute in its own process, and cached pairs are read, not recomputed."""
from lib.pipeline.lca import _summary_path, summaries, summary
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
