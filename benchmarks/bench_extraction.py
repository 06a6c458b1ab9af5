"""Speed and memory of activation extraction.

1. Speed: words/s of batched, length-sorted extraction (``lib.pipeline.extraction.extract``) against the reference toolkit's
   way (NeuroX: one sentence per forward pass, pieces gathered into words by a Python loop), on the same sentences
   in the same process, best of three interleaved runs; the ratio is printed and both outputs are checked equal.
2. Memory: peak resident memory added by extracting each of the profile's corpora with each model, streamed to a
   store on disk (what ``get_activations`` does) against holding the whole matrix in memory, each in a fresh
   process (peak RSS from /proc, reset before extraction starts), at half and at the full corpus, so the growth
   with corpus size shows.
3. Transformer speed: words/s of batched extraction of a Hugging Face model (``lib.pipeline.transformer.extract``:
   length-sorted padded batches, all layers captured by hooks) against one sentence per forward pass with
   ``output_hidden_states`` and the last sub-token of each word found by a Python loop (NeuroX's way), same
   sentences, same process, outputs checked equal. ``--only-transformer`` runs just this part.

Run: ``.venv/bin/python benchmarks/bench_extraction.py --profile tiny`` (or ``demo``; models are trained first if
they are not cached); ``--only-transformer --transformer minilm`` for part 3 alone. On a busy shared CPU add ``--threads 1``: with several threads, every one of the per-step
kernels of a one-sentence pass waits for a descheduled thread, which slows the reference far more than ours.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lib.pipeline.activation_store import write_store  # noqa: E402
from lib.pipeline.corpora import full_corpus, load_corpus  # noqa: E402
from lib.pipeline.extraction import extract, extract_into  # noqa: E402
from lib.pipeline.profiles import get_profile  # noqa: E402
from lib.pipeline.training import load_model  # noqa: E402
from lib.pipeline.word_pieces import encode_corpus  # noqa: E402


def one_sentence_at_a_time(trained, sentences) -> np.ndarray:
    """The reference toolkit's way: a forward pass per sentence, last piece of each word found by a Python loop."""
    model, rows = trained.model, []
    device = next(model.parameters()).device
    with torch.no_grad():
        for sentence in sentences:
            ids, word = trained.src_vocab.encode_words(sentence.words)
            states = model.states(torch.tensor([ids], device=device), torch.tensor([len(ids)]))[0].cpu().numpy()
            last = {}
            for piece, owner in enumerate(word):
                last[owner] = piece
            for w in range(len(sentence.words)):
                rows.append(states[last[w]])
    return np.stack(rows)


