"""Cached activations of a Hugging Face transformer over a probing corpus, in the same memory-mapped store as the
NMT models' (``lib.pipeline.activation_store``), so ``get_activations`` / ``probe_data`` treat both alike.

The store is keyed by the model's location, a digest of its weights, the options (feed-forward neurons or not), the
corpus words, the aggregation and dtype: a re-saved or fine-tuned model, another corpus slice or another aggregation
never reuses old activations. A model in a local folder (MiniLM, your own) is digested from its files, so a cached
store opens without loading the model (8 s per process for MiniLM, most of it importing transformers); a hub model
is loaded and digested from its weights. Used by: lib.pipeline.extraction.get_activations.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from lib.pipeline.activation_store import open_or_build, write_store
from lib.pipeline.artifacts import config_key
from lib.pipeline.profiles import Profile, activations_dir
from lib.pipeline.specs import HUB_PREFIX, ModelSpec
from lib.pipeline.transformer import (Transformer, TransformerNeuronMap, extract_into, load_transformer,
                                      model_location, plan_chunks)

FORMAT_VERSION = 1


def loadable_name(spec: ModelSpec) -> str:
    """The name :func:`lib.pipeline.transformer.load_transformer` takes for a transformer spec."""
    if spec.name == "minilm" or Path(spec.location).is_dir():
        return spec.name if spec.name == "minilm" else spec.location
    return HUB_PREFIX + spec.location


@lru_cache(maxsize=4)
def cached_transformer(spec: ModelSpec, ffn: bool = False) -> tuple[Transformer, str]:
    """The loaded transformer and a digest of its weights, loaded once per process (notebooks ask many times).
    Used in: 08_your_own_model."""
    from lib.pipeline.extraction import _weights_digest

    transformer = load_transformer(loadable_name(spec), ffn)
    return transformer, _weights_digest(transformer.model)


def transformer_activations(p: Profile, spec: ModelSpec, corpus: str | os.PathLike, aggregation: str, dtype: str,
                            batch_size: int, verify: bool, progress: bool, ffn: bool = False, wait: bool = True):
    """:class:`lib.pipeline.extraction.Activations` of transformer ``spec`` over ``corpus`` of profile ``p``:
    the cached store, or extracted into one (streamed batch by batch)."""
    from lib.pipeline.corpora import corpus_id, load_corpus
    from lib.pipeline.extraction import Activations, _words_digest
    from lib.pipeline.properties import properties_for

    location, weights = folder_identity(spec) or _loaded_identity(spec, ffn)
    sentences, cid = load_corpus(corpus, p), corpus_id(corpus)
    key = config_key({"version": FORMAT_VERSION, "location": location, "weights": weights, "ffn": ffn,
                      "corpus": cid, "words": _words_digest(sentences), "aggregation": aggregation,
                      "dtype": dtype})
    folder = activations_dir(p) / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', spec.name)[-60:]}__{cid}__{key}"
    expected = {"version": FORMAT_VERSION, "key": key, "model": spec.name, "corpus": cid, "profile": p.name,
                "aggregation": aggregation, "dtype": dtype, "n_words": sum(len(s.words) for s in sentences)}

    def build() -> None:
        transformer = cached_transformer(spec, ffn)[0]
        neuron_map = transformer.neuron_map
        chunks = plan_chunks(transformer, sentences)
        meta = {**expected, "n_neurons": neuron_map.size, "neuron_map": dataclasses.asdict(neuron_map),
                "words": [w for s in sentences for w in s.words],
                "sentence_offsets": chunks.sentence_offsets.tolist(), "n_sentences": len(sentences),
                "n_split": chunks.n_split, "max_len": chunks.max_tokens, "properties": properties_for(corpus),
                "neuron_names": neuron_map.names()}
        with write_store(folder, (chunks.n_rows, neuron_map.size), dtype, meta) as writer:
            extract_into(writer.write, transformer, chunks, aggregation, batch_size, progress)

    acts, meta = open_or_build(folder, expected, verify, build, wait)
    neuron_map = TransformerNeuronMap(**meta["neuron_map"])  # fixed by the key: the same files and ffn option
    offsets = np.asarray(meta["sentence_offsets"], dtype=np.int64)
    return Activations(acts, meta["words"], offsets, sentences, neuron_map, meta, folder)


def folder_identity(spec: ModelSpec) -> tuple[str, str] | None:
    """(location, BLAKE2 digest of every file directly in the model's folder: weights, configuration, tokenizer) of
    a model in a local folder, without loading it; None for a hub model."""
    if spec.name != "minilm" and not Path(spec.location).is_dir():
        return None
    location = Path(model_location(loadable_name(spec)))
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in location.iterdir() if p.is_file()):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 24):
                digest.update(chunk)
    return str(location), digest.hexdigest()


def _loaded_identity(spec: ModelSpec, ffn: bool) -> tuple[str, str]:
    transformer, weights = cached_transformer(spec, ffn)
    return transformer.location, weights
