"""Linguistic Correlation Analysis of one model and property, end to end: the numbers notebook 01 records.

For (model, corpus, prop): the cached LCA probe and its global order, accuracy with all neurons and with top /
random / bottom k % by masking and retraining, the minimal neuron set and the selectivity against a control task.
The summary is cached beside the probe, so notebooks 04-06 can read it without retraining.
Used in: 01_linguistic_correlation (and through its results file 04, 05, 06).
"""
from __future__ import annotations

from lib.methods.ablation import ablation_table, minimal_set, results_dict
from lib.pipeline.artifacts import read_json, write_json
from lib.methods.probing import ProbeSettings, lca_path, lca_probe
from lib.pipeline.profiles import Profile, get_profile
from lib.methods.ranking import lca_order
from lib.methods.selectivity import selectivity


def summary(profile: str | Profile, model: str, corpus: str, prop: str, data=None) -> dict:
    """The results-file entry of (model, prop): ``{"all", "masking", "retraining", "minimal_set": {"neurons",
    "share"}, "selectivity"}``, accuracies as fractions; cached under ``results_dir(profile)``.

    ``data`` is the ``lib.pipeline.extraction.probe_data`` of (model, corpus, prop), loaded when not given.
    """
    path = lca_path(profile, model, corpus, prop, "summary.json")
    if path.exists():
        return read_json(path)
    p = get_profile(profile)
    if data is None:
        from lib.pipeline.extraction import probe_data  # imported here so this module loads without the model stack

        data = probe_data(p, model, corpus, prop)
    settings = ProbeSettings.from_profile(p)
    probe, order = lca_probe(p, model, corpus, prop, data, progress=False), lca_order(p, model, corpus, prop, data)
    table = ablation_table(probe, data, order, settings, p.probe.percentages, seed=p.seed, progress=False)
    result = results_dict(table)
    found = minimal_set(data, order, settings, target=result["all"], delta=p.probe.minimal_set_delta)
    result["minimal_set"] = {"neurons": found.neurons, "share": found.share}
    result["selectivity"] = selectivity(data, settings, seed=p.seed).selectivity
    write_json(path, result)
    return result
