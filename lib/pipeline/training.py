"""Training the NMT models and the language model: seeded, with progress bars, per-epoch checkpoints and resume.

``load_model(profile, name)`` returns the cached trained model of a profile or trains it. Every epoch writes
``last.pt`` (model, optimizer, schedule, RNG state, history) atomically, so an interrupted run resumes from the last
finished epoch and ends with the same weights as an uninterrupted one; the weights with the best dev loss are kept as
the final model, in the profile's ``stored`` precision. Models live in ``models_dir(profile)/<name>-<config key>/`` and
a checkpoint whose stored configuration differs from the requested one is refused, never silently loaded; a model
shipped in ``checkpoints/<profile>/`` with the same configuration is installed instead of trained
(:mod:`lib.pipeline.shipped`). A replicate ("en-de.r2") trains on
its seeded third of the pair's training data. ``python -m lib.pipeline.training --profile demo --jobs 2`` trains
every model of a profile in parallel worker processes with progress lines (``make demo`` runs it first).
Used in: 00_data_and_models and every notebook that needs a model.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from lib.pipeline.artifacts import atomic_path, config_key
from lib.pipeline.models import LM, NMT
from lib.pipeline.profiles import Profile, get_profile, models_dir
from lib.pipeline.specs import REPLICATES, ModelSpec, model_spec, trained_spec
from lib.pipeline.subwords import BOS, EOS, PAD, Vocab, vocab_config, vocab_for
from lib.progress import tqdm

__all__ = ["Trained", "load_model", "model_config", "replicate_part", "build_model", "train", "train_all",
           "load_checkpoint", "device"]

Example = tuple[list[int], ...]


@dataclass(frozen=True)
class Trained:
    """A trained model with its spec, vocabularies (``tgt_vocab`` is None for the LM), configuration and history."""

    spec: ModelSpec
    model: nn.Module
    src_vocab: Vocab
    tgt_vocab: Vocab | None
    config: dict
    history: tuple[dict, ...] = ()

    @property
    def name(self) -> str:
        """The model's name ("en-de", "lm", ...)."""
        return self.spec.name


def device() -> str:
    """"cuda" when a GPU is present, else "cpu"."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def model_config(profile: str | Profile, model: str | ModelSpec) -> dict:
    """Everything that determines a model Grains trains (its cache key): kind, sizes, data slice, seed."""
    p = get_profile(profile)
    spec = model_spec(p, model)
    if not spec.trained_here:
        raise ValueError(f"model {spec.name!r} is a pretrained {spec.kind}; Grains trains only NMT and LSTM LM models")
    if p.lm.src_vocab != p.nmt.src_vocab:
        raise ValueError(f"profile {p.name!r}: lm.src_vocab ({p.lm.src_vocab}) must equal nmt.src_vocab "
                         f"({p.nmt.src_vocab}): every model shares one English vocabulary")
    sizes = p.lm if spec.kind == "lm" else p.nmt
    config = {"name": spec.name, "kind": spec.kind, "profile": p.name, "seed": model_seed(p.seed, spec.name),
              "sizes": dataclasses.asdict(sizes), "train_sentences": p.corpora.multi30k_train,
              "val_sentences": p.corpora.multi30k_val, "src_vocab": vocab_config(p, spec.source_lang)}
    if spec.target_lang is not None:
        config["tgt_vocab"] = vocab_config(p, spec.target_lang)
    if spec.replicate is not None:
        config["replicate"] = {"part": spec.replicate, "parts": REPLICATES, "split_seed": p.seed}
    return config


def replicate_part(examples: Sequence[Example], part: int, parts: int, seed: int) -> list[Example]:
    """The ``part``-th (1-based) of ``parts`` disjoint, equally sized, seeded random shares of ``examples``: the
    paper's replicate design trains one model per share, so models differ in data and initialisation only."""
    order = np.random.default_rng(seed).permutation(len(examples))
    return [examples[i] for i in np.sort(np.array_split(order, parts)[part - 1])]


