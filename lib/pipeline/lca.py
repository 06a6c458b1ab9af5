"""Linguistic Correlation Analysis as cached pipeline steps: the probe, the neuron order and the numbers notebook 01
records, for one (profile, model, corpus, property), with their evidence: probe seeds, random draws, 95 % intervals,
MAJ, per-layer and embedding-layer probes.

The paper's variants are parameters and part of every cache key: ``ranking`` "raw" |W| (the paper) or "scaled"
|W·σ| (Grains' default), ``fill`` "zero" (the paper) or "mean" for masking, ``lambdas`` None (the profile's λ) or a
searched (λ1, λ2) (:func:`searched_lambdas`).

Each step is a method of ``lib.methods`` applied to ``lib.pipeline.extraction.probe_data`` and cached with
``lib.pipeline.cache`` under a key naming exactly what it depends on (model, corpus slice and split, property, probe
settings), so notebooks 01-07 share one probe per (model, property) and nothing is retrained by accident.
Used in: 01_linguistic_correlation, 03_ablation_in_the_model, 04-07 (probes and orders).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from lib.methods.ablation import (ablation_table, groups_of_test, label_minimal_sets, minimal_set, results_dict,
                                  retrained_runs, table_interval)
from lib.methods.baselines import (FAMILIARITY, MODEL_TEXT, majority_correct, read_by_model, seen_in_training,
                                  text_words)
from lib.methods.convergence import Convergence, convergence
from lib.methods.intervals import (Interval, bootstrap_accuracy, bootstrap_runs, excludes_zero, paired_difference,
                                   verdict)
from lib.methods.per_layer import layer_accuracies, probe_interval
from lib.methods.probing import (SOLVER_REVISION, LambdaSearch, Probe, ProbeSettings, lambda_search, predict,
                                 train_probe)
from lib.methods.ranking import global_order, jaccard, ranking_weights, top
from lib.methods.selectivity import selectivity
from lib.pipeline.artifacts import atomic_path
from lib.pipeline.cache import NPY, Format, artifact, cached, model_key, split_key
from lib.pipeline.corpora import corpus_id, multi30k
from lib.pipeline.profiles import Profile, get_profile
from lib.pipeline.properties import property_id
from lib.pipeline.specs import model_spec
from lib.pipeline.workers import in_workers


def probe_settings(profile: str | Profile, lambdas: tuple[float, float] | None = None, ranking: bool = False
                   ) -> ProbeSettings:
    """The probe settings a profile prescribes (``profile.probe``), seeded with the profile's seed; with (λ1, λ2)
    = ``lambdas`` when given (a :func:`searched_lambdas` result); with ``ranking``, those of the all-neuron probe
    whose weights rank the neurons (:func:`lca_probe`), which stops at the profile's ``ranking_tol``."""
    p = get_profile(profile)
    l1, l2 = (p.probe.l1, p.probe.l2) if lambdas is None else (float(lambdas[0]), float(lambdas[1]))
    return ProbeSettings(l1=l1, l2=l2, solver=p.probe.solver, tol=p.probe.ranking_tol if ranking else p.probe.tol,
                         epochs=p.probe.epochs, batch_size=p.probe.batch_size, lr=p.probe.lr, seed=p.seed)


def save_probe(probe: Probe, path: str | Path) -> Path:
    """Write ``probe`` to ``path`` (an ``.npz``) atomically; :func:`load_probe` reads it back."""
    meta = {"classes": list(probe.classes), "settings": dataclasses.asdict(probe.settings),
            "epochs_run": probe.epochs_run, "dev_accuracy": probe.dev_accuracy, "objective": probe.objective,
            "converged": probe.converged}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, weights=probe.weights, bias=probe.bias, scale=probe.scale, meta=np.array(json.dumps(meta)))
    return Path(path)


def load_probe(path: str | Path) -> Probe:
    """Read a probe written by :func:`save_probe`."""
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        return Probe(weights=z["weights"], bias=z["bias"], classes=tuple(meta["classes"]),
                     settings=ProbeSettings(**meta["settings"]), epochs_run=meta["epochs_run"],
                     dev_accuracy=meta["dev_accuracy"], scale=z["scale"], objective=meta.get("objective"),
                     converged=meta.get("converged"))


PROBE = Format(save=lambda path, probe: save_probe(probe, path), load=load_probe)


def lca_path(profile: str | Profile, model: str, corpus: str, prop: str, name: str, **extra) -> Path:
    """Where an LCA artifact ``name`` of (model, corpus, prop) is cached: keyed by the model (its training
    configuration, so a retrained model never meets the probes of its predecessor), the corpus slice and split,
    the property, the probe settings and any ``extra`` setting the artifact alone depends on — not by unrelated
    profile fields such as the ablation step."""
    p = get_profile(profile)
    key = {"model": model_key(p, model), "split": split_key(p, corpus), "prop": property_id(prop),
           "settings": probe_settings(p, extra.pop("lambdas", None)), "rank_tol": p.probe.ranking_tol,
           "solver_revision": SOLVER_REVISION, **extra}
    return artifact(p, "lca", f"{model}-{corpus_id(corpus)}-{property_id(prop)}", key, name)


