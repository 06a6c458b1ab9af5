"""The embedding layer as probe data: each word's input embedding (of its pieces, aggregated like the hidden
states), the lexical baseline a probe on hidden states must beat to show that context adds something.

The vectors are context-free, so a probe on them reads word identity only, like MAJ but through the model's own
embedding space. Cached per (model configuration and weights, corpus words, aggregation) as one ``.npy``.
Used in: 01_linguistic_correlation.
"""
from __future__ import annotations

import numpy as np
import torch

from lib.pipeline.artifacts import config_key
from lib.pipeline.cache import NPY, cached
from lib.pipeline.extraction import ProbeData, _weights_digest, _words_digest, aggregate, get_activations
from lib.pipeline.profiles import Profile, activations_dir, get_profile
from lib.pipeline.word_pieces import encode_corpus


def embedding_vectors(profile: str | Profile, model: str, corpus: str, aggregation: str = "last") -> np.ndarray:
    """Per word of the probing ``corpus``, the input embeddings of its pieces aggregated like the hidden states
    [words, emb] (float32); cached. Used in: :func:`embedding_data`."""
    from lib.pipeline.corpora import load_corpus
    from lib.pipeline.training import load_model

    p = get_profile(profile)
    trained = load_model(p, model, progress=False)
    sentences = load_corpus(corpus, p)
    key = config_key({"model": trained.config, "weights": _weights_digest(trained.model), "corpus": corpus,
                      "words": _words_digest(sentences), "aggregation": aggregation})

    def build() -> np.ndarray:
        pieces = encode_corpus(trained.src_vocab, sentences, trained.config["sizes"]["max_len"])
        ids = torch.from_numpy(np.concatenate(pieces.ids).astype(np.int64))
        rows = torch.from_numpy(np.concatenate([word + first for word, first in zip(pieces.word, pieces.first_row)])
                                .astype(np.int64))
        with torch.inference_mode():
            table = trained.model.encoder.embed.weight.detach().float().cpu()
            return aggregate(table[ids], rows, pieces.n_rows, aggregation).numpy()

    return cached(activations_dir(p) / f"{model}__{corpus}__embeddings__{key}.npy", build, NPY)


def embedding_data(profile: str | Profile, model: str, corpus: str, prop: str, aggregation: str = "last"
                   ) -> ProbeData:
    """:func:`lib.pipeline.extraction.probe_data` with the embedding layer in place of the hidden states: the same
    split sentences, labels, words and groups, ``acts`` [words, emb]."""
    from lib.pipeline.properties import split_sentences

    activations = get_activations(profile, model, corpus, aggregation)
    vectors = embedding_vectors(profile, model, corpus, aggregation)
    labels, words = activations.labels(prop), np.asarray(activations.words)
    lengths = np.diff(activations.sentence_offsets)
    split, parts, groups = split_sentences(len(activations.sentences), profile), [], []
    for ids in (split.train, split.dev, split.test):
        rows = activations.rows(ids)
        parts.append((vectors[rows], labels[rows], words[rows]))
        groups.append(np.repeat(ids, lengths[ids]))
    return ProbeData(*parts, groups=tuple(groups))
