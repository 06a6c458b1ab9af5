"""Cross-model Correlation Analysis (CCA): rank every neuron of several models by how well it correlates across models.

Several models read the same words; a neuron with a close counterpart in every other model (high MaxCorr and
MinCorr, low LinReg error) emerged whatever the target language or seed, so the paper calls it salient to the model
itself (METHODS.md section 2). All four methods come from one blocked pass over the activations,
:func:`cross_stats`, which accumulates the cross-products of every model's neurons row block by row block, so memory
is bounded by ``max_bytes`` whatever the number of words; the rest is small dense algebra on neurons × neurons
matrices.

Numerics: each row block is shifted by a per-neuron constant (the mean of the first block), multiplied in ``dtype``
(float32 by default) and the products are summed across blocks in float64; covariance = G/n − d dᵀ, with d the
mean of the shifted data, which stays accurate because d is small. float32 correlations agree with float64 ones to
about 1e-6 (measured by ``benchmarks/bench_correlation.py``), far below the gaps that decide a ranking; pass
``dtype="float64"`` for exact work at half the speed. Products run in torch, on a GPU when present: on this CPU
torch's float32 product measured as fast as numpy's on square blocks and up to 5× faster on the tall, narrow blocks
of small models and under load (same benchmark).
Cached per profile by ``lib.pipeline.cca``. Used in: 02_cross_model_correlation, 03_ablation_in_the_model.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from lib.methods.ranking import top

DEFAULT_MAX_BYTES = 256 * 2**20
METHODS = ("maxcorr", "mincorr", "linreg")
_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class CrossStats:
    """Means, standard deviations and covariances of the neurons of several models over the same ``n_words`` words.

    ``cov[(a, b)]`` is the D_a × D_b covariance of model a's neurons with model b's neurons for a < b, and for a == b
    too when computed with ``within=True``; ``std[m]`` (D_m) is 0 exactly for constant neurons.
    """

    names: tuple[str, ...]
    n_words: int
    mean: tuple[np.ndarray, ...]
    std: tuple[np.ndarray, ...]
    cov: dict[tuple[int, int], np.ndarray]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of neurons of each model."""
        return tuple(len(s) for s in self.std)

    def covariance(self, a: int, b: int) -> np.ndarray:
        """D_a × D_b covariance of model ``a``'s neurons with model ``b``'s."""
        if (a, b) in self.cov:
            return self.cov[(a, b)]
        if (b, a) in self.cov:
            return self.cov[(b, a)].T
        raise KeyError(f"covariance of {self.names[a]!r} with {self.names[b]!r} was not computed; "
                       "call cross_stats(..., within=True) for within-model covariances")

    def corr(self, a: int, b: int) -> np.ndarray:
        """D_a × D_b Pearson correlations of model ``a``'s neurons with model ``b``'s; 0 where a neuron is constant."""
        scale = np.outer(self.std[a], self.std[b])
        out = np.divide(self.covariance(a, b), scale, out=np.zeros(scale.shape), where=scale > 0)
        return np.clip(out, -1.0, 1.0)


@dataclass(frozen=True)
class Matches:
    """For every neuron of ``model``: its best-correlated neuron in each of the ``others`` models.

    ``partner`` (int) and ``corr`` (signed ρ) are len(others) × neurons, one row per other model; a neuron that
    correlates with nothing (a constant one) has partner −1 and ρ 0.
    """

    model: str
    others: tuple[str, ...]
    partner: np.ndarray
    corr: np.ndarray

    @property
    def maxcorr(self) -> np.ndarray:
        """MaxCorr of each neuron: its highest |ρ| with any neuron of any other model."""
        return np.abs(self.corr).max(axis=0)

    @property
    def mincorr(self) -> np.ndarray:
        """MinCorr of each neuron: over the other models, the lowest of its best |ρ| with that model."""
        return np.abs(self.corr).min(axis=0)


@dataclass(frozen=True)
class SVCCA:
    """SVCCA of two models: canonical correlations, highest first, and the directions in each model's neuron space
    that reach them (``directions_a`` D_a × k and ``directions_b`` D_b × k, columns paired); ``kept`` is how many
    principal components each model kept."""

    correlations: np.ndarray
    directions_a: np.ndarray
    directions_b: np.ndarray
    kept: tuple[int, int]


