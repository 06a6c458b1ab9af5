"""Linguistic Correlation Analysis of one model and property, end to end: the numbers notebook 01 records.

For (model, corpus, prop): the cached LCA probe and its global order, accuracy with all neurons and with top /
random / bottom k % by masking and retraining (probe seeds, random draws, 95 % intervals), MAJ beside it, the
minimal neuron set and the selectivity against a control task. The paper's variants are parameters and part of
every cache name: ``ranking`` "raw" |W| (the paper) or "scaled" |W·σ| (Grains' default), ``fill`` "zero" (the
paper) or "mean" for masking, ``lambdas`` None (the profile's λ) or a searched (λ1, λ2).
Used in: 01_linguistic_correlation (and through its results file 04, 05, 06).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from lib.methods.ablation import (ablation_table, groups_of_test, minimal_set, results_dict, retrained_runs,
                                  table_interval)
from lib.methods.baselines import majority_correct
from lib.methods.intervals import bootstrap_accuracy, bootstrap_runs, excludes_zero, paired_difference, verdict
from lib.methods.per_layer import layer_accuracies, probe_interval
from lib.methods.probing import (LambdaSearch, Probe, ProbeSettings, lambda_search, lca_path, lca_probe, load_probe,
                                 predict, save_probe, train_probe)
from lib.methods.ranking import global_order, jaccard, lca_order, ranking_weights, top
from lib.methods.selectivity import selectivity
from lib.pipeline.artifacts import atomic_path, read_json, write_json
from lib.pipeline.profiles import Profile, get_profile


def lca_settings(profile: str | Profile, lambdas: tuple[float, float] | None = None) -> ProbeSettings:
    """The profile's probe settings, with (λ1, λ2) = ``lambdas`` when given (a :func:`searched_lambdas` result)."""
    settings = ProbeSettings.from_profile(profile)
    return settings if lambdas is None else dataclasses.replace(settings, l1=float(lambdas[0]),
                                                                l2=float(lambdas[1]))


def _tag(settings: ProbeSettings) -> str:
    return f"l1={settings.l1:g}-l2={settings.l2:g}"


def _data(p: Profile, model: str, corpus: str, prop: str, data):
    if data is not None:
        return data
    from lib.pipeline.extraction import probe_data  # imported here so this module loads without the model stack

    return probe_data(p, model, corpus, prop)


def variant_probe(profile: str | Profile, model: str, corpus: str, prop: str, data=None,
                  lambdas: tuple[float, float] | None = None) -> Probe:
    """The LCA probe trained with ``lambdas`` (None: the profile's, i.e. ``lca_probe``), cached by its λ."""
    if lambdas is None:
        return lca_probe(profile, model, corpus, prop, data, progress=False)
    settings = lca_settings(profile, lambdas)
    path = lca_path(profile, model, corpus, prop, f"probe-{_tag(settings)}.npz")
    if path.exists():
        return load_probe(path)
    data = _data(get_profile(profile), model, corpus, prop, data)
    probe = train_probe(data.train[0], data.train[1], dev=data.dev[:2], settings=settings, progress=False)
    save_probe(probe, path)
    return probe


def variant_order(profile: str | Profile, model: str, corpus: str, prop: str, data=None, ranking: str = "scaled",
                  lambdas: tuple[float, float] | None = None) -> np.ndarray:
    """The global order of :func:`variant_probe` by ``ranking`` weights, cached by ranking and λ."""
    if ranking == "scaled" and lambdas is None:
        return lca_order(profile, model, corpus, prop, data)
    path = lca_path(profile, model, corpus, prop, f"order-{ranking}-{_tag(lca_settings(profile, lambdas))}.npy")
    if path.exists():
        return np.load(path)
    order = global_order(ranking_weights(variant_probe(profile, model, corpus, prop, data, lambdas), ranking))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, order)
    return order


def searched_lambdas(profile: str | Profile, model: str, corpus: str, prop: str, data=None, margin: float = 0.01,
                     max_words: int | None = 20000, progress: bool = True) -> LambdaSearch:
    """The paper's λ search (``lib.methods.probing.lambda_search`` over the profile's grid) on (model, prop),
    cached by margin and sample size, so that a run with ``lambdas = "search"`` trains it once and every probe of
    the run uses its (λ1, λ2). Used in: 01_linguistic_correlation."""
    path = lca_path(profile, model, corpus, prop, f"lambda-search-margin={margin:g}-words={max_words}.json")
    if path.exists():
        found = read_json(path)
        return LambdaSearch(table=pd.DataFrame(found["table"]), baseline=found["baseline"], margin=margin,
                            l1=found["l1"], l2=found["l2"])
    p = get_profile(profile)
    data = _data(p, model, corpus, prop, data)
    found = lambda_search(data.train[:2], data.dev[:2], p.probe.lambda_grid, ProbeSettings.from_profile(p),
                          margin=margin, max_words=max_words, progress=progress)
    write_json(path, {"table": found.table.to_dict("records"), "baseline": found.baseline, "l1": found.l1,
                      "l2": found.l2})
    return found