def speed(profile: str, model: str, corpus: str, n_sentences: int, batch_size: int, repeats: int = 3) -> dict:
    """Words/s of both ways over the first ``n_sentences`` sentences that fit the model whole (best of
    ``repeats`` interleaved runs, so a stall caused by other work on a shared machine does not decide)."""
    trained = load_model(profile, model)
    max_len = trained.config["sizes"]["max_len"]
    sentences = [s for s in load_corpus(corpus, profile)
                 if len(trained.src_vocab.encode_words(s.words)[0]) <= max_len][:n_sentences]
    n_words = sum(len(s.words) for s in sentences)
    ways = {"reference": lambda: one_sentence_at_a_time(trained, sentences),
            "batched": lambda: extract(trained, sentences, batch_size=batch_size, progress=False)}
    best, outputs = {name: float("inf") for name in ways}, {}
    for _ in range(repeats):
        for name, run in ways.items():
            start = time.perf_counter()
            outputs[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    np.testing.assert_allclose(outputs["batched"], outputs["reference"], atol=1e-4)
    return {"words": n_words, **{name: n_words / seconds for name, seconds in best.items()}}


def transformer_one_at_a_time(transformer, sentences) -> np.ndarray:
    """NeuroX's way for a transformer: a forward pass per sentence, last sub-token of each word by a Python loop."""
    rows = []
    with torch.no_grad():
        for sentence in sentences:
            encoded = transformer.tokenizer(list(sentence.words), is_split_into_words=True, return_tensors="pt")
            output = transformer.model(**encoded.to(transformer.device), output_hidden_states=True)
            states = torch.cat(output.hidden_states, -1)[0].cpu().numpy()
            last = {}
            for position, owner in enumerate(encoded.word_ids()):
                if owner is not None:
                    last[owner] = position
            rows.extend(states[last[w]] for w in range(len(sentence.words)))
    return np.stack(rows)


def transformer_speed(profile: str, name: str, corpus: str, n_sentences: int, batch_size: int,
                      repeats: int = 3) -> dict:
    """Words/s of batched transformer extraction and of one sentence at a time (best of ``repeats`` interleaved
    runs) over the first ``n_sentences`` sentences of the profile's ``corpus``."""
    from lib.pipeline.transformer import extract as extract_transformer, load_transformer

    transformer = load_transformer(name)
    sentences = load_corpus(corpus, profile)[:n_sentences]
    n_words = sum(len(s.words) for s in sentences)
    ways = {"reference": lambda: transformer_one_at_a_time(transformer, sentences),
            "batched": lambda: extract_transformer(transformer, sentences, batch_size=batch_size, progress=False)}
    best, outputs = {name: float("inf") for name in ways}, {}
    for _ in range(repeats):
        for way, run in ways.items():
            start = time.perf_counter()
            outputs[way] = run()
            best[way] = min(best[way], time.perf_counter() - start)
    np.testing.assert_allclose(outputs["batched"], outputs["reference"], atol=1e-3)
    return {"words": n_words, "device": str(transformer.device),
            **{way: n_words / seconds for way, seconds in best.items()}}


def _peak_rss_child(profile: str, model: str, corpus: str, share: float, stream: bool, whole: bool,
                    threads: int, queue) -> None:
    """In a fresh process: peak RSS added (MiB) while extracting ``share`` of the corpus (of the profile's sample,
    or of the ``whole`` corpus), and the matrix size."""
    torch.set_num_threads(threads)
    trained = load_model(profile, model, progress=False)
    sentences = list(full_corpus(corpus)) if whole else load_corpus(corpus, profile)
    sentences = sentences[: max(1, int(len(sentences) * share))]
    pieces = encode_corpus(trained.src_vocab, sentences, trained.config["sizes"]["max_len"])
    shape = (pieces.n_rows, trained.model.neuron_map.size)
    before = _reset_peak_rss()
    if stream:
        with tempfile.TemporaryDirectory() as folder, write_store(Path(folder) / "store", shape, "float32",
                                                                  {}) as writer:
            extract_into(writer.write, trained.model, pieces, progress=False)
    else:
        acts = np.empty(shape, dtype=np.float32)

        def write(rows, values):
            acts[rows] = values

        extract_into(write, trained.model, pieces, progress=False)
    queue.put({"added_mib": (_status_kib("VmHWM") - before) / 1024, "matrix_mib": np.prod(shape) * 4 / 2 ** 20,
               "words": shape[0]})


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark of this process (``clear_refs`` 5) and return the current RSS in KiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def peak_rss(profile: str, model: str, corpus: str, share: float, stream: bool, whole: bool = False) -> dict:
    """Run :func:`_peak_rss_child` in a fresh (spawned) process so earlier work does not mask the peak."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    args = (profile, model, corpus, share, stream, whole, torch.get_num_threads(), queue)
    process = context.Process(target=_peak_rss_child, args=args)
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny", choices=["tiny", "demo"])
    parser.add_argument("--sentences", type=int, default=300, help="sentences for the speed comparison")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's); 1 gives fair numbers on a busy shared machine")
    parser.add_argument("--whole-corpus", action="store_true",
                        help="memory part over the whole corpora instead of the profile's sample (a scale check)")
    parser.add_argument("--models", nargs="+", default=None, help="models to measure (default: all of the profile's)")
    parser.add_argument("--corpora", nargs="+", default=None, help="corpora for the memory part (default: all)")
    parser.add_argument("--transformer", default="minilm", help="transformer for part 3 ('' skips it)")
    parser.add_argument("--transformer-batch-size", type=int, default=32)
    parser.add_argument("--only-transformer", action="store_true", help="run only part 3")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    p = get_profile(args.profile)
    if not args.only_transformer:
        _lstm_parts(p, args)
    if args.transformer:
        r = transformer_speed(p.name, args.transformer, "ud", args.sentences, args.transformer_batch_size)
        print(f"\n== transformer speed: batched vs one sentence at a time (torch threads {torch.get_num_threads()}, "
              f"device {r['device']}) ==")
        print(f"{args.transformer} ud  {r['words']:6d} words  one-at-a-time {r['reference']:9.0f} words/s  "
              f"batched {r['batched']:9.0f} words/s  ratio {r['batched'] / r['reference']:5.1f}x")


def _lstm_parts(p, args) -> None:
    """Parts 1 and 2: the project's NMT and LM models."""
    models = args.models or p.models
    devices = {str(next(load_model(p, model).model.parameters()).device) for model in models}
    print(f"profile {p.name}, torch threads {torch.get_num_threads()}, device {', '.join(devices)}")
    print("\n== speed: batched vs one sentence at a time (same sentences, same process) ==")
    for model in models:
        r = speed(p.name, model, "ud", args.sentences, args.batch_size)
        print(f"{model:6s} ud  {r['words']:6d} words  one-at-a-time {r['reference']:9.0f} words/s  "
              f"batched {r['batched']:9.0f} words/s  ratio {r['batched'] / r['reference']:5.1f}x")
    which = "whole corpora" if args.whole_corpus else "the profile's corpora"
    print(f"\n== peak memory added by extracting {which} (fresh process each; MiB) ==")
    for corpus in args.corpora or p.probe_corpora:
        for model in models:
            half, full = (peak_rss(p.name, model, corpus, share, True, args.whole_corpus) for share in (0.5, 1.0))
            memory = peak_rss(p.name, model, corpus, 1.0, False, args.whole_corpus)
            print(f"{model:6s} {corpus:5s} {full['words']:7d} words, matrix {full['matrix_mib']:7.1f}  "
                  f"streamed: half {half['added_mib']:6.1f} full {full['added_mib']:6.1f}  "
                  f"in memory: full {memory['added_mib']:7.1f}")


if __name__ == "__main__":
    main()
