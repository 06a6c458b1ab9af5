"""Model throughput: training (sentences/s), and decoding greedy batched vs one sentence at a time, plus the cost
of an encoder mask (step-by-step encoder) against the fused one, all measured in the same run.

Runs on real Multi30K sentences with a freshly initialised model of the chosen profile's NMT sizes (no training
needed: speed hardly depends on the weights), so it takes seconds to a few minutes. Each measurement is repeated and
the fastest counts, since other processes on a shared CPU make single timings noisy.
Usage: .venv/bin/python benchmarks/bench_models.py [--profile tiny|demo] [--sentences N] [--threads T]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from lib.pipeline.corpora import multi30k
from lib.pipeline.decoding import beam_search
from lib.pipeline.profiles import get_profile
from lib.pipeline.subwords import train_vocab
from lib.pipeline.training import batch_loss, batches, build_model, collate, device, encode_examples, model_config


DECODE_LEN = 30  # an untrained model rarely emits eos, so every sentence decodes to about this many pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["tiny", "demo", "paper"])
    parser.add_argument("--sentences", type=int, default=512, help="training sentences per measurement")
    parser.add_argument("--decode-sentences", type=int, default=128, help="sentences per decoding measurement")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the fastest counts")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    p = get_profile(args.profile)
    text = multi30k("train", ["en", "de"], p)
    text = {lang: lines[:5000] for lang, lines in text.items()}
    folder = Path(tempfile.mkdtemp(prefix="grains-bench-"))
    vocabs = [train_vocab(text[lang], size, folder / f"{lang}.model", p.seed)
              for lang, size in (("en", p.nmt.src_vocab), ("de", p.nmt.tgt_vocab))]
    examples = encode_examples(text, ["en", "de"], *vocabs, p.nmt.max_len)[:args.sentences]
    config = model_config(p, "en-de")
    model = build_model(config, vocabs[0].size, vocabs[1].size).to(device())
    dev = device()
    print(f"profile {p.name}: emb {p.nmt.emb}, hidden {p.nmt.hidden}, batch {p.nmt.batch_size}, "
          f"{len(examples)} sentences, device {dev}, {args.threads} threads")

    optimizer = torch.optim.Adam(model.parameters(), lr=p.nmt.lr)
    order = batches(examples, p.nmt.batch_size, np.random.default_rng(0))

    def train_pass() -> None:
        model.train()
        for idx in order:
            loss, n = batch_loss(model, collate([examples[i] for i in idx], dev))
            optimizer.zero_grad()
            (loss / n).backward()
            optimizer.step()

    train_rate = len(examples) / best_time(train_pass, args.repeats)
    print(f"training: {train_rate:.0f} sentences/s "
          f"(an epoch of 29,000 sentences ≈ {29000 / train_rate / 60:.1f} min)")

    model.eval()
    decode_set = examples[:args.decode_sentences]
    sorted_batches = batches(decode_set, 64, None)

    def decode_rate(one_at_a_time: bool, zero=None, beam: int = 1) -> float:
        groups = [[i] for b in sorted_batches for i in b] if one_at_a_time else sorted_batches

        def run() -> None:
            for idx in groups:
                src, lengths = collate([(decode_set[i][0], []) for i in idx], dev)[:2]
                beam_search(model, src, lengths, beam, DECODE_LEN, zero)
        return len(decode_set) / best_time(run, args.repeats)

    batched, single = decode_rate(False), decode_rate(True)
    print(f"greedy decoding, batches of 64: {batched:.0f} sentences/s; one at a time: {single:.0f} sentences/s; "
          f"batched is {batched / single:.1f}× faster")
    masked = decode_rate(False, zero=[0])
    print(f"greedy decoding with one encoder neuron zeroed (step-by-step encoder): {masked:.0f} sentences/s; "
          f"the mask costs {batched / masked:.2f}× unmasked decoding")
    beam = decode_rate(False, beam=p.nmt.beam)
    print(f"beam search (beam {p.nmt.beam}), batches of 64: {beam:.0f} sentences/s "
          f"({batched / beam:.1f}× slower than greedy)")


def best_time(fn, repeats: int) -> float:
    """Fastest of ``repeats`` timed calls (seconds): the least disturbed by other processes on a shared machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)

if __name__ == "__main__":
    main()
