"""Training the NMT models and the language model: seeded, with progress bars, per-epoch checkpoints and resume.

``load_model(profile, name)`` returns the cached trained model of a profile or trains it. Every epoch writes
``last.pt`` (model, optimizer, schedule, RNG state, history) atomically, so an interrupted run resumes from the last
finished epoch and ends with the same weights as an uninterrupted one; the weights with the best dev loss are kept as
the final model. Models live in ``models_dir(profile)/<name>-<config key>/`` and a checkpoint whose stored
configuration differs from the requested one is refused, never silently loaded.
Used in: 00_data_and_models and every notebook that needs a model.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from lib.pipeline.artifacts import atomic_path, config_key
from lib.pipeline.models import LM, NMT
from lib.pipeline.profiles import Profile, get_profile, models_dir
from lib.pipeline.specs import ModelSpec, model_spec
from lib.pipeline.subwords import BOS, EOS, PAD, Vocab, vocab_config, vocab_for

__all__ = ["Trained", "load_model", "model_config", "build_model", "train", "load_checkpoint", "bleu",
           "perplexity", "translate", "device"]

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
    return config


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


def load_model(profile: str | Profile, model: str | ModelSpec, progress: bool = True) -> Trained:
    """A trained model of ``profile`` ("en-de", "en-fr", "en-cs", "lm", ...): cached, resumed or trained."""
    from lib.pipeline.corpora import multi30k

    p = get_profile(profile)
    spec = model_spec(p, model)
    config = model_config(p, spec)
    folder = models_dir(p) / f"{spec.name}-{config_key(config)}"
    src_vocab = vocab_for(p, spec.source_lang)
    tgt_vocab = None if spec.target_lang is None else vocab_for(p, spec.target_lang)
    model = build_model(config, src_vocab.size, tgt_vocab.size if tgt_vocab else None)
    if not (folder / "model.pt").is_file():
        langs = list(spec.langs)
        train_set, dev_set = (encode_examples(multi30k(split, langs, p), langs, src_vocab, tgt_vocab,
                                              config["sizes"]["max_len"]) for split in ("train", "val"))
        train(model, config, train_set, dev_set, folder, progress)
    final = load_checkpoint(folder / "model.pt", config)
    model.load_state_dict(final["model"])
    return Trained(spec, model.to(device()).eval(), src_vocab, tgt_vocab, config, tuple(final["history"]))


def encode_examples(texts: dict[str, list[str]], langs: Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab | None,
                    max_len: int) -> list[Example]:
    """Piece ids per sentence (pairs for NMT, singles for the LM), dropping empty ones and those over ``max_len``."""
    columns = [src_vocab.encode(texts[langs[0]])]
    if tgt_vocab is not None:
        columns.append(tgt_vocab.encode(texts[langs[1]]))
    return [ex for ex in zip(*columns) if all(0 < len(ids) <= max_len for ids in ex)]


def batches(examples: Sequence[Example], batch_size: int, rng: np.random.Generator | None) -> list[list[int]]:
    """Index batches of similar source length (less padding); shuffled by ``rng``, or in length order if None."""
    lengths = np.array([len(ex[0]) for ex in examples])
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(examples))
    pool = batch_size * 50
    chunks = [order[i:i + pool] for i in range(0, len(order), pool)]
    sorted_order = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in chunks])
    out = [sorted_order[i:i + batch_size].tolist() for i in range(0, len(sorted_order), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def collate(examples: Sequence[Example], dev: str) -> tuple[Tensor, ...]:
    """Padded tensors of a batch. NMT: (src, src lengths, bos+tgt+eos). LM: (bos+src+eos, input lengths)."""
    def pad(seqs):
        out = torch.full((len(seqs), max(map(len, seqs))), PAD, dtype=torch.long)
        for row, seq in enumerate(seqs):
            out[row, :len(seq)] = torch.as_tensor(seq)
        return out.to(dev)

    if len(examples[0]) == 2:
        src = [ex[0] for ex in examples]
        return pad(src), torch.tensor([len(s) for s in src]), pad([[BOS, *ex[1], EOS] for ex in examples])
    return pad([[BOS, *ex[0], EOS] for ex in examples]), torch.tensor([len(ex[0]) + 1 for ex in examples])


def batch_loss(model: nn.Module, batch: tuple[Tensor, ...], smoothing: float = 0.0, zero=None
               ) -> tuple[Tensor, int]:
    """Summed cross-entropy over the target pieces of a batch (neurons ``zero`` zeroed), and their number."""
    if isinstance(model, NMT):
        src, lengths, tgt = batch
        logits, target = model(src, lengths, tgt[:, :-1], zero), tgt[:, 1:]
    else:
        seq, lengths = batch
        logits, target = model(seq[:, :-1], lengths, zero), seq[:, 1:]
    loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=PAD, label_smoothing=smoothing,
                           reduction="sum")
    return loss, int((target != PAD).sum())


@torch.no_grad()
def dev_loss(model: nn.Module, examples: Sequence[Example], batch_size: int) -> float:
    """Mean cross-entropy per target piece (no smoothing, no dropout)."""
    model.eval()
    dev = next(model.parameters()).device
    total, count = 0.0, 0
    for idx in batches(examples, batch_size, None):
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
          folder: str | Path, progress: bool = True) -> list[dict]:
    """Train ``model`` per ``config`` (Adam, schedule, gradient clipping), checkpointing each epoch in ``folder``.

    Resumes from ``folder/last.pt`` when present; writes ``folder/model.pt`` (best dev loss) at the end.
    Returns the history: per epoch train loss, dev loss and minutes.
    """
    folder, s, dev = Path(folder), config["sizes"], device()
    if not train_set or not dev_set:
        raise ValueError(f"cannot train {config['name']}: {len(train_set)} training and {len(dev_set)} dev examples")
    model.to(dev)
    steps_per_epoch = math.ceil(len(train_set) / s["batch_size"])
    optimizer = torch.optim.Adam(model.parameters(), lr=s["lr"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(s, steps_per_epoch * s["epochs"]))
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
        train_loss = run_epoch(model, train_set, batches(train_set, s["batch_size"], rng), optimizer, scheduler, s,
                               desc=f"{config['name']} epoch {epoch + 1}/{s['epochs']}", progress=progress)
        loss = dev_loss(model, dev_set, s["batch_size"])
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "dev_loss": loss,
                        "minutes": (time.perf_counter() - start) / 60})
        weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if loss < best:
            best = loss
            _save(folder / "best.pt", {"config": config, "model": weights, "epoch": epoch + 1})
        _save(folder / "last.pt", {"config": config, "model": weights, "optimizer": optimizer.state_dict(),
                                   "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                                   "history": history, "best": best})
    final = load_checkpoint(folder / "best.pt", config)
    _save(folder / "model.pt", {**final, "history": history})
    return history


def run_epoch(model: nn.Module, examples: Sequence[Example], order: list[list[int]], optimizer, scheduler,
              sizes: dict, desc: str, progress: bool) -> float:
    """One pass over ``order`` (index batches); returns the mean training loss per target piece."""
    model.train()
    dev = str(next(model.parameters()).device)
    total, count = 0.0, 0
    bar = tqdm(order, desc=desc, disable=not progress, leave=False)
    for idx in bar:
        loss, n = batch_loss(model, collate([examples[i] for i in idx], dev), sizes["label_smoothing"])
        optimizer.zero_grad()
        (loss / n).backward()
        nn.utils.clip_grad_norm_(model.parameters(), sizes["clip_norm"])
        optimizer.step()
        scheduler.step()
        total, count = total + loss.item(), count + n
        bar.set_postfix(loss=f"{total / count:.3f}")
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