def _data(profile: str | Profile, model: str, corpus: str, prop: str, data):
    if data is not None:
        return data
    from lib.pipeline.extraction import probe_data  # extraction loads the model: only when nothing is cached

    return probe_data(profile, model, corpus, prop)


def lca_probe(profile: str | Profile, model: str, corpus: str, prop: str, data=None, progress: bool = True,
              lambdas: tuple[float, float] | None = None) -> Probe:
    """The LCA probe of ``model`` for property ``prop`` of ``corpus``, trained with the profile's ranking settings
    (λ from ``lambdas`` when given; tolerance ``ranking_tol``) on ``data`` (default: ``probe_data`` of the same
    names), scored on the dev split (which stops training early only with ``solver="adam"``); cached.
    Used in: 01, 03_ablation_in_the_model, 04-07."""
    settings = probe_settings(profile, lambdas, ranking=True)

    def build() -> Probe:
        train = _data(profile, model, corpus, prop, data)
        return train_probe(train.train[0], train.train[1], dev=train.dev[:2], settings=settings, progress=progress)

    return cached(lca_path(profile, model, corpus, prop, "probe.npz", lambdas=lambdas), build, PROBE)


def lca_order(profile: str | Profile, model: str, corpus: str, prop: str, data=None, ranking: str = "scaled",
              lambdas: tuple[float, float] | None = None) -> np.ndarray:
    """"The LCA-top order of model X for property P": Algorithm 1 on its cached probe's weights, scaled |W·σ|
    (default) or ``ranking="raw"`` |W| as in the paper; cached by ranking and λ.
    Used in: 01, 02, 03_ablation_in_the_model, 07."""
    return cached(lca_path(profile, model, corpus, prop, "order.npy", lambdas=lambdas, ranking=ranking),
                  lambda: global_order(ranking_weights(
                      lca_probe(profile, model, corpus, prop, data, progress=False, lambdas=lambdas), ranking)),
                  NPY)


def searched_lambdas(profile: str | Profile, model: str, corpus: str, prop: str, data=None, margin: float = 0.01,
                     max_words: int | None = 20000, progress: bool = True) -> LambdaSearch:
    """The paper's λ search (``lib.methods.probing.lambda_search`` over the profile's grid) on (model, prop),
    cached by grid, margin and sample size, so that a run with ``lambdas = "search"`` trains it once and every probe
    of the run uses its (λ1, λ2). Used in: 01_linguistic_correlation."""
    p = get_profile(profile)

    def build() -> dict:
        split = _data(p, model, corpus, prop, data)
        found = lambda_search(split.train[:2], split.dev[:2], p.probe.lambda_grid, probe_settings(p), margin=margin,
                              max_words=max_words, progress=progress)
        return {"table": found.table.to_dict("records"), "baseline": found.baseline, "l1": found.l1, "l2": found.l2}

    found = cached(_search_path(p, model, corpus, prop, margin, max_words), build)
    return LambdaSearch(table=pd.DataFrame(found["table"]), baseline=found["baseline"], margin=margin,
                        l1=found["l1"], l2=found["l2"])


def _search_path(p: Profile, model: str, corpus: str, prop: str, margin: float, max_words: int | None) -> Path:
    return lca_path(p, model, corpus, prop, "lambda_search.json", grid=p.probe.lambda_grid, margin=margin,
                    max_words=max_words)


MINIMAL_SEARCH = {"exact_up_to": 32, "step_pct": 1.0}  # the minimal set: every size up to 32 neurons, then 1 % steps
RETRAIN_START = "lca probe"  # retrained probes start from the LCA probe's weights (lib.methods.ablation.retrain)


