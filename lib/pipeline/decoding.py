"""Batched decoding of the NMT model: greedy and beam search, optionally with neurons zeroed in the encoder.

Both decode a whole batch at once (beam search flattens batch × beam); the encoder runs once per batch, so an
encoder mask changes one encoder pass, not one per decoding step.
Used in: lib.pipeline.evaluation (BLEU, translations), 03_ablation_in_the_model.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from lib.pipeline.models import NMT
from lib.pipeline.subwords import BOS, EOS, PAD


def decode_limit(lengths: Tensor, max_len: int) -> int:
    """Longest output allowed for a batch: twice its longest source plus 10 pieces, at most ``max_len``."""
    return int(min(max_len, 2 * int(lengths.max()) + 10))


@torch.no_grad()
def greedy(model: NMT, src: Tensor, lengths: Tensor, max_len: int, zero: Iterable[int] | None = None
           ) -> list[list[int]]:
    """Most likely next piece at each step, for every sentence of ``src`` [batch, time] at once; ids up to eos.

    Sentences that reached eos leave the batch once they are a quarter of it, so the steps after them decode only
    the sentences still going (an ablation sweep translates the test set dozens of times)."""
    memory, state = model.encode(src, lengths, zero)
    limit = decode_limit(lengths, max_len)
    tokens = torch.full((src.shape[0], limit), PAD, dtype=torch.long, device=src.device)
    going = torch.arange(src.shape[0], device=src.device)
    y = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for step in range(limit):
        logits, state = model.decode(y, memory, state)
        y = logits[:, -1].argmax(-1).masked_fill(done, PAD)[:, None]
        tokens[going, step] = y[:, 0]
        done |= y[:, 0] == EOS
        if bool(done.all()):
            break
        if 4 * int(done.sum()) >= done.numel():
            keep = ~done
            going, y, done, memory = going[keep], y[keep], done[keep], memory.select(keep)
            state = (state[0][:, keep], state[1][:, keep])
    return _trim(tokens)


@torch.no_grad()
def beam_search(model: NMT, src: Tensor, lengths: Tensor, beam: int, max_len: int,
                zero: Iterable[int] | None = None, alpha: float = 1.0) -> list[list[int]]:
    """Beam search over the whole batch at once; the best hypothesis by log-probability / length**alpha.

    A finished hypothesis stays in its beam, extended only by pad at no cost, so every beam keeps ``beam`` rows.
    """
    if beam <= 1:
        return greedy(model, src, lengths, max_len, zero)
    batch, device = src.shape[0], src.device
    memory, (h, c) = model.encode(src, lengths, zero)
    memory = memory.repeat(beam)
    h, c = h.repeat_interleave(beam, dim=1), c.repeat_interleave(beam, dim=1)
    scores = torch.full((batch, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0
    y = torch.full((batch * beam, 1), BOS, dtype=torch.long, device=device)
    finished = torch.zeros(batch * beam, dtype=torch.bool, device=device)
    tokens = torch.empty(batch * beam, 0, dtype=torch.long, device=device)
    offsets = (torch.arange(batch, device=device) * beam)[:, None]
    for _ in range(decode_limit(lengths, max_len)):
        logits, (h, c) = model.decode(y, memory, (h, c))
        logp = torch.log_softmax(logits[:, -1], dim=-1)
        logp[:, PAD] = float("-inf")
        logp[:, BOS] = float("-inf")
        logp[finished] = float("-inf")
        logp[finished, PAD] = 0.0
        vocab = logp.shape[-1]
        scores, best = (scores.view(-1, 1) + logp).view(batch, beam * vocab).topk(beam, dim=1)
        rows = (offsets + best // vocab).view(-1)
        y = (best % vocab).view(-1, 1)
        tokens = torch.cat([tokens[rows], y], dim=1)
        finished = finished[rows] | (y[:, 0] == EOS)
        h, c = h[:, rows], c[:, rows]
        if bool(finished.all()):
            break
    length = (tokens != PAD).sum(1).clamp(min=1).view(batch, beam).float()
    choice = (scores / length ** alpha).argmax(1)
    return _trim(tokens.view(batch, beam, -1)[torch.arange(batch, device=device), choice])


def _trim(tokens: Tensor) -> list[list[int]]:
    """Rows of ``tokens`` cut before the first eos (and without pad)."""
    out = []
    for row in tokens.tolist():
        row = row[: row.index(EOS)] if EOS in row else row
        out.append([t for t in row if t != PAD])
    return out
