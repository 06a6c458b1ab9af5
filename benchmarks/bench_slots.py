"""One-thread probes of two notebooks at once: every process computing together (before) against each computing only
while it holds a CPU slot (``lib.pipeline.workers.cpu_slot``, one per core: ours).

Two notebooks side by side each start one worker per core, so a 2-core machine time-slices four probes, which evict
each other's matrices from the caches. Starts ``--processes`` spawned processes (default: twice the cores) that each
train the same probe on seeded synthetic data, first all at once, then through the slots, and prints the CPU seconds
each probe took (its own process time) and the wall time of the batch, both ways, and their ratios.

    .venv/bin/python benchmarks/bench_slots.py                                        # MiniLM's width
    .venv/bin/python benchmarks/bench_slots.py --neurons 512                          # the demo LSTMs' width
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.methods.probing import ProbeSettings, synthetic_splits, train_probe  # noqa: E402
from lib.pipeline.workers import cpu_slot  # noqa: E402


def probe_cpu(task: tuple) -> float:
    """CPU seconds of one probe on the seeded data ``task`` describes, inside a slot when ``task`` names a folder."""
    words, neurons, labels, folder = task
    data, _ = synthetic_splits(n_words=words, n_neurons=neurons, n_labels=labels, planted=2, seed=0)
    settings = ProbeSettings(tol=1e-3, seed=0)

    def fit() -> float:
        start = time.process_time()
        train_probe(data.train[0], data.train[1], settings=settings, progress=False)
        return time.process_time() - start

    if folder is None:
        return fit()
    with cpu_slot(folder=Path(folder)):
        return fit()


def batch(tasks: list[tuple]) -> tuple[float, float]:
    """Mean CPU seconds per probe and wall seconds of ``tasks`` run in one spawned process each."""
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(len(tasks)) as pool:
        seconds = pool.map(probe_cpu, tasks)
    return sum(seconds) / len(seconds), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=82000)
    parser.add_argument("--neurons", type=int, default=2688)
    parser.add_argument("--labels", type=int, default=15)
    parser.add_argument("--processes", type=int, default=2 * (os.cpu_count() or 1))
    args = parser.parse_args()
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    shape = (args.words, args.neurons, args.labels)
    print(f"{args.processes} one-thread probes of {args.words} words × {args.neurons} neurons × {args.labels} labels "
          f"on {os.cpu_count()} cores")
    together = batch([(*shape, None)] * args.processes)
    with tempfile.TemporaryDirectory() as folder:
        slotted = batch([(*shape, folder)] * args.processes)
    for name, (cpu, wall) in (("all at once", together), ("CPU slots", slotted)):
        print(f"{name:12} {cpu:7.1f} CPU-s per probe  {wall:7.1f} s wall")
    print(f"CPU per probe: {together[0] / slotted[0]:.2f}× less with slots; wall {together[1] / slotted[1]:.2f}×")


if __name__ == "__main__":
    main()
