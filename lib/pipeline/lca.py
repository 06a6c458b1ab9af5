"""Linguistic Correlation Analysis as cached pipeline steps: the probe, the neuron order and the numbers notebook 01
records, for one (profile, model, corpus, property).

Each step is a method of ``lib.methods`` applied to ``lib.pipeline.extraction.probe_data`` and cached with
``lib.pipeline.cache`` under a key naming exactly what it depends on (model, corpus slice and split, property, probe
settings), so notebooks 01-07 share one probe per (model, property) and nothing is retrained by accident.
Used in: 01_linguistic_correlation, 03_ablation_in_the_model, 04-07 (probes and orders).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from lib.methods.ablation import ablation_table, minimal_set, results_dict
from lib.methods.probing import Probe, ProbeSettings, train_probe
from lib.methods.ranking import global_order
from lib.methods.selectivity import selectivity
from lib.pipeline.artifacts import atomic_path
from lib.pipeline.cache import NPY, Format, artifact, cached, model_key, split_key
from lib.pipeline.corpora import corpus_id
from lib.pipeline.profiles import Profile, get_profile
from lib.pipeline.properties import property_id


def probe_settings(profile: str | Profile) -> ProbeSettings:
    """The probe settings a profile prescribes (``profile.probe``), seeded with the profile's seed."""
    p = get_profile(profile)
    return ProbeSettings(l1=p.probe.l1, l2=p.probe.l2, epochs=p.probe.epochs, batch_size=p.probe.batch_size,
                         lr=p.probe.lr, seed=p.seed)


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
           "settings": probe_settings(p), **extra}
    return artifact(p, "lca", f"{model}-{corpus_id(corpus)}-{property_id(prop)}", key, name)


def _data(profile: str | Profile, model: str, corpus: str, prop: str, data):
    if data is not None:
        return data
    from lib.pipeline.extraction import probe_data  # extraction loads the model: only when nothing is cached

    return probe_data(profile, model, corpus, prop)


def lca_probe(profile: str | Profile, model: str, corpus: str, prop: str, data=None, progress: bool = True
              ) -> Probe:
    """The LCA probe of ``model`` for property ``prop`` of ``corpus``, trained with the profile's settings on
    ``data`` (default: ``probe_data`` of the same names), scored on the dev split (which stops training early only
    with ``solver="adam"``); cached.
    Used in: 01, 03_ablation_in_the_model, 04-07."""
    settings = probe_settings(profile)

    def build() -> Probe:
        train = _data(profile, model, corpus, prop, data)
        return train_probe(train.train[0], train.train[1], dev=train.dev[:2], settings=settings, progress=progress)

    return cached(lca_path(profile, model, corpus, prop, "probe.npz"), build, PROBE)


def lca_order(profile: str | Profile, model: str, corpus: str, prop: str, data=None) -> np.ndarray:
    """"The LCA-top order of model X for property P": Algorithm 1 on its cached probe's scaled weights; cached.
    Used in: 01, 02, 03_ablation_in_the_model, 07."""
    return cached(lca_path(profile, model, corpus, prop, "order.npy"),
                  lambda: global_order(lca_probe(profile, model, corpus, prop, data, progress=False).scaled_weights),
                  NPY)


def summary(profile: str | Profile, model: str, corpus: str, prop: str, data=None) -> dict:
    """The results-file entry of (model, prop): ``{"all", "masking", "retraining", "minimal_set": {"neurons",
    "share"}, "selectivity"}``, accuracies as fractions; cached beside the probe so notebooks 04-06 can read it
    without retraining. ``data`` is the ``probe_data`` of (model, corpus, prop), loaded when not given.
    Used in: 01_linguistic_correlation."""
    p = get_profile(profile)

    def build() -> dict:
        split = _data(p, model, corpus, prop, data)
        settings = probe_settings(p)
        probe, order = lca_probe(p, model, corpus, prop, split, progress=False), lca_order(p, model, corpus, prop,
                                                                                            split)
        table = ablation_table(probe, split, order, settings, p.probe.percentages, seed=p.seed, progress=False)
        result = results_dict(table)
        found = minimal_set(split, order, settings, target=result["all"], delta=p.probe.minimal_set_delta)
        result["minimal_set"] = {"neurons": found.neurons, "share": found.share}
        result["selectivity"] = selectivity(split, settings, seed=p.seed).selectivity
        return result

    return cached(lca_path(p, model, corpus, prop, "summary.json", percentages=p.probe.percentages,
                           delta=p.probe.minimal_set_delta), build)