def model_seed(seed: int, name: str) -> int:
    """The seed of model ``name``: derived from the profile's seed and the name, so that every model starts from its
    own random weights, as the paper's independently trained models do (with one shared initialisation,
    cross-model correlation would partly measure the common starting point)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:4], "big")


def build_model(config: dict, src_size: int, tgt_size: int | None = None) -> nn.Module:
    """A freshly initialised model for ``config``, seeded by its seed (same config → same initial weights)."""
    torch.manual_seed(config["seed"])
    s = config["sizes"]
    if config["kind"] == "lm":
        return LM(src_size, s["emb"], s["hidden"], s["layers"], s["dropout"])
    return NMT(src_size, tgt_size, s["emb"], s["hidden"], s["layers"], s["dropout"])


def load_model(profile: str | Profile, model: str | ModelSpec, progress: bool = True, shipped: bool = True
               ) -> Trained:
    """A trained model of ``profile`` ("en-de", "en-fr", "en-cs", "lm", ...): cached, installed from the
    checkpoints shipped in the repository (``shipped``, when one matches its configuration and vocabularies; see
    :mod:`lib.pipeline.shipped`), resumed or trained."""
    from lib.pipeline import shipped as shipped_checkpoints

    p = get_profile(profile)
    spec = model_spec(p, model)
    config = model_config(p, spec)
    folder = model_folder(p, spec)
    src_vocab = vocab_for(p, spec.source_lang)
    tgt_vocab = None if spec.target_lang is None else vocab_for(p, spec.target_lang)
    model = build_model(config, src_vocab.size, tgt_vocab.size if tgt_vocab else None)
    if not (folder / "model.pt").is_file() and not (
            shipped and shipped_checkpoints.install(p, spec.name, config, folder, progress=bool(progress))):
        train(model, config, *training_data(p, spec, src_vocab, tgt_vocab), folder, progress)
    final = load_checkpoint(folder / "model.pt", config)
    model.load_state_dict(final["model"])
    return Trained(spec, model.to(device()).eval(), src_vocab, tgt_vocab, config, tuple(final["history"]))


def model_folder(profile: str | Profile, model: str | ModelSpec) -> Path:
    """Where a trained model of ``profile`` lives: ``models_dir(profile)/<name>-<config key>/``."""
    p = get_profile(profile)
    spec = model_spec(p, model)
    return models_dir(p) / f"{spec.name}-{config_key(model_config(p, spec))}"


def training_data(profile: str | Profile, model: str | ModelSpec, src_vocab: Vocab, tgt_vocab: Vocab | None
                  ) -> tuple[list[Example], list[Example]]:
    """The training and dev examples of ``model``: its Multi30K slice as piece ids (a replicate: its third)."""
    from lib.pipeline.corpora import multi30k

    p = get_profile(profile)
    spec = model_spec(p, model)
    config = model_config(p, spec)
    langs = list(spec.langs)
    train_set, dev_set = (encode_examples(multi30k(split, langs, p), langs, src_vocab, tgt_vocab,
                                          config["sizes"]["max_len"]) for split in ("train", "val"))
    if "replicate" in config:
        r = config["replicate"]
        train_set = replicate_part(train_set, r["part"], r["parts"], r["split_seed"])
    return train_set, dev_set


def encode_examples(texts: dict[str, list[str]], langs: Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab | None,
                    max_len: int) -> list[Example]:
    """Piece ids per sentence (pairs for NMT, singles for the LM), dropping empty ones and those over ``max_len``."""
    columns = [src_vocab.encode(texts[langs[0]])]
    if tgt_vocab is not None:
        columns.append(tgt_vocab.encode(texts[langs[1]]))
    return [ex for ex in zip(*columns) if all(0 < len(ids) <= max_len for ids in ex)]


def batches(examples: Sequence[Example], batch_size: int, rng: np.random.Generator | None, max_tokens: int = 0
            ) -> list[list[int]]:
    """Index batches of similar length (less padding); shuffled by ``rng``, or in length order if None.

    Examples are sorted by source then target length (within pools of 50 batches when shuffled). A batch holds at
    most ``batch_size`` examples and, when ``max_tokens`` > 0, at most ``max_tokens`` padded pieces (examples ×
    longest source + target), so batches of short sentences are large and those of long ones small.
    """
    lengths = np.array([[len(ex[0]), len(ex[-1])] for ex in examples]).reshape(len(examples), 2)
    order = np.arange(len(examples)) if rng is None else rng.permutation(len(examples))
    pool = len(order) if rng is None else batch_size * 50
    chunks = [order[i:i + pool] for i in range(0, len(order), pool)]
    sorted_order = np.concatenate([c[np.lexsort((lengths[c, 1], lengths[c, 0]))] for c in chunks])
    out = _split(sorted_order, lengths.sum(1) if len(examples[0]) == 2 else lengths[:, 0], batch_size, max_tokens)
    return out if rng is None else [out[i] for i in rng.permutation(len(out))]


def _split(order: np.ndarray, sizes: np.ndarray, batch_size: int, max_tokens: int) -> list[list[int]]:
    """Consecutive runs of ``order`` within ``batch_size`` examples and ``max_tokens`` padded pieces."""
    out, start = [], 0
    while start < len(order):
        stop = min(start + batch_size, len(order))
        if max_tokens > 0:
            padded = np.maximum.accumulate(sizes[order[start:stop]]) * np.arange(1, stop - start + 1)
            stop = start + max(1, int(np.searchsorted(padded, max_tokens, side="right")))
        out.append(order[start:stop].tolist())
        start = stop
    return out


def collate(examples: Sequence[Example], dev: str) -> tuple[Tensor, ...]:
    """Padded tensors of a batch. NMT: (src, src lengths, bos+tgt+eos). LM: (bos+src+eos, input lengths)."""
    def pad(seqs):
        return pad_sequence([torch.as_tensor(s) for s in seqs], batch_first=True, padding_value=PAD).to(dev)

    if len(examples[0]) == 2:
        src = [ex[0] for ex in examples]
        return pad(src), torch.tensor([len(s) for s in src]), pad([[BOS, *ex[1], EOS] for ex in examples])
    return pad([[BOS, *ex[0], EOS] for ex in examples]), torch.tensor([len(ex[0]) + 1 for ex in examples])


def batch_loss(model: nn.Module, batch: tuple[Tensor, ...], smoothing: float = 0.0, zero=None
               ) -> tuple[Tensor, int]:
    """Summed cross-entropy over the target pieces of a batch (neurons ``zero`` zeroed), and their number.

    Only the rows of real (non-pad) target pieces go through the output layer and the softmax over the vocabulary.
    """
    if isinstance(model, NMT):
        src, lengths, tgt = batch
        features, target = model.features(src, lengths, tgt[:, :-1], zero), tgt[:, 1:]
    else:
        seq, lengths = batch
        features, target = model.features(seq[:, :-1], lengths, zero), seq[:, 1:]
    real = target != PAD
    loss = F.cross_entropy(model.out(features[real]), target[real], label_smoothing=smoothing, reduction="sum")
    return loss, int(real.sum())


@torch.no_grad()
def dev_loss(model: nn.Module, examples: Sequence[Example], batch_size: int, max_tokens: int = 0) -> float:
    """Mean cross-entropy per target piece (no smoothing, no dropout)."""
    model.eval()
    dev = next(model.parameters()).device
    total, count = 0.0, 0
    for idx in batches(examples, batch_size, None, max_tokens):
        loss, n = batch_loss(model, collate([examples[i] for i in idx], str(dev)))
        total, count = total + float(loss), count + n
    return total / max(count, 1)


def schedule(sizes: dict, steps: int):
    """Learning-rate factor per step: linear warmup over ``warmup_steps``, then linear decay to 10 % at the end."""
    warmup = max(1, sizes["warmup_steps"])

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.1, 1.0 - 0.9 * (step - warmup) / max(1, steps - warmup))
    return factor


def train(model: nn.Module, config: dict, train_set: Sequence[Example], dev_set: Sequence[Example],
          folder: str | Path, progress: bool | str = True) -> list[dict]:
    """Train ``model`` per ``config`` (Adam, schedule, gradient clipping), checkpointing each epoch in ``folder``.

    Resumes from ``folder/last.pt`` when present; writes ``folder/model.pt`` (best dev loss) at the end.
    ``progress``: True for a progress bar, "lines" for plain lines each quarter epoch (parallel workers sharing a
    terminal), False for silence; both print one line per epoch with losses and the time left.
    Returns the history: per epoch train loss, dev loss and minutes.
    """
    folder, s, dev = Path(folder), config["sizes"], device()
    if not train_set or not dev_set:
        raise ValueError(f"cannot train {config['name']}: {len(train_set)} training and {len(dev_set)} dev examples")
    model.to(dev)
    optimizer, scheduler = optimisation(model, s, train_set)
    history, best = [], math.inf
    torch.manual_seed(config["seed"])
    if (folder / "last.pt").is_file():
        state = load_checkpoint(folder / "last.pt", config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        history, best = state["history"], state["best"]
    for epoch in range(len(history), s["epochs"]):
        start = time.perf_counter()
        rng = np.random.default_rng([config["seed"], epoch])
        order = batches(train_set, s["batch_size"], rng, s["batch_tokens"])
        train_loss = run_epoch(model, train_set, order, optimizer, scheduler, s,
                               desc=f"{config['name']} epoch {epoch + 1}/{s['epochs']}", progress=progress)
        loss = dev_loss(model, dev_set, s["batch_size"], s["batch_tokens"])
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "dev_loss": loss,
                        "minutes": (time.perf_counter() - start) / 60})
        weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if loss < best:
            best = loss
            _save(folder / "best.pt", {"config": config, "model": weights, "epoch": epoch + 1})
        _save(folder / "last.pt", {"config": config, "model": weights, "optimizer": optimizer.state_dict(),
                                   "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                                   "history": history, "best": best})
        if progress:
            left = history[-1]["minutes"] * (s["epochs"] - epoch - 1)
            print(f"{config['name']} epoch {epoch + 1}/{s['epochs']}: train loss {train_loss:.3f}, dev loss "
                  f"{loss:.3f}, {history[-1]['minutes']:.1f} min; about {left:.1f} min left", flush=True)
    final = load_checkpoint(folder / "best.pt", config)
    stored = getattr(torch, s["stored"])
    _save(folder / "model.pt", {**final, "model": {k: v.to(stored) for k, v in final["model"].items()},
                                "history": history, "threads": torch.get_num_threads()})
    return history


def optimisation(model: nn.Module, sizes: dict, train_set: Sequence[Example]):
    """Adam and its learning-rate schedule (warmup, linear decay over every epoch's batches) for ``model``."""
    steps_per_epoch = len(batches(train_set, sizes["batch_size"], None, sizes["batch_tokens"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=sizes["lr"])
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(sizes, steps_per_epoch * sizes["epochs"]))


def fingerprint(profile: str | Profile, model: str | ModelSpec, steps: int = 8) -> dict:
    """What the first ``steps`` batches of ``model``'s training run do, as :func:`train` runs them from scratch: the
    loss of each batch, and the projections of the initial weights and of their update onto a fixed random ±1
    vector. A fingerprint of everything that made a checkpoint (data slice, vocabularies, initial weights, batch
    order, dropout, optimiser, schedule), taken in seconds instead of a whole training.
    Used in: lib.pipeline.shipped (the manifest) and tests/test_shipped.py."""
    p = get_profile(profile)
    spec = model_spec(p, model)
    config = model_config(p, spec)
    s = config["sizes"]
    src_vocab = vocab_for(p, spec.source_lang)
    tgt_vocab = None if spec.target_lang is None else vocab_for(p, spec.target_lang)
    train_set, _ = training_data(p, spec, src_vocab, tgt_vocab)
    net = build_model(config, src_vocab.size, tgt_vocab.size if tgt_vocab else None).to(device())
    start = _flat(net)
    signs = torch.from_numpy(np.random.default_rng(0).integers(0, 2, start.numel()) * 2.0 - 1.0)
    optimizer, scheduler = optimisation(net, s, train_set)
    torch.manual_seed(config["seed"])
    order = batches(train_set, s["batch_size"], np.random.default_rng([config["seed"], 0]), s["batch_tokens"])
    losses = [run_epoch(net, train_set, [idx], optimizer, scheduler, s, "", False) for idx in order[:steps]]
    return {"losses": losses, "start": float(start @ signs), "update": float((_flat(net) - start) @ signs)}


def _flat(model: nn.Module) -> Tensor:
    """Every weight of ``model`` in one float64 vector (state-dict order)."""
    return torch.cat([v.detach().double().flatten().cpu() for v in model.state_dict().values()])


def run_epoch(model: nn.Module, examples: Sequence[Example], order: list[list[int]], optimizer, scheduler,
              sizes: dict, desc: str, progress: bool | str) -> float:
    """One pass over ``order`` (index batches); returns the mean training loss per target piece."""
    model.train()
    dev = str(next(model.parameters()).device)
    total, count, start = 0.0, 0, time.perf_counter()
    quarters = {len(order) * q // 4: q for q in (1, 2, 3)} if progress == "lines" else {}
    bar = tqdm(order, desc=desc, disable=progress is not True, leave=False)
    for step, idx in enumerate(bar):
        loss, n = batch_loss(model, collate([examples[i] for i in idx], dev), sizes["label_smoothing"])
        optimizer.zero_grad()
        (loss / n).backward()
        nn.utils.clip_grad_norm_(model.parameters(), sizes["clip_norm"])
        optimizer.step()
        scheduler.step()
        total, count = total + loss.item(), count + n
        bar.set_postfix(loss=f"{total / count:.3f}")
        if step + 1 in quarters:
            left = (time.perf_counter() - start) * (len(order) / (step + 1) - 1) / 60
            print(f"{desc}: {25 * quarters[step + 1]} %, loss {total / count:.3f}, about {left:.1f} min left in "
                  "this epoch", flush=True)
    return total / max(count, 1)


def load_checkpoint(path: str | Path, config: dict) -> dict:
    """A checkpoint written by :func:`train`, refused with a ``ValueError`` if it was made with another config."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("config") != config:
        saved = state.get("config") or {}
        diff = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
        raise ValueError(f"checkpoint {path} was made with another configuration (differs in: {', '.join(diff)}); "
                         "delete it or use the matching profile")
    return state


def _save(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def train_all(profile: str | Profile, names: Sequence[str] | None = None, jobs: int = 1, shipped: bool = True
              ) -> None:
    """Make the models ``names`` (default: every trainable model of ``profile``) ready: already trained ones are
    skipped, shipped checkpoints installed (``shipped``; :mod:`lib.pipeline.shipped`), the rest trained or resumed in
    ``jobs`` worker processes (threads each: :func:`training_threads`), printing progress lines.

    Independent small LSTMs keep two single-thread processes busier than one two-thread process (measured in
    ``benchmarks/bench_models.py``). Interrupting loses at most each model's current epoch.
    """
    from lib.pipeline import shipped as shipped_checkpoints

    p = get_profile(profile)
    names = list(p.trainable if names is None else names)
    configs = {name: model_config(p, name) for name in names}
    vocab_for(p, "en")
    for name in names:
        if (target := trained_spec(name).target_lang) is not None:
            vocab_for(p, target)
    missing = [name for name in names if not (model_folder(p, name) / "model.pt").is_file()]
    for name in names:
        if name not in missing:
            _ready(load_model(p, name, progress=False, shipped=False), time.perf_counter())
    if shipped:
        missing = [name for name in missing
                   if not shipped_checkpoints.install(p, name, configs[name], model_folder(p, name))]
    tasks = [(p.name, name, training_threads(p, name, configs[name], jobs)) for name in missing]
    if jobs <= 1 or len(missing) <= 1:
        for task in tasks:
            _train_one(*task)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(jobs, len(missing)), maxtasksperchild=1) as pool:
        for _ in pool.imap_unordered(_train_star, tasks):
            pass


def training_threads(profile: str | Profile, name: str, config: dict, jobs: int) -> int:
    """The torch threads to train ``name`` on: for a model shipped with this ``config``, the count it was made with
    (``lib.pipeline.shipped.training_threads``), so that training it from scratch reproduces the shipped weights
    (another count trains another model); otherwise this machine's cores shared by ``jobs`` processes."""
    from lib.pipeline import shipped as shipped_checkpoints

    entry = shipped_checkpoints.manifest(profile).get(name)
    return shipped_checkpoints.training_threads(entry if entry and entry["config"] == config else None, jobs)


def _train_star(args: tuple[str, str, int]) -> None:
    _train_one(*args)


def _train_one(profile: str, name: str, threads: int) -> None:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    _ready(load_model(profile, name, progress="lines", shipped=False), start)


def _ready(trained: Trained, start: float) -> None:
    print(f"{trained.name}: ready ({len(trained.history)} epochs, best dev loss "
          f"{min(h['dev_loss'] for h in trained.history):.3f}; {(time.perf_counter() - start) / 60:.1f} min here)",
          flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lib.pipeline.training --profile demo --jobs 2 [--models en-de lm] [--from-scratch]``: make a
    profile's models ready (install the shipped checkpoints, train the others)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--jobs", type=int, default=2, help="parallel worker processes")
    parser.add_argument("--models", nargs="*", help="model names (default: every trainable model of the profile)")
    parser.add_argument("--from-scratch", action="store_true",
                        help="train every model that is not trained yet, even where a checkpoint is shipped")
    args = parser.parse_args(argv)
    train_all(args.profile, args.models, args.jobs, shipped=not args.from_scratch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