def summary(profile: str | Profile, model: str, corpus: str, prop: str, data=None, ranking: str = "scaled",
            fill: str = "zero", lambdas: tuple[float, float] | None = None) -> dict:
    """The results-file entry of (model, prop): ``{"all", "majority", "probe_minus_majority", "by_familiarity",
    "by_model_text" (models whose training text is known), "masking", "retraining", "minimal_set": {"neurons",
    "share"}, "selectivity", "ranking_check" (:func:`convergence_check`: how much of the top sets a ten times
    tighter probe keeps, and the accuracy retrained on that probe's top set, ``tighter_top_retrained``, whose verdict
    against random, ``verdicts["tighter_top_vs_random"]``, says whether top-vs-random survives the ranking's last
    changes), "verdicts", "variant", "intervals"}``,
    accuracies as fractions, ``intervals`` holding ``[low, high]`` in the same nesting; cached beside the probe by
    variant, seeds and draws, so notebooks 04-06 can read it without retraining. ``data`` is the ``probe_data`` of
    (model, corpus, prop), loaded when not given. Used in: 01_linguistic_correlation."""
    p = get_profile(profile)

    def build() -> dict:
        split = _data(p, model, corpus, prop, data)
        settings = probe_settings(p, lambdas)
        probe = lca_probe(p, model, corpus, prop, split, progress=False, lambdas=lambdas)
        order = lca_order(p, model, corpus, prop, split, ranking, lambdas)
        table = ablation_table(probe, split, order, settings, p.probe.percentages, seed=p.seed, progress=False,
                               seeds=p.probe.seeds, draws=p.probe.random_draws, fill=fill, n_boot=p.probe.n_boot,
                               replicate=p.probe.replicate_percentages)
        result = results_dict(table)
        result.update(_against_majority(p, model, probe, split))
        found = minimal_set(split, order, settings, target=result["all"], delta=p.probe.minimal_set_delta,
                            start=probe, **MINIMAL_SEARCH)
        result["minimal_set"] = {"neurons": found.neurons, "share": found.share, "retrainings": found.retrainings}
        chosen = selectivity(split, settings, seed=p.seed, start=probe).interval(groups_of_test(split),
                                                                                 p.probe.n_boot, p.seed)
        result["selectivity"] = chosen.estimate
        result["intervals"].update(selectivity=chosen.as_list(), majority=result.pop("majority_interval"),
                                   probe_minus_majority=result.pop("difference_interval"),
                                   by_familiarity=result.pop("familiarity_intervals"))
        if "by_model_text" in result:
            result["intervals"]["by_model_text"] = result.pop("model_text_intervals")
        pct = p.probe.percentages[0]
        tops, randoms = (table_interval(table, "retraining", which, pct) for which in ("top", "random"))
        result["verdicts"]["top_vs_random"] = verdict(tops, randoms)
        result["verdicts"]["top_vs_bottom"] = verdict(tops, table_interval(table, "retraining", "bottom", pct))
        check = convergence_check(p, model, corpus, prop, split, ranking, lambdas)
        tighter = bootstrap_runs(retrained_runs(split, check.tighter_top, settings, start=probe), groups_of_test(split),
                                 n_boot=p.probe.n_boot, seed=p.seed)
        result["ranking_check"] = {**check.as_dict(), "tighter_top_retrained": tighter.estimate}
        result["intervals"]["tighter_top_retrained"] = tighter.as_list()
        result["verdicts"]["tighter_top_vs_random"] = verdict(tighter, randoms)
        result["variant"] = {"ranking": ranking, "fill": fill, "l1": settings.l1, "l2": settings.l2,
                             "tol": settings.tol, "rank_tol": probe.settings.tol, "precision": settings.precision,
                             "seeds": p.probe.seeds, "random_draws": p.probe.random_draws,
                             "replicated_at": list(p.probe.replicate_percentages), "verdict_pct": pct}
        return result

    return cached(_summary_path(p, model, corpus, prop, ranking, fill, lambdas), build)


def _summary_path(p: Profile, model: str, corpus: str, prop: str, ranking: str, fill: str,
                  lambdas: tuple[float, float] | None) -> Path:
    return lca_path(p, model, corpus, prop, "summary.json", lambdas=lambdas, ranking=ranking, fill=fill,
                    percentages=p.probe.percentages, delta=p.probe.minimal_set_delta, seeds=p.probe.seeds,
                    draws=p.probe.random_draws, n_boot=p.probe.n_boot, replicate=p.probe.replicate_percentages,
                    minimal_search=MINIMAL_SEARCH, start=RETRAIN_START,
                    against_majority=("all", *FAMILIARITY, *MODEL_TEXT), ranking_check="tighter_top")


def summaries(profile: str | Profile, models: Sequence[str], corpus: str, props: Sequence[str],
              ranking: str = "scaled", fill: str = "zero", lambdas: tuple[float, float] | None = None,
              jobs: int | None = None, progress: bool = True) -> dict[str, dict[str, dict]]:
    """:func:`summary` of every (model, prop) as ``{model: {prop: entry}}``, the missing ones computed in ``jobs``
    worker processes (:func:`every_pair`). Used in: 01_linguistic_correlation."""
    p = get_profile(profile)
    return every_pair(p, models, corpus, props, _summary_step, (ranking, fill, lambdas),
                      lambda model, prop: _summary_path(p, model, corpus, prop, ranking, fill, lambdas),
                      "LCA summaries", jobs, progress)


def _summary_step(task: tuple) -> dict:
    p, model, corpus, prop, ranking, fill, lambdas = task
    return summary(p, model, corpus, prop, None, ranking, fill, lambdas)


