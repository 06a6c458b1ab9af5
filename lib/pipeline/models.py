"""The analysed models: an attentional LSTM encoder-decoder (NMT) and an LSTM language model, both able to zero any
set of neurons while they run.

A *neuron* is one unit of one direction of one LSTM layer; its global id orders neurons layer by layer, then
direction (forward, backward), then unit, which is also the order in which :meth:`NMT.states` / :meth:`LM.states`
concatenate the hidden states. Zeroing a neuron sets its hidden output h_t to exactly 0 at every time step: in its
own layer's recurrence (the zeroed h_t is what the next step reads), as input to the next layer, and in everything
downstream (attention, decoder initialisation, softmax). The cell state c_t is left untouched: the unit still
computes its memory, but nothing ever reads that memory except through the zeroed h_t.
Mean ablation (``zero`` a ``lib.methods.neurons.Ablation`` with values) sets h_t to a fixed value per neuron
instead of 0, everywhere the zero would go.
Zeroing runs the fused ``nn.LSTM`` (:func:`zeroed_lstm`: the recurrence stops reading the zeroed units, their outputs
are zeroed after the layer); mean ablation runs the same weights step by step (:func:`stepwise_lstm`), and so does an
independent reference in the tests. Only the encoder is ever masked, never the decoder.
Used in: 00_data_and_models, 03_ablation_in_the_model, extraction of activations.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lib.methods.neurons import NeuronMap
from lib.pipeline.subwords import BOS, PAD


def fused_lstm(lstm: nn.LSTM, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """One (bi)LSTM layer over padded ``x`` [batch, time, in] with the fused kernel.

    Returns outputs [batch, time, directions × hidden] (0 past each length) and final h [directions, batch, hidden].
    """
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, (h, _) = lstm(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, h


def _suffixes(lstm: nn.LSTM) -> tuple[str, ...]:
    """The name endings of a one-layer LSTM's weights, one per direction (forward, then backward)."""
    return ("", "_reverse")[: 2 if lstm.bidirectional else 1]


