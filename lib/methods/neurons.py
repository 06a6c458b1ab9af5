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
        return check_ids(ids, self.size, f"{self.layers} layers × {self.directions} directions × {self.units} units")

    def ablation(self, zero: Iterable[int] | Ablation | None) -> Ablation | None:
        """``zero`` (neuron ids to zero, or an :class:`Ablation`) as a checked :class:`Ablation`; None stays None."""
        if zero is None:
            return None
        if isinstance(zero, Ablation):
            return Ablation(self.check(zero.ids), zero.values)
        return Ablation(self.check(zero))

    def masks(self, zero: Iterable[int] | Ablation | None, device=None) -> tuple[Tensor | None, Tensor | None]:
        """What a model does to its hidden states h [layers, directions, units] to ablate ``zero``:
        ``h · keep + fill``. ``keep`` is 0 at the ablated neurons and 1 elsewhere; ``fill`` holds their replacement
        values (None when they are zeroed). Both None when ``zero`` is None (nothing ablated)."""
        ablation = self.ablation(zero)
        if ablation is None:
            return None, None
        ids = torch.as_tensor(ablation.ids, device=device)
        keep = torch.ones(self.size, device=device)
        keep[ids] = 0.0
        fill = None
        if ablation.values is not None:
            fill = torch.zeros(self.size, device=device)
            fill[ids] = torch.as_tensor(ablation.values, dtype=torch.float32, device=device)
            fill = fill.view(self.layers, self.directions, self.units)
        return keep.view(self.layers, self.directions, self.units), fill


def check_ids(ids, size: int, layout: str) -> np.ndarray:
    """``ids`` (an int, an array or any iterable) as an int64 array; an id outside 0..size-1 raises a ``ValueError``
    naming the valid range and the model's ``layout``. Shared by every neuron map."""
    ids = np.asarray(ids if isinstance(ids, (np.ndarray, int, np.integer)) else list(ids), dtype=np.int64)
    bad = ids[(ids < 0) | (ids >= size)]
    if bad.size:
        raise ValueError(f"neuron id(s) {bad[:5].tolist()} out of range: this model's neuron ids are 0..{size - 1} "
                         f"({layout})")
    return ids


@dataclass(frozen=True, eq=False)
class Ablation:
    """Neurons to ablate inside a model and what they output instead: ``ids`` (global ids) and ``values`` (one per
    id, e.g. the neuron's mean activation: mean ablation), or ``values=None`` for zeroing (the paper's choice).

    Mean ablation removes a neuron's information without shifting the network by a constant, which matters for
    saturated units whose zero is far from anything they ever output. Used in: 03_ablation_in_the_model.
    """

    ids: np.ndarray
    values: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.values is not None and np.shape(self.values) != np.shape(self.ids):
            raise ValueError(f"an ablation needs one value per neuron: {np.size(self.ids)} ids, "
                             f"{np.size(self.values)} values")
