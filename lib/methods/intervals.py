"""95 % intervals and verdicts: a number shown as a finding carries its spread, and a difference is called only when
the intervals separate (METHODS.md §6).

Accuracies are bootstrapped over test **sentences** (the words of a sentence are not independent), differences of
two classifiers on the same words by a paired bootstrap, and values over probe seeds or random draws get a t
interval. Arrays in, numbers out. Used in: 01_linguistic_correlation, 03_ablation_in_the_model, 04, 06, summary.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Interval:
    """An ``estimate`` with its interval [``low``, ``high``], the ``n`` it rests on (sentences, seeds or draws) and
    the ``method`` that made it, in words."""

    estimate: float
    low: float
    high: float
    n: int
    method: str

    def as_list(self) -> list[float]:
        """``[low, high]``, the form the notebooks' JSON files hold."""
        return [float(self.low), float(self.high)]


def _sentence_sums(values: np.ndarray, groups: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence: the sum of ``values`` (rows × k) and the word count; sentence ids need not be contiguous."""
    groups = np.asarray(groups)
    if groups.shape != (values.shape[0],):
        raise ValueError(f"need one sentence id per word; got {groups.shape} ids for {values.shape[0]} words")
    if values.shape[0] == 0:
        raise ValueError("cannot bootstrap an empty split")
    _, ids = np.unique(groups, return_inverse=True)
    sums = np.zeros((ids.max() + 1, values.shape[1]))
    np.add.at(sums, ids, values)
    return sums, np.bincount(ids).astype(np.float64)


@functools.lru_cache(maxsize=4)
def resample_counts(n: int, n_boot: int, seed: int, runs: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """How often each of ``n`` sentences is drawn in each of ``n_boot`` bootstrap resamples (n_boot × n, float64),
    from ``numpy.random.default_rng(seed)``, and, for ``runs`` > 0, how often each run is drawn next (n_boot × runs).
    Every interval over the same sentences with the same seed uses the same draws, so they are made once per
    process and returned read-only: an interval over 1,000 sentences (20,000 words, 1,000 resamples) took 82-93 ms
    with its own draws, 10-12 ms with shared ones, and an LCA summary asks for about twenty. Used in:
    lib.methods.damage."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1 / n), size=n_boot).astype(np.float64)
    run_counts = rng.multinomial(runs, np.full(runs, 1 / runs), size=n_boot).astype(np.float64) if runs else None
    for array in (counts, run_counts):
        if array is not None:
            array.flags.writeable = False
    return counts, run_counts


def _bootstrap(values: np.ndarray, groups: Sequence[int], n_boot: int, seed: int, level: float
               ) -> tuple[np.ndarray, np.ndarray, int]:
    """Point estimates (k,) of the word means of ``values`` (words × k) and their bootstrap samples (n_boot × k),
    resampling whole sentences with replacement; also the number of sentences."""
    sums, words = _sentence_sums(values, groups)
    counts, _ = resample_counts(words.size, n_boot, seed)
    samples = (counts @ sums) / (counts @ words)[:, None]
    return sums.sum(0) / words.sum(), samples, words.size


def _percentile(estimate: float, samples: np.ndarray, n: int, level: float, what: str) -> Interval:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high), n,
                    f"{what}: percentile bootstrap over {n} sentences, {samples.size} resamples, {level:.0%}")


def bootstrap_accuracy(correct: Sequence[bool], groups: Sequence[int], n_boot: int = 1000, seed: int = 0,
                       level: float = 0.95) -> Interval:
    """Accuracy of ``correct`` (one bool per test word) with a bootstrap interval over whole sentences
    (``groups``: the sentence id of each word). Used in: 01_linguistic_correlation."""
    values = np.asarray(correct, dtype=np.float64).reshape(-1, 1)
    estimate, samples, n = _bootstrap(values, groups, n_boot, seed, level)
    return _percentile(estimate[0], samples[:, 0], n, level, "accuracy")


def bootstrap_runs(correct: np.ndarray, groups: Sequence[int], n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95) -> Interval:
    """Mean accuracy over several runs (probe seeds or random draws) scored on the same test words, ``correct``
    runs × words (bools), with a two-level bootstrap: each resample draws sentences and runs with replacement, so
    the interval holds both the test-set and the run-to-run spread. One run is :func:`bootstrap_accuracy`.
    Used in: 01_linguistic_correlation (``lib.methods.ablation.ablation_table``)."""
    correct = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    runs = correct.shape[0]
    if runs == 1:
        return bootstrap_accuracy(correct[0], groups, n_boot, seed, level)
    sums, words = _sentence_sums(correct.T, groups)
    sentence_counts, run_counts = resample_counts(words.size, n_boot, seed, runs)
    samples = ((sentence_counts @ sums) * run_counts).sum(1) / (runs * (sentence_counts @ words))
    estimate = sums.sum() / (runs * words.sum())
    found = _percentile(estimate, samples, words.size, level, f"accuracy over {runs} runs")
    return Interval(found.estimate, found.low, found.high, found.n,
                    found.method.replace("percentile bootstrap over", "two-level bootstrap (runs and") + ")")


def paired_difference(correct_a: Sequence[bool], correct_b: Sequence[bool], groups: Sequence[int],
                      n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Interval:
    """acc_a − acc_b of two classifiers on the same words, with a paired bootstrap interval over sentences (both
    resampled together, so their shared difficulty cancels). Used in: 01 (selectivity, ranking variants)."""
    a, b = (np.asarray(c, dtype=np.float64) for c in (correct_a, correct_b))
    if a.shape != b.shape:
        raise ValueError(f"paired_difference: both classifiers must score the same words; got {a.shape}, {b.shape}")
    estimate, samples, n = _bootstrap((a - b).reshape(-1, 1), groups, n_boot, seed, level)
    return _percentile(estimate[0], samples[:, 0], n, level, "paired difference")


def spread(values: Sequence[float], level: float = 0.95) -> Interval:
    """The mean of ``values`` (one per probe seed or random draw) with a Student t interval; one value gives
    low = high = estimate and a ``method`` that says no spread was measured. Used in: 01, 03, 06."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError("spread: no values")
    mean = float(x.mean())
    if x.size == 1:
        return Interval(mean, mean, mean, 1, "single value: no spread measured (one seed or draw)")
    from scipy import stats  # here, not at the top: importing scipy.stats took 1.2 of the 1.9 s lib.runner took

    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return Interval(mean, mean - half, mean + half, int(x.size), f"t interval over {x.size} values, {level:.0%}")


def verdict(a: Interval, b: Interval) -> str:
    """``"higher"`` when ``a`` lies wholly above ``b``, ``"lower"`` when wholly below, else ``"not resolved"``
    (the intervals overlap, touching included). Used in: 01, 03, 04, 06 and the summary's verdict column."""
    if a.low > b.high:
        return "higher"
    if a.high < b.low:
        return "lower"
    return "not resolved"


def excludes_zero(difference: Interval) -> str:
    """The verdict of a difference interval against zero: ``"higher"``, ``"lower"`` or ``"not resolved"``."""
    return verdict(difference, Interval(0.0, 0.0, 0.0, 1, "zero"))
