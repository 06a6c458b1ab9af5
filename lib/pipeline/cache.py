"""The one cache helper: a pipeline step's artifact lives under a folder named by the step and a hash of exactly
the settings it depends on, and is built once.

Keys are explicit and minimal: an LCA probe is keyed by the model, the corpus slice, the sentence split, the
property and the probe settings, never by the whole profile, so changing an ablation step never retrains a probe.
Writes are atomic (``lib.pipeline.artifacts``): an interrupted build leaves nothing that looks complete; a build lock
makes a second process wait for an artifact the first is building instead of building it again.
Used in: lib.pipeline.lca, lib.pipeline.cca, lib.pipeline.model_ablation (and through them notebooks 01-08).
"""
from __future__ import annotations

import contextlib
import fcntl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

import numpy as np

from lib.pipeline.artifacts import atomic_path, config_key, read_json, write_json
from lib.pipeline.profiles import Profile, results_dir

T = TypeVar("T")


@dataclass(frozen=True)
class Format:
    """How an artifact is written to and read from one path."""

    save: Callable[[Path, Any], Any]
    load: Callable[[Path], Any]


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array))


JSON = Format(save=write_json, load=read_json)
NPY = Format(save=_save_npy, load=np.load)


def artifact(profile: str | Profile, step: str, label: str, key: Mapping[str, Any], name: str) -> Path:
    """The path of artifact ``name`` of a ``step`` (e.g. "lca"): ``results_dir(profile)/step/<label>-<hash>/name``.

    ``label`` is for people reading the folder (model, corpus, property); ``key`` is what the artifact depends on.
    """
    return results_dir(profile) / step / f"{label}-{config_key(dict(key))}" / name


def cached(path: Path, build: Callable[[], T], fmt: Format = JSON) -> T:
    """The artifact at ``path``: read with ``fmt`` when it exists, else built by ``build()`` and written atomically.

    While one process builds an artifact, another that asks for it waits and reads it (a lock beside it, released
    by the operating system if the builder dies), so notebooks that run side by side never build the same thing
    twice."""
    if path.exists():
        return fmt.load(path)
    with building(path):
        if path.exists():
            return fmt.load(path)
        value = build()
        fmt.save(path, value)
        return value


class Busy(RuntimeError):
    """Another process holds the build lock of an artifact asked for without waiting (:func:`building`)."""


@contextlib.contextmanager
def building(path: Path, wait: bool = True) -> Iterator[None]:
    """Hold the build lock of ``path`` (an exclusive ``flock`` on ``<path>.lock``), waiting for another holder, or
    raising :class:`Busy` at once when ``wait`` is false and another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another process is building {path}") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def model_key(profile: str | Profile, model: str | Any) -> dict:
    """What a model's artifacts depend on: the training configuration of a model Grains trains, the location of a
    pretrained one."""
    from lib.pipeline.specs import model_spec

    spec = model_spec(profile, model)
    if not spec.trained_here:
        return {"name": spec.name, "kind": spec.kind, "location": spec.location}
    from lib.pipeline.training import model_config  # the model stack is imported only for trained models

    return model_config(profile, spec)


def split_key(profile: str | Profile, corpus: str) -> dict:
    """What a probing split depends on: the corpus (a path by its content digest), the profile's slice of it and
    its seeded sentence split."""
    from lib.pipeline.corpora import corpus_id
    from lib.pipeline.profiles import get_profile

    p = get_profile(profile)
    return {"corpus": corpus_id(corpus), "corpora": p.corpora, "seed": p.seed,
            "sentences": [p.probe.train_sentences, p.probe.dev_sentences, p.probe.test_sentences]}