def summary(profile: str | Profile, model: str, corpus: str, prop: str, data=None, ranking: str = "scaled",
            fill: str = "zero", lambdas: tuple[float, float] | None = None) -> dict:
    """The results-file entry of (model, prop): ``{"all", "majority", "probe_minus_majority", "masking",
    "retraining", "minimal_set": {"neurons", "share"}, "selectivity", "verdicts", "variant", "intervals"}``,
    accuracies as fractions, ``intervals`` holding ``[low, high]`` in the same nesting; cached under
    ``results_dir(profile)`` by variant. ``data``: ``lib.pipeline.extraction.probe_data`` of (model, corpus, prop),
    loaded when not given."""
    p = get_profile(profile)
    settings = lca_settings(p, lambdas)
    path = lca_path(p, model, corpus, prop, f"summary-{ranking}-{fill}-{_tag(settings)}.json")
    if path.exists():
        return read_json(path)
    data = _data(p, model, corpus, prop, data)
    probe = variant_probe(p, model, corpus, prop, data, lambdas)
    order = variant_order(p, model, corpus, prop, data, ranking, lambdas)
    table = ablation_table(probe, data, order, settings, p.probe.percentages, seed=p.seed, progress=False,
                           seeds=p.probe.seeds, draws=p.probe.random_draws, fill=fill, n_boot=p.probe.n_boot)
    result = results_dict(table)
    result.update(_against_majority(p, probe, data))
    found = minimal_set(data, order, settings, target=result["all"], delta=p.probe.minimal_set_delta)
    result["minimal_set"] = {"neurons": found.neurons, "share": found.share}
    chosen = selectivity(data, settings, seed=p.seed).interval(groups_of_test(data), p.probe.n_boot, p.seed)
    result["selectivity"] = chosen.estimate
    result["intervals"].update(selectivity=chosen.as_list(), majority=result.pop("majority_interval"),
                               probe_minus_majority=result.pop("difference_interval"))
    pct = p.probe.percentages[0]
    tops = table_interval(table, "retraining", "top", pct)
    result["verdicts"]["top_vs_random"] = verdict(tops, table_interval(table, "retraining", "random", pct))
    result["verdicts"]["top_vs_bottom"] = verdict(tops, table_interval(table, "retraining", "bottom", pct))
    result["variant"] = {"ranking": ranking, "fill": fill, "l1": settings.l1, "l2": settings.l2,
                         "seeds": p.probe.seeds, "random_draws": p.probe.random_draws, "verdict_pct": pct}
    write_json(path, result)
    return result


def _against_majority(p: Profile, probe: Probe, data) -> dict:
    """MAJ on the test words with its interval, and the all-neuron probe minus MAJ (paired, over sentences)."""
    groups = groups_of_test(data)
    majority = majority_correct(data.train[2], data.train[1], data.test[2], data.test[1])
    hits = predict(probe, np.asarray(data.test[0])) == np.asarray(data.test[1], dtype=str)
    maj = bootstrap_accuracy(majority, groups, p.probe.n_boot, p.seed)
    difference = paired_difference(hits, majority, groups, p.probe.n_boot, p.seed)
    return {"majority": maj.estimate, "majority_interval": maj.as_list(),
            "probe_minus_majority": difference.estimate, "difference_interval": difference.as_list(),
            "verdicts": {"probe_vs_majority": excludes_zero(difference)}}


def layer_summary(profile: str | Profile, model: str, corpus: str, prop: str, data=None, layer_of=None,
                  embedding=None, lambdas: tuple[float, float] | None = None) -> dict:
    """Probe accuracy per layer and on the embedding layer, with intervals: ``{"layers": {"L1": acc, …},
    "embedding": acc | None, "intervals": {"layers": {"L1": [lo, hi], …}, "embedding": [lo, hi] | None}}``;
    cached. ``layer_of`` [neurons] and ``embedding`` (ProbeData of the embedding layer) are loaded when not given
    (the embedding only for the project's own NMT and LM models). Used in: 01_linguistic_correlation."""
    p = get_profile(profile)
    settings = lca_settings(p, lambdas)
    path = lca_path(p, model, corpus, prop, f"layers-{_tag(settings)}.json")
    if path.exists():
        return read_json(path)
    data = _data(p, model, corpus, prop, data)
    if layer_of is None:
        from lib.pipeline.extraction import get_activations

        neuron_map = get_activations(p, model, corpus).neuron_map
        layer_of = neuron_map.from_id(np.arange(neuron_map.size))[0]
    if embedding is None and model in p.models:
        from lib.pipeline.embeddings import embedding_data

        embedding = embedding_data(p, model, corpus, prop)
    table = layer_accuracies(data, layer_of, settings, p.probe.n_boot, p.seed)
    emb = None if embedding is None else probe_interval(embedding, settings, n_boot=p.probe.n_boot, seed=p.seed)
    result = {"layers": dict(zip(table.layer, table.accuracy.astype(float))),
              "embedding": None if emb is None else emb.estimate,
              "intervals": {"layers": {row.layer: [float(row.low), float(row.high)] for row in table.itertuples()},
                            "embedding": None if emb is None else emb.as_list()}}
    write_json(path, result)
    return result