def lca_orders(profile: str | Profile, models: Sequence[str], corpus: str, props: Sequence[str],
               ranking: str = "scaled", lambdas: tuple[float, float] | None = None, jobs: int | None = None,
               progress: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """:func:`lca_order` of every (model, prop) as ``{model: {prop: order}}``, the probes behind the missing ones
    trained in ``jobs`` worker processes (:func:`every_pair`). Used in: 02, 04."""
    p = get_profile(profile)
    return every_pair(p, models, corpus, props, _order_step, (ranking, lambdas),
                      lambda model, prop: lca_path(p, model, corpus, prop, "order.npy", lambdas=lambdas,
                                                   ranking=ranking),
                      "LCA probes", jobs, progress)


def _order_step(task: tuple) -> np.ndarray:
    p, model, corpus, prop, ranking, lambdas = task
    return lca_order(p, model, corpus, prop, None, ranking, lambdas)


def layer_summaries(profile: str | Profile, models: Sequence[str], corpus: str, props: Sequence[str],
                    lambdas: tuple[float, float] | None = None, jobs: int | None = None,
                    progress: bool = True) -> dict[str, dict[str, dict]]:
    """:func:`layer_summary` of every (model, prop) as ``{model: {prop: entry}}``, the missing ones computed in
    ``jobs`` worker processes (:func:`every_pair`). Used in: 01_linguistic_correlation."""
    p = get_profile(profile)
    return every_pair(p, models, corpus, props, _layer_step, (lambdas,),
                      lambda model, prop: _layer_path(p, model, corpus, prop, lambdas), "per-layer probes", jobs,
                      progress)


def _layer_step(task: tuple) -> dict:
    p, model, corpus, prop, lambdas = task
    return layer_summary(p, model, corpus, prop, lambdas=lambdas)


def every_pair(p: Profile, models: Sequence[str], corpus: str, props: Sequence[str], step: Callable[[tuple], object],
               args: tuple, path_of: Callable[[str, str], Path], desc: str, jobs: int | None = None,
               progress: bool = True) -> dict[str, dict[str, object]]:
    """``step((p, model, corpus, prop, *args))`` for every (model, prop) as ``{model: {prop: result}}``. Pairs
    whose cache file ``path_of(model, prop)`` is missing are computed first in ``jobs`` worker processes (default:
    the profile's ``probe.workers``; ``lib.pipeline.workers``: each computes on one thread, so one process per
    core), after each of their models' activations was extracted here, one model at a time, so that no two workers
    extract the same model; the widest models go first. Then every result is read from its cache."""
    from lib.pipeline.extraction import every_activation  # loads models: only when something is left to compute

    pairs = [(model, prop) for model in models for prop in props]
    todo = [(model, prop) for model, prop in pairs if not path_of(model, prop).exists()]
    width = {model: activations.neuron_map.size for model, activations in
             every_activation(p, [model for model, _ in todo], corpus, progress).items()}
    todo.sort(key=lambda pair: -width[pair[0]])  # widest first: no worker is left alone with a long one at the end
    in_workers(step, [(p, model, corpus, prop, *args) for model, prop in todo],
               p.probe.workers if jobs is None else jobs, desc, progress)
    found: dict[str, dict[str, object]] = {}
    for model, prop in pairs:
        found.setdefault(model, {})[prop] = step((p, model, corpus, prop, *args))
    return found


def prepare(profile: str | Profile, models: Sequence[str], corpus: str, props: Sequence[str],
            ranking: str = "scaled", fill: str = "zero", lambdas: tuple[float, float] | None = None,
            layer_props: Sequence[str] = (), compare: tuple[str, str] | None = None,
            search: tuple[str, str, float, int | None] | None = None, jobs: int | None = None,
            progress: bool = True) -> None:
    """Compute, in one pool of worker processes, every artifact notebook 01 reads and the cache lacks: the
    :func:`summary` of each (model, prop); in the same task, since both start from that pair's LCA probe, its
    :func:`layer_summary` (props in ``layer_props``) and the :func:`ranking_comparison` of ``compare`` = (model,
    prop) with its :func:`convergence_check`; and beside them the λ search of ``search`` = (model, prop, margin,
    max_words). One pool keeps every core busy to the end, where separate batches and single probes between them
    left one idle.
    Used in: 01_linguistic_correlation."""
    from lib.pipeline.extraction import every_activation  # loads models: only when something is left to compute

    p = get_profile(profile)
    tasks = []
    for model in models:
        for prop in props:
            parts = tuple(part for part, missing in (
                ("summary", not _summary_path(p, model, corpus, prop, ranking, fill, lambdas).exists()),
                ("layers", prop in layer_props and not _layer_path(p, model, corpus, prop, lambdas).exists()),
                ("comparison", (model, prop) == compare
                 and not (_comparison_path(p, model, corpus, prop, lambdas).exists()
                          and _convergence_path(p, model, corpus, prop, ranking, lambdas).exists()))) if missing)
            if parts:
                tasks.append((p, model, corpus, prop, ranking, fill, lambdas, parts))
    if search is not None and not _search_path(p, search[0], corpus, *search[1:]).exists():
        tasks.append((p, search[0], corpus, search[1], ranking, fill, lambdas, ("search", *search[2:])))
    width = {model: activations.neuron_map.size for model, activations in
             every_activation(p, [task[1] for task in tasks], corpus, progress).items()}
    tasks.sort(key=lambda task: (task[-1][0] == "search", -width[task[1]]))  # widest first, the λ search last
    in_workers(_prepare_step, tasks, p.probe.workers if jobs is None else jobs, "LCA probes and summaries", progress)


def _prepare_step(task: tuple) -> None:
    p, model, corpus, prop, ranking, fill, lambdas, parts = task
    if parts[0] == "search":
        searched_lambdas(p, model, corpus, prop, margin=parts[1], max_words=parts[2], progress=False)
        return
    data = _data(p, model, corpus, prop, None)
    if "summary" in parts:
        summary(p, model, corpus, prop, data, ranking, fill, lambdas)
    if "layers" in parts:
        layer_summary(p, model, corpus, prop, data, lambdas=lambdas)
    if "comparison" in parts:
        ranking_comparison(p, model, corpus, prop, data, lambdas)
        convergence_check(p, model, corpus, prop, data, ranking, lambdas)


def label_minimal(profile: str | Profile, model: str, corpus: str, prop: str, data=None, exact_up_to: int = 32,
                  step_pct: float = 1.0, jobs: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Per label of ``prop``, the minimal set of a one-vs-rest probe (``lib.methods.ablation.label_minimal_sets``
    with the profile's probe settings and δ), searched one neuron at a time up to ``exact_up_to``, then in
    ``step_pct`` % steps; each label cached by that grid, the missing ones searched in ``jobs`` worker processes
    (default: the profile's ``probe.workers``), so a rerun of notebook 04 does not retrain its dozens of probes.
    Used in: 04_localized_or_distributed."""
    p = get_profile(profile)
    split = _data(p, model, corpus, prop, data)
    train, test = (np.asarray(part[1], dtype=str) for part in (split.train, split.test))
    labels = sorted(set(test) & set(train))
    grid = (exact_up_to, step_pct)
    todo = [(p, model, corpus, prop, label, *grid) for label in labels
            if not _label_minimal_path(p, model, corpus, prop, label, *grid).exists()]
    in_workers(_label_minimal_step, todo, p.probe.workers if jobs is None else jobs, "one-vs-rest minimal sets",
               progress)
    return pd.DataFrame([row for label in labels for row in _label_minimal_step((p, model, corpus, prop, label, *grid),
                                                                                 split)],
                        columns=["label", "neurons", "share", "f1_all", "f1", "retrainings"])


def _label_minimal_step(task: tuple, data=None) -> list[dict]:
    p, model, corpus, prop, label, exact_up_to, step_pct = task

    def build() -> list[dict]:
        split = _data(p, model, corpus, prop, data)
        return label_minimal_sets(split, probe_settings(p), p.probe.minimal_set_delta, labels=[label],
                                  step_pct=step_pct, exact_up_to=exact_up_to, progress=False,
                                  ranking_settings=probe_settings(p, ranking=True)).to_dict("records")

    return cached(_label_minimal_path(p, model, corpus, prop, label, exact_up_to, step_pct), build)


def _label_minimal_path(p: Profile, model: str, corpus: str, prop: str, label: str, exact_up_to: int,
                        step_pct: float) -> Path:
    return lca_path(p, model, corpus, prop, f"label_minimal-{hashlib.sha256(label.encode()).hexdigest()[:12]}.json",
                    label=label, delta=p.probe.minimal_set_delta, exact_up_to=exact_up_to, step_pct=step_pct,
                    start=RETRAIN_START)


def _against_majority(p: Profile, model: str, probe: Probe, data) -> dict:
    """MAJ on the test words with its interval, the all-neuron probe minus MAJ (paired, over sentences), and both
    on the test words seen and unseen among the training words (:func:`_by_group`), and, for a model whose
    training text is known (:func:`model_text`), on those groups split by whether the model read the word."""
    groups = groups_of_test(data)
    majority = majority_correct(data.train[2], data.train[1], data.test[2], data.test[1])
    hits = predict(probe, np.asarray(data.test[0])) == np.asarray(data.test[1], dtype=str)
    maj = bootstrap_accuracy(majority, groups, p.probe.n_boot, p.seed)
    difference = paired_difference(hits, majority, groups, p.probe.n_boot, p.seed)
    seen = seen_in_training(data.train[2], data.test[2])
    by, intervals, verdicts = _by_group(p, hits, majority, groups, dict(zip(FAMILIARITY, (seen, ~seen))))
    found = {"majority": maj.estimate, "majority_interval": maj.as_list(),
             "probe_minus_majority": difference.estimate, "difference_interval": difference.as_list(),
             "by_familiarity": by, "familiarity_intervals": intervals,
             "verdicts": {"probe_vs_majority": excludes_zero(difference), "by_familiarity": verdicts}}
    text = model_text(p, model)
    if text is not None:
        read = read_by_model(text, data.test[2])
        cells = dict(zip(MODEL_TEXT, (seen & read, seen & ~read, ~seen & read, ~seen & ~read)))
        found["by_model_text"], found["model_text_intervals"], found["verdicts"]["by_model_text"] = \
            _by_group(p, hits, majority, groups, cells)
    return found


def model_text(profile: str | Profile, model: str) -> frozenset[str] | None:
    """The lower-cased words of the text ``model`` was trained on (``lib.methods.baselines.text_words``): the
    English side of the profile's Multi30K training slice for the NMT models and the LM Grains trains; None for a
    replicate (trained on a third of it) and for a pretrained transformer, whose training text is not at hand."""
    p = get_profile(profile)
    spec = model_spec(p, model)
    if not spec.trained_here or spec.replicate is not None:
        return None
    return _text_of(p, spec.source_lang)


@functools.cache
def _text_of(p: Profile, lang: str) -> frozenset[str]:
    return text_words(multi30k("train", [lang], p)[lang])


def _by_group(p: Profile, hits: np.ndarray, majority: np.ndarray, groups: np.ndarray, masks: dict[str, np.ndarray]
              ) -> tuple[dict, dict, dict]:
    """Probe and MAJ accuracy and their paired difference on each named group of test words (``masks``; a group
    without words is left out), e.g. ``"seen"`` and ``"unseen"`` among the training words: entries ``{"share",
    "words", "all", "majority", "probe_minus_majority"}``, their ``[low, high]`` intervals (bootstrap over the
    sentences holding such words) and the difference's verdict."""
    by, intervals, verdicts = {}, {}, {}
    for name, mask in masks.items():
        if not mask.any():
            continue
        where = np.asarray(groups)[mask]
        found = {"all": bootstrap_accuracy(hits[mask], where, p.probe.n_boot, p.seed),
                 "majority": bootstrap_accuracy(majority[mask], where, p.probe.n_boot, p.seed),
                 "probe_minus_majority": paired_difference(hits[mask], majority[mask], where, p.probe.n_boot, p.seed)}
        by[name] = {"share": float(mask.mean()), "words": int(mask.sum()),
                    **{key: interval.estimate for key, interval in found.items()}}
        intervals[name] = {key: interval.as_list() for key, interval in found.items()}
        verdicts[name] = excludes_zero(found["probe_minus_majority"])
    return by, intervals, verdicts


def layer_summary(profile: str | Profile, model: str, corpus: str, prop: str, data=None, layer_of=None,
                  embedding=None, lambdas: tuple[float, float] | None = None) -> dict:
    """Probe accuracy per layer and on the embedding layer, with intervals: ``{"layers": {"L1": acc, …},
    "embedding": acc | None, "intervals": {"layers": {"L1": [lo, hi], …}, "embedding": [lo, hi] | None}}``;
    cached. ``layer_of`` [neurons] (from the activations' ``NeuronMap``) and ``embedding`` (ProbeData of the
    embedding layer, only for the project's own NMT and LM models) are loaded when not given.
    Used in: 01_linguistic_correlation."""
    p = get_profile(profile)

    def build() -> dict:
        split = _data(p, model, corpus, prop, data)
        settings = probe_settings(p, lambdas)
        layers = layer_of
        if layers is None:
            from lib.pipeline.extraction import get_activations

            neuron_map = get_activations(p, model, corpus).neuron_map
            layers = neuron_map.from_id(np.arange(neuron_map.size))[0]
        emb_data = embedding
        if emb_data is None and model in p.models:
            from lib.pipeline.embeddings import embedding_data

            emb_data = embedding_data(p, model, corpus, prop)
        table = layer_accuracies(split, layers, settings, p.probe.n_boot, p.seed,
                                 start=lca_probe(p, model, corpus, prop, split, progress=False, lambdas=lambdas))
        emb = None if emb_data is None else probe_interval(emb_data, settings, n_boot=p.probe.n_boot, seed=p.seed)
        return {"layers": dict(zip(table.layer, table.accuracy.astype(float))),
                "embedding": None if emb is None else emb.estimate,
                "intervals": {"layers": {row.layer: [float(row.low), float(row.high)] for row in table.itertuples()},
                              "embedding": None if emb is None else emb.as_list()}}

    return cached(_layer_path(p, model, corpus, prop, lambdas), build)


def _layer_path(p: Profile, model: str, corpus: str, prop: str, lambdas: tuple[float, float] | None) -> Path:
    return lca_path(p, model, corpus, prop, "layers.json", lambdas=lambdas, n_boot=p.probe.n_boot,
                    start=RETRAIN_START)


def ranking_comparison(profile: str | Profile, model: str, corpus: str, prop: str, data=None,
                       lambdas: tuple[float, float] | None = None) -> pd.DataFrame:
    """How much the ranking choice matters: per percentage, the Jaccard overlap of the top sets by raw |W| and by
    |W·σ| (same probe) and each set's retrained accuracy over the profile's probe seeds, with intervals and a
    verdict (scaled against raw). Columns: pct, jaccard, raw, raw_low, raw_high, scaled, scaled_low, scaled_high,
    verdict. Cached. Used in: 01_linguistic_correlation."""
    p = get_profile(profile)

    def build() -> list[dict]:
        split = _data(p, model, corpus, prop, data)
        settings = probe_settings(p, lambdas)
        orders = {name: lca_order(p, model, corpus, prop, split, name, lambdas) for name in ("raw", "scaled")}
        probe = lca_probe(p, model, corpus, prop, split, progress=False, lambdas=lambdas)
        seeds = p.probe.seeds if settings.seeded else 1  # a converged probe ignores its seed
        groups, rows = groups_of_test(split), []
        for pct in p.probe.percentages:
            sets = {name: top(order, pct) for name, order in orders.items()}
            found = {name: bootstrap_runs(retrained_runs(split, keep, settings, seeds, start=probe), groups,
                                          p.probe.n_boot, p.seed) for name, keep in sets.items()}
            rows.append({"pct": pct, "jaccard": jaccard(sets["raw"], sets["scaled"]),
                         **{f"{name}{end}": getattr(found[name], attr) for name in found
                            for end, attr in (("", "estimate"), ("_low", "low"), ("_high", "high"))},
                         "verdict": verdict(found["scaled"], found["raw"])})
        return rows

    return pd.DataFrame(cached(_comparison_path(p, model, corpus, prop, lambdas), build))


def convergence_check(profile: str | Profile, model: str, corpus: str, prop: str, data=None, ranking: str = "scaled",
                      lambdas: tuple[float, float] | None = None) -> Convergence:
    """How settled the LCA probe's ranking is: the probe trained on from its weights to a tenth of the profile's
    ranking tolerance (``lib.methods.convergence``), top sets compared at the profile's percentages; cached.
    Used in: 01_linguistic_correlation."""
    p = get_profile(profile)

    def build() -> dict:
        split = _data(p, model, corpus, prop, data)
        probe = lca_probe(p, model, corpus, prop, split, progress=False, lambdas=lambdas)
        found = convergence(probe, split, probe.settings, ranking, p.probe.percentages)
        return dataclasses.asdict(found)

    return Convergence(**cached(_convergence_path(p, model, corpus, prop, ranking, lambdas), build))


def _convergence_path(p: Profile, model: str, corpus: str, prop: str, ranking: str,
                      lambdas: tuple[float, float] | None) -> Path:
    return lca_path(p, model, corpus, prop, "convergence.json", lambdas=lambdas, ranking=ranking,
                    percentages=p.probe.percentages, record="tighter_top")


def _comparison_path(p: Profile, model: str, corpus: str, prop: str, lambdas: tuple[float, float] | None) -> Path:
    return lca_path(p, model, corpus, prop, "ranking_comparison.json", lambdas=lambdas,
                    percentages=p.probe.percentages, seeds=p.probe.seeds, n_boot=p.probe.n_boot, start=RETRAIN_START)


RESOLVE = ("more test sentences, more probe seeds and random draws (the `paper` profile) or a stronger model such as "
           "MiniLM")


def with_interval(value: float, interval: list[float] | None, digits: int = 3) -> str:
    """``0.805 [0.790, 0.820]``: a number with its 95 % interval, as every table and sentence shows it."""
    if interval is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def evidence_text(results: dict) -> str:
    """Plain-words verdicts (markdown) of :func:`summary` entries, ``results[model][prop]``: whether the probe beats
    MAJ, overall and on the test words seen and unseen in training, and whether the top 10 % beat random and bottom
    after retraining (against random also with the top set of the ten times tighter probe, saying whether the
    verdict changes), each "not resolved" where the 95 % intervals overlap, naming what would resolve it. Used in:
    01_linguistic_correlation."""
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
            lines += _familiarity_lines(r)
            top, key = r["retraining"]["top"][f"{pct:g}"], f"{pct:g}"
            for other in ("random", "bottom"):
                shown = (f"top {key} % {with_interval(top, iv['retraining']['top'][key])} against {other} "
                         f"{with_interval(r['retraining'][other][key], iv['retraining'][other][key])} (retrained)")
                lines.append(f"  - {shown}: {_top_said(v[f'top_vs_{other}'])}.")
            if "tighter_top_vs_random" in v:
                lines.append(f"  - {_tighter_line(r, key)}")
    return "\n".join(lines)


def _top_said(verdict_: str) -> str:
    """A top-set verdict in words."""
    return ("top is better" if verdict_ == "higher" else "top is **worse**" if verdict_ == "lower" else
            f"not resolved at this scale ({RESOLVE})")


def _tighter_line(r: dict, key: str) -> str:
    """Top against random again, with the top set of the probe trained on to a tenth of its tolerance, and whether
    the verdict is the same."""
    check, v = r["ranking_check"], r["verdicts"]
    shown = with_interval(check["tighter_top_retrained"], r["intervals"]["tighter_top_retrained"])
    same = v["tighter_top_vs_random"] == v["top_vs_random"]
    return (f"ranked by the probe trained on to tol {check['tighter_tol']:g} (top sets kept "
            f"{min(check['jaccard'].values()):.2f}): top {key} % {shown} against random: "
            f"{_top_said(v['tighter_top_vs_random'])}; " +
            ("the same verdict." if same else "**the verdict changes as the ranking converges**, so it is not "
             "settled at this tolerance."))


def familiarity_table(results: dict, split: str = "by_familiarity") -> pd.DataFrame:
    """The probe against MAJ on groups of test words, one row per (model, prop, words) of :func:`summary` entries
    ``results[model][prop]``: the words seen and unseen in training (``split="by_familiarity"``), or those groups
    split by whether the model's training text holds the word (``"by_model_text"``, models whose text is known);
    share of the test words, probe and MAJ accuracy, their difference in points with its 95 % interval (``low``,
    ``high``) and verdict. Used in: 01_linguistic_correlation."""
    rows = []
    for model, per_prop in results.items():
        for prop, r in per_prop.items():
            for name, group in r.get(split, {}).items():
                low, high = r["intervals"][split][name]["probe_minus_majority"]
                rows.append({"model": model, "prop": prop, "words": name, "share": group["share"],
                             "probe": group["all"], "MAJ": group["majority"],
                             "difference": 100 * group["probe_minus_majority"], "low": 100 * low, "high": 100 * high,
                             "verdict": r["verdicts"][split][name]})
    return pd.DataFrame(rows, columns=["model", "prop", "words", "share", "probe", "MAJ", "difference", "low", "high",
                                       "verdict"])


def familiarity_view(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`familiarity_table` as a reader sees it: a row per (model, prop), per group of words its share,
    probe − MAJ in points with its interval, and the verdict. Used in: 01_linguistic_correlation."""
    shown = table.assign(share=table["share"].round(3),
                         gap=[with_interval(row.difference, [row.low, row.high], 1) for row in table.itertuples()])
    return shown.rename(columns={"gap": "probe − MAJ"}).pivot(index=["model", "prop"], columns="words",
                                                             values=["share", "probe − MAJ", "verdict"])


def _familiarity_lines(r: dict) -> list[str]:
    """The probe against MAJ on the test words seen and unseen among the training words, where a summary entry has
    that split: which side of word identity the neurons fall on, and where."""
    lines = []
    for name, group in r.get("by_familiarity", {}).items():
        iv = r["intervals"]["by_familiarity"][name]
        said = {"higher": "the probe is better", "lower": "the probe is **worse**",
                "not resolved": "not resolved"}[r["verdicts"]["by_familiarity"][name]]
        gap = with_interval(100 * group["probe_minus_majority"], [100 * x for x in iv["probe_minus_majority"]], 1)
        lines.append(f"  - on the {100 * group['share']:.0f} % of test words {name} in training: probe "
                     f"{with_interval(group['all'], iv['all'])} against MAJ "
                     f"{with_interval(group['majority'], iv['majority'])}, {said} ({gap} points).")
    return lines


def model_text_text(results: dict) -> str:
    """Plain words (markdown) on :func:`familiarity_table` ``"by_model_text"``: per property, probe − MAJ on the
    seen words the models read and on those they never read, and for how many models the second is lower with
    intervals apart. Used in: 01_linguistic_correlation."""
    table = familiarity_table(results, "by_model_text")
    lines = []
    for prop, rows in table.groupby("prop", sort=False):
        read, unread = (rows[rows["words"] == words].set_index("model") for words in MODEL_TEXT[:2])
        both = read.merge(unread, left_index=True, right_index=True, suffixes=("_read", "_unread"))
        if both.empty:
            continue
        lower = int((both["high_unread"] < both["low_read"]).sum())
        lines.append(f"- **{prop}**: probe − MAJ on seen words the model read {_span(both['difference_read'])} "
                     f"points, on seen words it never read {_span(both['difference_unread'])}; lower where it never "
                     f"read them, intervals apart, for {lower} of {len(both)} models.")
    return "\n".join(lines)


def _span(values: pd.Series) -> str:
    """``-9.8 to -6.6`` (one decimal), or a single value."""
    low, high = float(values.min()), float(values.max())
    return f"{low:+.1f}" if low == high else f"{low:+.1f} to {high:+.1f}"


def layer_text(results: dict) -> str:
    """Plain-words verdicts (markdown) of the :func:`layer_summary` entries in ``results[model][prop]``: does the
    best hidden layer beat the embedding layer (the lexical baseline)? "not resolved" where the intervals overlap.
    Used in: 01_linguistic_correlation."""
    lines = []
    for model, per_prop in results.items():
        for prop, r in per_prop.items():
            if not r.get("layers") or r.get("embedding") is None:
                continue
            iv = r["intervals"]
            best = max(r["layers"], key=r["layers"].get)
            hidden = Interval(r["layers"][best], *iv["layers"][best], 1, "bootstrap")
            lexical = Interval(r["embedding"], *iv["embedding"], 1, "bootstrap")
            said = {"higher": "beats", "lower": "is **below**", "not resolved": "is not resolved against"}
            lines.append(f"- **{model} · {prop}**: the best hidden layer, {best} "
                         f"({with_interval(hidden.estimate, iv['layers'][best])}), {said[verdict(hidden, lexical)]} "
                         f"the embedding layer ({with_interval(lexical.estimate, iv['embedding'])}).")
    return "\n".join(lines)
