"""Ablation inside the models (METHODS.md §3) as a cached pipeline step: zero the first 0, n, 2n, … neurons of an
order inside the running model and measure its task (greedy BLEU for NMT, perplexity for the LM).

Every point is cached per model by the set of ablated neurons, so all orders share the unablated point and a rerun
with more points computes only the new ones. The curve analysis (drops, damage, the paper's finding) is
``lib.methods.ablation``. Used in: 03_ablation_in_the_model.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from lib.methods.ablation import ablation_counts
from lib.pipeline.artifacts import read_json, write_json
from lib.pipeline.cache import artifact, model_key
from lib.pipeline.profiles import Profile, get_profile
from lib.pipeline.specs import model_spec


def task_metric(trained, profile: str | Profile, zero: np.ndarray | None = None) -> float:
    """The task score with neurons ``zero`` zeroed inside the model: greedy BLEU (NMT) or perplexity (LM).

    Evaluates the first ``profile.ablation.test_sentences`` sentences of Multi30K test_2016_flickr, so that a curve
    of many points fits the profile's budget. Used in: 03_ablation_in_the_model.
    """
    from lib.pipeline.corpora import multi30k
    from lib.pipeline.evaluation import score_bleu, sentence_perplexity, translate

    p = get_profile(profile)
    n = task_sentences(p)
    zero = None if zero is None or len(zero) == 0 else np.ascontiguousarray(zero, dtype=np.int64)
    test = multi30k("test_2016_flickr", list(trained.spec.langs), p)
    if trained.spec.task_metric == "perplexity":
        return sentence_perplexity(trained, test[trained.spec.source_lang][:n], zero)
    src, tgt = trained.spec.langs
    return score_bleu(translate(trained, test[src][:n], zero, beam=1), test[tgt][:n])


def task_sentences(profile: str | Profile) -> int:
    """How many test sentences an ablation point evaluates: the profile's ablation slice of the test set."""
    p = get_profile(profile)
    available = p.corpora.multi30k_test or 1000
    return min(p.ablation.test_sentences or available, available)


def _point_key(zero: np.ndarray) -> str:
    return hashlib.sha256(np.sort(np.asarray(zero, dtype=np.int64)).tobytes()).hexdigest()[:16]


def ablation_curves(profile: str | Profile, model: str, orders: dict[str, np.ndarray],
                    counts: Sequence[int] | None = None, progress: bool = True) -> dict[str, list[list[float]]]:
    """Cumulative ablation curves: per order, ``[[k, metric with the first k neurons zeroed], …]``.

    Points are cached per model by the set of zeroed neurons (so every order shares the point at 0, and a rerun
    with more points computes only the new ones); the cache is rewritten atomically after each point, so an
    interrupted sweep keeps what it measured. Used in: 03_ablation_in_the_model.
    """
    from lib.pipeline.training import load_model

    p = get_profile(profile)
    trained = load_model(p, model)
    n_neurons = trained.model.neuron_map.size
    counts = ablation_counts(n_neurons, p.ablation.step, p.ablation.max_share) if counts is None else list(counts)
    cache_path = artifact(p, "ablation", trained.name, {"model": model_key(p, model_spec(p, model)),
                                                         "sentences": task_sentences(p)}, "points.json")
    cache = read_json(cache_path) if cache_path.exists() else {}
    jobs = [(name, k) for name, order in orders.items() for k in counts]
    curves: dict[str, list[list[float]]] = {name: [] for name in orders}
    for name, k in tqdm(jobs, desc=f"ablating {model}", disable=not progress):
        zero = np.ascontiguousarray(orders[name][:k], dtype=np.int64)
        key = _point_key(zero)
        if key not in cache:
            cache[key] = task_metric(trained, p, zero)
            write_json(cache_path, cache)
        curves[name].append([k, cache[key]])
    return curves
