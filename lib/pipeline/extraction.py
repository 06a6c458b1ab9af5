"""Per-word, per-neuron activations of a model over a corpus: the words × neurons matrix every analysis starts from.

Each word is encoded on its own into subword pieces (:mod:`lib.pipeline.word_pieces`, which also splits sentences longer
than the model's ``max_len`` at word boundaries); sentences run through ``model.states`` in length-sorted, padded
batches without gradients (on the model's device: the GPU when :func:`lib.pipeline.training.load_model` found one), and the
states of a word's pieces become one row: its last piece (default, as in the literature), first piece, or their
mean. Column ``neuron`` is the model's global neuron id (``NeuronMap``: layer, direction, unit, ``names()``).
:func:`get_activations` caches the matrix per profile, model, corpus and aggregation as a memory map
(:mod:`lib.pipeline.activation_store`); :func:`probe_data` cuts it into the probe's train / dev / test rows with labels.
Used in: 01_linguistic_correlation to 07_neuron_explorer.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from lib.pipeline.activation_store import DTYPES, open_or_build, write_store
from lib.pipeline.artifacts import config_key
from lib.pipeline.corpora import Sentence
from lib.methods.neurons import NeuronMap
from lib.pipeline.profiles import Profile, activations_dir, get_profile
from lib.pipeline.subwords import PAD
from lib.pipeline.word_pieces import Pieces, encode_corpus
from lib.progress import tqdm

if TYPE_CHECKING:
    from lib.pipeline.training import Trained

AGGREGATIONS = ("last", "first", "mean")
FORMAT_VERSION = 1


def aggregate(states: Tensor, word: Tensor, n_words: int, aggregation: str = "last") -> Tensor:
    """One row per word from the states of its pieces: ``states`` [pieces, neurons], ``word`` [pieces] (word index
    of each piece, every word 0..n_words-1 present) → [n_words, neurons]; last piece, first piece or mean."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; use one of {', '.join(AGGREGATIONS)}")
    if aggregation == "mean":
        counts = torch.bincount(word, minlength=n_words).clamp_min(1).to(states.dtype)
        sums = states.new_zeros(n_words, states.shape[1]).index_add_(0, word, states)
        return sums / counts[:, None]
    position = torch.arange(word.numel(), device=word.device)
    fill = word.numel() if aggregation == "first" else -1
    pick = torch.full((n_words,), fill, dtype=torch.long, device=word.device)
    pick.scatter_reduce_(0, word, position, reduce="amin" if aggregation == "first" else "amax")
    return states.index_select(0, pick)


def extract_into(write: Callable[[np.ndarray, np.ndarray], None], model: torch.nn.Module, pieces: Pieces,
                 aggregation: str = "last", batch_size: int = 128, progress: bool = True) -> None:
    """Run ``model.states`` over ``pieces`` in length-sorted batches and pass each batch's rows to ``write(rows,
    values)`` (values [len(rows), neurons] float32), so memory holds one batch whatever the corpus size.

    A batch holds up to ``batch_size`` chunks and at most ``batch_size × max_len`` padded pieces, so a chunk made
    long by one huge word (a URL) comes in a smaller batch rather than a larger one.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; use one of {', '.join(AGGREGATIONS)}")
    device = next(model.parameters()).device
    lengths = np.array([ids.size for ids in pieces.ids], dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), tqdm(total=pieces.n_rows, unit="word", desc="extracting",
                                          disable=not progress, leave=False) as bar:
            start = 0
            while start < order.size:
                size = min(batch_size, max(1, batch_size * pieces.max_len // int(lengths[order[start]])))
                rows, values = _run_batch(model, pieces, order[start:start + size], lengths, aggregation, device)
                write(rows, values)
                bar.update(rows.size)
                start += size
    finally:
        model.train(was_training)


def _run_batch(model: torch.nn.Module, pieces: Pieces, chunks: np.ndarray, lengths: np.ndarray, aggregation: str,
               device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Rows [words] and their aggregated states [words, neurons] for the chunks of one padded batch."""
    lens, n_words = lengths[chunks], pieces.n_words[chunks]
    real = np.arange(lens.max())[None, :] < lens[:, None]
    src = np.full(real.shape, PAD, dtype=np.int64)
    src[real] = np.concatenate([pieces.ids[c] for c in chunks])
    states = model.states(torch.from_numpy(src).to(device), torch.from_numpy(lens))
    word_base = np.cumsum(n_words) - n_words
    word = np.concatenate([pieces.word[c] for c in chunks]) + np.repeat(word_base, lens)
    flat = states[torch.from_numpy(real).to(device)]
    values = aggregate(flat, torch.from_numpy(word).to(device), int(n_words.sum()), aggregation)
    rows = np.repeat(pieces.first_row[chunks] - word_base, n_words) + np.arange(n_words.sum())
    return rows, values.float().cpu().numpy()


