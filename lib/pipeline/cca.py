"""Cross-model Correlation Analysis as a cached pipeline step: the CCA rankings of a profile's models over one
probing corpus.

The rankings themselves are ``lib.methods.correlation.rank_models`` on the models' activations; this step fetches
the activations, checks they cover the same words, and caches the result keyed by the activation files, so
re-extracted activations are re-ranked. Used in: 02_cross_model_correlation, 03_ablation_in_the_model, 07.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lib.methods.correlation import DEFAULT_MAX_BYTES, METHODS, CCARankings, Matches, rank_models
from lib.pipeline.artifacts import atomic_path, read_json, write_json
from lib.pipeline.cache import Format, artifact, cached
from lib.pipeline.corpora import corpus_id
from lib.pipeline.profiles import Profile, get_profile
from lib.pipeline.specs import model_spec

_CACHE_VERSION = 2


def cca_rankings(profile: str | Profile, corpus: str | None = None, models: Sequence[str] | None = None,
                 dtype: str = "float32", max_bytes: int = DEFAULT_MAX_BYTES) -> CCARankings:
    """The CCA rankings of ``models`` (default: all of the profile's trained models; any model ``model_spec``
    knows, a transformer included) over ``corpus`` (default: the profile's first probing corpus), cached;
    ``cca_rankings(p).order("en-de")`` is en→de's MaxCorr order.

    The cache key covers the corpus, models, dtype and the activation files (path, size, modification time), so
    re-extracted activations are re-ranked. Used in: 02_cross_model_correlation, 03_ablation_in_the_model, 07.
    """
    from lib.pipeline.extraction import every_activation  # pulls in the models: imported only when ranking them

    profile = get_profile(profile)
    corpus = corpus or profile.probe_corpora[0]
    models = tuple(model_spec(profile, m).name for m in (models or profile.models))
    if len(models) < 2:
        raise ValueError(f"CCA needs at least two models, e.g. two of {profile.models}; got {models}")
    found = every_activation(profile, models, corpus)
    activations = [found[m] for m in models]
    _check_same_words(models, activations)
    key = {"version": _CACHE_VERSION, "models": models, "dtype": dtype,
           "activations": [_file_identity(a.acts) for a in activations]}
    return cached(artifact(profile, "correlation", corpus_id(corpus), key, "rankings"),
                  lambda: rank_models([a.acts for a in activations], models, corpus, dtype=dtype,
                                      max_bytes=max_bytes), RANKINGS)


def maxcorr_order(profile: str | Profile, model: str, corpus: str | None = None) -> np.ndarray:
    """``model``'s MaxCorr order as notebooks 02 and 03 rank it, against the profile's trained models; a model
    outside them (MiniLM, a folder, ``hf:<id>``) against all of them. One shared cache entry for the trained models:
    ranking MiniLM beside them in every run took 4 of the demo's CPU-minutes, and ranked the trained models against
    a different set than notebook 02 reports. Used in: 07_neuron_explorer."""
    p = get_profile(profile)
    name = model_spec(p, model).name
    group = p.models if name in p.models else (*p.models, name)
    return cca_rankings(p, corpus, group).order(name)


def _check_same_words(models: Sequence[str], activations: Sequence[Any]) -> None:
    first = list(activations[0].words)
    for name, a in zip(models[1:], activations[1:]):
        if list(a.words) != first:
            raise ValueError(f"activations of {name!r} ({len(a.words)} words) are not over the same words as "
                             f"{models[0]!r} ({len(first)} words); extract both over the same corpus")


def _file_identity(acts: Any) -> Any:
    path = getattr(acts, "filename", None)
    if path is None:
        return list(acts.shape)
    stat = os.stat(path)
    return [str(path), stat.st_size, stat.st_mtime_ns]


def _save_rankings(rankings: CCARankings, folder: os.PathLike) -> None:
    arrays = {}
    for i, model in enumerate(rankings.models):
        for method in METHODS:
            arrays[f"{method}-{i}"] = rankings.scores[method][model]
        arrays[f"partner-{i}"] = rankings.matches[model].partner
        arrays[f"corr-{i}"] = rankings.matches[model].corr
    pairs = list(rankings.svcca)
    for j, pair in enumerate(pairs):
        arrays[f"svcca-{j}"] = rankings.svcca[pair]
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        np.savez(tmp / "arrays.npz", **arrays)
        write_json(tmp / "meta.json", {"models": rankings.models, "corpus": rankings.corpus,
                                       "n_words": rankings.n_words, "pairs": pairs})


def _load_rankings(folder: os.PathLike) -> CCARankings:
    folder = Path(folder)
    meta = read_json(folder / "meta.json")
    models = tuple(meta["models"])
    with np.load(folder / "arrays.npz") as z:
        scores = {method: {m: z[f"{method}-{i}"] for i, m in enumerate(models)} for method in METHODS}
        found = {m: Matches(model=m, others=tuple(o for o in models if o != m), partner=z[f"partner-{i}"],
                            corr=z[f"corr-{i}"]) for i, m in enumerate(models)}
        pairs = {tuple(p): z[f"svcca-{j}"] for j, p in enumerate(meta["pairs"])}
    return CCARankings(models=models, corpus=meta["corpus"], n_words=meta["n_words"], scores=scores, matches=found,
                       svcca=pairs)


RANKINGS = Format(save=lambda folder, rankings: _save_rankings(rankings, folder), load=_load_rankings)
