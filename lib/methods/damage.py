"""How much ablating an order's neurons inside a model hurts its task, with a 95 % interval over test sentences.

An ablation sweep gives, for each order and each number k of ablated neurons, per-sentence sufficient statistics of
the task metric: BLEU's n-gram counts and lengths (``[hyp_len, ref_len, correct1-4, total1-4]``, sacrebleu's
layout) or the language model's negative log-likelihood and piece count (``[nll, pieces]``). Corpus BLEU and
perplexity are sums of these, so a bootstrap over test sentences is a weighted sum: every order and every point is
resampled with the same sentences (paired), and differences between orders get intervals of their own.
**Damage** of an order is its mean harm over the points k > 0 of its curve: BLEU points lost, or log-perplexity
gained. The unablated scores get their own interval (:func:`metric_interval`). Used in: 00_data_and_models,
03_ablation_in_the_model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from lib.methods.intervals import Interval, resample_counts

METRICS = ("bleu", "perplexity")
VERDICTS = ("holds", "fails", "not resolved")
_LOG_ZERO = -9999999999.0  # sacrebleu's log of a zero precision


def ablation_counts(n_neurons: int, step: float, max_share: float) -> list[int]:
    """Numbers of neurons zeroed along a curve: 0, n, 2n, … up to ``max_share`` of them (n = ``step`` share, ≥ 1)."""
    if not 0 < step <= 1 or not 0 <= max_share <= 1:
        raise ValueError(f"step must lie in (0, 1] and max_share in [0, 1]; got {step}, {max_share}")
    n = max(1, round(step * n_neurons))
    return list(range(0, int(round(max_share * n_neurons)) + 1, n))


def bleu_from_totals(totals: np.ndarray) -> np.ndarray:
    """Corpus BLEU (0-100) from summed statistics ``totals`` [..., 10], exactly as sacrebleu's corpus_bleu
    (4-grams, exponential smoothing of zero counts, brevity penalty), vectorised over the leading axes."""
    totals = np.asarray(totals, dtype=np.float64)
    sys_len, ref_len = totals[..., 0], totals[..., 1]
    correct, total = totals[..., 2:6], totals[..., 6:10]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len < ref_len, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1)), 1.0)
        bp = np.where(sys_len > 0, bp, 0.0)
        zero = correct == 0
        smoothed = 100.0 / (2.0 ** np.cumsum(zero, axis=-1) * total)
        precision = np.where(zero, smoothed, 100.0 * correct / total)
        counted = np.cumprod(total > 0, axis=-1).astype(bool)
        logs = np.where(counted & (precision > 0), np.log(np.where(precision > 0, precision, 1.0)), _LOG_ZERO)
    score = bp * np.exp(logs.mean(axis=-1))
    return np.where(correct.any(axis=-1), score, 0.0)


def metric_from_totals(totals: np.ndarray, metric: str) -> np.ndarray:
    """BLEU or perplexity from summed per-sentence statistics [..., k]."""
    _check_metric(metric)
    if metric == "bleu":
        return bleu_from_totals(totals)
    totals = np.asarray(totals, dtype=np.float64)
    return np.exp(totals[..., 0] / totals[..., 1])


def metric_interval(stats: np.ndarray, metric: str, n_boot: int = 1000, seed: int = 0, level: float = 0.95
                    ) -> Interval:
    """Corpus BLEU or perplexity of per-sentence statistics ``stats`` [sentences, k] with a percentile bootstrap
    interval over the sentences (``n_boot`` resamples, seeded). Used in: 00_data_and_models."""
    stats = np.asarray(stats, dtype=np.float64)
    n = stats.shape[0]
    if n == 0:
        raise ValueError("metric_interval needs at least one sentence")
    weights, _ = resample_counts(n, n_boot, seed)
    samples = metric_from_totals(weights @ stats, metric)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(metric_from_totals(stats.sum(0), metric)), float(low), float(high), n,
                    f"{metric}: percentile bootstrap over {n} sentences, {n_boot} resamples, {level:.0%}")


def harm(values: np.ndarray, base: np.ndarray, metric: str) -> np.ndarray:
    """How much worse ``values`` are than ``base``: BLEU points lost, or log-perplexity gained (> 0 hurts)."""
    _check_metric(metric)
    return base - values if metric == "bleu" else np.log(values / base)


@dataclass(frozen=True, eq=False)
class Damage:
    """Damage per order on the whole test set (``estimate``) and on ``samples`` bootstrap resamples of its
    sentences (resamples × orders, the same resamples for every order)."""

    estimate: pd.Series
    samples: pd.DataFrame
    level: float

    def table(self) -> pd.DataFrame:
        """Columns damage, low, high (the percentile interval at ``level``), most damaging first."""
        tail = (1 - self.level) / 2
        out = pd.DataFrame({"damage": self.estimate, "low": self.samples.quantile(tail),
                            "high": self.samples.quantile(1 - tail)})
        return out.sort_values("damage", ascending=False, kind="stable")

    def difference(self, first: Sequence[str], second: Sequence[str], how: str) -> tuple[float, float, float]:
        """Estimate and interval of ``agg(first) − agg(second)`` where agg is ``how`` for the first group ("min",
        "max" or "mean") and its opposite for the second ("max", "min", "mean"): e.g. how="min" asks whether every
        order of ``first`` hurts more than every order of ``second``."""
        other = {"min": "max", "max": "min", "mean": "mean"}[how]

        def diff(frame):
            return getattr(frame[list(first)], how)(axis=1) - getattr(frame[list(second)], other)(axis=1)

        estimate = float(diff(self.estimate.to_frame().T).iloc[0])
        samples = diff(self.samples)
        tail = (1 - self.level) / 2
        return estimate, float(samples.quantile(tail)), float(samples.quantile(1 - tail))


def damage(stats: Mapping[str, np.ndarray], counts: Mapping[str, Sequence[int]], metric: str, n_boot: int = 1000,
           seed: int = 0, level: float = 0.95) -> Damage:
    """Damage of every order from its sweep's per-sentence statistics ``stats[order]`` [points, sentences, k] at
    ``counts[order]`` ablated neurons (the point with 0 neurons included: the unablated model), with a bootstrap
    over test sentences (``n_boot`` resamples, seeded). Used in: 03_ablation_in_the_model."""
    orders = list(stats)
    n_sentences = {np.shape(stats[name])[1] for name in orders}
    if len(n_sentences) != 1:
        raise ValueError(f"every order must be measured on the same test sentences; got sizes {sorted(n_sentences)}")
    n = n_sentences.pop()
    weights = np.vstack([np.ones(n), resample_counts(n, n_boot, seed)[0]])
    out = {}
    for name in orders:
        ks = np.asarray(counts[name])
        if not (ks == 0).any() or not (ks > 0).any():
            raise ValueError(f"order {name!r} needs its unablated point (0 neurons) and at least one ablated point")
        values = metric_from_totals(np.einsum("bn,pnk->bpk", weights, np.asarray(stats[name], dtype=np.float64)),
                                    metric)
        base = values[:, ks == 0][:, :1]
        out[name] = harm(values[:, ks > 0], base, metric).mean(axis=1)
    frame = pd.DataFrame(out)
    return Damage(estimate=frame.iloc[0], samples=frame.iloc[1:].reset_index(drop=True), level=level)


def verdict(low: float, high: float) -> str:
    """"holds" when the whole interval of a difference is above 0, "fails" when below, else "not resolved"."""
    return "holds" if low > 0 else "fails" if high < 0 else "not resolved"


CLAIMS = {
    "cca_top_hurts_most": "zeroing CCA-top neurons hurts more than any LCA-top order",
    "lca_top_hurts_more_than_bottom": "every LCA-top order hurts more than every bottom order",
    "lca_top_hurts_more_than_random": "LCA-top neurons hurt more than random ones (on average over properties)",
    "sem_hurts_more_than_pos": "LCA-top SEM neurons hurt more than LCA-top POS neurons (SEM here: automatic "
                               "WordNet supersenses, not the paper's gold tags)",
}


def paper_finding(found: Damage, sem: str = "LCA-top sem", pos: str = "LCA-top pos") -> dict:
    """The paper's ablation claims on one model, each with the interval of the difference it rests on and a verdict
    ("holds" / "fails" / "not resolved"); claims whose orders are missing are left out. Order names follow
    notebook 03: "CCA-top", "LCA-top <prop>", "... bottom ...", "random". Used in: 03_ablation_in_the_model."""
    names = list(found.estimate.index)
    lca = [n for n in names if n.startswith("LCA-top")]
    bottoms = [n for n in names if "bottom" in n]
    tests = {"cca_top_hurts_most": (["CCA-top"], lca, "min"),
             "lca_top_hurts_more_than_bottom": (lca, bottoms, "min"),
             "lca_top_hurts_more_than_random": (lca, ["random"], "mean"),
             "sem_hurts_more_than_pos": ([sem], [pos], "mean")}
    out: dict = {}
    for claim, (first, second, how) in tests.items():
        if first and second and set(first + second) <= set(names):
            estimate, low, high = found.difference(first, second, how)
            out[claim] = {"difference": estimate, "interval": [low, high], "verdict": verdict(low, high)}
    out["ranking"] = list(found.table().index)
    return out


def finding_text(findings: Mapping[str, dict], unit: Mapping[str, str]) -> str:
    """A plain-words verdict (markdown) of :func:`paper_finding` over models: per claim, where it holds, fails or
    is not resolved (the 95 % interval of the difference spans 0). ``unit`` names each model's damage unit."""
    lines = []
    for claim, words in CLAIMS.items():
        by_verdict = {v: [f"{m} ({f[claim]['difference']:+.2f} {unit[m]}, 95 % CI "
                          f"[{f[claim]['interval'][0]:+.2f}, {f[claim]['interval'][1]:+.2f}])"
                          for m, f in findings.items() if claim in f and f[claim]["verdict"] == v] for v in VERDICTS}
        if not any(by_verdict.values()):
            continue
        parts = [f"{v} for {', '.join(models)}" for v, models in by_verdict.items() if models]
        lines.append(f"- *{words}*: {'; '.join(parts)}.")
    lines += [f"- {model}: most damaging first — {', '.join(f['ranking'])}." for model, f in findings.items()]
    return "\n".join(lines)


def drop_table(curves: Mapping[str, Sequence[Sequence[float]]], n_neurons: int,
               shares: Sequence[float] = (0.05, 0.1, 0.2)) -> pd.DataFrame:
    """Change of the task metric from the unablated model at given shares of neurons ablated (orders × shares).

    Uses the curve point nearest to each share; a share beyond the curve's last point is left out.
    Used in: 03_ablation_in_the_model.
    """
    rows = {}
    for name, points in curves.items():
        ks = np.array([k for k, _ in points])
        values = np.array([v for _, v in points])
        base = values[ks == 0][0]
        rows[name] = {f"{100 * share:g}%": values[np.abs(ks - share * n_neurons).argmin()] - base
                      for share in shares if share * n_neurons <= ks.max()}
    return pd.DataFrame.from_dict(rows, orient="index")


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown task metric {metric!r}; known metrics: {', '.join(METRICS)}")
