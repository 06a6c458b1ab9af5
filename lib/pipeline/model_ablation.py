"""Ablation inside the models (METHODS.md §3) as a cached pipeline step: ablate the first 0, n, 2n, … neurons of an
order inside the running model and measure its task on Multi30K test 2016 (greedy BLEU for NMT, perplexity for the
LM), keeping per-sentence statistics so that ``lib.methods.damage`` can put intervals on every difference.

Ablation is by zeroing (the paper) or by the neuron's mean activation over the probe's training words (Grains'
addition, ``mode="mean"``). Every point is cached per model and mode by the set of ablated neurons, so all orders
share the unablated point and a rerun with more points computes only the new ones; each point is written
atomically the moment it is measured, so an interrupted sweep keeps what it did. Used in: 03_ablation_in_the_model.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from lib.methods.damage import ablation_counts, metric_from_totals
from lib.methods.neurons import Ablation
from lib.pipeline.cache import NPY, artifact, cached, model_key, split_key
from lib.pipeline.profiles import Profile, data_dir, get_profile
from lib.pipeline.specs import model_spec
from lib.pipeline.workers import in_workers
from lib.progress import tqdm

MODES = ("zero", "mean")


def task_sentences(profile: str | Profile) -> int:
    """How many test sentences an ablation point evaluates: the profile's ablation slice of the test set (the
    whole test set when the slice is None)."""
    p = get_profile(profile)
    available = p.corpora.multi30k_test or 1000
    return min(p.ablation.test_sentences or available, available)


def task_statistics(trained, profile: str | Profile, zero: Ablation | np.ndarray | None = None) -> np.ndarray:
    """Per-sentence task statistics with ``zero`` ablated inside the model: BLEU counts of greedy translations
    [sentences, 10] (NMT) or negative log-likelihood and pieces [sentences, 2] (LM), on the first
    :func:`task_sentences` sentences of test_2016_flickr. Used in: 03_ablation_in_the_model."""
    from lib.pipeline.corpora import multi30k
    from lib.pipeline.evaluation import bleu_statistics, nll_statistics, translate

    p = get_profile(profile)
    n = task_sentences(p)
    test = multi30k("test_2016_flickr", list(trained.spec.langs), p)
    source = test[trained.spec.source_lang][:n]
    if trained.spec.task_metric == "perplexity":
        return nll_statistics(trained, source, zero)
    return bleu_statistics(translate(trained, source, zero, beam=1), test[trained.spec.target_lang][:n])


def neuron_means(profile: str | Profile, model: str, corpus: str) -> np.ndarray:
    """Each neuron's mean activation over the training words of the profile's probing split of ``corpus``: the
    value mean ablation holds it at (neurons,). Cached. Used in: 03_ablation_in_the_model."""
    from lib.pipeline.extraction import get_activations
    from lib.pipeline.properties import split_sentences

    p = get_profile(profile)

    def build() -> np.ndarray:
        activations = get_activations(p, model, corpus, progress=False)
        rows = activations.rows(split_sentences(len(activations.sentences), p).train)
        return np.asarray(activations.acts[rows], dtype=np.float64).mean(axis=0)

    return cached(artifact(p, "means", f"{model}-{corpus}", {"model": model_key(p, model),
                                                              "split": split_key(p, corpus)}, "means.npy"), build, NPY)


@dataclass(frozen=True, eq=False)
class Sweep:
    """An ablation sweep of one model: per order, the numbers of ablated neurons (``counts``) and the per-sentence
    statistics at each ([points, sentences, k], ``stats``), and the task ``metric``."""

    model: str
    metric: str
    mode: str
    counts: dict[str, list[int]]
    stats: dict[str, np.ndarray]

    def curves(self) -> dict[str, list[list[float]]]:
        """Per order, ``[[k, metric on the whole test slice with the first k neurons ablated], …]``."""
        return {name: [[k, float(v)] for k, v in zip(self.counts[name],
                                                     metric_from_totals(self.stats[name].sum(1), self.metric))]
                for name in self.stats}


def ablation_sweep(profile: str | Profile, model: str, orders: Mapping[str, np.ndarray],
                   counts: Sequence[int] | None = None, mode: str = "zero", corpus: str = "brown",
                   progress: bool = True) -> Sweep:
    """Ablate the first k neurons of every order for k in ``counts`` (default: the profile's steps) by ``mode``
    ("zero", or "mean": each neuron held at its mean over the probing corpus ``corpus``) and measure the task.
    Used in: 03_ablation_in_the_model."""
    p = get_profile(profile)
    spec = model_spec(p, model)
    plan = _plan(p, spec.name, orders, counts, mode, corpus)
    stats: dict[str, list[np.ndarray]] = {name: [] for name in orders}
    for name, k, ids, point in tqdm(plan, desc=f"ablating {spec.name} ({mode})", disable=not progress):
        stats[name].append(cached(point, lambda: _measure(p.name, spec.name, mode, corpus, ids), NPY))
    counts = {name: [k for order, k, _, _ in plan if order == name] for name in orders}
    return Sweep(model=spec.name, metric=spec.task_metric, mode=mode, counts=counts,
                 stats={name: np.stack(points) for name, points in stats.items()})


def ablation_sweeps(profile: str | Profile, orders: Mapping[str, Mapping[str, np.ndarray]], mode: str = "zero",
                    corpus: str = "brown", jobs: int | None = None, progress: bool = True) -> dict[str, Sweep]:
    """:func:`ablation_sweep` of every model of ``orders`` (``{model: {order name: order}}``), the points not yet
    cached measured first in ``jobs`` worker processes of one thread each (default: the profile's
    ``probe.workers``, one per core in demo, this process in tiny): a demo model's LSTM steps are too small
    to share between threads. Used in: 03_ablation_in_the_model."""
    p = get_profile(profile)
    todo = {point: (p.name, model, mode, corpus, ids) for model, by_name in orders.items()
            for _, _, ids, point in _plan(p, model, by_name, None, mode, corpus) if not point.exists()}
    in_workers(_point_step, [(point, *task) for point, task in todo.items()], p.probe.workers if jobs is None else jobs,
               "ablation points", progress)
    return {model: ablation_sweep(p, model, by_name, mode=mode, corpus=corpus, progress=False)
            for model, by_name in orders.items()}


def _plan(p: Profile, model: str, orders: Mapping[str, np.ndarray], counts: Sequence[int] | None, mode: str,
          corpus: str) -> list[tuple[str, int, np.ndarray, Path]]:
    """Every point of a sweep: (order name, k, the first k neuron ids, the point's cache path)."""
    if mode not in MODES:
        raise ValueError(f"unknown ablation mode {mode!r}; use one of {', '.join(MODES)}")
    spec = model_spec(p, model)
    n_neurons = next(iter(orders.values())).size
    counts = ablation_counts(n_neurons, p.ablation.step, p.ablation.max_share) if counts is None else list(counts)
    from lib.pipeline.evaluation import BATCH_SIZE

    key = {"model": model_key(p, spec), "sentences": task_sentences(p), "mode": mode, "batch": BATCH_SIZE}
    if mode == "mean":
        key["means"] = split_key(p, corpus)
    plan = []
    for name, order in orders.items():
        for k in counts:
            ids = np.ascontiguousarray(order[:k], dtype=np.int64)
            plan.append((name, k, ids, artifact(p, "ablation", spec.name, key, f"{_point_key(ids)}.npy")))
    return plan


def _point_step(task: tuple) -> None:
    point, profile, model, mode, corpus, ids = task
    torch.set_num_threads(1)
    cached(point, lambda: _measure(profile, model, mode, corpus, ids), NPY)


@functools.lru_cache(maxsize=4)
def _trained(profile: str, model: str, where: str):
    """The trained ``model``, loaded once per process (``where``: the data folder it comes from)."""
    from lib.pipeline.training import load_model

    return load_model(profile, model)


def _measure(profile: str, model: str, mode: str, corpus: str, ids: np.ndarray) -> np.ndarray:
    """The task statistics of ``model`` with neurons ``ids`` ablated by ``mode`` (none: the intact model)."""
    p = get_profile(profile)
    means = neuron_means(p, model, corpus)[ids] if mode == "mean" else None
    trained = _trained(p.name, model, str(data_dir()))
    return task_statistics(trained, p, Ablation(ids, means) if ids.size else None)


def _point_key(ids: np.ndarray) -> str:
    """A name for the set of ablated neurons (order-free, so every order shares its points with the others)."""
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()[:16]
