"""What the evidence of issue 11 costs in notebook 01: the LCA step (``lib.pipeline.lca.summary``) with one probe seed
and one random draw (the design before intervals: same retrainings, no MAJ, no bootstrap) against the profile's
seeds and draws with MAJ and bootstrap intervals, plus the per-layer / embedding probes and the ranking comparison.
Both run in this process on the same data, each into a fresh cache; the ratio is what a demo run pays per
(model, property).

Synthetic data of the demo's probe shape by default (20 words per sentence, 12 labels), or real activations:

    .venv/bin/python benchmarks/bench_lca_cost.py --profile demo [--words 80000 --neurons 512]
    .venv/bin/python benchmarks/bench_lca_cost.py --profile tiny --real --model en-de --corpus brown --prop pos
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.methods.probing import synthetic_splits  # noqa: E402
from lib.pipeline import lca, profiles  # noqa: E402
from lib.pipeline.extraction import ProbeData  # noqa: E402


def load_data(args: argparse.Namespace) -> ProbeData:
    """Real probe data with ``--real``, else synthetic data with sentences of 20 words as groups."""
    if args.real:
        from lib.pipeline.extraction import probe_data

        return probe_data(args.profile, args.model, args.corpus, args.prop)
    data, _ = synthetic_splits(n_words=args.words, n_neurons=args.neurons, n_labels=12, planted=4, seed=0)
    groups = tuple(np.arange(len(part[1])) // 20 for part in (data.train, data.dev, data.test))
    return ProbeData(data.train, data.dev, data.test, groups)


def timed(step, *args, **kwargs) -> float:
    """Seconds one call of ``step`` takes, into a fresh cache folder."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["GRAINS_DATA_DIR"] = folder
        start = time.perf_counter()
        step(*args, **kwargs)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--words", type=int, default=80000)
    parser.add_argument("--neurons", type=int, default=512)
    parser.add_argument("--real", action="store_true")
    parser.add_argument("--model", default="en-de")
    parser.add_argument("--corpus", default="brown")
    parser.add_argument("--prop", default="pos")
    args = parser.parse_args()
    data = load_data(args)
    p = profiles.get_profile(args.profile)
    before = dataclasses.replace(p, probe=dataclasses.replace(p.probe, seeds=1, random_draws=1))
    n_neurons = data.train[0].shape[1]
    layers = np.arange(n_neurons) * 2 // n_neurons  # two layers, as the demo models have
    print(f"{len(data.train[1])} train / {len(data.test[1])} test words × {n_neurons} neurons, profile {p.name}")
    base = timed(lca.summary, before, args.model, args.corpus, args.prop, data)
    ours = timed(lca.summary, p, args.model, args.corpus, args.prop, data)
    print(f"LCA summary, 1 seed / 1 draw (before):            {base:7.1f} s")
    print(f"LCA summary, {p.probe.seeds} seeds / {p.probe.random_draws} draws + MAJ + intervals: {ours:7.1f} s "
          f"({ours / base:.2f}× before)")
    embedding = ProbeData(*((part[0][:, : n_neurons // 4], *part[1:]) for part in (data.train, data.dev, data.test)),
                          groups=data.groups)  # an embedding layer of a quarter the width, as in the demo
    extra = timed(lca.layer_summary, p, args.model, args.corpus, args.prop, data, layer_of=layers,
                  embedding=embedding)
    print(f"per-layer + embedding probes:                      {extra:7.1f} s ({extra / base:.2f}× before)")
    compared = timed(lca.ranking_comparison, p, args.model, args.corpus, args.prop, data)
    print(f"ranking comparison (focus pair only):              {compared:7.1f} s ({compared / base:.2f}× before)")


if __name__ == "__main__":
    main()
