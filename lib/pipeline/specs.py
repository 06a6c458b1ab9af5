"""Model specs: what a model is (kind, languages, where its weights come from), typed, instead of a name to parse.

A notebook or a researcher names a model ("en-de", "lm", "minilm", "en-de.r2", a local folder, "hf:<hub id>");
:func:`model_spec` turns the name into a :class:`ModelSpec` once, and the rest of the pipeline reads its fields.
Used in: every notebook that takes a ``models`` parameter (through the pipeline).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lib.pipeline.profiles import Profile, get_profile

KINDS = ("nmt", "lm", "transformer")
FAMILIES = {"nmt": "NMT", "lm": "LM", "transformer": "transformer"}
HUB_PREFIX = "hf:"
REPLICATES = 3


@dataclass(frozen=True)
class ModelSpec:
    """One model: ``name`` (short, used in tables and cache folders), ``kind`` ("nmt", "lm" or "transformer"),
    ``source_lang`` / ``target_lang`` (NMT), ``location`` (a transformer's local folder or hub id) and
    ``replicate`` (1..3: trained on that third of the training data, the paper's replicate design; None: all)."""

    name: str
    kind: str
    source_lang: str = "en"
    target_lang: str | None = None
    location: str | None = None
    replicate: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; known kinds: {', '.join(KINDS)}")
        if (self.kind == "nmt") != (self.target_lang is not None):
            raise ValueError(f"model {self.name!r}: a target language is required for NMT and only for NMT")
        if self.replicate is not None and not 1 <= self.replicate <= REPLICATES:
            raise ValueError(f"model {self.name!r}: replicate must be in 1..{REPLICATES}, got {self.replicate}")

    @property
    def family(self) -> str:
        """"NMT", "LM" or "transformer": the group a model belongs to in the paper's NMT-versus-LM question."""
        return FAMILIES[self.kind]

    @property
    def trained_here(self) -> bool:
        """True for the models Grains trains itself (NMT and LSTM LM), False for pretrained transformers."""
        return self.kind != "transformer"

    @property
    def task_metric(self) -> str:
        """The task measure of in-model ablation: ``"bleu"`` (NMT) or ``"perplexity"`` (language models)."""
        return "bleu" if self.kind == "nmt" else "perplexity"

    @property
    def langs(self) -> tuple[str, ...]:
        """The Multi30K languages the model reads: (source,) or (source, target)."""
        return (self.source_lang,) if self.target_lang is None else (self.source_lang, self.target_lang)


def trained_spec(name: str) -> ModelSpec:
    """The spec of a model Grains trains: "lm", "<src>-<tgt>" (NMT) or either with ".r<k>" (replicate k)."""
    base, _, rep = name.partition(".r")
    replicate = int(rep) if rep.isdigit() else None
    if rep and replicate is None:
        raise KeyError(f"model {name!r}: a replicate suffix is .r1 .. .r{REPLICATES}")
    if base == "lm":
        return ModelSpec(name=name, kind="lm", replicate=replicate)
    source, sep, target = base.partition("-")
    if not sep or not source or not target:
        raise KeyError(f"model {name!r} is neither 'lm' nor a language pair like 'en-de'")
    return ModelSpec(name=name, kind="nmt", source_lang=source, target_lang=target, replicate=replicate)


def pretrained_location(name: str) -> str | None:
    """Where a pretrained transformer named ``name`` lives: the packaged default (``minilm``), ``hf:<hub id>``,
    or an existing local folder; None when ``name`` is none of these."""
    if name == "minilm":
        from lib.pipeline.transformer import minilm_path  # the package is imported only when MiniLM is asked for

        return str(minilm_path())
    if name.startswith(HUB_PREFIX):
        return name[len(HUB_PREFIX):]
    if os.path.isdir(name):
        return str(Path(name).resolve())
    return None


def model_spec(profile: str | Profile, model: str | ModelSpec) -> ModelSpec:
    """The spec of ``model`` in ``profile``: one of the profile's trained models, or a pretrained transformer
    (``minilm``, a local folder, ``hf:<hub id>``). An unknown name raises a ``KeyError`` listing the known ones."""
    if isinstance(model, ModelSpec):
        return model
    p = get_profile(profile)
    if model in p.models:
        return trained_spec(model)
    location = pretrained_location(model)
    if location is not None:
        name = model if model == "minilm" else Path(location).name or location
        return ModelSpec(name=name, kind="transformer", location=location)
    raise KeyError(f"unknown model {model!r} for profile {p.name!r}; known models: {', '.join(p.models)}, minilm, "
                   f"a local Hugging Face folder or {HUB_PREFIX}<hub id>")
