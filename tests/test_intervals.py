"""Intervals and verdicts (lib.methods.intervals): sentence bootstrap, paired differences, spreads over seeds."""
import numpy as np
import pytest

from lib.methods.intervals import (Interval, bootstrap_accuracy, bootstrap_runs, excludes_zero, paired_difference,
                                   resample_counts, spread, verdict)


def words(n_sentences=300, length=10, p=0.8, seed=0, correlated=False):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_sentences), length)
    if correlated:  # every word of a sentence right or wrong together: n_sentences effective observations
        return np.repeat(rng.random(n_sentences) < p, length), groups
    return rng.random(groups.size) < p, groups


def test_bootstrap_interval_brackets_the_accuracy_and_is_reproducible():
    correct, groups = words()
    found = bootstrap_accuracy(correct, groups, seed=1)
    assert found.estimate == pytest.approx(correct.mean())
    assert found.low < found.estimate < found.high and found.n == 300
    assert found == bootstrap_accuracy(correct, groups, seed=1)
    assert found.as_list() == [found.low, found.high]


def test_shared_resampling_draws_are_the_seeded_multinomial_and_read_only():
    counts, runs = resample_counts(50, 200, 3, runs=4)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(counts, rng.multinomial(50, np.full(50, 1 / 50), size=200))
    np.testing.assert_array_equal(runs, rng.multinomial(4, np.full(4, 1 / 4), size=200))
    np.testing.assert_array_equal(resample_counts(50, 200, 3)[0], counts)  # the sentence draws do not depend on runs
    with pytest.raises(ValueError):
        counts[0, 0] = 7  # one caller cannot change the draws of every later interval


def test_resampling_sentences_widens_the_interval_when_words_of_a_sentence_agree():
    correct, groups = words(correlated=True)
    by_sentence = bootstrap_accuracy(correct, groups)
    by_word = bootstrap_accuracy(correct, np.arange(correct.size))
    assert by_sentence.high - by_sentence.low > 2 * (by_word.high - by_word.low)


def test_bootstrap_covers_the_true_accuracy_about_95_percent_of_the_time():
    hits = [bootstrap_accuracy(*words(n_sentences=100, seed=s), n_boot=400, seed=s) for s in range(60)]
    covered = np.mean([h.low <= 0.8 <= h.high for h in hits])
    assert 0.85 <= covered <= 1.0


def test_paired_difference_cancels_shared_difficulty():
    correct, groups = words(seed=3)
    better = correct.copy()
    better[np.flatnonzero(~correct)[:30]] = True
    paired = paired_difference(better, correct, groups)
    assert paired.estimate == pytest.approx(30 / correct.size)
    assert paired.low > 0 and excludes_zero(paired) == "higher"
    assert excludes_zero(paired_difference(correct, correct, groups)) == "not resolved"
    with pytest.raises(ValueError, match="same words"):
        paired_difference(correct, correct[:-1], groups)


def test_runs_add_their_spread_to_the_test_set_spread():
    correct, groups = words()
    runs = np.stack([correct, np.roll(correct, 7), np.zeros_like(correct)])
    found = bootstrap_runs(runs, groups)
    assert found.estimate == pytest.approx(runs.mean())
    assert found.high - found.low > 0.3 and "3 runs" in found.method
    assert bootstrap_runs(runs[:1], groups) == bootstrap_accuracy(correct, groups)


def test_spread_over_seeds_is_a_t_interval_and_one_value_says_so():
    found = spread([0.70, 0.72, 0.74])
    assert found.estimate == pytest.approx(0.72)
    assert found.high - found.estimate == pytest.approx(4.303 * 0.02 / np.sqrt(3), rel=1e-3)
    single = spread([0.5])
    assert single.low == single.high == 0.5 and "no spread" in single.method
    with pytest.raises(ValueError):
        spread([])


def test_verdict_is_not_resolved_whenever_intervals_overlap():
    a, b = Interval(0.8, 0.75, 0.85, 3, "t"), Interval(0.6, 0.55, 0.65, 3, "t")
    assert verdict(a, b) == "higher" and verdict(b, a) == "lower"
    assert verdict(a, Interval(0.7, 0.6, 0.75, 3, "t")) == "not resolved"
    assert verdict(a, a) == "not resolved"


def test_groups_must_match_the_words():
    with pytest.raises(ValueError, match="one sentence id per word"):
        bootstrap_accuracy([True, False], [0])