def extract(trained: "Trained", sentences: Sequence[Sentence], aggregation: str = "last", batch_size: int = 128,
            long_sentences: str = "split", progress: bool = True) -> np.ndarray:
    """Activations [words, neurons] (float32, in memory) of ``trained.model`` over ``sentences``, one row per word in
    corpus order. For a whole probing corpus use :func:`get_activations`, which streams to a cached memory map."""
    pieces = encode_corpus(trained.src_vocab, sentences, trained.config["sizes"]["max_len"], long_sentences)
    out = np.empty((pieces.n_rows, trained.model.neuron_map.size), dtype=np.float32)

    def write(rows: np.ndarray, values: np.ndarray) -> None:
        out[rows] = values

    extract_into(write, trained.model, pieces, aggregation, batch_size, progress)
    return out


@dataclass(frozen=True)
class Activations:
    """A cached activation matrix with what its rows and columns are.

    ``acts`` [words, neurons] read-only memory map (float32, or float16 if asked), ``words`` one word per row,
    ``sentence_offsets`` [n_sentences + 1] first row of each sentence, ``sentences`` the corpus Sentences,
    ``neuron_map`` global neuron id ↔ (layer, direction, unit), ``meta`` the stored metadata (model, corpus,
    profile, aggregation, key, ``properties`` with labels, ``n_split`` long sentences split into chunks, ...),
    ``folder`` the store.
    """

    acts: np.memmap
    words: list[str]
    sentence_offsets: np.ndarray
    sentences: list[Sentence]
    neuron_map: NeuronMap
    meta: dict
    folder: Path

    def rows(self, sentence_ids) -> np.ndarray:
        """Row indices of the words of ``sentence_ids``, sentence after sentence, in the given order."""
        ids = np.asarray(sentence_ids, dtype=np.int64).reshape(-1)
        n = len(self.sentence_offsets) - 1
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise IndexError(f"sentence ids must be in 0..{n - 1}; got {ids[(ids < 0) | (ids >= n)][:5].tolist()}")
        starts = self.sentence_offsets[ids]
        lengths = self.sentence_offsets[ids + 1] - starts
        return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(lengths.sum())

    def labels(self, prop: str) -> np.ndarray:
        """One label of property ``prop`` per row (``lib.pipeline.properties.labels`` flattened), as a string array."""
        from lib.pipeline.properties import labels

        per_sentence = labels(prop, self.sentences)
        flat = np.array([label for sentence in per_sentence for label in sentence])
        if flat.size != self.acts.shape[0]:
            raise ValueError(f"property {prop!r} gives {flat.size} labels for {self.acts.shape[0]} rows")
        return flat


