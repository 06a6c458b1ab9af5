"""Greedy decoding of a trained demo model over the Multi30K test set: the batch keeping every sentence to the last
step (the baseline, as before 2026-12-01) against finished sentences leaving the batch (ours), intact and with
neurons ablated as in notebook 03, alternated in one process; the translations must be identical. Then batches of
64 sentences (before 2026-12-01) against ``evaluation.BATCH_SIZE`` (ours), with how many translations differ (float
rounding of other batch shapes) and the BLEU of each.

Uses the trained demo model (installed from checkpoints/demo/ when missing, in seconds); one torch thread, as the
ablation workers run. Usage: .venv/bin/python benchmarks/bench_decoding.py [--model en-de] [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.pipeline import decoding, evaluation  # noqa: E402
from lib.pipeline.corpora import multi30k  # noqa: E402
from lib.pipeline.decoding import BOS, EOS, PAD, _trim, decode_limit  # noqa: E402
from lib.pipeline.evaluation import score_bleu, translate  # noqa: E402
from lib.pipeline.training import load_model  # noqa: E402


@torch.no_grad()
def keep_every_sentence(model, src, lengths, max_len, zero=None) -> list[list[int]]:
    """The baseline: every sentence of the batch is decoded at every step until the last one ends."""
    memory, state = model.encode(src, lengths, zero)
    y = torch.full((src.shape[0], 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    steps = []
    for _ in range(decode_limit(lengths, max_len)):
        logits, state = model.decode(y, memory, state)
        y = logits[:, -1].argmax(-1).masked_fill(done, PAD)[:, None]
        steps.append(y)
        done |= y[:, 0] == EOS
        if bool(done.all()):
            break
    return _trim(torch.cat(steps, dim=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--model", default="en-de")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    trained = load_model(args.profile, args.model)
    test = multi30k("test_2016_flickr", list(trained.spec.langs), args.profile)
    source, reference = test[trained.spec.source_lang], test[trained.spec.target_lang]
    ablated = np.arange(round(0.1 * trained.model.neuron_map.size))
    ours = decoding.greedy
    for zero, what in ((None, "intact"), (ablated, f"first {ablated.size} neurons zeroed")):
        best, out = {}, {}
        for _ in range(args.repeats):
            for name, fn in (("baseline", keep_every_sentence), ("ours", ours)):
                decoding.greedy = fn
                began = time.perf_counter()
                out[name] = translate(trained, source, zero, beam=1)
                best[name] = min(best.get(name, np.inf), time.perf_counter() - began)
        decoding.greedy = ours
        print(f"{args.model} {what}: {len(source)} sentences, baseline {best['baseline']:.2f} s, ours "
              f"{best['ours']:.2f} s, {best['baseline'] / best['ours']:.2f}x; identical translations: "
              f"{out['baseline'] == out['ours']}; BLEU {score_bleu(out['ours'], reference):.2f}")
    compare_batch_sizes(trained, source, reference, (64, evaluation.BATCH_SIZE), args.repeats)
    return 0


def compare_batch_sizes(trained, source, reference, sizes, repeats: int) -> None:
    """Time greedy translation of ``source`` at each batch size in ``sizes`` (baseline first), alternated."""
    chosen = evaluation.BATCH_SIZE
    best, out = {}, {}
    for _ in range(repeats):
        for size in sizes:
            evaluation.BATCH_SIZE = size
            began = time.perf_counter()
            out[size] = translate(trained, source, None, beam=1)
            best[size] = min(best.get(size, np.inf), time.perf_counter() - began)
    evaluation.BATCH_SIZE = chosen
    base, ours = sizes
    differ = sum(a != b for a, b in zip(out[base], out[ours]))
    print(f"batches of {base}: {best[base]:.2f} s, BLEU {score_bleu(out[base], reference):.2f}; of {ours}: "
          f"{best[ours]:.2f} s, BLEU {score_bleu(out[ours], reference):.2f}; {best[base] / best[ours]:.2f}x, "
          f"{differ} of {len(source)} translations differ")


if __name__ == "__main__":
    sys.exit(main())
