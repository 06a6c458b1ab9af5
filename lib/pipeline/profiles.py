"""The run profiles ``tiny``, ``demo`` and ``paper``, and where their artifacts live.

A profile fixes every size used anywhere (corpus slices, probe sentence counts, model sizes, epochs, ablation steps),
so that one name reproduces a whole run: ``tiny`` for tests and CI (seconds per step), ``demo`` for ``make demo``
(the design budget is 20 minutes on a 2-core CPU; on fresh clones 7.0-10.6 minutes on 2026-12-04's machine, an Intel
CPU with AMX, 11.3 beside two CPU-bound processes, and 24.1 to 29.9 on 2026-12-01/02's slower machine: README, "What
you will see"), ``paper`` for the paper's scale (meant for a GPU).
Used in: every notebook (the ``profile`` parameter) and every module that caches artifacts.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CorpusSizes:
    """How much of each corpus a profile reads (``None`` means all of it)."""

    brown_sentences: int | None
    ud_sentences: int | None
    multi30k_train: int | None
    multi30k_val: int | None
    multi30k_test: int | None


@dataclass(frozen=True)
class ModelSizes:
    """Sizes and training schedule of one kind of model (NMT or LM)."""

    src_vocab: int
    tgt_vocab: int
    emb: int
    hidden: int
    layers: int
    dropout: float
    epochs: int
    batch_size: int
    lr: float
    max_len: int
    beam: int
    warmup_steps: int = 0
    clip_norm: float = 1.0
    label_smoothing: float = 0.0
    batch_tokens: int = 0  # when > 0, a batch also holds at most this many padded pieces (source + target)
    stored: str = "float32"  # precision of the final weights: "float16" halves the checkpoints the demo ships


@dataclass(frozen=True)
class ProbeSizes:
    """Probing data and probe training: sentences drawn per split, elastic-net strengths, optimisation; and the
    evidence behind each accuracy: ``seeds`` probes per retrained set, ``random_draws`` random selections,
    ``n_boot`` bootstrap resamples of the test sentences (95 % intervals, METHODS.md §6); seeds and draws apply at
    the ``replicate_percentages`` (the verdict's 10 % in tiny and demo, where retrainings cost demo time). ``solver``
    and ``tol`` say how far each probe is optimised (``lib.methods.probing.ProbeSettings``); ``rank_tol`` (None:
    ``tol``) is the tolerance of the all-neuron LCA probes alone, whose weights rank the neurons for every later
    step. Demo probes retrained on subsets stop at tol 1e-3, where accuracy has settled (en→de POS 0.8440 against
    0.8450 at 1e-6), but a ranking has not: against a 1e-6 probe its top 10 % overlaps by Jaccard 0.52 (en→de POS),
    0.92 at 1e-4 and 0.96 at 1e-5; against 1e-5, LM POS 0.53 and 0.79 at 1e-3 and 1e-4, MiniLM POS 0.17 and 0.42
    (``benchmarks/bench_convergence.py``, 2026-12-04). The demo ranks with probes at 1e-4 (2-3× a 1e-3 probe's
    time); at 1e-5 (3-13×) a fresh-clone ``make demo`` took 13:21 instead of 7:18, the SEM probes' 57 labels
    costing most. Every LCA summary checks its ranking against a ten times tighter run and retrains that run's top
    set (``lca.convergence_check``, ``lca.summary``); paper ranks at 1e-5. ``workers`` processes train a
    batch of probes (``lib.pipeline.workers``): None for one per CPU core; tiny uses 1, its probes take less time
    than a process takes to start."""

    train_sentences: int
    dev_sentences: int
    test_sentences: int
    l1: float
    l2: float
    epochs: int
    batch_size: int
    lr: float
    lambda_grid: tuple[float, ...]
    percentages: tuple[int, ...]
    minimal_set_delta: float
    salient_mass: float
    seeds: int = 1
    random_draws: int = 1
    solver: str = "owlqn"
    tol: float = 1e-4
    rank_tol: float | None = None
    n_boot: int = 1000
    replicate_percentages: tuple[int, ...] = (10, 15, 20)
    workers: int | None = None

    @property
    def ranking_tol(self) -> float:
        """The tolerance the ranking probes stop at: ``rank_tol``, or ``tol`` where it is None."""
        return self.tol if self.rank_tol is None else self.rank_tol


@dataclass(frozen=True)
class AblationSizes:
    """In-model ablation sweep: step and extent as shares of the neurons, and the evaluation slice."""

    step: float
    max_share: float
    test_sentences: int | None


@dataclass(frozen=True)
class Profile:
    """Everything a run needs to know about sizes; see the module docstring."""

    name: str
    seed: int
    corpora: CorpusSizes
    nmt: ModelSizes
    lm: ModelSizes
    probe: ProbeSizes
    ablation: AblationSizes
    nmt_pairs: tuple[str, ...] = ("en-de", "en-fr", "en-cs")
    probe_corpora: tuple[str, ...] = ("brown", "ud")

    replicated_pair: str | None = "en-de"

    @property
    def models(self) -> tuple[str, ...]:
        """Names of the analysed models of the profile: the NMT pairs and the language model ``lm``."""
        return (*self.nmt_pairs, "lm")

    @property
    def replicates(self) -> tuple[str, ...]:
        """The paper's replicate design: ``replicated_pair`` trained three times, each on a third of its training
        data ("en-de.r1" … "en-de.r3"); their cross-model correlation measures model-to-model spread."""
        return tuple(f"{self.replicated_pair}.r{k}" for k in (1, 2, 3)) if self.replicated_pair else ()

    @property
    def trainable(self) -> tuple[str, ...]:
        """Every model name :func:`lib.pipeline.training.load_model` accepts: ``models`` then ``replicates``."""
        return (*self.models, *self.replicates)


LAMBDA_GRID = (0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)

TINY = Profile(
    name="tiny",
    seed=13,
    corpora=CorpusSizes(brown_sentences=400, ud_sentences=300, multi30k_train=600, multi30k_val=60,
                        multi30k_test=40),
    nmt=ModelSizes(src_vocab=300, tgt_vocab=300, emb=16, hidden=16, layers=2, dropout=0.0, epochs=2, batch_size=32,
                   lr=1e-2, max_len=50, beam=2),
    lm=ModelSizes(src_vocab=300, tgt_vocab=300, emb=16, hidden=16, layers=2, dropout=0.0, epochs=2, batch_size=32,
                  lr=1e-2, max_len=50, beam=1),
    probe=ProbeSizes(train_sentences=200, dev_sentences=50, test_sentences=100, l1=1e-5, l2=1e-5, epochs=10,
                     batch_size=256, lr=1e-2, lambda_grid=(0.0, 1e-5, 1e-3, 1e-1), percentages=(10, 15, 20),
                     minimal_set_delta=0.005, salient_mass=0.25, seeds=2, random_draws=2,
                     replicate_percentages=(10,), tol=1e-3, workers=1),
    ablation=AblationSizes(step=0.1, max_share=0.2, test_sentences=20),
)

DEMO = Profile(
    name="demo",
    seed=13,
    corpora=CorpusSizes(brown_sentences=6000, ud_sentences=None, multi30k_train=None, multi30k_val=None,
                        multi30k_test=None),
    # 10 epochs, not 3: the models are shipped (lib.pipeline.shipped), so their training costs a first run nothing.
    # Best dev losses en→de 2.93 → 2.03, en→fr 2.14 → 1.35, en→cs 3.28 → 2.45, LM 3.62 → 3.28 (README, the models).
    nmt=ModelSizes(src_vocab=4000, tgt_vocab=4000, emb=128, hidden=128, layers=2, dropout=0.1, epochs=10,
                   batch_size=64, lr=3e-3, max_len=80, beam=4, warmup_steps=300, clip_norm=1.0,
                   label_smoothing=0.1, stored="float16"),
    lm=ModelSizes(src_vocab=4000, tgt_vocab=4000, emb=128, hidden=128, layers=2, dropout=0.1, epochs=10,
                  batch_size=64, lr=3e-3, max_len=80, beam=1, warmup_steps=300, clip_norm=1.0, stored="float16"),
    probe=ProbeSizes(train_sentences=4000, dev_sentences=500, test_sentences=1000, l1=1e-5, l2=1e-5, epochs=20,
                     batch_size=1024, lr=5e-3, lambda_grid=LAMBDA_GRID, percentages=(10, 15, 20),
                     minimal_set_delta=0.005, salient_mass=0.25, seeds=2, random_draws=3,
                     replicate_percentages=(10,), tol=1e-3, rank_tol=1e-4),
    ablation=AblationSizes(step=0.05, max_share=0.3, test_sentences=None),
)

PAPER = Profile(
    name="paper",
    seed=13,
    corpora=CorpusSizes(brown_sentences=None, ud_sentences=None, multi30k_train=None, multi30k_val=None,
                        multi30k_test=None),
    nmt=ModelSizes(src_vocab=8000, tgt_vocab=8000, emb=500, hidden=500, layers=2, dropout=0.3, epochs=20,
                   batch_size=64, lr=1e-3, max_len=100, beam=5, warmup_steps=500, clip_norm=1.0,
                   label_smoothing=0.1),
    lm=ModelSizes(src_vocab=8000, tgt_vocab=8000, emb=500, hidden=500, layers=2, dropout=0.3, epochs=20,
                  batch_size=64, lr=1e-3, max_len=100, beam=1, warmup_steps=500, clip_norm=1.0),
    probe=ProbeSizes(train_sentences=20000, dev_sentences=2000, test_sentences=4000, l1=1e-5, l2=1e-5, epochs=10,
                     batch_size=1024, lr=2e-3, lambda_grid=LAMBDA_GRID, percentages=(10, 15, 20),
                     minimal_set_delta=0.005, salient_mass=0.25, seeds=5, random_draws=10, rank_tol=1e-5),
    ablation=AblationSizes(step=0.025, max_share=1.0, test_sentences=None),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (TINY, DEMO, PAPER)}


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name``; an unknown name raises a ``KeyError`` listing the known ones."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}") from None


def data_dir() -> Path:
    """Root of built artifacts: ``$GRAINS_DATA_DIR`` or ``data/`` in the repository."""
    return Path(os.environ.get("GRAINS_DATA_DIR", REPO_ROOT / "data"))


def corpora_dir() -> Path:
    """Where fetched corpora live (shared by all profiles)."""
    return data_dir() / "corpora"


def models_dir(profile: str | Profile) -> Path:
    """Where trained models of a profile live."""
    return data_dir() / "models" / get_profile(profile).name


def activations_dir(profile: str | Profile) -> Path:
    """Where extracted activations of a profile live."""
    return data_dir() / "activations" / get_profile(profile).name


def results_dir(profile: str | Profile) -> Path:
    """Where cached analysis results (probes, curves) of a profile live."""
    return data_dir() / "results" / get_profile(profile).name


def reports_dir(profile: str | Profile) -> Path:
    """Where executed notebooks, HTML, figures and JSON of a profile go: ``$GRAINS_REPORTS_DIR`` or ``reports/``."""
    return Path(os.environ.get("GRAINS_REPORTS_DIR", REPO_ROOT / "reports")) / get_profile(profile).name
