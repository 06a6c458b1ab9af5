"""Is a probe converged enough for the ranking it gives? The stopping rule bounds the largest entry of the
minimum-norm subgradient, not the distance to the optimum: with the paper's tiny λ on a nearly separable property
the objective is flat far from its minimum, and where a probe stops decides which of many correlated neurons carry
the weight. Training on to a tighter tolerance from the probe's own weights shows how much of the ranking is the
objective's and how much the stopping point's (``benchmarks/bench_convergence.py`` measures it from zero).
Used in: 01_linguistic_correlation.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lib.methods.probing import Probe, ProbeSettings, accuracy, train_probe
from lib.methods.ranking import global_order, jaccard, ranking_weights, top

SETTLED = 0.9  # a top set that keeps this Jaccard overlap after training on is the objective's, not the stop's


@dataclass(frozen=True)
class Convergence:
    """The probe at its tolerance against the same probe trained on to ``tighter_tol``: objectives, test
    accuracies, the extra iterations, per percentage the Jaccard overlap of their top sets, and the tighter probe's
    top set at the first percentage (``tighter_top``, neuron ids), on which a finding can be retrained to see
    whether it survives the ranking's last changes."""

    tol: float
    tighter_tol: float
    objective: float
    tighter_objective: float
    accuracy: float
    tighter_accuracy: float
    extra_iterations: float
    jaccard: dict[str, float]
    tighter_top: tuple[int, ...] = ()

    @property
    def objective_gap(self) -> float:
        """How far above the tighter run's objective the probe stopped, as a fraction."""
        return self.objective / self.tighter_objective - 1

    @property
    def settled(self) -> bool:
        """Whether every top set kept at least :data:`SETTLED` overlap after training on."""
        return min(self.jaccard.values()) >= SETTLED

    def as_dict(self) -> dict:
        """The fields with ``objective_gap`` and ``settled``, as results files record them (JSON's lists)."""
        return {**dataclasses.asdict(self), "tighter_top": list(self.tighter_top), "objective_gap": self.objective_gap,
                "settled": self.settled}

    def text(self, what: str) -> str:
        """One sentence for a reader: how far the probe of ``what`` stopped from a tighter run, and whether its
        ranking is settled."""
        overlaps = ", ".join(f"top {pct} % {value:.2f}" for pct, value in self.jaccard.items())
        return (f"The {what} probe stopped at tol {self.tol:g}; trained on to tol {self.tighter_tol:g} "
                f"({self.extra_iterations:g} more iterations) its objective falls by {100 * self.objective_gap:.2f} % "
                f"and its test accuracy moves from {self.accuracy:.4f} to {self.tighter_accuracy:.4f}; its top sets "
                f"overlap the ones used here by (Jaccard) {overlaps}: "
                + ("the ranking is the objective's, not the stopping point's." if self.settled else
                   "**the ranking is not settled at this tolerance**: neurons near the cut trade places as the "
                   "probe converges, so read individual ranks with care (a tighter `tol` in the profile, or a "
                   "larger λ, settles it)."))


def convergence(probe: Probe, data, settings: ProbeSettings, ranking: str = "scaled",
                percentages: Sequence[float] = (10,), factor: float = 10.0) -> Convergence:
    """Train ``probe`` (trained on ``data.train`` with ``settings``) on from its own weights to ``settings.tol /
    factor`` and compare (:class:`Convergence`). Needs a converged solver (OWL-QN or FISTA)."""
    if settings.solver == "adam":
        raise ValueError("convergence: Adam has no tolerance to tighten")
    tighter_settings = dataclasses.replace(settings, tol=settings.tol / factor)
    acts, labels = np.asarray(data.train[0]), data.train[1]
    tighter = train_probe(acts, labels, settings=tighter_settings, progress=False, init=(probe.weights, probe.bias))
    orders = [global_order(ranking_weights(p, ranking)) for p in (probe, tighter)]
    test = (np.asarray(data.test[0]), data.test[1])
    return Convergence(tol=settings.tol, tighter_tol=tighter_settings.tol, objective=float(probe.objective),
                       tighter_objective=float(tighter.objective), accuracy=accuracy(probe, *test),
                       tighter_accuracy=accuracy(tighter, *test), extra_iterations=tighter.epochs_run,
                       jaccard={f"{pct:g}": jaccard(top(orders[0], pct), top(orders[1], pct)) for pct in percentages},
                       tighter_top=tuple(top(orders[1], percentages[0]).tolist()))
