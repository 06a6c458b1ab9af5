"""Speed, memory and accuracy of the cross-model correlation rankings against the obvious per-pair loop.

Runs, in one process: the machine's float32 matrix-multiply rate (numpy and torch, which decides the CPU backend);
the baseline (``np.corrcoef`` per neuron pair) on a subsample of pairs; the whole ranking (MaxCorr, MinCorr, LinReg,
partners, SVCCA of every pair) at demo size — synthetic 4 models × 1024 neurons × 100k words as memory maps by
default, or real activations with ``--profile demo --corpus brown`` — with its time, peak memory and share of the
measured matmul rate; and float32 against float64 correlations on a slice.

    .venv/bin/python benchmarks/bench_correlation.py [--words 100000 --neurons 1024 --models 4]
    .venv/bin/python benchmarks/bench_correlation.py --profile demo --corpus brown
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.methods import correlation as cc  # noqa: E402


class AnonPeak:
    """Peak anonymous resident memory (``RssAnon``: heap of numpy and torch, not mapped files) while in the block,
    sampled every 20 ms by a thread."""

    def __enter__(self) -> "AnonPeak":
        self.start = self.peak = rss_anon()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def _poll(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, rss_anon())

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, rss_anon())


def rss_anon() -> int:
    """Anonymous resident memory of this process in bytes (Linux ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("RssAnon not found in /proc/self/status (Linux only)")


def matmul_rate(rows: int, neurons: int, repeats: int = 5) -> dict[str, float]:
    """Best GFLOP/s over ``repeats`` of a (rows × neurons)ᵀ (rows × neurons) float32 product, numpy and torch on the
    CPU (the best run, so that other work on a shared machine lowers it as little as possible)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((rows, neurons), dtype=np.float32) for _ in range(2))
    flops = 2.0 * rows * neurons * neurons
    rates = {}
    for name, product in (("numpy", lambda: a.T @ b),
                          ("torch", lambda: torch.from_numpy(a).T @ torch.from_numpy(b))):
        product()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            product()
            times.append(time.perf_counter() - start)
        rates[name] = flops / min(times) / 1e9
    return rates


def synthetic(folder: Path, models: int, words: int, neurons: int, seed: int = 0) -> list[np.memmap]:
    """Memory-mapped float32 activations: noise plus 32 shared signals per model, written in row chunks."""
    rng = np.random.default_rng(seed)
    maps = [np.lib.format.open_memmap(folder / f"{m}.npy", mode="w+", dtype=np.float32, shape=(words, neurons))
            for m in range(models)]
    for lo in range(0, words, 20_000):
        hi = min(lo + 20_000, words)
        signal = rng.standard_normal((hi - lo, 32), dtype=np.float32)
        for m, mm in enumerate(maps):
            block = rng.standard_normal((hi - lo, neurons), dtype=np.float32)
            block[:, m * 7:m * 7 + 32] += 2 * signal
            mm[lo:hi] = block
    for mm in maps:
        mm.flush()
    return [np.load(folder / f"{m}.npy", mmap_mode="r") for m in range(models)]


def real(profile: str, corpus: str) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """The profile's activations over ``corpus`` (memory maps from lib.pipeline.extraction)."""
    from lib.pipeline.extraction import get_activations
    from lib.pipeline.profiles import get_profile

    names = get_profile(profile).models
    return [get_activations(profile, m, corpus).acts for m in names], names


def per_pair_baseline(acts: list[np.ndarray], pairs: int, seed: int = 0) -> float:
    """Seconds per neuron pair of the obvious loop: ``np.corrcoef`` of two neurons over all words."""
    rng = np.random.default_rng(seed)
    left = np.asarray(acts[0][:, rng.integers(0, acts[0].shape[1], pairs)], dtype=np.float64)
    right = np.asarray(acts[1][:, rng.integers(0, acts[1].shape[1], pairs)], dtype=np.float64)
    start = time.perf_counter()
    for k in range(pairs):
        np.corrcoef(left[:, k], right[:, k])
    return (time.perf_counter() - start) / pairs


def product_flops(n: int, sizes: list[int], within: bool) -> float:
    """Floating-point operations of the blocked products: every pair of models (and each with itself if ``within``)."""
    return float(sum(2.0 * n * sizes[a] * sizes[b] for a in range(len(sizes))
                     for b in range(a if within else a + 1, len(sizes))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--neurons", type=int, default=1024)
    parser.add_argument("--words", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=300, help="neuron pairs timed for the per-pair baseline")
    parser.add_argument("--profile", help="use this profile's real activations instead of synthetic ones")
    parser.add_argument("--corpus", default="brown")
    parser.add_argument("--max-bytes", type=int, default=cc.DEFAULT_MAX_BYTES)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.profile:
            acts, names = real(args.profile, args.corpus)
            source = f"{args.profile} activations over {args.corpus}"
        else:
            acts, names = synthetic(Path(tmp), args.models, args.words, args.neurons), None
            source = f"synthetic memory maps, {args.models} models"
        n, sizes = acts[0].shape[0], [a.shape[1] for a in acts]
        names = names or tuple(f"m{i}" for i in range(len(acts)))
        print(f"data: {source}: {n} words, neurons per model {sizes}; torch threads {torch.get_num_threads()}")

        block_rows = min(n, args.max_bytes // (2 * sum(sizes) * 4))  # the row blocks lib.methods.correlation multiplies
        rates = matmul_rate(block_rows, max(sizes))
        print(f"matmul float32 GFLOP/s: numpy {rates['numpy']:.1f}, torch {rates['torch']:.1f} "
              f"(numpy/torch {rates['numpy'] / rates['torch']:.2f}; lib.methods.correlation uses torch)")

        baseline = per_pair_baseline(acts, args.pairs)
        print(f"baseline np.corrcoef per pair over {n} words: {baseline * 1e6:.1f} µs/pair ({args.pairs} pairs)")

        cross_pairs = sum(sizes[a] * sizes[b] for a in range(len(sizes)) for b in range(a + 1, len(sizes)))
        start = time.perf_counter()
        cc.maxcorr(acts, max_bytes=args.max_bytes)
        corr_time = time.perf_counter() - start
        ours = corr_time / cross_pairs
        gflops = product_flops(n, sizes, within=False) / corr_time / 1e9
        best_rate = max(rates.values())
        print(f"ours: MaxCorr of every neuron (all {cross_pairs} cross-model pairs) in {corr_time:.1f} s = "
              f"{ours * 1e6:.3f} µs per neuron pair; speed-up per pair over the loop: {baseline / ours:.0f}x")
        after = matmul_rate(block_rows, max(sizes))
        best_rate = max(best_rate, *after.values())
        print(f"rate: {gflops:.1f} GFLOP/s = {100 * gflops / best_rate:.0f} % of the measured matmul rate "
              f"({best_rate:.1f} GFLOP/s: best of the runs before and after, {block_rows} × {max(sizes)} blocks)")

        tracemalloc.start()
        start = time.perf_counter()
        with AnonPeak() as anon:
            rankings = cc.rank_models(acts, names, max_bytes=args.max_bytes)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"whole ranking (MaxCorr, MinCorr, LinReg, partners, SVCCA of {len(rankings.svcca)} pairs): "
              f"{elapsed:.1f} s, {product_flops(n, sizes, within=True) / elapsed / 1e9:.1f} GFLOP/s in the products")
        print(f"peak memory of the ranking: {peak / 2**20:.0f} MiB of numpy allocations (tracemalloc), "
              f"{(anon.peak - anon.start) / 2**20:.0f} MiB of anonymous memory above the start (numpy and torch; "
              f"activations {sum(sizes) * n * 4 / 2**20:.0f} MiB on disk, max_bytes {args.max_bytes / 2**20:.0f} MiB); "
              f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB "
              "with mapped pages")

        part = [np.asarray(a[:20_000]) for a in acts[:2]]
        r32 = cc.cross_stats(part, dtype="float32").corr(0, 1)
        r64 = cc.cross_stats(part, dtype="float64").corr(0, 1)
        print(f"float32 vs float64 correlations on {len(part[0])} words: max |diff| {np.abs(r32 - r64).max():.2e}")
        for name in names:
            top = rankings.order(name)[:5]
            print(f"  {name}: MaxCorr top-5 {top.tolist()} scores {np.round(rankings.scores['maxcorr'][name][top], 3)}")
        del acts, part


if __name__ == "__main__":
    main()