@dataclass(frozen=True)
class CCARankings:
    """MaxCorr, MinCorr and LinReg scores of every model's neurons over one corpus, each neuron's partners in the other
    models, and the SVCCA canonical correlations of each pair of models. Used in: 02, 03."""

    models: tuple[str, ...]
    corpus: str
    n_words: int
    scores: dict[str, dict[str, np.ndarray]]
    matches: dict[str, Matches]
    svcca: dict[tuple[str, str], np.ndarray]

    def order(self, model: str, method: str = "maxcorr") -> np.ndarray:
        """Every neuron id of ``model`` once, most cross-model-correlated first (LinReg: lowest error first)."""
        if method not in METHODS:
            raise KeyError(f"unknown CCA method {method!r}; known methods: {', '.join(METHODS)}")
        if model not in self.models:
            raise KeyError(f"model {model!r} is not in these rankings; known models: {', '.join(self.models)}")
        return order_from_scores(self.scores[method][model], higher_first=method != "linreg")


def cross_stats(acts: Sequence[Any], names: Sequence[str] | None = None, *, within: bool = True,
                max_bytes: int = DEFAULT_MAX_BYTES, dtype: str = "float32", device: str | None = None) -> CrossStats:
    """Means, standard deviations and covariances of every pair of models, in one pass over row blocks.

    ``acts``: one words × neurons array per model (numpy arrays or ``np.memmap``, rows aligned); ``within`` also
    computes each model's own covariance (needed by LinReg and SVCCA). At most ``max_bytes`` of activation rows are
    held at once (the D × D results come on top). Constant neurons get std 0 and a warning listing them.
    """
    names = _check_acts(acts, names)
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    device = device or _device()
    n, sizes = acts[0].shape[0], [a.shape[1] for a in acts]
    rows = _block_rows(sum(sizes), np.dtype(dtype).itemsize, max_bytes)
    pairs = [(a, b) for a in range(len(acts)) for b in range(a if within else a + 1, len(acts))]
    shift = [np.asarray(a[:rows], dtype=np.float64).mean(axis=0).astype(dtype) for a in acts]
    sums, squares = ([torch.zeros(d, dtype=torch.float64, device=device) for d in sizes] for _ in range(2))
    gram = {(a, b): torch.zeros(sizes[a], sizes[b], dtype=torch.float64, device=device) for a, b in pairs}
    for lo in tqdm(range(0, n, rows), desc="cross-model correlations", unit="block", leave=False, disable=n <= rows):
        x = [torch.from_numpy(np.asarray(a[lo:lo + rows], dtype=dtype) - s).to(device) for a, s in zip(acts, shift)]
        for m, xm in enumerate(x):
            sums[m] += xm.sum(0)
            squares[m] += (xm * xm).sum(0)
        for a, b in pairs:
            gram[(a, b)] += x[a].T @ x[b]
    d = [_numpy(s) / n for s in sums]
    squares = [_numpy(s) for s in squares]
    _check_finite(names, d, squares)
    var = [np.where(q > 0, np.maximum(q / n - dm**2, 0.0), 0.0) for q, dm in zip(squares, d)]
    std = tuple(np.sqrt(v) for v in var)
    _warn_constant(names, std)
    cov = {(a, b): _numpy(g) / n - np.outer(d[a], d[b]) for (a, b), g in gram.items()}
    mean = tuple(s.astype(np.float64) + dm for s, dm in zip(shift, d))
    return CrossStats(names=names, n_words=n, mean=mean, std=std, cov=cov)


def matches(stats: CrossStats) -> list[Matches]:
    """For each model, every neuron's best-correlated neuron in each other model (see :class:`Matches`)."""
    m_count = len(stats.sizes)
    partner = [np.full((m_count, d), -1) for d in stats.sizes]
    corr = [np.zeros((m_count, d)) for d in stats.sizes]
    for a in range(m_count):
        for b in range(a + 1, m_count):
            r = stats.corr(a, b)
            for me, other, rr in ((a, b, r), (b, a, r.T)):
                best = np.abs(rr).argmax(axis=1)
                signed = np.take_along_axis(rr, best[:, None], axis=1)[:, 0]
                partner[me][other] = np.where(signed != 0, best, -1)
                corr[me][other] = signed
    return [Matches(model=stats.names[m], others=tuple(n for i, n in enumerate(stats.names) if i != m),
                    partner=np.delete(partner[m], m, axis=0), corr=np.delete(corr[m], m, axis=0))
            for m in range(m_count)]


