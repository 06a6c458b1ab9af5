"""Neurons and their names: a global neuron id ↔ (layer, direction, unit) of the model it belongs to.

Every method takes activations whose columns are global neuron ids; a ``NeuronMap`` names them ("L1-fwd-17") and
turns a set of ids into the 0/1 mask a model multiplies its hidden states with when neurons are ablated.
Used in: every notebook (neuron names), 03_ablation_in_the_model (masks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
from torch import Tensor

DIRECTION_NAMES = ("fwd", "bwd")


@dataclass(frozen=True)
class NeuronMap:
    """Global neuron ids ↔ (layer, direction, unit), all 0-based; ``names()`` number layers from 1 ("L1-fwd-17")."""

    layers: int
    directions: int
    units: int

    @property
    def size(self) -> int:
        """Number of neurons."""
        return self.layers * self.directions * self.units

    def to_id(self, layer, direction, unit):
        """Global id(s) of (layer, direction, unit); scalars or arrays of equal shape."""
        layer, direction, unit = (np.asarray(v) for v in (layer, direction, unit))
        for name, value, bound in (("layer", layer, self.layers), ("direction", direction, self.directions),
                                   ("unit", unit, self.units)):
            if np.any((value < 0) | (value >= bound)):
                raise ValueError(f"{name} out of range: valid {name}s are 0..{bound - 1}")
        ids = (layer * self.directions + direction) * self.units + unit
        return int(ids) if ids.ndim == 0 else ids

    def from_id(self, ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(layer, direction, unit) arrays of the global ``ids``."""
        ids = self.check(ids)
        return ids // (self.directions * self.units), ids // self.units % self.directions, ids % self.units

    def names(self) -> list[str]:
        """One name per neuron in id order: "L1-fwd-17" (bidirectional) or "L2-17" (unidirectional)."""
        layer, direction, unit = self.from_id(np.arange(self.size))
        if self.directions == 1:
            return [f"L{l + 1}-{u}" for l, u in zip(layer, unit)]
        return [f"L{l + 1}-{DIRECTION_NAMES[d]}-{u}" for l, d, u in zip(layer, direction, unit)]

    def check(self, ids) -> np.ndarray:
        """``ids`` as an int64 array; any id outside 0..size-1 raises a ``ValueError`` naming the valid range."""
        ids = np.asarray(ids if isinstance(ids, (np.ndarray, int, np.integer)) else list(ids), dtype=np.int64)
        bad = ids[(ids < 0) | (ids >= self.size)]
        if bad.size:
            raise ValueError(f"neuron id(s) {bad[:5].tolist()} out of range: this model's neuron ids are "
                             f"0..{self.size - 1} ({self.layers} layers × {self.directions} directions × "
                             f"{self.units} units)")
        return ids

    def keep_mask(self, zero: Iterable[int] | None, device=None) -> Tensor | None:
        """1/0 mask [layers, directions, units] with 0 at the neurons in ``zero``; ``None`` when ``zero`` is None."""
        if zero is None:
            return None
        keep = torch.ones(self.size, device=device)
        keep[torch.as_tensor(self.check(zero), device=device)] = 0.0
        return keep.view(self.layers, self.directions, self.units)
