"""Trained checkpoints shipped in the repository: a first ``make demo`` installs the demo models in seconds instead of
training them for 10 to 30 minutes, and a test tells when the training code no longer reproduces them.

``checkpoints/<profile>/`` holds, for each model, the final ``model.pt`` that :func:`lib.pipeline.training.train`
wrote (weights in the profile's ``stored`` precision: float16 in demo, 5 MB per NMT model), and ``manifest.json``:
per model its training configuration, the file's SHA-256, the SHA-256 of each vocabulary it reads, the fingerprint
of its first training batches (:func:`lib.pipeline.training.fingerprint`) and how it was made. :func:`install` copies a
checkpoint only when its configuration, its bytes and its vocabularies all match what is requested; otherwise the
model is trained as before.

    python -m lib.pipeline.shipped ship --profile demo       # checkpoints/demo/ from the models trained here
    python -m lib.pipeline.shipped verify --profile demo     # retrain each from scratch, compare the weights
    python -m lib.pipeline.training --profile demo --from-scratch    # train instead of installing

Used in: lib.pipeline.training (load_model, train_all), 00_data_and_models, tests/test_shipped.py.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from lib.pipeline.artifacts import atomic_path, config_key, read_json, write_json
from lib.pipeline.profiles import REPO_ROOT, Profile, get_profile
from lib.pipeline.specs import model_spec

MANIFEST = "manifest.json"
SOURCE = "shipped.json"  # written beside an installed model.pt: where it came from


def checkpoints_dir(profile: str | Profile) -> Path:
    """Where the checkpoints of ``profile`` are shipped: ``checkpoints/<profile>/`` in the repository."""
    return REPO_ROOT / "checkpoints" / get_profile(profile).name


def manifest(profile: str | Profile) -> dict:
    """The shipped models of ``profile`` as ``{name: entry}`` (empty when nothing is shipped)."""
    path = checkpoints_dir(profile) / MANIFEST
    return read_json(path)["models"] if path.is_file() else {}


def sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def vocab_digests(profile: str | Profile, model: str) -> dict[str, str]:
    """The SHA-256 of each vocabulary ``model`` reads (built here when missing), by language."""
    from lib.pipeline.subwords import vocab_for

    p = get_profile(profile)
    return {lang: sha256(vocab_for(p, lang).path) for lang in model_spec(p, model).langs}


def mismatch(profile: str | Profile, name: str, config: dict) -> str | None:
    """Why the shipped checkpoint of ``name`` cannot stand for a model trained with ``config`` here (None: it can)."""
    entry = manifest(profile).get(name)
    if entry is None:
        return "none is shipped"
    if entry["config"] != config:
        differ = sorted(k for k in set(entry["config"]) | set(config) if entry["config"].get(k) != config.get(k))
        return f"it was made with another configuration (differs in: {', '.join(differ)})"
    path = checkpoints_dir(profile) / entry["file"]
    if not path.is_file() or sha256(path) != entry["sha256"]:
        return f"{path} is missing or not the file the manifest describes"
    differ = [lang for lang, digest in vocab_digests(profile, name).items() if entry["vocabs"].get(lang) != digest]
    if differ:
        return f"the {'/'.join(differ)} vocabulary built here differs from the one it was trained with"
    return None


def install(profile: str | Profile, name: str, config: dict, folder: str | os.PathLike, progress: bool = True
            ) -> bool:
    """Copy the shipped checkpoint of ``name`` to ``folder/model.pt`` when it matches ``config`` and the
    vocabularies built here; True when installed. Says why not when a shipped checkpoint exists but does not fit."""
    p = get_profile(profile)
    reason = mismatch(p, name, config)
    if reason is not None:
        if progress and reason != "none is shipped":
            print(f"{name}: the shipped checkpoint is not used: {reason}; training it here", flush=True)
        return False
    entry = manifest(p)[name]
    folder = Path(folder)
    with atomic_path(folder / "model.pt") as tmp:
        shutil.copyfile(checkpoints_dir(p) / entry["file"], tmp)
    write_json(folder / SOURCE, {"file": entry["file"], "sha256": entry["sha256"], "made": entry["made"]})
    if progress:
        print(f"{name}: ready, installed from checkpoints/{p.name}/{entry['file']} (shipped, made "
              f"{entry['made']['date']}, best dev loss {entry['best_dev_loss']:.3f}; --from-scratch trains it here)",
              flush=True)
    return True


def source(profile: str | Profile, name: str) -> str:
    """"shipped" when the model of ``name`` here was installed from a shipped checkpoint, else "trained here"."""
    from lib.pipeline.training import model_folder

    return "shipped" if (model_folder(profile, name) / SOURCE).is_file() else "trained here"


def ship(profile: str | Profile, names: Sequence[str] | None = None) -> Path:
    """Write ``checkpoints/<profile>/`` from the models trained here (training those that are missing, never
    installing shipped ones): each ``model.pt``, and the manifest with digests, first losses and provenance."""
    import torch

    from lib.pipeline.training import fingerprint, load_model, model_config, model_folder

    p = get_profile(profile)
    names = list(p.trainable if names is None else names)
    out = checkpoints_dir(p)
    entries = {}
    for name in names:
        trained = load_model(p, name, progress="lines", shipped=False)
        threads = torch.load(model_folder(p, name) / "model.pt", map_location="cpu", weights_only=False).get("threads")
        config = model_config(p, name)
        file = f"{name}-{config_key(config)}.pt"
        with atomic_path(out / file) as tmp:
            shutil.copyfile(model_folder(p, name) / "model.pt", tmp)
        entries[name] = {
            "file": file, "sha256": sha256(out / file), "config": config, "vocabs": vocab_digests(p, name),
            "fingerprint": fingerprint(p, name), "best_dev_loss": min(h["dev_loss"] for h in trained.history),
            "made": {"date": datetime.date.today().isoformat(), "torch": torch.__version__,
                     "python": platform.python_version(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                     "threads": threads,
                     "command": f"python -m lib.pipeline.training --profile {p.name} --from-scratch, then "
                                f"python -m lib.pipeline.shipped ship --profile {p.name}"}}
        print(f"{name}: shipped as checkpoints/{p.name}/{file}", flush=True)
    for stale in set(out.glob("*.pt")) - {out / e["file"] for e in entries.values()}:
        stale.unlink()
    return write_json(out / MANIFEST, {"profile": p.name, "models": entries})


def verify(profile: str | Profile, names: Sequence[str] | None = None, jobs: int = 2) -> list[dict]:
    """Retrain every shipped model of ``profile`` from scratch in a temporary folder, ``jobs`` at a time, each on the
    number of threads it was made with (:func:`training_threads`), and compare its weights with the shipped ones:
    the largest absolute difference per model (0.0: bit-identical)."""
    p = get_profile(profile)
    entries = manifest(p)
    names = list(entries if names is None else names)
    tasks = [(p.name, name, training_threads(entries[name], jobs)) for name in names]
    with multiprocessing.get_context("spawn").Pool(max(1, min(jobs, len(names))), maxtasksperchild=1) as pool:
        rows = pool.map(_verify_one, tasks)
    for row in rows:
        print(f"{row['model']}: largest weight difference {row['max_abs_diff']:.3g} "
              f"({'identical' if row['max_abs_diff'] == 0 else 'differs'})", flush=True)
    return rows


def training_threads(entry: dict | None, jobs: int = 2) -> int:
    """The torch threads a shipped model was trained on (its manifest ``entry``'s ``made.threads``), or, without an
    entry or a recorded count, this machine's cores shared by ``jobs`` processes. The same seed on another thread
    count trains another model: the 3-epoch en→de of 2026-12-01 retrained on one thread was bit-identical to the
    shipped one, on two its weights differed by up to 0.92 (BLEU 17.3, not 18.2)."""
    recorded = entry["made"].get("threads") if entry is not None else None
    return recorded or max(1, (os.cpu_count() or 1) // max(jobs, 1))


def _verify_one(task: tuple[str, str, int]) -> dict:
    import torch

    from lib.pipeline.specs import model_spec as spec_of
    from lib.pipeline.subwords import vocab_for
    from lib.pipeline.training import build_model, model_config, train, training_data

    profile, name, threads = task
    torch.set_num_threads(threads)
    p, spec = get_profile(profile), spec_of(profile, name)
    config = model_config(p, spec)
    src, tgt = vocab_for(p, spec.source_lang), None if spec.target_lang is None else vocab_for(p, spec.target_lang)
    with tempfile.TemporaryDirectory(prefix=f"grains-verify-{name}-") as folder:
        train(build_model(config, src.size, tgt.size if tgt else None), config, *training_data(p, spec, src, tgt),
              folder, progress="lines")
        mine = torch.load(Path(folder) / "model.pt", map_location="cpu", weights_only=False)["model"]
    shipped = torch.load(checkpoints_dir(p) / manifest(p)[name]["file"], map_location="cpu", weights_only=False)
    diff = max(float((mine[k].float() - v.float()).abs().max()) for k, v in shipped["model"].items())
    return {"model": name, "max_abs_diff": diff}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lib.pipeline.shipped {ship,verify} --profile demo [--models ...]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("ship", "verify"))
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--models", nargs="*", help="model names (default: all)")
    args = parser.parse_args(argv)
    if args.action == "ship":
        print(f"wrote {ship(args.profile, args.models)}")
        return 0
    rows = verify(args.profile, args.models)
    return 0 if all(row["max_abs_diff"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