def ranking_comparison(profile: str | Profile, model: str, corpus: str, prop: str, data=None,
                       lambdas: tuple[float, float] | None = None) -> pd.DataFrame:
    """How much the ranking choice matters: per percentage, the Jaccard overlap of the top sets by raw |W| and by
    |W·σ| (same probe) and each set's retrained accuracy over the profile's probe seeds, with intervals and a
    verdict (scaled against raw). Columns: pct, jaccard, raw, raw_low, raw_high, scaled, scaled_low, scaled_high,
    verdict. Cached. Used in: 01_linguistic_correlation."""
    p = get_profile(profile)
    settings = lca_settings(p, lambdas)
    path = lca_path(p, model, corpus, prop, f"ranking-comparison-{_tag(settings)}.json")
    if path.exists():
        return pd.DataFrame(read_json(path))
    data = _data(p, model, corpus, prop, data)
    orders = {name: variant_order(p, model, corpus, prop, data, name, lambdas) for name in ("raw", "scaled")}
    groups, rows = groups_of_test(data), []
    for pct in p.probe.percentages:
        sets = {name: top(order, pct) for name, order in orders.items()}
        found = {name: bootstrap_runs(retrained_runs(data, keep, settings, p.probe.seeds), groups, p.probe.n_boot,
                                      p.seed) for name, keep in sets.items()}
        rows.append({"pct": pct, "jaccard": jaccard(sets["raw"], sets["scaled"]),
                     **{f"{name}{end}": getattr(found[name], attr) for name in found
                        for end, attr in (("", "estimate"), ("_low", "low"), ("_high", "high"))},
                     "verdict": verdict(found["scaled"], found["raw"])})
    write_json(path, rows)
    return pd.DataFrame(rows)


RESOLVE = "more test sentences, more probe seeds and random draws (the `paper` profile) or a stronger model such as MiniLM"


def with_interval(value: float, interval: list[float] | None, digits: int = 3) -> str:
    """``0.805 [0.790, 0.820]``: a number with its 95 % interval, as every table and sentence shows it."""
    if interval is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def evidence_text(results: dict) -> str:
    """Plain-words verdicts (markdown) of :func:`summary` entries, ``results[model][prop]``: whether the probe beats
    MAJ, and whether the top 10 % beat random and bottom after retraining, each "not resolved" where the 95 %
    intervals overlap, naming what would resolve it. Used in: 01_linguistic_correlation."""
    lines = []
    for model, per_prop in results.items():
        for prop, r in per_prop.items():
            iv, v, pct = r["intervals"], r["verdicts"], r["variant"]["verdict_pct"]
            probe, maj = with_interval(r["all"], iv["all"]), with_interval(r["majority"], iv["majority"])
            gap = with_interval(100 * r["probe_minus_majority"], [100 * x for x in iv["probe_minus_majority"]], 1)
            said = {"lower": f"**below MAJ**: the probe ({probe}) scores less than the majority label per word "
                             f"({maj}), so these neurons encode {prop} no better than word identity does",
                    "higher": f"above MAJ: probe {probe} against MAJ {maj}",
                    "not resolved": f"not resolved against MAJ: probe {probe}, MAJ {maj}; {RESOLVE} would "
                                    f"resolve it"}[v["probe_vs_majority"]]
            lines.append(f"- **{model} · {prop}**: {said} (difference {gap} points).")
            top, key = r["retraining"]["top"][f"{pct:g}"], f"{pct:g}"
            for other in ("random", "bottom"):
                verdict_ = v[f"top_vs_{other}"]
                shown = (f"top {key} % {with_interval(top, iv['retraining']['top'][key])} against {other} "
                         f"{with_interval(r['retraining'][other][key], iv['retraining'][other][key])} (retrained)")
                lines.append(f"  - {shown}: " + ("top is better" if verdict_ == "higher" else
                                                "top is **worse**" if verdict_ == "lower" else
                                                f"not resolved at this scale ({RESOLVE})") + ".")
    return "\n".join(lines)