def maxcorr(acts: Sequence[Any] | CrossStats, **kwargs: Any) -> list[np.ndarray]:
    """MaxCorr of every neuron of every model: max over other models and their neurons of |ρ| (one array per model).

    ``acts``: one words × neurons array per model, rows aligned (or a :class:`CrossStats` already computed);
    ``kwargs`` go to :func:`cross_stats`.
    """
    return [m.maxcorr for m in matches(_stats(acts, within=False, **kwargs))]


def mincorr(acts: Sequence[Any] | CrossStats, **kwargs: Any) -> list[np.ndarray]:
    """MinCorr of every neuron of every model: min over other models of its best |ρ| there (one array per model)."""
    return [m.mincorr for m in matches(_stats(acts, within=False, **kwargs))]


def linreg(acts: Sequence[Any] | CrossStats, ridge: float = 1e-6, **kwargs: Any) -> list[np.ndarray]:
    """LinReg error of every neuron of every model (one array per model); rank lowest error first.

    The standardised neuron is predicted by least squares from all (standardised) neurons of each other model;
    error = 1 − R² (in-sample, like the paper), and a neuron's score is its worst error over the other models.
    R² = rᵀ (R + ridge·I)⁻¹ r from the predictors' correlation matrix R and their correlations r with the neuron: the
    tiny ``ridge`` keeps collinear or constant predictors solvable by a Cholesky factorisation and can only lower R²
    (by about ``ridge`` per unit of R²), so float32 rounding never inflates it.
    """
    stats = _stats(acts, within=True, **kwargs)
    factors = [_ridge_cholesky(stats.corr(o, o), ridge) for o in range(len(stats.sizes))]
    errors = []
    for m in range(len(stats.sizes)):
        worst = torch.zeros(stats.sizes[m], dtype=torch.float64, device=factors[m].device)
        for o in range(len(stats.sizes)):
            if o != m:
                r_om = _tensor(stats.corr(o, m))
                r2 = (r_om * torch.cholesky_solve(r_om, factors[o])).sum(0).clamp(0.0, 1.0)
                worst = torch.maximum(worst, 1.0 - r2)
        errors.append(_numpy(worst))
    return errors


def svcca(a: Any, b: Any, variance: float = 0.99, **kwargs: Any) -> SVCCA:
    """SVCCA of two models' activations (words × neurons each, rows aligned); ``kwargs`` go to :func:`cross_stats`.

    Each model keeps the principal components covering ``variance`` of its variance; canonical correlation analysis
    of the two reduced spaces gives the canonical correlations, sorted, and their directions in neuron space.
    """
    return svcca_from_stats(cross_stats([a, b], ["a", "b"], within=True, **kwargs), 0, 1, variance)


def svcca_from_stats(stats: CrossStats, a: int, b: int, variance: float = 0.99) -> SVCCA:
    """SVCCA of models ``a`` and ``b`` of precomputed ``stats`` (see :func:`svcca`)."""
    w_a, w_b = (_pca_whitener(stats.covariance(m, m), variance, stats.names[m]) for m in (a, b))
    return _canonical(stats, a, b, w_a, w_b)


def _canonical(stats: CrossStats, a: int, b: int, w_a: torch.Tensor, w_b: torch.Tensor) -> SVCCA:
    """CCA of models ``a`` and ``b`` given each one's PCA whitener (D × kept): the SVD of the whitened
    cross-covariance gives the canonical correlations and, mapped back, their directions."""
    left, corr, right_t = torch.linalg.svd(w_a.T @ _tensor(stats.covariance(a, b)) @ w_b, full_matrices=False)
    return SVCCA(correlations=_numpy(corr.clamp(0.0, 1.0)), directions_a=_numpy(w_a @ left),
                 directions_b=_numpy(w_b @ right_t.T), kept=(w_a.shape[1], w_b.shape[1]))


