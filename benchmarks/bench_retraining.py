"""Retraining probes on subsets of neurons from zero (before) against from the all-neuron probe's weights (ours).

Top / random / bottom retraining and the minimal-set search retrain one probe per neuron set; the converged solver
reaches the same optimum from either start, so starting from the LCA probe's weights on the kept neurons only saves
iterations. Runs both, in one process, for top sets of growing size, on synthetic probe data or (``--model``) on a
model's cached probe data with its profile's probe settings; prints iterations, seconds, the objective gap between
the two and the ratio.

    .venv/bin/python benchmarks/bench_retraining.py [--words 40000 --neurons 512 --labels 15 --tol 1e-3 --l2 1e-3]
    .venv/bin/python benchmarks/bench_retraining.py --profile demo --model en-de --prop morph   # after make demo
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.methods.ablation import retrain  # noqa: E402
from lib.methods.probing import ProbeSettings, synthetic_splits, train_probe  # noqa: E402
from lib.methods.ranking import global_order, top  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=40000)
    parser.add_argument("--neurons", type=int, default=512)
    parser.add_argument("--labels", type=int, default=15)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--model", help="a model whose probe data is cached (e.g. en-de after make demo)")
    parser.add_argument("--corpus", default="brown")
    parser.add_argument("--prop", default="morph")
    args = parser.parse_args()
    if args.model:
        from lib.pipeline.extraction import probe_data
        from lib.pipeline.lca import probe_settings

        settings, data = probe_settings(args.profile), probe_data(args.profile, args.model, args.corpus, args.prop)
        print(f"{args.model} · {args.corpus} · {args.prop} ({args.profile}): ", end="")
    else:
        # weak planted signal and an L2 penalty: the synthetic words are otherwise separable, the optimum lies at
        # infinity and "converged" only means the gradient got flat, from either start
        settings = ProbeSettings(l1=1e-5, l2=args.l2, tol=args.tol, seed=3)
        data, _ = synthetic_splits(n_words=args.words, n_neurons=args.neurons, n_labels=args.labels, planted=8,
                                   signal=0.5, seed=4)
    full = train_probe(*data.train[:2], settings=settings, progress=False)
    order = global_order(full.scaled_weights)
    words, neurons = data.train[0].shape
    print(f"{words} words, {neurons} neurons, {len(full.classes)} labels, tol {settings.tol}; all-neuron probe: "
          f"{full.epochs_run:.0f} iterations")
    total = {"cold": 0.0, "warm": 0.0}
    for pct in (10, 20, 50, 80):
        keep, row = top(order, pct), {}
        for name, start in (("cold", None), ("warm", full)):
            began = time.perf_counter()
            probe = retrain(data, keep, settings, start)
            row[name] = (probe.epochs_run, time.perf_counter() - began, probe.objective)
            total[name] += row[name][1]
        (ci, cs, co), (wi, ws, wo) = row["cold"], row["warm"]
        print(f"top {pct:3d} % ({keep.size:4d} neurons): from zero {ci:4.0f} it {cs:6.2f} s | from the probe "
              f"{wi:4.0f} it {ws:6.2f} s | objective {(wo - co) / co:+.2e} | {cs / ws:.1f}×")
    print(f"all sets: {total['cold']:.1f} s from zero, {total['warm']:.1f} s from the probe: "
          f"{total['cold'] / total['warm']:.1f}×")


if __name__ == "__main__":
    main()
