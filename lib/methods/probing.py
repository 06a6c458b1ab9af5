"""The elastic-net logistic-regression probe of Linguistic Correlation Analysis: training, evaluation, saving.

A probe maps a word's neuron activations to a label of a property (METHODS.md §1). Grains minimises

    loss = mean cross-entropy + λ1 · Σ|W| + λ2 · Σ W²        (no penalty on the bias)

with the cross-entropy averaged over the training words and the L2 term **squared**; NeuroX instead adds the
unsquared Frobenius norm and sums the penalties per mini-batch of 32 without scaling, so equal λ values do not mean
equal regularisation there. The solvers train the probe to the optimum of this objective, full-batch: OWL-QN
(the default; L-BFGS with the L1 term handled exactly by orthant projection) or FISTA with backtracking and adaptive
restart (the L1 term by its soft-threshold prox); unhelpful weights become exactly zero, and both stop on the
largest entry of the minimum-norm subgradient (``ProbeSettings.tol``). Both match scipy's L-BFGS-B on the split
W = W⁺ − W⁻ formulation (tests/test_probing.py); the mini-batch Adam of the paper and NeuroX, early-stopped on
dev accuracy, stopped far from it (on synthetic data objective 0.39 against 0.051) and stays selectable as
``solver="adam"`` to measure what that changes. The dev split only scores the probe unless Adam's early stopping is
asked for (``dev_use``); λ is chosen on dev by :func:`lambda_search`.

The objective is on **raw** activations, as in the paper and NeuroX: ``W`` multiplies the activations themselves, so
zeroing a neuron (masking, in-model ablation) removes exactly its term. Internally the optimiser works on centred,
scaled coordinates (``W = V / σ``, the bias absorbing ``W · μ``, the penalty written on ``V / σ``): an exact
reparametrisation with the same minimiser, but LSTM states with offsets near ±0.75 and spreads near 0.1 otherwise
need hundreds of Adam steps before the weights reach their scale (NeuroX's probe stays at 26 % on tiny POS), and
the gradient's Lipschitz constant, which sets FISTA's step, is far smaller on standardised columns.

Rankings use ``scaled_weights`` = W · σ, not raw W: a raw weight is per unit of activation, so a neuron with a small
spread gets a large |W| for little evidence. The spreads of the demo en→de encoder differ 27-fold, and ranking by raw
|W| made the top 10 % retrain to 60.1 % POS accuracy, *below* a random 10 % (62.8 %); by W · σ the top, random and
bottom 10 % give 67.5, 62.8 and 48.8 %. (NeuroX's under-converged raw-space Adam hides this by never letting small-
spread weights grow.)
Used in: 01_linguistic_correlation, 04_localized_or_distributed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import threading
import weakref
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
import pandas as pd
import torch

from lib.progress import tqdm


SOLVERS = ("owlqn", "fista", "adam")
SOLVER_REVISION = 6  # raised whenever a solver changes where it stops, so caches of probes it trained are not reused
DEV_USES = ("report", "early_stop")
PRECISIONS = ("auto", "float32", "mixed")


@functools.cache
def native_bfloat16() -> bool:
    """Whether this machine multiplies bfloat16 matrices in hardware on the CPU (Intel AMX), where a bfloat16
    product of a probe's shapes measured 2-4× faster than float32; elsewhere (AVX-512 or AVX2 alone) it is slower,
    and on a GPU the solvers stay in float32."""
    init_amx = getattr(torch._C._cpu, "_init_amx", None)
    return device() == "cpu" and init_amx is not None and bool(init_amx())


@dataclass(frozen=True)
class ProbeSettings:
    """How a probe is trained: elastic-net strengths, solver, stopping rule, what the dev split is for, seed.

    ``solver="owlqn"`` (default; L-BFGS with the L1 term handled exactly) and ``solver="fista"`` (accelerated
    proximal gradient) run full-batch to the optimum of the stated objective and stop when the largest entry of the
    minimum-norm subgradient (OWL-QN's pseudo-gradient; FISTA's gradient mapping), zero exactly at the optimum, is
    at most ``tol``, or after ``max_iter`` passes. Both are deterministic and do not use ``seed``; OWL-QN measured
    1.4× faster than FISTA at 10k × 256 × 40 and reaches a lower objective at the same ``tol``. ``solver="adam"``
    is the paper's and NeuroX's optimiser (mini-batch Adam with a soft-threshold step for λ1), kept to measure what
    under-convergence changes: ``epochs``, ``batch_size``, ``lr`` and ``seed`` (the shuffling) apply to it alone.

    ``precision`` (OWL-QN only): ``"mixed"`` runs the iterations on bfloat16 copies of the standardised data with
    float32 logits and gradients, then checks the stopping rule in float32 and finishes there (see
    :func:`_owlqn`), so the probe meets the same rule on the same objective; ``"float32"`` never leaves float32;
    ``"auto"`` (default) becomes ``"mixed"`` where :func:`native_bfloat16` holds, else ``"float32"``, and the
    settings record which. FISTA and Adam always record ``"float32"``.

    ``dev_use``: ``"report"`` (default) only scores the final weights on the dev split; ``"early_stop"`` (Adam only)
    checks dev accuracy ``checks_per_epoch`` times per epoch, stops once ``patience`` checks in a row failed to raise
    the best by more than ``min_delta`` and keeps the most accurate weights. A converged solver needs no early
    stopping: the objective, not a dev split, defines the probe, and λ (chosen on dev by :func:`lambda_search`) is
    the regulariser.
    """

    l1: float = 1e-5
    l2: float = 1e-5
    solver: str = "owlqn"
    tol: float = 1e-4
    max_iter: int = 2000
    dev_use: str = "report"
    epochs: int = 20
    batch_size: int = 256
    lr: float = 2e-3
    patience: int = 2
    min_delta: float = 1e-3
    checks_per_epoch: int = 2
    seed: int = 0
    precision: str = "auto"

    @property
    def seeded(self) -> bool:
        """Whether the seed changes the probe: only Adam's shuffling does; the full-batch solvers are deterministic."""
        return self.solver == "adam"

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown probe solver {self.solver!r}; known: {', '.join(SOLVERS)}")
        if self.dev_use not in DEV_USES:
            raise ValueError(f"unknown dev_use {self.dev_use!r}; known: {', '.join(DEV_USES)}")
        if self.dev_use == "early_stop" and self.solver != "adam":
            raise ValueError(f"dev_use='early_stop' needs solver='adam': {self.solver} runs to the optimum of its "
                             "objective")
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError(f"penalties must be ≥ 0, got l1={self.l1}, l2={self.l2}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown probe precision {self.precision!r}; known: {', '.join(PRECISIONS)}")
        if self.solver != "owlqn":
            object.__setattr__(self, "precision", "float32")
        elif self.precision == "auto":
            object.__setattr__(self, "precision", "mixed" if native_bfloat16() else "float32")


@dataclass(frozen=True, eq=False)
class Probe:
    """A trained probe: ``weights`` labels × neurons, ``bias`` (labels,), ``classes`` the label of each row (sorted),
    the ``settings`` it was trained with, ``epochs_run`` (passes over the training words behind the kept weights:
    OWL-QN or FISTA iterations, Adam epochs), their dev accuracy (None without a dev split), ``scale`` (neurons,) the
    standard deviation of each neuron over the training words, the training ``objective`` the weights reach and
    whether the solver met its stopping rule (``converged``; None for Adam, which has none)."""

    weights: np.ndarray
    bias: np.ndarray
    classes: tuple[str, ...]
    settings: ProbeSettings
    epochs_run: float
    dev_accuracy: float | None
    scale: np.ndarray
    objective: float | None = None
    converged: bool | None = None

    @property
    def scaled_weights(self) -> np.ndarray:
        """``weights`` × each neuron's standard deviation on the training words (labels × neurons): the change of a
        logit per typical swing of the neuron, which the LCA rankings use (see the module docstring)."""
        return self.weights * self.scale

    @property
    def n_neurons(self) -> int:
        """How many neurons (columns of the activations) the probe reads."""
        return self.weights.shape[1]