@dataclass(frozen=True)
class ProbeData:
    """Rows of the profile's seeded sentence split, each part an ``(acts [words, neurons] float32, labels [words],
    words [words])`` triple of numpy arrays; ``groups`` holds, per part, the corpus sentence id of each row (the unit
    a bootstrap resamples, since the words of a sentence are not independent). Used in: 01, 04, 05, 06."""

    train: tuple[np.ndarray, np.ndarray, np.ndarray]
    dev: tuple[np.ndarray, np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray, np.ndarray]
    groups: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def get_activations(profile: str | Profile, model: str, corpus: str | os.PathLike, aggregation: str = "last",
                    dtype: str = "float32", long_sentences: str = "split", batch_size: int = 128,
                    verify: bool = True, progress: bool = True, ffn: bool = False, wait: bool = True) -> Activations:
    """The activations of ``model`` over the probing ``corpus`` of ``profile``: cached, or extracted to disk.
    A Hugging Face transformer (``minilm``, a local folder, ``hf:<hub id>``) goes through
    :mod:`lib.pipeline.transformer_cache` (``ffn``: add its feed-forward neurons).

    ``corpus`` is "brown", "ud" or the path of a CoNLL-U file or Brown-format folder. The cache folder
    ``activations_dir(profile)/<model>__<corpus id>__<key>`` is keyed by the model's configuration and weights, the
    corpus (a path by its content digest, ``lib.pipeline.corpora.corpus_id``) and its words, the aggregation, dtype
    and long-sentence policy; a missing, partial, corrupt or
    mismatching store (checked by :func:`lib.pipeline.activation_store.open_store`) is rebuilt, never read. While
    another process extracts the same store, this one waits for it, or raises ``lib.pipeline.cache.Busy`` at once
    when ``wait`` is false (:func:`every_activation`).
    """
    from lib.pipeline.corpora import corpus_id, load_corpus
    from lib.pipeline.properties import properties_for
    from lib.pipeline.training import load_model
    from lib.pipeline.specs import model_spec
    from lib.pipeline.transformer_cache import transformer_activations

    for name, value, known in (("aggregation", aggregation, AGGREGATIONS), ("dtype", dtype, DTYPES)):
        if value not in known:
            raise ValueError(f"unknown {name} {value!r}; use one of {', '.join(known)}")
    p = get_profile(profile)
    spec = model_spec(p, model)
    if spec.kind == "transformer":
        return transformer_activations(p, spec, corpus, aggregation, dtype, batch_size, verify, progress, ffn, wait)
    trained = load_model(p, model, progress)
    sentences, cid = load_corpus(corpus, p), corpus_id(corpus)
    key = config_key({"version": FORMAT_VERSION, "model": trained.config, "weights": _weights_digest(trained.model),
                      "corpus": cid, "words": _words_digest(sentences), "aggregation": aggregation,
                      "dtype": dtype, "long_sentences": long_sentences})
    folder = activations_dir(p) / f"{model}__{cid}__{key}"
    neuron_map = trained.model.neuron_map
    expected = {"version": FORMAT_VERSION, "key": key, "model": model, "corpus": cid, "profile": p.name,
                "aggregation": aggregation, "dtype": dtype, "n_words": sum(len(s.words) for s in sentences),
                "n_neurons": neuron_map.size, "neuron_map": dataclasses.asdict(neuron_map)}

    def build() -> None:
        pieces = encode_corpus(trained.src_vocab, sentences, trained.config["sizes"]["max_len"], long_sentences)
        meta = {**expected, "words": [w for s in sentences for w in s.words],
                "sentence_offsets": pieces.sentence_offsets.tolist(), "n_sentences": len(sentences),
                "n_split": pieces.n_split, "max_len": trained.config["sizes"]["max_len"],
                "properties": properties_for(corpus), "neuron_names": neuron_map.names()}
        with write_store(folder, (pieces.n_rows, neuron_map.size), dtype, meta) as writer:
            extract_into(writer.write, trained.model, pieces, aggregation, batch_size, progress)

    acts, meta = open_or_build(folder, expected, verify, build, wait)
    offsets = np.asarray(meta["sentence_offsets"], dtype=np.int64)
    return Activations(acts, meta["words"], offsets, sentences, neuron_map, meta, folder)


