"""Model throughput, all measured in the same run: training (sentences/s) with the previous batching and loss (the
baseline) against token-based length batches and an output layer over real target pieces only (ours), in rounds
that alternate the variants; two training processes of one thread each against one of two threads; decoding greedy
batched vs one sentence at a time, and the cost of an encoder mask: zeroing in the fused encoder (ours) against the
step-by-step encoder that zeroing used to run (mean ablation's, here holding the neuron at 0: the same numbers).

Runs on real Multi30K sentences with a freshly initialised model of the chosen profile's NMT sizes (no training
needed: speed hardly depends on the weights), so it takes seconds to a few minutes. Each measurement is repeated and
the fastest counts, since other processes on a shared CPU make single timings noisy.
Usage: .venv/bin/python benchmarks/bench_models.py [--profile tiny|demo] [--sentences N] [--threads T] [--jobs J]
       [--batch-tokens B]
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from lib.methods.neurons import Ablation
from lib.pipeline.corpora import multi30k
from lib.pipeline.decoding import beam_search
from lib.pipeline.profiles import get_profile
from lib.pipeline.subwords import PAD, train_vocab
from lib.pipeline.training import batch_loss, batches, build_model, collate, device, encode_examples, model_config


DECODE_LEN = 30  # an untrained model rarely emits eos, so every sentence decodes to about this many pieces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo", choices=["tiny", "demo", "paper"])
    parser.add_argument("--sentences", type=int, default=512, help="training sentences per measurement")
    parser.add_argument("--decode-sentences", type=int, default=128, help="sentences per decoding measurement")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the fastest counts")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--jobs", type=int, default=2, help="processes training at once (0 or 1: skip)")
    parser.add_argument("--batch-tokens", type=int, help="padded pieces per batch (ours; default: the profile's)")
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
    print(f"profile {p.name}: emb {p.nmt.emb}, hidden {p.nmt.hidden}, batch {p.nmt.batch_size} sentences / {p.nmt.batch_tokens} pieces, "
          f"{len(examples)} sentences, device {dev}, {args.threads} threads")

    baseline_order = sentence_batches(examples, 64, np.random.default_rng(0))
    tokens = p.nmt.batch_tokens if args.batch_tokens is None else args.batch_tokens
    ours_order = batches(examples, p.nmt.batch_size, np.random.default_rng(0), tokens)
    ours = f"{p.nmt.batch_size} sentences" + (f", at most {tokens} padded pieces," if tokens else "")
    variants = {
        "baseline (64 sentences by source length, logits at every position)": (baseline_order, full_logits_loss),
        "64 sentences by source length, logits of real pieces only": (baseline_order, batch_loss),
        f"ours ({ours} by source then target length, logits of real pieces)":
            (ours_order, batch_loss)}
    passes = {label: train_pass(model, examples, order, loss_fn, dev) for label, (order, loss_fn) in variants.items()}
    rates = {label: len(examples) / seconds for label, seconds in interleaved_times(passes, args.repeats).items()}
    base = next(iter(rates.values()))
    for label, rate in rates.items():
        print(f"training, {label}: {rate:.0f} sentences/s ({rate / base:.2f}× baseline; "
              f"an epoch of 29,000 sentences ≈ {29000 / rate / 60:.1f} min)")
    print(f"  padded pieces per real piece: baseline {padding(examples, baseline_order):.2f}, "
          f"ours {padding(examples, ours_order):.2f}; batches: {len(baseline_order)} vs {len(ours_order)}")
    if args.jobs > 1:
        work = (config, vocabs[0].size, vocabs[1].size, examples, ours_order, args.repeats)
        ours = passes[list(passes)[-1]]
        before = best_time(ours, 1)
        together = parallel_rate(work, args.jobs, args.threads)
        single = len(examples) / min(before, best_time(ours, 1))
        print(f"training, ours in {args.jobs} processes × {max(1, args.threads // args.jobs)} thread(s) at once: "
              f"{together:.0f} sentences/s in all, against {single:.0f} in one process with {args.threads} threads "
              f"timed just before and after ({together / single:.2f}×)")

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
    masked, stepwise = decode_rate(False, zero=[0]), decode_rate(False, zero=Ablation(np.array([0]), np.zeros(1)))
    print(f"greedy decoding with one encoder neuron zeroed: {masked:.0f} sentences/s (fused encoder), "
          f"{stepwise:.0f} step by step: {masked / stepwise:.2f}× faster; the mask costs {batched / masked:.2f}× "
          "unmasked decoding")
    beam = decode_rate(False, beam=p.nmt.beam)
    print(f"beam search (beam {p.nmt.beam}), batches of 64: {beam:.0f} sentences/s "
          f"({batched / beam:.1f}× slower than greedy)")


def sentence_batches(examples, size: int, rng: np.random.Generator) -> list[list[int]]:
    """The previous batching (the baseline): fixed sentence counts, sorted by source length in pools of 50."""
    lengths = np.array([len(ex[0]) for ex in examples])
    order = rng.permutation(len(examples))
    pools = [order[i:i + size * 50] for i in range(0, len(order), size * 50)]
    order = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in pools])
    return [order[i:i + size].tolist() for i in range(0, len(order), size)]


def full_logits_loss(model, batch, smoothing: float = 0.0):
    """The previous loss (the baseline): logits and softmax at every target position, padding ignored after."""
    src, lengths, tgt = batch
    logits, target = model(src, lengths, tgt[:, :-1]), tgt[:, 1:]
    loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=PAD, label_smoothing=smoothing,
                           reduction="sum")
    return loss, int((target != PAD).sum())


def train_pass(model, examples, order, loss_fn, dev: str):
    """A function running one pass of Adam steps over the index batches ``order`` with ``loss_fn``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run() -> None:
        model.train()
        for idx in order:
            loss, n = loss_fn(model, collate([examples[i] for i in idx], dev), 0.1)
            optimizer.zero_grad()
            (loss / n).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    return run


def interleaved_times(passes: dict, repeats: int) -> dict:
    """Fastest time of each pass over ``repeats`` rounds that run every pass once in turn, so that a change in the
    machine's load during the run hits all variants alike (after one untimed warm-up pass each)."""
    times = {label: [] for label in passes}
    for run in passes.values():
        run()  # warm-up: first-call allocations and kernel selection are not timed
    for _ in range(repeats):
        for label, run in passes.items():
            times[label].append(best_time(run, 1))
    return {label: min(t) for label, t in times.items()}


def parallel_rate(work: tuple, jobs: int, threads: int) -> float:
    """Summed training sentences/s of ``jobs`` processes training their own model at the same time, each with
    ``threads // jobs`` threads (how ``python -m lib.pipeline.training --jobs`` trains a profile's models)."""
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        return sum(pool.map(worker_rate, [(*work, max(1, threads // jobs))] * jobs))


def worker_rate(work: tuple) -> float:
    """One worker of :func:`parallel_rate`: a fresh model trained over the batches; its sentences/s."""
    config, src_size, tgt_size, examples, order, repeats, threads = work
    torch.set_num_threads(threads)
    model = build_model(config, src_size, tgt_size)
    return len(examples) / best_time(train_pass(model, examples, order, batch_loss, "cpu"), repeats)


def padding(examples, order) -> float:
    """Padded source + target pieces per real piece over the batches ``order``."""
    padded = sum(len(idx) * (max(len(examples[i][0]) for i in idx) + max(len(examples[i][1]) for i in idx))
                 for idx in order)
    return padded / sum(len(examples[i][0]) + len(examples[i][1]) for idx in order for i in idx)


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
