"""Cost and resolution of the minimal-set search: how many probes each search retrains, and what size it finds.

Runs, in one process, on synthetic probe data with one planted neuron per label ordered first (so the true minimal
set is known): the former search (5 % steps, bisection), the exact scan over every neuron count up to the answer,
and ours (every count up to 32, then 1 % steps, bisection); prints the size found, retrainings, seconds and the
ratios to the scan. The probe is trained without early stopping, so accuracy grows along the order as bisection
assumes.

    .venv/bin/python benchmarks/bench_minimal_set.py [--neurons 512 --labels 12]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.methods.ablation import minimal_set, retrained_accuracy  # noqa: E402
from lib.methods.probing import ProbeSettings, synthetic_splits  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=512)
    parser.add_argument("--labels", type=int, default=12)
    parser.add_argument("--words", type=int, default=6000)
    args = parser.parse_args()
    # trained to the end of its epochs (no early stopping on the small dev split): bisection assumes accuracy grows
    # along the order, which an early-stopped probe's noise can break (see the minimal_set docstring)
    settings = ProbeSettings(epochs=30, batch_size=256, lr=2e-2, seed=3, patience=10_000)
    data, ids = synthetic_splits(n_words=args.words, n_neurons=args.neurons, n_labels=args.labels, planted=1,
                                 signal=3.0, seed=4)
    planted = ids.ravel()
    order = np.concatenate([planted, np.setdiff1d(np.arange(args.neurons), planted)])
    target = retrained_accuracy(data, planted, settings)
    searches = {"5 % steps, bisect (before)": dict(step_pct=5.0, exact_up_to=0),
                "every count, scan (exact)": dict(search="scan", exact_up_to=args.neurons),
                "1..32 then 1 %, bisect (ours)": dict(exact_up_to=32)}
    print(f"{args.neurons} neurons, {args.labels} labels, planted minimal set: {planted.size} neurons; "
          f"target accuracy {target:.3f}, δ 0.01")
    results = {}
    for name, kwargs in searches.items():
        start = time.perf_counter()
        found = minimal_set(data, order, settings, target, 0.01, **kwargs)
        results[name] = (found.neurons, found.retrainings, time.perf_counter() - start)
    scan = results["every count, scan (exact)"]
    for name, (neurons, retrainings, seconds) in results.items():
        print(f"{name:32s} found {neurons:4d}  retrainings {retrainings:4d} ({retrainings / scan[1]:.2f}× scan)  "
              f"{seconds:6.2f} s ({seconds / scan[2]:.2f}× scan)")


if __name__ == "__main__":
    main()
