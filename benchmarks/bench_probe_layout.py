"""One solver iteration's work (logits, cross-entropy, gradient) with the data words × neurons (before) against the
transposed neurons × words of ``lib.methods.probing`` (ours), in one process, on one CPU thread.

Each OWL-QN or FISTA iteration multiplies the standardised activations by a neurons × labels matrix and back; with
few labels both products are thin, and how the big matrix is laid out decides their speed. Prints milliseconds per
iteration for both layouts at several shapes (or a model's cached probe data), with the ratio.

    .venv/bin/python benchmarks/bench_probe_layout.py [--words 80000 --neurons 512 1024 2688 --labels 2 12 40]
    .venv/bin/python benchmarks/bench_probe_layout.py --model en-de --prop pos   # after make demo
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.methods.probing import _design, _flat_grad, _smooth, encode  # noqa: E402


def row_major_iteration(X: torch.Tensor, Y: torch.Tensor, V: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The former layout: X words × neurons, logits words × labels, softmax along the label columns."""
    Z = X @ V + c
    float(torch.logsumexp(Z, 1).double().mean() - Z.gather(1, Y[:, None]).double().mean())
    P = torch.softmax(Z, 1)
    P[torch.arange(len(P)), Y] -= 1.0
    P /= len(P)
    return torch.cat([(X.T @ P).reshape(-1), P.sum(0)])


def timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def compare(acts: np.ndarray, labels: np.ndarray, repeats: int) -> tuple[float, float]:
    """Seconds per iteration, row-major then transposed, on the same standardised data and weights."""
    classes = tuple(np.unique(labels).tolist())
    design = _design(acts, encode(classes, labels), len(classes))
    X = design.XT.T.contiguous()
    gen = torch.Generator().manual_seed(0)
    V = 0.01 * torch.randn(design.n_neurons, len(classes), generator=gen)
    c = torch.zeros(len(classes))
    l2 = torch.zeros(design.n_neurons, 1)

    def transposed() -> torch.Tensor:
        smooth, G = _smooth(design, design.logits(V, c), V, l2)
        float(smooth)
        return _flat_grad(design, G, V, l2)

    before, ours = row_major_iteration(X, design.Y, V, c), transposed()
    if not torch.allclose(before, ours, atol=1e-5):
        raise AssertionError("the two layouts disagree on the gradient")
    return timed(lambda: row_major_iteration(X, design.Y, V, c), repeats), timed(transposed, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=80000)
    parser.add_argument("--neurons", type=int, nargs="+", default=[512, 1024, 2688])
    parser.add_argument("--labels", type=int, nargs="+", default=[2, 12, 40])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--model", help="a model whose probe data is cached (e.g. en-de after make demo)")
    parser.add_argument("--corpus", default="brown")
    parser.add_argument("--prop", default="pos")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.model:
        from lib.pipeline.extraction import probe_data

        data = probe_data(args.profile, args.model, args.corpus, args.prop)
        cases = [(f"{args.model} · {args.prop}", data.train[0], np.asarray(data.train[1], dtype=str))]
    else:
        rng = np.random.default_rng(0)
        cases = [(f"synthetic {args.words} × {d} × {k}", rng.standard_normal((args.words, d), dtype=np.float32),
                  rng.integers(0, k, args.words).astype(str)) for d in args.neurons for k in args.labels]
    print("one thread; milliseconds per solver iteration (logits, cross-entropy, gradient)")
    for name, acts, labels in cases:
        before, ours = compare(acts, labels, args.repeats)
        print(f"{name:34s} words × neurons {before * 1e3:7.1f}  neurons × words {ours * 1e3:7.1f}  "
              f"ratio {before / ours:4.2f}×")


if __name__ == "__main__":
    main()
