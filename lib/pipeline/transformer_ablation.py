"""Ablation inside a transformer: forward hooks that zero chosen neurons, or replace them by their mean activation,
while the model runs; and the task measure each kind of model gets.

A hidden-state neuron of layer l is ablated where the next block reads it (the embedding output as the first
block's input, block l's output as block l+1's input and the final output), a feed-forward neuron where the block's
second linear layer reads it, so everything downstream sees the ablated value. The measure: **perplexity** where
the model has a language-model head (GPT-2 style decoders); for an encoder without one (MiniLM) the **accuracy of a
probe trained on a later layer's clean activations** when neurons of earlier layers are ablated — the encoder's own
"task" is the representation it hands on, and this asks how much of what the later layer encodes about a property
flows through the ablated neurons (the probe is fixed, so the model cannot route around them as a retrained probe
would). Used in: 08_your_own_model.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from lib.methods.probing import Probe, predict
from lib.pipeline.transformer import Transformer, _hook, extract, plan_chunks


@contextlib.contextmanager
def ablated(transformer: Transformer, zero: Sequence[int], means: np.ndarray | None = None) -> Iterator[None]:
    """Within the block, neurons ``zero`` (global ids) are set to 0, or to ``means[neuron]`` when ``means``
    [neurons] (e.g. each neuron's mean activation over training words) is given, in every forward pass.
    The neurons' own layer computes them as usual; only what reads them sees the ablated value."""
    nmap = transformer.neuron_map
    zero = np.unique(nmap.check(zero))
    if means is not None and np.shape(means) != (nmap.size,):
        raise ValueError(f"means must hold one value per neuron ({nmap.size}), got shape {np.shape(means)}")
    handles = []
    try:
        for module, is_input, ids in transformer.points():
            local = np.flatnonzero(np.isin(ids, zero))
            if local.size:
                value = None if means is None else torch.as_tensor(np.asarray(means)[ids[local]], dtype=torch.float32)
                handles.append(_hook(module, is_input, _setter(torch.as_tensor(local), value)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _setter(local: torch.Tensor, value: torch.Tensor | None):
    """An edit that sets units ``local`` of the last axis to 0 or to ``value``, on a copy."""
    def edit(x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[..., local.to(x.device)] = 0 if value is None else value.to(x.device, x.dtype)
        return x
    return edit


def perplexity(transformer: Transformer, sentences: Sequence[Sequence[str]], zero: Sequence[int] = (),
               means: np.ndarray | None = None, batch_size: int = 32) -> float:
    """Per-token perplexity of a model with a language-model head over ``sentences`` (word lists; long ones split as
    in extraction), with neurons ``zero`` ablated (zero, or mean with ``means``). Used in: 08_your_own_model."""
    if not transformer.causal_lm:
        raise ValueError(f"{transformer.location or 'this model'} has no language-model head: use probe_accuracy")
    chunks = plan_chunks(transformer, sentences)
    order = np.argsort(-chunks.n_tokens, kind="stable")
    total, count = 0.0, 0
    with torch.inference_mode(), ablated(transformer, zero, means):
        for start in range(0, order.size, batch_size):
            batch = [list(chunks.words[c]) for c in order[start:start + batch_size]]
            encoded = transformer.tokenizer(batch, is_split_into_words=True, padding=True, return_tensors="pt")
            encoded = {k: v.to(transformer.device) for k, v in encoded.items()}
            logits = transformer.model(**encoded).logits[:, :-1]
            target = encoded["input_ids"][:, 1:].masked_fill(encoded["attention_mask"][:, 1:] == 0, -100)
            total += float(F.cross_entropy(logits.transpose(1, 2).float(), target, ignore_index=-100,
                                           reduction="sum"))
            count += int((target != -100).sum())
    return math.exp(total / max(count, 1))


def probe_correct(transformer: Transformer, probe: Probe, sentences: Sequence[Sequence[str]],
                  labels: Sequence[str], layer: int, zero: Sequence[int] = (), means: np.ndarray | None = None,
                  aggregation: str = "last") -> np.ndarray:
    """Whether ``probe`` (trained on clean activations of hidden layer ``layer``, [words, units]) labels each word
    of ``sentences`` right (bool [words]; labels: one per word) when neurons ``zero`` are ablated upstream; the mean
    is the accuracy, and per-word values let callers bootstrap it over sentences. Used in: 08_your_own_model."""
    with ablated(transformer, zero, means):
        acts = extract(transformer, sentences, aggregation, progress=False)
    return predict(probe, acts[:, transformer.neuron_map.layer_ids(layer)]) == np.asarray(labels)


def probe_accuracy(transformer: Transformer, probe: Probe, sentences: Sequence[Sequence[str]],
                   labels: Sequence[str], layer: int, zero: Sequence[int] = (), means: np.ndarray | None = None,
                   aggregation: str = "last") -> float:
    """The accuracy of :func:`probe_correct`: the encoder's task measure under ablation."""
    return float(probe_correct(transformer, probe, sentences, labels, layer, zero, means, aggregation).mean())


def upstream(transformer: Transformer, order: Sequence[int], layer: int) -> np.ndarray:
    """The neurons of ``order`` (kept in order) that lie before hidden layer ``layer``: the ones whose ablation can
    change that layer (hidden states of layers < ``layer``, feed-forward neurons of blocks ≤ ``layer``)."""
    order = transformer.neuron_map.check(order)
    where, part, _ = transformer.neuron_map.from_id(order)
    return order[np.where(part == 1, where <= layer, where < layer)]