def zeroed_lstm(lstm: nn.LSTM, x: Tensor, lengths: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`fused_lstm` with the units where ``keep`` ([directions, hidden]) is 0 zeroed at every step, by the
    fused kernel: a zeroed h_t adds nothing to the next step's gates, which is what a recurrence whose weights from
    those units are 0 computes; the units' own outputs (and final h) are then zeroed. An en→de ablation point
    (1,000 sentences, greedy) takes 3.2 CPU-seconds so, 3.8 with the encoder run step by step."""
    masked = copy.deepcopy(lstm)
    with torch.no_grad():
        for direction, suffix in enumerate(_suffixes(lstm)):
            getattr(masked, f"weight_hh_l0{suffix}").mul_(keep[direction][None, :])
    out, h = fused_lstm(masked, x, lengths)
    return out * keep.reshape(-1), h * keep[:, None, :]


def stepwise_lstm(lstm: nn.LSTM, x: Tensor, lengths: Tensor, keep: Tensor, fill: Tensor) -> tuple[Tensor, Tensor]:
    """The same layer as :func:`fused_lstm`, step by step, with h_t replaced by h_t · ``keep`` + ``fill`` (each
    [directions, hidden]): mean ablation, whose held value the next step reads (the fused kernel cannot).

    Both directions advance together (one batched matmul per step); the backward direction reads time reversed,
    and a state is frozen past a sequence's end so the final h equals the packed fused one. c_t is not masked.
    """
    suffixes = _suffixes(lstm)
    w_ih = torch.stack([getattr(lstm, f"weight_ih_l0{s}") for s in suffixes])
    w_hh = torch.stack([getattr(lstm, f"weight_hh_l0{s}") for s in suffixes]).transpose(1, 2)
    bias = torch.stack([getattr(lstm, f"bias_ih_l0{s}") + getattr(lstm, f"bias_hh_l0{s}") for s in suffixes])
    batch, time, _ = x.shape
    valid = torch.arange(time, device=x.device)[None, :] < lengths.to(x.device)[:, None]
    projected = torch.einsum("bti,dgi->dbtg", x, w_ih) + bias[:, None, None, :]
    if len(suffixes) == 2:
        projected = torch.stack([projected[0], projected[1].flip(1)])
        valid = torch.stack([valid, valid.flip(1)])
    else:
        valid = valid[None]
    valid = valid.unsqueeze(-1)
    keep = keep[:, None, :]
    fill = fill[:, None, :]
    h = x.new_zeros(len(suffixes), batch, lstm.hidden_size)
    c = torch.zeros_like(h)
    outputs = []
    for t in range(time):
        i, f, g, o = (projected[:, :, t] + torch.bmm(h, w_hh)).chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(c_new) * keep + fill
        step_valid = valid[:, :, t]
        c = torch.where(step_valid, c_new, c)
        h = torch.where(step_valid, h_new, h)
        outputs.append(h_new * step_valid)
    out = torch.stack(outputs, dim=2)
    if len(suffixes) == 2:
        out = torch.stack([out[0], out[1].flip(1)])
    return out.permute(1, 2, 0, 3).reshape(batch, time, -1), h


class LSTMStack(nn.Module):
    """Embeddings + ``layers`` single-layer (bi)LSTMs, so every layer's states are visible and maskable."""

    def __init__(self, vocab: int, emb: int, hidden: int, layers: int, dropout: float, bidirectional: bool):
        super().__init__()
        directions = 2 if bidirectional else 1
        self.embed = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.lstms = nn.ModuleList(
            nn.LSTM(emb if layer == 0 else hidden * directions, hidden, batch_first=True, bidirectional=bidirectional)
            for layer in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.neuron_map = NeuronMap(layers, directions, hidden)

    def forward(self, src: Tensor, lengths: Tensor, zero: Iterable[int] | None = None
                ) -> tuple[list[Tensor], list[Tensor]]:
        """Per layer: outputs [batch, time, directions × hidden] and final h [directions, batch, hidden]."""
        keep, fill = self.neuron_map.masks(zero, src.device)
        x = self.dropout(self.embed(src))
        outputs, finals = [], []
        for layer, lstm in enumerate(self.lstms):
            if keep is None:
                out, h = fused_lstm(lstm, x, lengths)
            elif fill is None:
                out, h = zeroed_lstm(lstm, x, lengths, keep[layer])
            else:
                out, h = stepwise_lstm(lstm, x, lengths, keep[layer], fill[layer])
            outputs.append(out)
            finals.append(h)
            x = self.dropout(out)
        return outputs, finals


@dataclass(frozen=True)
class Memory:
    """What the decoder reads from the encoder: attention keys [batch, src, hidden], values [batch, src, 2·hidden],
    the source mask [batch, src] (True at real pieces)."""

    keys: Tensor
    values: Tensor
    mask: Tensor

    def select(self, rows: Tensor) -> "Memory":
        """The memory of the sentences ``rows`` (a boolean mask or indices over the batch) only."""
        return Memory(*(t[rows] for t in (self.keys, self.values, self.mask)))

    def repeat(self, times: int) -> "Memory":
        """Each sentence repeated ``times`` times in a row (for beam search)."""
        return Memory(*(t.repeat_interleave(times, dim=0) for t in (self.keys, self.values, self.mask)))


class NMT(nn.Module):
    """Encoder: embeddings + bidirectional LSTM layers. Decoder: LSTM layers initialised from the encoder's final
    h (through a tanh bridge), Luong "general" attention of its top layer over the encoder's top layer, and an
    attentional layer tanh(W[h; context]) before the softmax. No input feeding: the attentional vector is not fed
    back, so teacher-forced training runs the fused decoder LSTM over the whole target at once (several times
    faster on a CPU)."""

    def __init__(self, src_vocab: int, tgt_vocab: int, emb: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.encoder = LSTMStack(src_vocab, emb, hidden, layers, dropout, bidirectional=True)
        self.tgt_embed = nn.Embedding(tgt_vocab, emb, padding_idx=PAD)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.LSTM(emb, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0,
                               batch_first=True)
        self.attention = nn.Linear(2 * hidden, hidden, bias=False)
        self.combine = nn.Linear(3 * hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, tgt_vocab)

    @property
    def neuron_map(self) -> NeuronMap:
        """The encoder's neurons (all layers × both directions)."""
        return self.encoder.neuron_map

    def states(self, src: Tensor, lengths: Tensor, zero: Iterable[int] | None = None) -> Tensor:
        """Encoder hidden states [batch, time, neurons] in global-id order (0 past each length).

        ``src`` [batch, time] holds piece ids without specials; row t is the state after reading piece t.
        """
        outputs, _ = self.encoder(src, lengths, zero)
        return torch.cat(outputs, dim=-1)

    def encode(self, src: Tensor, lengths: Tensor, zero: Iterable[int] | None = None
               ) -> tuple[Memory, tuple[Tensor, Tensor]]:
        """Attention memory and the decoder's initial (h, c), each [layers, batch, hidden]."""
        outputs, finals = self.encoder(src, lengths, zero)
        top = outputs[-1]
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < lengths.to(src.device)[:, None]
        h0 = torch.stack([torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1))) for h in finals])
        return Memory(self.attention(top), top, mask), (h0, torch.zeros_like(h0))

    def decode(self, tgt_in: Tensor, memory: Memory, state: tuple[Tensor, Tensor]
               ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Logits [batch, time, tgt_vocab] for target inputs ``tgt_in`` [batch, time], and the new state."""
        features, state = self.decode_features(tgt_in, memory, state)
        return self.out(features), state

    def decode_features(self, tgt_in: Tensor, memory: Memory, state: tuple[Tensor, Tensor]
                        ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """What the output layer reads: attentional vectors [batch, time, hidden] (dropout applied), new state."""
        h, state = self.decoder(self.dropout(self.tgt_embed(tgt_in)), state)
        scores = torch.bmm(h, memory.keys.transpose(1, 2)).masked_fill(~memory.mask[:, None, :], float("-inf"))
        context = torch.bmm(torch.softmax(scores, dim=-1), memory.values)
        attentional = torch.tanh(self.combine(torch.cat([h, context], dim=-1)))
        return self.dropout(attentional), state

    def features(self, src: Tensor, lengths: Tensor, tgt_in: Tensor, zero: Iterable[int] | None = None) -> Tensor:
        """Teacher-forced inputs of the output layer [batch, tgt_time, hidden]: training projects only the rows of
        real target pieces through ``self.out`` (the largest matmul), skipping padding."""
        memory, state = self.encode(src, lengths, zero)
        return self.decode_features(tgt_in, memory, state)[0]

    def forward(self, src: Tensor, lengths: Tensor, tgt_in: Tensor, zero: Iterable[int] | None = None) -> Tensor:
        """Teacher-forced logits [batch, tgt_time, tgt_vocab]."""
        return self.out(self.features(src, lengths, tgt_in, zero))


class LM(nn.Module):
    """Language model: embeddings + unidirectional LSTM layers + softmax over the next piece."""

    def __init__(self, vocab: int, emb: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.encoder = LSTMStack(vocab, emb, hidden, layers, dropout, bidirectional=False)
        self.out = nn.Linear(hidden, vocab)

    @property
    def neuron_map(self) -> NeuronMap:
        """The LM's neurons (all layers, one direction)."""
        return self.encoder.neuron_map

    def features(self, inp: Tensor, lengths: Tensor, zero: Iterable[int] | None = None) -> Tensor:
        """Inputs of the output layer [batch, time, hidden] for ``inp`` [batch, time] (dropout applied)."""
        outputs, _ = self.encoder(inp, lengths, zero)
        return self.encoder.dropout(outputs[-1])

    def forward(self, inp: Tensor, lengths: Tensor, zero: Iterable[int] | None = None) -> Tensor:
        """Next-piece logits [batch, time, vocab] for ``inp`` [batch, time] (starting with bos)."""
        return self.out(self.features(inp, lengths, zero))

    def states(self, src: Tensor, lengths: Tensor, zero: Iterable[int] | None = None) -> Tensor:
        """Hidden states [batch, time, neurons] in global-id order, row t after reading piece t of ``src``.

        ``src`` holds piece ids without specials; bos is prepended inside (as in training) and its row dropped.
        """
        inp = F.pad(src, (1, 0), value=BOS)
        outputs, _ = self.encoder(inp, lengths + 1, zero)
        return torch.cat(outputs, dim=-1)[:, 1:]