def order_from_scores(scores: np.ndarray, higher_first: bool = True) -> np.ndarray:
    """Every neuron id once, best score first; ties keep the lower id first, so the order is deterministic."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not np.isfinite(scores).all():
        raise ValueError(f"scores must be one finite number per neuron; got shape {scores.shape}")
    return np.argsort(-scores if higher_first else scores, kind="stable")


def partners(found: Sequence[Matches], model: str, neurons: Sequence[int],
             neuron_names: dict[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """For each of ``neurons`` of ``model``: its best partner in every other model (one row each), ``best`` marking
    the model where it matches best. Columns: neuron, other_model, partner, corr, abs_corr, best, and with
    ``neuron_names`` (model -> name per neuron id) also name and partner_name. Used in: 02_cross_model_correlation."""
    by_name = {m.model: m for m in found}
    if model not in by_name:
        raise KeyError(f"model {model!r} has no matches; known models: {', '.join(by_name)}")
    mt, neurons = by_name[model], np.asarray(neurons, dtype=int)
    corr = mt.corr[:, neurons]
    best = np.abs(corr).argmax(axis=0)
    k, o = len(neurons), len(mt.others)
    table = pd.DataFrame({"neuron": np.tile(neurons, o), "other_model": np.repeat(mt.others, k),
                          "partner": mt.partner[:, neurons].ravel(), "corr": corr.ravel(),
                          "abs_corr": np.abs(corr).ravel(),
                          "best": (np.arange(o)[:, None] == best[None, :]).ravel()})
    if neuron_names is not None:
        table.insert(1, "name", np.asarray(neuron_names[model], dtype=object)[table["neuron"]])
        table["partner_name"] = [neuron_names[m][j] if j >= 0 else "" for m, j in
                                 zip(table["other_model"], table["partner"])]
    return table


def ranking_table(rankings: CCARankings, model: str, k: int, neuron_names: Sequence[str] | None = None
                  ) -> pd.DataFrame:
    """The ``k`` MaxCorr-top neurons of ``model``: their MaxCorr, MinCorr and LinReg error, and their rank under
    MinCorr and LinReg (1 = first), to see whether the methods agree. Used in: 02_cross_model_correlation."""
    top = rankings.order(model, "maxcorr")[:k]
    table = pd.DataFrame({"rank": np.arange(1, len(top) + 1), "neuron": top})
    if neuron_names is not None:
        table["name"] = np.asarray(neuron_names, dtype=object)[top]
    for method in METHODS:
        table["linreg_error" if method == "linreg" else method] = rankings.scores[method][model][top]
    for method in ("mincorr", "linreg"):
        table[f"{method}_rank"] = np.argsort(rankings.order(model, method))[top] + 1
    return table


def top_overlap(order_a: np.ndarray, order_b: np.ndarray, pct: float) -> float:
    """Share of the top ``pct`` % of ``order_a`` that is also in the top ``pct`` % of ``order_b`` (two orders of one
    model; ``lib.methods.ranking.top`` counts the neurons). Used in: 02_cross_model_correlation (CCA vs LCA, vs each other)."""
    if len(order_a) != len(order_b) or not 0 < pct <= 100:
        raise ValueError(f"two orders of one model and 0 < pct <= 100 expected; got {len(order_a)}, "
                         f"{len(order_b)} neurons and pct={pct}")
    first, second = top(order_a, pct), top(order_b, pct)
    return len(np.intersect1d(first, second)) / max(len(first), 1)


def rank_models(acts: Sequence[Any], names: Sequence[str], corpus: str = "", variance: float = 0.99,
                **kwargs: Any) -> CCARankings:
    """MaxCorr, MinCorr, LinReg, partners and pairwise SVCCA of the models' ``acts`` (see :class:`CCARankings`)."""
    stats = cross_stats(acts, names, within=True, **kwargs)
    found = matches(stats)
    errors = linreg(stats)
    names = stats.names
    whiteners = [_pca_whitener(stats.covariance(m, m), variance, name) for m, name in enumerate(names)]
    scores = {"maxcorr": {m.model: m.maxcorr for m in found}, "mincorr": {m.model: m.mincorr for m in found},
              "linreg": dict(zip(names, errors))}
    pairs = {(names[a], names[b]): _numpy(torch.linalg.svdvals(
                 whiteners[a].T @ _tensor(stats.covariance(a, b)) @ whiteners[b]).clamp(0.0, 1.0))
             for a in range(len(names)) for b in range(a + 1, len(names))}
    return CCARankings(models=names, corpus=corpus, n_words=stats.n_words, scores=scores,
                       matches={m.model: m for m in found}, svcca=pairs)