def every_activation(profile: str | Profile, models: Sequence[str], corpus: str | os.PathLike,
                     progress: bool = True) -> dict[str, Activations]:
    """:func:`get_activations` of every model, in the order of ``models``, extracting first the models no other
    process is extracting and waiting for the others last. Notebooks side by side then extract different models at
    once: asking in the same order, one waited at every model for the other (01 and 02 of a fresh ``make demo``:
    one core idle for most of their first 70 s, vmstat). Used in: lib.pipeline.lca, lib.pipeline.cca, notebook 02."""
    from lib.pipeline.cache import Busy

    found: dict[str, Activations] = {}
    busy = []
    for model in dict.fromkeys(models):
        try:
            found[model] = get_activations(profile, model, corpus, progress=progress, wait=False)
        except Busy:
            busy.append(model)
    for model in busy:
        found[model] = get_activations(profile, model, corpus, progress=progress)
    return {model: found[model] for model in models}


def probe_data(profile: str | Profile, model: str, corpus: str | os.PathLike, prop: str, aggregation: str = "last") -> ProbeData:
    """Activations, labels of ``prop`` and words of the profile's train / dev / test sentences
    (``lib.pipeline.properties.split_sentences``); only those rows are read from the memory map. The activation
    arrays are shared by every property of the same store and split (:func:`_split_acts`): treat them as read-only."""
    from lib.pipeline.properties import split_sentences

    activations = get_activations(profile, model, corpus, aggregation)
    labels, words = activations.labels(prop), np.asarray(activations.words)
    split = split_sentences(len(activations.sentences), profile)
    parts = (split.train, split.dev, split.test)

    def groups(sentence_ids: np.ndarray) -> np.ndarray:
        return np.repeat(sentence_ids, np.diff(activations.sentence_offsets)[sentence_ids])

    rows = [activations.rows(ids) for ids in parts]
    return ProbeData(*((acts, labels[r], words[r]) for acts, r in zip(_split_acts(activations, rows), rows)),
                     groups=tuple(groups(ids) for ids in parts))


_KEPT_SPLIT: dict = {}  # the last store's split activations: {"key": (store, row digests), "acts": (train, dev, test)}


def _split_acts(activations: Activations, rows: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """The float32 activations at each part's ``rows``, kept for the last (store, split) asked for: every
    property of a model reads the same rows, and handing out the same arrays lets ``lib.methods.probing`` reuse
    their standardised design. Reading them took 0.5 (en→de) and 1.1-2.5 CPU-s (MiniLM), standardising them
    0.35 and 1.5-1.8 CPU-s, in each of the 30 LCA probes and 15 summaries of a demo run."""
    key = (str(activations.folder), tuple(hashlib.blake2b(r.tobytes(), digest_size=16).hexdigest() for r in rows))
    if _KEPT_SPLIT.get("key") != key:
        _KEPT_SPLIT.clear()
        _KEPT_SPLIT.update(key=key, acts=tuple(np.asarray(activations.acts[r], dtype=np.float32) for r in rows))
    return _KEPT_SPLIT["acts"]


def neuron_activations(activations: Activations, neuron: int, sentence_ids) -> list[np.ndarray]:
    """The activation of one ``neuron`` at every word of each of ``sentence_ids``: one float32 array per sentence.
    Used in: 07_neuron_explorer (activation heat-maps over text)."""
    neuron = int(activations.neuron_map.check([neuron])[0])
    rows = activations.rows(sentence_ids)
    values = np.asarray(activations.acts[rows, neuron], dtype=np.float32)
    lengths = np.diff(activations.sentence_offsets)[np.asarray(sentence_ids, dtype=np.int64).reshape(-1)]
    return np.split(values, np.cumsum(lengths)[:-1])


def _weights_digest(model: torch.nn.Module) -> str:
    """A hash of the model's weights, so activations of a retrained model are never mistaken for the old ones."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _words_digest(sentences: Sequence[Sentence]) -> str:
    """A hash of the corpus words and sentence boundaries."""
    return hashlib.blake2b("\n".join("\t".join(s.words) for s in sentences).encode(), digest_size=16).hexdigest()