def device() -> str:
    """``"cuda"`` when a GPU is present, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _check(acts: np.ndarray, labels: Sequence[str], where: str) -> tuple[np.ndarray, np.ndarray]:
    acts = np.asarray(acts)
    labels = np.asarray(labels, dtype=str)
    if acts.ndim != 2:
        raise ValueError(f"{where}: acts must be a words × neurons matrix, got shape {acts.shape}")
    if labels.shape != (acts.shape[0],):
        raise ValueError(f"{where}: need one label per row of acts; got {labels.shape[0]} labels for "
                         f"{acts.shape[0]} rows")
    return acts, labels


def encode(classes: Sequence[str], labels: np.ndarray) -> np.ndarray:
    """Label ids in ``classes`` order; a label the probe does not know gets -1 (always counted as an error)."""
    classes = np.asarray(classes, dtype=str)
    pos = np.searchsorted(classes, labels)
    pos = np.minimum(pos, len(classes) - 1)
    return np.where(classes[pos] == labels, pos, -1)


def objective(probe: Probe, acts: np.ndarray, labels: Sequence[str]) -> float:
    """The probe's training objective on ``acts`` (words × neurons) and ``labels``, in float64: mean cross-entropy
    + λ1 Σ|W| + λ2 Σ W² with the probe's own λ; the number a solver minimises, to compare solvers (a label the
    probe does not know raises). Used in: benchmarks/bench_probe.py."""
    acts, labels = _check(acts, labels, "objective")
    y = encode(probe.classes, labels)
    if (y < 0).any():
        raise ValueError(f"objective: labels unknown to the probe: {sorted(set(labels[y < 0]))[:5]}")
    return _objective(probe.weights, probe.bias, acts, y, probe.settings.l1, probe.settings.l2)


def _objective(weights: np.ndarray, bias: np.ndarray, acts: np.ndarray, y: np.ndarray, l1: float, l2: float
               ) -> float:
    """Mean CE + λ1 Σ|W| + λ2 Σ W² of raw weights (labels × neurons) in float64."""
    W = np.asarray(weights, dtype=np.float64)
    z = np.asarray(acts, dtype=np.float64) @ W.T + np.asarray(bias, dtype=np.float64)
    z -= z.max(1, keepdims=True)
    ce = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y])
    return float(ce + l1 * np.abs(W).sum() + l2 * np.square(W).sum())


def train_probe(acts: np.ndarray, labels: Sequence[str], dev: tuple[np.ndarray, Sequence[str]] | None = None,
                settings: ProbeSettings | None = None, progress: bool = True,
                init: tuple[np.ndarray, np.ndarray] | None = None, columns: Sequence[int] | None = None) -> Probe:
    """Train the elastic-net probe on ``acts`` (words × neurons) and ``labels`` (one string per word); with
    ``columns``, on those columns of ``acts`` (and of the dev activations) alone, as if given ``acts[:, columns]``
    but without copying them: the converged solvers standardise a matrix once and reuse it for every subset of
    its columns while the same array is passed (``acts`` must not change in place meanwhile).

    ``dev = (acts, labels)`` is scored (``dev_accuracy``) and, with ``dev_use="early_stop"``, stops Adam early (see
    :class:`ProbeSettings`). ``init = (weights labels × neurons, bias)`` in raw space starts a converged solver there:
    the optimum does not depend on it, only the time to reach it (a probe retrained on a subset of neurons, started
    from the all-neuron probe's weights, needs 3-4× fewer iterations); Adam, whose early-stopped result would,
    refuses it. The same inputs give the same probe. Used in: 01_linguistic_correlation.
    """
    settings = settings or ProbeSettings()
    acts, labels = _check(acts, labels, "train_probe")
    columns = _columns(columns, acts.shape[1])
    if settings.solver == "adam" and columns is not None:
        acts, dev, columns = acts[:, columns], dev if dev is None else (np.asarray(dev[0])[:, columns], dev[1]), None
    classes = tuple(np.unique(labels).tolist())
    if len(classes) < 2:
        raise ValueError(f"train_probe: need at least two labels to tell apart, got {classes}")
    dev_data = None
    if dev is not None:
        dev_acts, dev_labels = _check(dev[0], dev[1], "train_probe (dev)")
        if dev_acts.shape[1] != acts.shape[1]:
            raise ValueError(f"train_probe: dev has {dev_acts.shape[1]} neurons, train {acts.shape[1]}")
        dev_data = (dev_acts, encode(classes, dev_labels))
        if columns is not None:
            dev_data = (dev_acts[:, columns], dev_data[1])
    if init is not None and settings.solver == "adam":
        raise ValueError("train_probe: init starts a converged solver (owlqn, fista); Adam's result would depend on it")
    y = encode(classes, labels)
    early = settings.dev_use == "early_stop" and dev_data is not None
    with _threads_on_cpu():
        if settings.solver == "adam":
            fit, dev_acc = _fit_adam(acts, y, len(classes), settings, dev_data if early else None, progress)
        else:
            design = _design(acts, y, len(classes), columns, half=settings.precision == "mixed")
            solve = _fista if settings.solver == "fista" else _owlqn
            start = None if init is None else _standardised_start(design, *init)
            fit = _raw(design, *solve(design, settings.l1, settings.l2, settings.tol, settings.max_iter,
                                      init=start, progress=progress))
            _keep(acts, design.half)
    if dev_data is not None and not early:
        dev_acc = float(np.mean((np.asarray(dev_data[0], dtype=np.float32) @ fit.weights.T + fit.bias).argmax(1)
                                == dev_data[1]))
    elif dev_data is None:
        dev_acc = None
    obj = fit.objective if fit.objective is not None else _objective(fit.weights, fit.bias, acts, y, settings.l1,
                                                                      settings.l2)  # Adam: acts already sliced
    return Probe(weights=fit.weights, bias=fit.bias, classes=classes, settings=settings, epochs_run=fit.passes,
                 dev_accuracy=dev_acc, scale=fit.scale, objective=obj, converged=fit.converged)


@contextlib.contextmanager
def _threads_on_cpu() -> Iterator[None]:
    """Inside the block torch computes each operation on one CPU thread (restored after), and the solvers' products
    and the design's transposes run as fixed blocks (:func:`_each`) on a pool of as many threads as torch was set
    to use. torch's own threads handed off more than they computed on a probe's tall-by-thin products (on the
    shared 2-core machine of 2026-11, 3.5-7× longer with 2 threads than with 1 at 80k × 1024, 12-18× at 4k × 64);
    the pool's blocks took ``bench_probe.py``'s mixed-precision probe from 2.16 to 1.33-1.40 s on 2 threads (float32:
    5.76 to 3.35 s). The blocks do not depend on the thread count, so neither does the probe, bit for bit. Worker
    processes and notebooks run side by side compute on one thread each (``lib.pipeline.workers``,
    ``lib.runner.ONE_THREAD``): they start no pool."""
    if device() != "cpu":
        yield
        return
    before, outer = torch.get_num_threads(), _POOL[0]
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(before, thread_name_prefix="probe") if before > 1 else None
    _POOL[0] = pool or outer  # inside another such block, torch is already on one thread: keep its pool
    try:
        yield
    finally:
        _POOL[0] = outer
        if pool is not None:
            pool.shutdown()
        torch.set_num_threads(before)


_POOL: list[ThreadPoolExecutor | None] = [None]  # the threads of the running probe's products (_threads_on_cpu)
_WORD_BLOCK = 8192  # words per block of a product that sums over neurons (the logits) and of transposes
_NEURON_BLOCK = 256  # neurons per block of a product that sums over words (Xᵀ·G)


_Part = TypeVar("_Part")


def _each(fn: Callable[[slice], _Part], size: int, block: int) -> list[_Part]:
    """``fn`` of each slice of ``range(size)`` in steps of ``block``, on the probe's thread pool when there is one
    (torch releases the interpreter lock inside an operation). Each block is computed on one thread whatever the
    pool, so the results do not depend on how many threads there are."""
    parts = [slice(start, min(start + block, size)) for start in range(0, size, block)]
    pool = _POOL[0]
    if pool is None or len(parts) == 1:
        return [fn(part) for part in parts]
    return list(pool.map(fn, parts))


def _tensor(acts: np.ndarray, dev: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(acts, dtype=np.float32)).to(dev)


def _standardise(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre and scale ``X`` (words × neurons) in place; returns its column means and spreads (σ = 1 for a
    constant neuron). Column sums in row blocks: torch's own std over dim 0 of a row-major matrix measured 20×
    slower."""
    mu = X.mean(0)
    X.sub_(mu)
    sigma = (sum((chunk * chunk).sum(0) for chunk in X.split(4096)) / max(X.shape[0] - 1, 1)).sqrt()
    sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
    X.div_(sigma)
    return mu, sigma


@dataclass(frozen=True, eq=False)
class _Design:
    """Standardised training data on the device: ``Y`` label ids, column ``mu`` and ``sigma`` of the raw activations,
    the number of labels, the bfloat16 copies of a mixed-precision solve (``half``), and the float32 data in one of two
    forms: ``built``, standardised and **transposed** (neurons × words, row-major), or ``raw``, the caller's words ×
    neurons as given, standardised inside each product (:meth:`logits`, :meth:`back`) until :meth:`transpose` builds the
    transposed form. Logits are kept as labels × words. With so few labels, both products a solver iteration needs run
    twice as fast in the transposed layout on one CPU thread (80k × 1024 × 12: 154 against 329 ms per gradient), and
    softmax over the label axis 30× faster; a mixed-precision solve of the whole matrix needs float32 only to check its
    stopping rule, which the raw products do as fast (80k × 1024 × 12, two threads: 64 against 64 ms), without the
    transposed copy's 0.2 s."""

    Y: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    n_classes: int
    half: _Half | None = None
    built: torch.Tensor | None = None
    raw: torch.Tensor | None = None

    @property
    def n_words(self) -> int:
        """Training words."""
        return self.Y.shape[0]

    @property
    def n_neurons(self) -> int:
        """Neurons."""
        return self.mu.shape[0]

    @functools.cached_property
    def XT(self) -> torch.Tensor:
        """The standardised float32 data, neurons × words: ``built``, or built from ``raw`` on first use."""
        if self.built is not None:
            return self.built
        XT = _transposed(self.raw)
        _each(lambda rows: XT[rows].sub_(self.mu[rows, None]).div_(self.sigma[rows, None]), self.n_neurons,
              _NEURON_BLOCK)
        return XT

    def transpose(self) -> None:
        """Build the transposed form now: float32 iterations run on it (with 57 labels 89 against 127 ms per
        iteration from the raw data at 80k × 1024, two threads), a check of the stopping rule alone does not."""
        self.XT  # a cached property: built on the first access only

    @property
    def _from_raw(self) -> bool:
        return self.raw is not None and "XT" not in vars(self)

    def logits(self, V: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Logits labels × words of standardised weights ``V`` (neurons × labels) and bias ``c``; on a CPU in blocks
        of :data:`_WORD_BLOCK` words (:func:`_each`); from the raw data as X·(V/σ) + (c − μ·V/σ)."""
        if self._from_raw:
            W = V / self.sigma[:, None]
            b = c - self.mu @ W
            return torch.cat(_each(lambda words: torch.addmm(b, self.raw[words], W).T, self.n_words, _WORD_BLOCK), 1)
        if self.XT.device.type != "cpu":
            return torch.addmm(c[:, None], V.T, self.XT)
        return torch.cat(_each(lambda words: torch.addmm(c[:, None], V.T, self.XT[:, words]), self.n_words,
                               _WORD_BLOCK), 1)

    def back(self, G: torch.Tensor) -> torch.Tensor:
        """Xᵀ·G as neurons × labels, for ``G`` labels × words (a gradient with respect to the logits); on a CPU in
        blocks of :data:`_NEURON_BLOCK` neurons (:func:`_each`): MKL also ran the one product over 2,688 neurons at
        half the speed of its blocks on one thread (82k words, 12 labels: 535 against 248 ms; 125 labels: 2.4
        against 1.8 s). Each block is G·Xᵀ, except with 8 to 16 labels, where MKL ran that form up to twice as long
        as XT·Gᵀ with Gᵀ made contiguous (80k words × 1,024 neurons, one thread: 8 labels 70 against 51 ms, 12
        labels 89 against 51, 14 labels 108 against 51; 2-6 and 20-32 labels the other way round). From the raw
        data: (G·X − ΣG ⊗ μ)ᵀ / σ."""
        if self._from_raw:
            GX = torch.cat(_each(lambda columns: G @ self.raw[:, columns], self.n_neurons, _NEURON_BLOCK), 1)
            return GX.sub_(G.sum(1)[:, None] * self.mu).div_(self.sigma).T
        if self.XT.device.type != "cpu":
            return (G @ self.XT.T).T
        if 8 <= G.shape[0] <= 16:
            return _xt_gt(self.XT, G)
        return torch.cat(_each(lambda rows: G @ self.XT[rows].T, self.n_neurons, _NEURON_BLOCK), 1).T


@dataclass(frozen=True, eq=False)
class _Half:
    """bfloat16 copies of a design's standardised data for the iterations of a mixed-precision solve
    (:func:`_owlqn`): ``X`` words × neurons, and ``XT`` neurons × words where the labels are few enough to use it.
    Each product takes the form that measured fastest on an AMX CPU (82k words, one thread, conversions and
    transposes included): up to 16 labels, the logits' change from X·ΔV (12.0 against 23.5 ms for ΔVᵀ·Xᵀ at 1,024
    neurons × 12 labels) and Xᵀ·G from ``XT`` (16.3 against 24.7 ms from ``X``); with more labels, transposing
    the labels × words matrices costs more than the products (22.6 ms at 125 labels), so both products take
    ``X`` as it lies (ΔVᵀ·Xᵀ 50.3 against 64.2 ms, G·X 39.8 against 56.2)."""

    X: torch.Tensor
    XT: torch.Tensor | None

    @staticmethod
    def of(XT: torch.Tensor, n_classes: int, memory: Callable[[int, int], torch.Tensor]) -> _Half:
        """The bfloat16 copies of a float32 design ``XT`` (neurons × words) with ``n_classes`` labels, in tensors
        from ``memory(rows, columns)`` (:func:`_spare`)."""
        d, n = XT.shape
        low, X = memory(d, n), memory(n, d)
        _each(lambda rows: low[rows].copy_(XT[rows]), d, _NEURON_BLOCK)
        _each(lambda words: X[words].copy_(low[:, words].T), n, _WORD_BLOCK)
        return _Half(X=X, XT=low if n_classes <= _FEW_LABELS else None)

    @staticmethod
    def of_raw(X: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, n_classes: int,
               memory: Callable[[int, int], torch.Tensor]) -> _Half:
        """The bfloat16 copies of raw words × neurons float32 ``X`` standardised by column ``mu`` and ``sigma``, in
        one pass of :data:`_ROWS`-word tiles (each standardised in cache, then written in both layouts), in tensors
        from ``memory(rows, columns)``: with the column statistics (:func:`_column_stats`) 0.27 against 0.40 s
        through the float32 transpose at 80k × 1024 × 12 on two threads, about 0.07 s of it the first writes to
        fresh pages (:func:`_spare`)."""
        (n, d), inv = X.shape, sigma.reciprocal()
        low = memory(n, d)
        XT = memory(d, n) if n_classes <= _FEW_LABELS else None

        def tiles(words: slice) -> None:
            for rows in _slices(words, _ROWS):
                low[rows].copy_((X[rows] - mu).mul_(inv))
                for tile in _slices(rows, _TILE) if XT is not None else ():
                    XT[:, tile].copy_(low[tile].T)

        _each(tiles, n, _WORD_BLOCK)
        return _Half(X=low, XT=XT)

    def moved(self, Z: torch.Tensor, dV: torch.Tensor, dc: torch.Tensor) -> torch.Tensor:
        """The logits ``Z`` (labels × words, float32) moved by the change of V (neurons × labels) by ``dV`` and of c
        by ``dc``: Z + (X·dV + dc), each block of words added where it is written (:func:`_each`)."""
        dV, n = dV.to(torch.bfloat16), self.X.shape[0]
        out = torch.empty(dV.shape[1], n, device=self.X.device)

        def block(words: slice) -> torch.Tensor:
            change = (self.X[words] @ dV).T if self.XT is not None else dV.T @ self.X[words].T
            return torch.add(change, dc[:, None], out=out[:, words]).add_(Z[:, words])

        _each(block, n, _WORD_BLOCK)
        return out

    def back(self, G: torch.Tensor) -> torch.Tensor:
        """Xᵀ·G as neurons × labels (float32) for ``G`` labels × words; in blocks of neurons (:func:`_each`)."""
        if self.XT is not None:
            return _xt_gt(self.XT, G).float()
        G = G.to(torch.bfloat16)
        return torch.cat(_each(lambda columns: G @ self.X[:, columns], self.X.shape[1], _NEURON_BLOCK), 1).float().T


_FEW_LABELS = 16  # up to this many labels a mixed-precision design keeps a neurons × words copy too (_Half)


def _xt_gt(XT: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """XT·Gᵀ, neurons × labels in ``XT``'s dtype, for ``XT`` neurons × words and ``G`` labels × words: Gᵀ made
    contiguous in that dtype a block of words at a time, then each block of neurons times it (:func:`_each`)."""
    n = G.shape[1]
    Gt = torch.empty(n, G.shape[0], dtype=XT.dtype, device=G.device)
    _each(lambda words: Gt[words].copy_(G[:, words].T), n, _WORD_BLOCK)
    return torch.cat(_each(lambda rows: XT[rows] @ Gt, XT.shape[0], _NEURON_BLOCK), 0)


def _design(acts: np.ndarray, y: np.ndarray, n_classes: int, columns: np.ndarray | None = None,
            half: bool = False) -> _Design:
    """The standardised design of ``acts`` (or of its ``columns``) with labels ``y``: a subset of columns is a subset
    of the rows of the whole matrix's transposed design, kept for the last array (:func:`_standardised`); with its
    bfloat16 copies when ``half`` (a mixed-precision solve), which for the whole matrix are made straight from the
    raw data (:meth:`_Half.of_raw`), its float32 form staying raw until an iteration needs it."""
    Y = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device())
    if half and columns is None:
        raw = _tensor(acts, device())
        mu, sigma = _column_stats(raw)
        design = _Design(Y=Y, mu=mu, sigma=sigma, n_classes=n_classes,
                         half=_Half.of_raw(raw, mu, sigma, n_classes, functools.partial(_spare, acts)), raw=raw)
        if float((mu.abs() / sigma).max()) > _RAW_OFFSET:
            design.transpose()
        return design
    XT, mu, sigma = _standardised(acts) if columns is not None or _LAST[0] is not None and _LAST[0]() is acts \
        else _standardise_transposed(acts)
    if columns is not None and not np.array_equal(columns, np.arange(XT.shape[0])):
        rows = torch.from_numpy(columns).to(XT.device)
        XT, mu, sigma = XT.index_select(0, rows), mu[rows], sigma[rows]
    return _Design(Y=Y, mu=mu, sigma=sigma, n_classes=n_classes,
                   half=_Half.of(XT, n_classes, functools.partial(_spare, acts)) if half else None, built=XT)


def _column_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column means and spreads (ddof 1; σ = 1 for a constant neuron) of raw words × neurons ``X``, in one pass of
    :data:`_ROWS`-word tiles: sums of the data and of its squares after shifting by the first tile's mean (so the
    variance does not cancel for neurons far from zero), as matrix products, accumulated in float64."""
    n, d = X.shape
    shift, ones = X[:_ROWS].mean(0), torch.ones(1, _ROWS, device=X.device)

    def sums(words: slice) -> torch.Tensor:
        total = torch.zeros(2, d, dtype=torch.float64, device=X.device)
        for rows in _slices(words, _ROWS):
            part, weights = X[rows] - shift, ones[:, :rows.stop - rows.start]
            total[0] += (weights @ part)[0]
            total[1] += (weights @ part.mul_(part))[0]
        return total

    total = sum(_each(sums, n, _WORD_BLOCK))
    offset = total[0] / n
    sigma = ((total[1] - n * offset * offset).clamp_(min=0) / max(n - 1, 1)).sqrt_().float()
    return (shift.double() + offset).float(), torch.where(sigma > 0, sigma, torch.ones_like(sigma))


def _slices(span: slice, step: int) -> list[slice]:
    """``span`` cut into slices of ``step``."""
    return [slice(start, min(start + step, span.stop)) for start in range(span.start, span.stop, step)]


_RAW_OFFSET = 100.0  # a neuron's |μ| / σ above which products from the raw data lose too much to the offset, so a
# design starts transposed: Xᵀ·G's largest error at 80k × 256 × 12 was 1.9e-7 from raw data against 2.3e-8 at 100,
# 1.9e-5 against 4.1e-6 at 1e4 (the paper profile checks its rankings to 1e-6)
_LAST: list = [None, None]  # a weak reference to the last array retrained on column subsets, and its design


def _standardised(acts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_standardise_transposed` of ``acts``, computed once for the last array asked for (the minimal-set
    search, top / random / bottom sets and selectivity retrain on subsets of one matrix's columns), released with
    the array."""
    if _LAST[0] is None or _LAST[0]() is not acts:
        _LAST[:] = [None, None]
        design = _standardise_transposed(acts)
        try:
            ref = weakref.ref(acts)
        except TypeError:  # an object without weak references: nothing to tie the cache to
            return design
        _LAST[:] = [ref, design]
        weakref.finalize(acts, _forget, ref)
    return _LAST[1]


def _forget(ref: weakref.ref) -> None:
    """Drop the kept design when the array it belongs to is freed (not a later array's)."""
    if _LAST[0] is ref:
        _LAST[:] = [None, None]


def _spare(acts: np.ndarray, rows: int, columns: int) -> torch.Tensor:
    """A rows × columns bfloat16 tensor for a mixed-precision design of ``acts``: on a CPU, in memory that a finished
    design of the same array left (:func:`_keep`), else new. Fresh memory costs the first write to each page: at
    80k × 1024 × 12 the copies' 330 MB took 1.20-1.25 s per probe fresh, 1.12-1.16 s reused (2026-12-04)."""
    size = rows * columns
    with _SPARE_LOCK:
        kept = _SPARE[1] if _SPARE[0] is not None and _SPARE[0]() is acts else []
        fits = [i for i, buffer in enumerate(kept) if buffer.numel() >= size]
        if fits:
            return kept.pop(min(fits, key=lambda i: kept[i].numel())).view(-1)[:size].view(rows, columns)
    return torch.empty(rows, columns, dtype=torch.bfloat16, device=device())


def _keep(acts: np.ndarray, half: _Half | None) -> None:
    """Keep the memory of a finished design's bfloat16 copies for the next design of ``acts`` (:func:`_spare`), on a
    CPU (a GPU's caching allocator does this already) and while ``acts`` lives: a new array frees the last one's.
    Only the two largest buffers stay (one design's two copies; any smaller design fits in them), so a search that
    retrains on ever larger column sets does not pile up one pair of buffers per size."""
    if half is None or device() != "cpu":
        return
    buffers = [t if t._base is None else t._base for t in (half.X, half.XT) if t is not None]
    with _SPARE_LOCK:
        if _SPARE[0] is None or _SPARE[0]() is not acts:
            try:
                ref = weakref.ref(acts)
            except TypeError:  # an object without weak references: nothing to tie the memory to
                return
            _SPARE[:] = [ref, []]
            weakref.finalize(acts, _release, ref)
        _SPARE[1] = sorted(_SPARE[1] + buffers, key=torch.Tensor.numel, reverse=True)[:2]


def _release(ref: weakref.ref) -> None:
    """Free the memory kept for the array behind ``ref`` (not a later array's)."""
    with _SPARE_LOCK:
        if _SPARE[0] is ref:
            _SPARE[:] = [None, []]


_SPARE: list = [None, []]  # a weak reference to the last array of a mixed-precision design, and its kept memory
_SPARE_LOCK = threading.Lock()


def _standardise_transposed(acts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Standardise ``acts`` into a new transposed tensor, neurons × words (the caller's array is never written);
    returns it with the column means and spreads (σ = 1 for a constant neuron)."""
    X = torch.from_numpy(np.asarray(acts, dtype=np.float32)).to(device())
    XT = _transposed(X)

    def rows(neurons: slice) -> tuple[torch.Tensor, torch.Tensor]:
        part = XT[neurons]
        mu = part.mean(1)
        part.sub_(mu[:, None])
        sigma = torch.linalg.vector_norm(part, dim=1) / math.sqrt(max(part.shape[1] - 1, 1))
        sigma = torch.where(sigma > 0, sigma, torch.ones_like(sigma))
        part.div_(sigma[:, None])
        return mu, sigma

    mu, sigma = zip(*_each(rows, XT.shape[0], _NEURON_BLOCK))
    return XT, torch.cat(mu), torch.cat(sigma)


def _transposed(X: torch.Tensor) -> torch.Tensor:
    """A new contiguous transpose of ``X``: in one operation, or with a thread pool (:func:`_each`) in tiles of
    :data:`_TILE` words, which took 165 against 222 ms on two threads at 82k × 1024 (and 260 on one, where
    blocks of 256 neurons took 1,085 ms)."""
    if _POOL[0] is None:
        XT = X.T.contiguous()
        return XT.clone() if XT.data_ptr() == X.data_ptr() else XT  # one neuron or one word: a view
    XT = torch.empty(X.shape[1], X.shape[0], device=X.device)

    def tiles(words: slice) -> None:
        for tile in _slices(words, _TILE):
            XT[:, tile].copy_(X[tile].T)

    _each(tiles, X.shape[0], _WORD_BLOCK)
    return XT


_TILE = 64  # words per tile of a transpose on a thread pool (_transposed, _Half.of_raw)
_ROWS = 256  # words per tile of a pass over raw data (_column_stats, _Half.of_raw): its temporaries stay in cache,
# where one of a whole 8192 × 1024 block took 18 ms per operation, the tiles' 1.5-2 ms per 8192 words


def _columns(columns: Sequence[int] | None, n_neurons: int) -> np.ndarray | None:
    """``columns`` as sorted-as-given int64 ids within ``n_neurons`` (None stays None); out-of-range ids raise."""
    if columns is None:
        return None
    columns = np.asarray(columns, dtype=np.int64).reshape(-1)
    if columns.size and (columns.min() < 0 or columns.max() >= n_neurons):
        raise ValueError(f"columns must lie in 0..{n_neurons - 1}, got {columns.min()}..{columns.max()}")
    return columns


def _standardised_start(design: _Design, weights: np.ndarray, bias: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw-space (weights labels × neurons, bias) as the solvers' standardised (V = W·σ neurons × labels,
    c = bias + W·μ): the same logits on the design's words."""
    W = torch.as_tensor(np.asarray(weights, dtype=np.float32), device=design.mu.device)
    if W.shape != (design.n_classes, design.n_neurons):
        raise ValueError(f"train_probe: init weights have shape {tuple(W.shape)}, need (labels, neurons) = "
                         f"{(design.n_classes, design.n_neurons)}")
    c = torch.as_tensor(np.asarray(bias, dtype=np.float32), device=design.mu.device) + design.mu @ W.T
    return (W * design.sigma).T.contiguous(), c


@dataclass(frozen=True, eq=False)
class _Fit:
    """Raw-space result of a solver: weights labels × neurons, bias, σ, passes over the data, objective, converged."""

    weights: np.ndarray
    bias: np.ndarray
    scale: np.ndarray
    passes: float
    objective: float | None
    converged: bool | None


def _raw(design: _Design, V: torch.Tensor, c: torch.Tensor, iters: int, obj: float, converged: bool) -> _Fit:
    """Map the standardised solution (V neurons × labels, c) back to raw weights ``W = V / σ``, bias ``c - W·μ``."""
    raw = V / design.sigma[:, None]
    return _Fit(raw.T.cpu().numpy().copy(), (c - design.mu @ raw).cpu().numpy().copy(),
                design.sigma.cpu().numpy().copy(), float(iters), obj, converged)


def _residual(Z: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean CE (float64, 0-d) of logits ``Z`` (labels × words) with gold labels ``Y``, and the residual G =
    softmax(Z) − one-hot that the gradient needs (:func:`_flat_grad`). One exponential of Z serves both
    (``torch.logsumexp`` and ``torch.softmax`` exponentiated it twice: 23.9 against 15.7 ms per iteration at 82k
    words × 12 labels). In one pass over the whole matrix on the calling thread: 1.4 ms there at 80k words × 12
    labels, 2.5-2.9 ms in blocks on two threads, whose small operations queue for the interpreter lock.
    The gold labels' 1 is taken off by ``scatter_add_`` (0.4 against 1.7 ms for indexed subtraction at 82k words ×
    12 labels, the same result bit for bit)."""
    top = Z.amax(0)
    G = torch.sub(Z, top).exp_()
    total = G.sum(0)
    ce = (top + total.log() - Z.gather(0, Y[None])[0]).sum(dtype=torch.float64) / Y.shape[0]
    G.mul_(total.reciprocal_()).scatter_add_(0, Y[None], torch.full((1, Y.shape[0]), -1.0, device=G.device))
    return ce, G


def _smooth(design: _Design, Z: torch.Tensor, V: torch.Tensor, l2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean CE of logits Z (labels × words) + Σ l2 V², in float64 (a 0-d tensor), and the residual the gradient
    needs (:func:`_residual`)."""
    ce, G = _residual(Z, design.Y)
    return ce + (l2 * V * V).double().sum(), G


def _lipschitz(XT: torch.Tensor, steps: int = 20) -> float:
    """A power-iteration estimate of the largest eigenvalue of XᵀX / n (``XT`` neurons × words), seeded and cheap
    (2 n·d per step). It starts the backtracking of :func:`_fista`, which corrects an underestimate."""
    v = torch.ones(XT.shape[0], device=XT.device) / math.sqrt(XT.shape[0])
    lam = 1.0
    for _ in range(steps):
        w = XT @ (v @ XT) / XT.shape[1]
        lam = float(w.norm())
        v = w / max(lam, 1e-12)
    return lam


_NOISE = 1e-6  # relative float32 rounding of the mean CE: a sufficient-decrease test cannot resolve less
_MAX_L = 1e12  # backtracking gives up doubling here (a step of 1e-12 no longer changes float32 weights)


def _fista(design: _Design, l1: float, l2: float, tol: float, max_iter: int,
           init: tuple[torch.Tensor, torch.Tensor] | None = None, progress: bool = False
           ) -> tuple[torch.Tensor, torch.Tensor, int, float, bool]:
    """Full-batch FISTA (Beck and Teboulle 2009) with backtracking and adaptive restart (O'Donoghue and Candès
    2015) on mean CE + Σ λ2/σ² V² (smooth) + Σ λ1/σ |V| (soft-threshold prox), bias unpenalised, in standardised
    coordinates V = W·σ, from ``init`` = (V neurons × labels, c) or zeros.

    Stops when ‖gradient mapping‖_∞ = L·‖(V⁺, c⁺) − (V_y, c_y)‖_∞ ≤ ``tol`` (zero exactly at the optimum) or after
    ``max_iter`` iterations. The logits of the extrapolated point are the same extrapolation of the iterates'
    logits, so one iteration costs one X·V and one Xᵀ·G, plus one X·V per backtracking step.
    Returns V, c, iterations, the objective at V, c, and whether the stopping rule was met.
    """
    XT = design.XT
    d, k = design.n_neurons, design.n_classes
    l1v, l2v = (l1 / design.sigma)[:, None], (l2 / design.sigma ** 2)[:, None]
    V = init[0].clone() if init else torch.zeros(d, k, device=XT.device)
    c = init[1].clone() if init else torch.zeros(k, device=XT.device)
    Z = design.logits(V, c)
    F = float(_smooth(design, Z, V, l2v)[0] + (l1v * V.abs()).double().sum())
    Vp, cp, Zp = V, c, Z
    L = 0.5 * max(_lipschitz(XT), 1.0) + 2 * float(l2v.max())
    t, converged, it = 1.0, False, 0
    bar = tqdm(total=max_iter, desc="probe", leave=False, disable=not progress)
    for it in range(1, max_iter + 1):
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        beta = (t - 1) / t_next
        Vy, cy, Zy = V + beta * (V - Vp), c + beta * (c - cp), Z + beta * (Z - Zp)
        fy, G = _smooth(design, Zy, Vy, l2v)
        grad = _flat_grad(design, G, Vy, l2v)
        gV, gc = grad[:d * k].view(d, k), grad[d * k:]
        while True:
            U = Vy - gV / L
            Vn = U.sign() * (U.abs() - l1v / L).clamp_(min=0)
            cn = cy - gc / L
            Zn = design.logits(Vn, cn)
            fn = _smooth(design, Zn, Vn, l2v)[0]
            D, dc = Vn - Vy, cn - cy
            step2 = float((D * D).double().sum() + (dc * dc).double().sum())
            bound = fy + (gV * D).double().sum() + (gc * dc).double().sum() + L / 2 * step2
            if float(fn) <= float(bound) + _NOISE * float(fy) or L > _MAX_L:
                break
            L *= 2.0
        Fn = float(fn + (l1v * Vn.abs()).double().sum())
        gap = L * max(float(D.abs().max()), float(dc.abs().max()))
        restart = float(((Vy - Vn) * (Vn - V)).sum() + ((cy - cn) * (cn - c)).sum()) > 0 or Fn > F
        Vp, cp, Zp, V, c, Z, F = V, c, Z, Vn, cn, Zn, Fn
        t = 1.0 if restart else t_next
        L *= 0.8  # try a longer step next time: measured 20 % fewer iterations than 0.9, 5× fewer than none
        bar.update(1)
        if gap <= tol:
            converged = True
            break
    bar.close()
    return V, c, it, F, converged


def _flat_grad(design: _Design, G: torch.Tensor, V: torch.Tensor, l2: torch.Tensor, half: bool = False
               ) -> torch.Tensor:
    """Gradient of mean CE + Σ l2 V² at V with the residual ``G`` of its logits (:func:`_residual`), flat: V's
    (neurons × labels), then c's; Xᵀ·G from the bfloat16 copies when ``half``. The mean's 1/n is applied to the
    products rather than to G (0.5 ms less per gradient at 82k words × 12 labels)."""
    n = G.shape[1]
    back = (design.half.back(G) if half else design.back(G)).div_(n)
    return torch.cat([torch.addcmul(back, V, l2, value=2.0).reshape(-1), G.sum(1).div_(n)])


def _pseudo_gradient(x: torch.Tensor, g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The minimum-norm subgradient of f + Σ w|x| (zero exactly at the optimum) from the smooth gradient ``g``."""
    at_zero = torch.where(g + w < 0, g + w, torch.where(g - w > 0, g - w, torch.zeros_like(g)))
    return torch.where(x != 0, g + w * x.sign(), at_zero)


def _lbfgs_direction(pg: torch.Tensor, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """−H·pg by the L-BFGS two-loop recursion over the stored (s, y) pairs, oldest first."""
    q, alphas = pg.clone(), []
    for s, y in reversed(pairs):
        a = float(s @ q) / float(s @ y)
        alphas.append(a)
        q.sub_(y, alpha=a)
    if pairs:
        s, y = pairs[-1]
        q.mul_(float(s @ y) / float(y @ y))
    for (s, y), a in zip(pairs, reversed(alphas)):
        q.add_(s, alpha=a - float(y @ q) / float(s @ y))
    return -q


def _owlqn(design: _Design, l1: float, l2: float, tol: float, max_iter: int,
           init: tuple[torch.Tensor, torch.Tensor] | None = None, progress: bool = False, memory: int = 30
           ) -> tuple[torch.Tensor, torch.Tensor, int, float, bool]:
    """OWL-QN (Andrew and Gao 2007): L-BFGS on the smooth part with the L1 term handled exactly (pseudo-gradient,
    orthant projection, backtracking Armijo search; the direction's sign is constrained only where a weight is zero),
    bias unpenalised, in standardised coordinates V = W·σ, from
    ``init`` = (V neurons × labels, c) or zeros. Stops when the largest entry of the pseudo-gradient is at most
    ``tol`` or after ``max_iter`` iterations. One iteration costs one X·V per line-search trial and one Xᵀ·G.
    ``memory`` (s, y) pairs: 30 took 96 iterations where 10 took 134 (10k × 256 × 40, tol 1e-4).

    With ``design.half`` the iterations start in mixed precision: each trial's logits are the current (float32)
    logits plus the bfloat16 product of the step, and Xᵀ·G is a bfloat16 product, so both carry only the rounding
    of the step and of the data; once that pseudo-gradient meets ``tol`` or falls to what bfloat16 can resolve, or
    a step no longer lowers the objective, the logits and gradient are recomputed in float32 and the solve goes on
    there (on the transposed float32 design, :meth:`_Design.transpose`), memory kept, until the float32
    pseudo-gradient meets ``tol``. On an AMX CPU (bench_probe's 80k × 1024 × 12, tol 1e-4, 2026-12-04) the mixed
    solve took 35 iterations where the float32 solve took 34, 2.0× faster (1.33 against 2.63 s).
    Returns V, c, iterations, the objective at V, c (float32 logits), and whether the stopping rule was met.
    """
    d, k, on = design.n_neurons, design.n_classes, design.mu.device
    l2v = (l2 / design.sigma ** 2)[:, None]
    w = torch.cat([(l1 / design.sigma)[:, None].expand(d, k).reshape(-1), torch.zeros(k, device=on)])
    x = torch.cat([init[0].reshape(-1), init[1]]) if init else torch.zeros(d * k + k, device=on)
    half = design.half is not None

    def split(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return v[:d * k].view(d, k), v[d * k:]

    def evaluate(v: torch.Tensor, Z: torch.Tensor) -> tuple[float, torch.Tensor]:
        smooth, G = _smooth(design, Z, split(v)[0], l2v)
        return float(smooth + (w * v.abs()).double().sum()), G

    def gradient(v: torch.Tensor, G: torch.Tensor) -> tuple[torch.Tensor, float]:
        """The gradient at ``v`` from its residual ``G`` (Xᵀ·G in bfloat16 while ``half``), and the bfloat16 phase's
        resolution there: rounding G (labels × words) to bfloat16 moves each entry of Xᵀ·G by about 2⁻⁹ of its
        label's ‖G‖ on standardised data, and the bfloat16 data move the optimum by as much, so a pseudo-gradient
        below twice that is noise."""
        g = _flat_grad(design, G, split(v)[0], l2v, half)
        return g, 2.0 ** -8 * float(torch.linalg.vector_norm(G, dim=1).max()) / G.shape[1] if half else 0.0

    def state(v: torch.Tensor, zero: bool = False) -> tuple[torch.Tensor, float, torch.Tensor, float]:
        """Float32 logits, objective, gradient and resolution at ``v``; at zero the logits are zero without a
        product."""
        Z = torch.zeros(k, design.n_words, device=on) if zero else design.logits(*split(v))
        F, G = evaluate(v, Z)
        return Z, F, *gradient(v, G)

    def moved(xn: torch.Tensor, x: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        return design.half.moved(Z, *split(xn - x)) if half else design.logits(*split(xn))

    Z, F, g, floor = state(x, zero=init is None)
    pairs, converged, it = [], False, 0
    bar = tqdm(total=max_iter, desc="probe", leave=False, disable=not progress)
    for it in range(1, max_iter + 1):
        pg = _pseudo_gradient(x, g, w)
        if half and float(pg.abs().max()) <= max(tol, floor):
            half = False
            Z, F, g, floor = state(x)
            pg = _pseudo_gradient(x, g, w)
        if float(pg.abs().max()) <= tol:
            converged, it = True, it - 1
            break
        if not half:
            design.transpose()
        direction = _lbfgs_direction(pg, pairs)
        # A weight at zero may only leave it downhill (OWL-QN's orthant rule); a nonzero one keeps the quasi-Newton
        # step whatever its sign, the line search's projection stopping it at zero. Constraining those too, as the
        # original OWL-QN does, measured twice the iterations (MiniLM POS: 200 against 100 to tol 1e-4).
        direction = torch.where((direction * pg < 0) | (x != 0), direction, torch.zeros_like(direction))
        if float(direction @ pg) >= 0:  # not a descent direction: restart from steepest descent
            direction, pairs = -pg, []
        orthant = torch.where(x != 0, x.sign(), -pg.sign())
        step = 1.0 if pairs else 1.0 / max(float(pg.norm()), 1e-12)
        for _ in range(50):
            xn = x + step * direction
            xn = torch.where(xn.sign() == orthant, xn, torch.zeros_like(xn))
            Zn = moved(xn, x, Z)
            Fn, Gn = evaluate(xn, Zn)
            if Fn <= F + 1e-4 * float(pg @ (xn - x)) + _NOISE * abs(F):
                break
            step /= 2
        else:
            if not half:
                break  # no step lowers the objective beyond float32 noise: as close as this precision gets
            Fn = math.inf
        if half and Fn > F - _NOISE * abs(F):  # no progress at bfloat16's resolution: go on in float32
            half = False
            Z, F, g, floor = state(x)
            continue
        gn, floor = gradient(xn, Gn)
        s, y = xn - x, gn - g
        if float(s @ y) > 1e-10 * float(s @ s):
            pairs = (pairs + [(s, y)])[-memory:]
        x, g, F, Z = xn, gn, Fn, Zn
        bar.update(1)
    bar.close()
    if half:  # stopped by max_iter in the bfloat16 phase: report the float32 objective
        F = evaluate(x, design.logits(*split(x)))[0]
    V, c = split(x)
    return V.clone(), c.clone(), it, F, converged


def _fit_adam(acts: np.ndarray, y: np.ndarray, n_classes: int, s: ProbeSettings,
              dev_data: tuple[np.ndarray, np.ndarray] | None, progress: bool) -> tuple[_Fit, float | None]:
    """Mini-batch proximal Adam on mean CE + λ2 ΣW², soft-threshold for λ1 Σ|W|; gradients written out by hand.

    The paper's and NeuroX's optimiser (``solver="adam"``): it stops after ``epochs`` or, with ``dev_data``, by
    early stopping, not at the optimum. Works on standardised inputs with weights ``V = W · σ`` (module docstring),
    so the penalties are λ1 Σ|V|/σ and λ2 Σ V²/σ²; returns the raw-space fit and the kept weights' dev accuracy.

    The rows are shuffled once (seeded) and cut into contiguous batches, visited in a fresh seeded order each
    epoch: batches stay fixed after the first shuffle, which measured about twice as fast as gathering freshly
    shuffled rows for every batch, with the same accuracy.
    """
    dev = device()
    gen = torch.Generator().manual_seed(s.seed)
    rows = torch.randperm(len(y), generator=gen).numpy()
    X, Y = _tensor(acts[rows], dev), torch.from_numpy(y[rows]).to(dev)
    n, d = X.shape
    mu, sigma = _standardise(X)
    l1, l2 = (s.l1 / sigma)[:, None], (s.l2 / sigma ** 2)[:, None]
    starts = torch.arange(0, n, s.batch_size)
    W = torch.zeros(d, n_classes, device=dev)
    b = torch.zeros(n_classes, device=dev)
    mW, vW, mb, vb = (torch.zeros_like(t) for t in (W, W, b, b))
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    Xd, Yd = ((_tensor(dev_data[0], dev) - mu) / sigma, torch.from_numpy(dev_data[1]).to(dev)) if dev_data \
        else (None, None)
    best = (-1.0, W.clone(), b.clone(), 0.0)
    stale, check_every = 0, math.ceil(len(starts) / s.checks_per_epoch)
    bar = tqdm(range(s.epochs), desc="probe", leave=False, disable=not progress)
    for _ in bar:
        for i, start in enumerate(starts[torch.randperm(len(starts), generator=gen)].tolist()):
            xb, yb = X[start:start + s.batch_size], Y[start:start + s.batch_size]
            g = torch.softmax(xb @ W + b, dim=1)
            g[torch.arange(len(yb), device=dev), yb] -= 1.0
            g /= len(yb)
            gW = torch.addcmul(xb.T @ g, W, l2, value=2.0) if s.l2 else xb.T @ g
            gb = g.sum(0)
            t += 1
            step = s.lr / (1 - b1 ** t)
            for p, grad, m, v in ((W, gW, mW, vW), (b, gb, mb, vb)):
                m.mul_(b1).add_(grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                denom = (v / (1 - b2 ** t)).sqrt_().add_(eps)
                p.addcdiv_(m, denom, value=-step)
            if s.l1:
                shrink = (s.lr * l1) / ((vW / (1 - b2 ** t)).sqrt_().add_(eps))
                W.copy_(W.sign() * (W.abs() - shrink).clamp_(min=0))
            if Xd is None or ((i + 1) % check_every and i + 1 < len(starts)):
                continue
            acc = ((Xd @ W + b).argmax(1) == Yd).float().mean().item()
            bar.set_postfix(dev_acc=f"{acc:.3f}")
            stale = 0 if acc > best[0] + s.min_delta else stale + 1
            if acc > best[0]:
                best = (acc, W.clone(), b.clone(), t / len(starts))
            if stale >= s.patience:
                break
        if stale >= s.patience:
            break
    acc, epochs_run = (None, float(s.epochs)) if Xd is None else (best[0], best[3])
    V, c = (W, b) if Xd is None else best[1:3]
    raw = V / sigma[:, None]
    return _Fit(raw.T.cpu().numpy().copy(), (c - mu @ raw).cpu().numpy().copy(), sigma.cpu().numpy().copy(),
                epochs_run, None, None), acc


def scores(probe: Probe, acts: np.ndarray, columns: Sequence[int] | None = None) -> np.ndarray:
    """Logits words × labels of ``probe`` on ``acts`` (words × neurons), or, for a probe trained on ``columns``
    of a wider matrix, on those columns of ``acts`` (read in place: the probe's weights are spread to the full width
    rather than the activations copied)."""
    acts = np.asarray(acts)
    if columns is not None:
        weights = np.zeros((probe.weights.shape[0], acts.shape[1]), dtype=np.float32)
        weights[:, _columns(columns, acts.shape[1])] = probe.weights
        return _logits(acts, weights, probe.bias)
    if acts.ndim != 2 or acts.shape[1] != probe.n_neurons:
        raise ValueError(f"acts must be words × {probe.n_neurons} neurons (the probe's inputs), got {acts.shape}")
    return _logits(acts, probe.weights, probe.bias)


def _logits(acts: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return np.asarray(acts, dtype=np.float32) @ np.asarray(weights, dtype=np.float32).T + bias


def predict(probe: Probe, acts: np.ndarray, columns: Sequence[int] | None = None) -> np.ndarray:
    """The predicted label (a string) of each row of ``acts`` (``columns``: see :func:`scores`)."""
    return np.asarray(probe.classes)[scores(probe, acts, columns).argmax(1)]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Accuracy, per-label scores and confusion matrix of a probe on one split.

    ``per_label`` has a row (precision, recall, f1, support) for every label present in the split, including
    labels the probe never saw (recall 0); ``absent`` lists the probe's labels with no word in the split, which
    get no row (their recall is undefined, not NaN). A label never predicted has precision 0.
    ``confusion`` counts gold (rows) × predicted (columns) labels.
    """

    accuracy: float
    per_label: pd.DataFrame
    absent: tuple[str, ...]
    confusion: pd.DataFrame


def evaluate(probe: Probe, acts: np.ndarray, labels: Sequence[str]) -> Evaluation:
    """Evaluate ``probe`` on ``acts`` (words × neurons) against gold ``labels``. Used in: 01_linguistic_correlation."""
    acts, labels = _check(acts, labels, "evaluate")
    if len(labels) == 0:
        raise ValueError("evaluate: the split is empty")
    predicted = predict(probe, acts)
    gold_names = np.unique(labels)
    names = np.union1d(gold_names, np.asarray(probe.classes, dtype=str))
    g, p = np.searchsorted(names, labels), np.searchsorted(names, predicted)
    conf = np.bincount(g * len(names) + p, minlength=len(names) ** 2).reshape(len(names), len(names))
    hits, support, n_pred = np.diag(conf), conf.sum(1), conf.sum(0)
    precision = np.divide(hits, n_pred, out=np.zeros(len(names)), where=n_pred > 0)
    recall = np.divide(hits, support, out=np.zeros(len(names)), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(names)),
                   where=precision + recall > 0)
    present = support > 0
    per_label = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support},
                             index=pd.Index(names, name="label"))[present]
    confusion = pd.DataFrame(conf[present][:, np.isin(names, probe.classes)], index=names[present],
                             columns=np.asarray(probe.classes, dtype=str))
    return Evaluation(accuracy=float(hits.sum() / len(labels)), per_label=per_label,
                      absent=tuple(names[~present & np.isin(names, probe.classes)].tolist()), confusion=confusion)


def accuracy(probe: Probe, acts: np.ndarray, labels: Sequence[str]) -> float:
    """Share of rows whose predicted label equals the gold one (unknown gold labels count as errors)."""
    acts, labels = _check(acts, labels, "accuracy")
    return float(np.mean(predict(probe, acts) == labels))


def concentration(weights: np.ndarray, share: float = 0.1) -> float:
    """Sparsity of a (scaled) weight matrix, labels × neurons: the share of its total |W| held by its top ``share``
    of neurons.

    Neurons are ranked by their summed |W| over labels; 1.0 means all mass sits in those neurons, ``share`` means
    the mass is spread evenly. Used by :func:`lambda_search` to pick the sparsest probe.
    """
    mass = np.sort(np.abs(weights).sum(0))[::-1]
    k = max(1, int(round(share * mass.size)))
    return float(mass[:k].sum() / mass.sum()) if mass.sum() > 0 else 0.0


@dataclass(frozen=True, eq=False)
class LambdaSearch:
    """The λ grid's results (``table``: l1, l2, dev_accuracy, concentration, zero_share, one row per pair), the
    unregularised probe's dev accuracy (``baseline``) and the chosen ``l1``, ``l2``."""

    table: pd.DataFrame
    baseline: float
    margin: float
    l1: float
    l2: float


def lambda_search(train: tuple[np.ndarray, Sequence[str]], dev: tuple[np.ndarray, Sequence[str]],
                  grid: Sequence[float], settings: ProbeSettings | None = None, margin: float = 0.01,
                  max_words: int | None = None, progress: bool = True) -> LambdaSearch:
    """Train a probe for every (λ1, λ2) in ``grid`` × ``grid`` and pick one by the paper's rule.

    Rule: among the pairs whose dev accuracy is within ``margin`` (a fraction) of the unregularised probe
    (λ1 = λ2 = 0, trained too if 0 is not in the grid), take the sparsest, i.e. the highest :func:`concentration`;
    ties go to the stronger penalty. The table (also ``objective`` and ``iterations`` per pair) is the data of the
    paper's Fig. 2 (accuracy against λ). ``max_words`` caps the training words (a seeded sample) to keep the 81
    probes of the paper's grid affordable. With OWL-QN or FISTA the grid is one regularisation path: for each λ2
    (strongest first) λ1 falls from strongest to weakest, each fit warm-started from its neighbour's solution on the
    same standardised data. Used in: 01_linguistic_correlation.
    """
    settings = settings or ProbeSettings()
    acts, labels = _check(*train, "lambda_search")
    dev_acts, dev_labels = _check(*dev, "lambda_search (dev)")
    if max_words is not None and max_words < len(labels):
        rows = np.sort(np.random.default_rng(settings.seed).choice(len(labels), max_words, replace=False))
        acts, labels = acts[rows], labels[rows]
    pairs = [(l1, l2) for l1 in grid for l2 in grid]
    if (0.0, 0.0) not in pairs:
        pairs.append((0.0, 0.0))
    fits = _grid_fits(acts, labels, pairs, settings, progress)
    classes = tuple(np.unique(labels).tolist())
    gold, dev_x = encode(classes, dev_labels), np.asarray(dev_acts, dtype=np.float32)
    table = pd.DataFrame([{"l1": l1, "l2": l2,
                           "dev_accuracy": float(np.mean((dev_x @ fit.weights.T + fit.bias).argmax(1) == gold)),
                           "concentration": concentration(fit.weights * fit.scale),
                           "zero_share": float(np.mean(fit.weights == 0)), "objective": fit.objective,
                           "iterations": fit.passes} for (l1, l2), fit in ((pair, fits[pair]) for pair in pairs)])
    baseline = float(table.loc[(table.l1 == 0) & (table.l2 == 0), "dev_accuracy"].iloc[0])
    eligible = table[table.dev_accuracy >= baseline - margin]
    best = eligible.sort_values(["concentration", "l1", "l2"], ascending=False, kind="stable").iloc[0]
    return LambdaSearch(table=table, baseline=baseline, margin=margin, l1=float(best.l1), l2=float(best.l2))


def _grid_fits(acts: np.ndarray, labels: np.ndarray, pairs: Sequence[tuple[float, float]], settings: ProbeSettings,
               progress: bool) -> dict[tuple[float, float], _Fit]:
    """The fit of every (λ1, λ2) pair: independent ``train_probe`` runs for Adam; otherwise one warm-started path
    (see :func:`lambda_search`) on data standardised once."""
    bar = tqdm(total=len(pairs), desc="λ grid", disable=not progress)
    fits = {}
    if settings.solver == "adam":
        for l1, l2 in pairs:
            probe = train_probe(acts, labels, settings=dataclasses.replace(settings, l1=l1, l2=l2), progress=False)
            fits[l1, l2] = _Fit(probe.weights, probe.bias, probe.scale, probe.epochs_run, probe.objective, None)
            bar.update(1)
        bar.close()
        return fits
    classes = tuple(np.unique(labels).tolist())
    path = sorted(set(pairs), key=lambda pair: (-pair[1], -pair[0]))
    solve = _fista if settings.solver == "fista" else _owlqn
    with _threads_on_cpu():
        design = _design(acts, encode(classes, labels), len(classes), half=settings.precision == "mixed")
        row_start, previous, solutions = None, None, {}
        for pair in path:
            new_row = previous is None or pair[1] != previous[1]
            V, c, iters, obj, converged = solve(design, *pair, settings.tol, settings.max_iter,
                                                init=solutions.get(row_start if new_row else previous))
            row_start = pair if new_row else row_start
            previous, solutions[pair] = pair, (V, c)
            fits[pair] = _raw(design, V, c, iters, obj, converged)
            bar.update(1)
    bar.close()
    return fits


@dataclass(frozen=True, eq=False)
class Splits:
    """Probe data in the shape of ``lib.pipeline.extraction.ProbeData``: ``train``, ``dev``, ``test`` each an
    ``(acts, labels, words)`` triple of arrays (words × neurons, one label and one word per row)."""

    train: tuple[np.ndarray, np.ndarray, np.ndarray]
    dev: tuple[np.ndarray, np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray, np.ndarray]


def synthetic_splits(n_words: int = 6000, n_neurons: int = 64, n_labels: int = 5, planted: int = 2,
                     signal: float = 1.5, seed: int = 0) -> tuple[Splits, np.ndarray]:
    """Synthetic probe data with known answers: each label raises ``planted`` neurons of its own, the rest is noise.

    Labels follow a Zipf-like distribution, each word type belongs to one label and adds a small type-specific
    pattern over all neurons (so word identity is decodable, as in real models); activations pass through tanh like
    LSTM states. Returns the 80/5/15 % splits and the planted neuron ids (labels × planted, label order sorted).
    Used in: tests and benchmarks of LCA.
    """
    if planted * n_labels > n_neurons:
        raise ValueError(f"cannot plant {planted} neurons for each of {n_labels} labels in {n_neurons} neurons")
    rng = np.random.default_rng(seed)
    classes = np.array([f"L{i:02d}" for i in range(n_labels)])
    freq = 1.0 / np.arange(1, n_labels + 1)
    y = rng.choice(n_labels, size=n_words, p=freq / freq.sum())
    types_per_label = 30
    word_type = y * types_per_label + np.minimum(rng.zipf(1.5, size=n_words) - 1, types_per_label - 1)
    type_pattern = 0.3 * rng.standard_normal((n_labels * types_per_label, n_neurons), dtype=np.float32)
    ids = rng.permutation(n_neurons)[: n_labels * planted].reshape(n_labels, planted)
    lift = np.zeros((n_labels, n_neurons), dtype=np.float32)
    lift[np.repeat(np.arange(n_labels), planted), ids.ravel()] = signal
    acts = np.tanh(0.6 * rng.standard_normal((n_words, n_neurons), dtype=np.float32)
                   + type_pattern[word_type] + lift[y]).astype(np.float32)
    labels, words = classes[y], np.char.add("w", word_type.astype(str))
    cut = np.cumsum([int(0.8 * n_words), int(0.05 * n_words)])
    parts = [(acts[s], labels[s], words[s]) for s in np.split(np.arange(n_words), cut)]
    return Splits(*parts), ids
