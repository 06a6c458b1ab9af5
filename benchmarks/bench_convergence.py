"""How far from the optimum does a probe stop, and does it matter? The LCA probe trained from zero at several
stopping tolerances, in one process on one model's cached probe data: iterations, seconds, the objective reached,
test accuracy and the overlap of its top-10 % neurons with those of the tightest run.

The stopping rule bounds the largest entry of the minimum-norm subgradient, not the distance to the optimum: on a
nearly separable property (a strong model's POS) with the paper's tiny λ the objective is flat far from its
minimum, and a loose tolerance stops well above it. This measures by how much, and what it changes downstream.

    .venv/bin/python benchmarks/bench_convergence.py --profile demo --model minilm --prop pos
    .venv/bin/python benchmarks/bench_convergence.py --profile demo --model en-de --prop pos --control
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.methods.probing import accuracy, train_probe  # noqa: E402
from lib.methods.ranking import global_order, jaccard, top  # noqa: E402
from lib.methods.selectivity import control_splits  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--model", default="en-de")
    parser.add_argument("--corpus", default="brown")
    parser.add_argument("--prop", default="pos")
    parser.add_argument("--tols", type=float, nargs="*", default=[1e-3, 3e-4, 1e-4])
    parser.add_argument("--control", action="store_true", help="the property's control task instead")
    args = parser.parse_args()
    from lib.pipeline.extraction import probe_data
    from lib.pipeline.lca import probe_settings

    settings, data = probe_settings(args.profile), probe_data(args.profile, args.model, args.corpus, args.prop)
    if args.control:
        data = control_splits(data, settings.seed)
    words, neurons = data.train[0].shape
    print(f"{args.model} · {args.corpus} · {args.prop}{' (control task)' if args.control else ''} "
          f"({args.profile}): {words} words × {neurons} neurons, λ1 {settings.l1:g}, λ2 {settings.l2:g}")
    runs = []
    for tol in sorted(args.tols, reverse=True):
        began = time.perf_counter()
        probe = train_probe(*data.train[:2], settings=dataclasses.replace(settings, tol=tol), progress=False)
        runs.append((tol, probe, time.perf_counter() - began))
    tightest = runs[-1][1]
    best_top = top(global_order(tightest.scaled_weights), 10)
    for tol, probe, seconds in runs:
        gap = 100 * (probe.objective / tightest.objective - 1)
        print(f"tol {tol:7.0e}: {probe.epochs_run:5.0f} iterations {seconds:7.1f} s  objective {probe.objective:.5f} "
              f"({gap:+6.2f} % against tol {runs[-1][0]:g})  test accuracy "
              f"{accuracy(probe, *data.test[:2]):.4f}  top-10 % Jaccard with tol {runs[-1][0]:g}: "
              f"{jaccard(top(global_order(probe.scaled_weights), 10), best_top):.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