def _stats(acts: Sequence[Any] | CrossStats, within: bool, **kwargs: Any) -> CrossStats:
    return acts if isinstance(acts, CrossStats) else cross_stats(acts, within=within, **kwargs)


def _check_acts(acts: Sequence[Any], names: Sequence[str] | None) -> tuple[str, ...]:
    if isinstance(acts, (np.ndarray, torch.Tensor)) or len(acts) < 2:
        raise ValueError("acts must be a list of at least two words × neurons arrays, one per model")
    names = tuple(names) if names is not None else tuple(f"model {i}" for i in range(len(acts)))
    if len(names) != len(acts):
        raise ValueError(f"{len(names)} names for {len(acts)} activation arrays")
    for name, a in zip(names, acts):
        if len(a.shape) != 2:
            raise ValueError(f"activations of {name!r} must be words × neurons, got shape {tuple(a.shape)}")
        if a.shape[0] != acts[0].shape[0]:
            raise ValueError(f"rows must be aligned across models: {name!r} has {a.shape[0]} words, "
                             f"{names[0]!r} has {acts[0].shape[0]}")
    if acts[0].shape[0] < 2:
        raise ValueError(f"correlations need at least two words; got {acts[0].shape[0]}")
    return names


def _block_rows(total_neurons: int, itemsize: int, max_bytes: int) -> int:
    per_row = 2 * total_neurons * itemsize
    if max_bytes < per_row:
        raise ValueError(f"max_bytes={max_bytes} cannot hold one row of {total_neurons} neurons "
                         f"({per_row} bytes with the centred copy); raise max_bytes")
    return max_bytes // per_row


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _tensor(x: np.ndarray) -> torch.Tensor:
    """float64 tensor on the default device: all linear algebra runs in torch, so numpy's BLAS threads never
    compete with torch's (on a busy 2-core CPU that contention slowed numpy's eigh 10-100×)."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).to(_device())


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.cpu().numpy()


def _check_finite(names: Sequence[str], means: Sequence[np.ndarray], squares: Sequence[np.ndarray]) -> None:
    for name, m, q in zip(names, means, squares):
        bad = np.flatnonzero(~(np.isfinite(m) & np.isfinite(q)))
        if len(bad):
            raise ValueError(f"activations of {name!r} hold NaN or infinite values in neurons {_short(bad)}")


def _warn_constant(names: Sequence[str], std: Sequence[np.ndarray]) -> None:
    parts = [f"{name!r}: {_short(np.flatnonzero(s == 0))}" for name, s in zip(names, std) if (s == 0).any()]
    if parts:
        warnings.warn("constant neurons (zero variance) get correlation 0: " + "; ".join(parts), stacklevel=3)


def _short(ids: np.ndarray, limit: int = 30) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return f"[{shown}{f', ... ({len(ids)} in all)' if len(ids) > limit else ''}]"


def _ridge_cholesky(matrix: np.ndarray, ridge: float) -> torch.Tensor:
    """Cholesky factor of ``matrix`` + ``ridge``·I, the ridge raised tenfold until rounding lets it factorise."""
    matrix = _tensor(matrix)
    eye = torch.eye(len(matrix), dtype=matrix.dtype, device=matrix.device)
    while True:
        factor, info = torch.linalg.cholesky_ex(matrix + ridge * eye)
        if int(info) == 0:
            return factor
        ridge *= 10


def _pca_whitener(cov: np.ndarray, variance: float, name: str) -> torch.Tensor:
    if not 0 < variance <= 1:
        raise ValueError(f"variance must be in (0, 1], got {variance}")
    values, vectors = torch.linalg.eigh(_tensor(cov))
    values, vectors = values.flip(0).clamp(min=0.0), vectors.flip(1)
    total = float(values.sum())
    if total <= 0:
        raise ValueError(f"SVCCA needs a model with some variance; every neuron of {name!r} is constant")
    covered = _numpy(values.cumsum(0)) / total
    kept = min(int(np.searchsorted(covered, variance)) + 1, int((values > 0).sum()))
    return vectors[:, :kept] / values[:kept].sqrt()
