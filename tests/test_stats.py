"""The leaderboard's statistics against hand-computed values, scipy and scikit-learn."""

import statistics

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import f1_score

from benchmark import metrics
from benchmark.report import stats


def test_mean_std_uses_the_sample_std():
    mean, std = stats.mean_std([0.90, 0.92, 0.97])
    assert mean == pytest.approx(statistics.mean([0.90, 0.92, 0.97]))
    assert std == pytest.approx(statistics.stdev([0.90, 0.92, 0.97]))  # ddof=1, not the population std


def test_mean_std_of_one_run_has_no_std():
    assert stats.mean_std([0.5]) == (0.5, None)


@pytest.mark.parametrize(
    ("only_first", "only_second", "expected"),
    [
        (10, 2, 2 * (1 + 12 + 66) / 2**12),  # 2 · P(X ≤ 2), X ~ Binomial(12, 1/2) = 158/4096
        (8, 3, 2 * (1 + 11 + 55 + 165) / 2**11),  # 464/2048 = 0.2265625
        (3, 8, 2 * (1 + 11 + 55 + 165) / 2**11),  # two-sided: symmetric
        (6, 0, 2 / 2**6),
        (5, 5, 1.0),
        (0, 0, 1.0),  # no discordant pair: nothing to tell the systems apart
    ],
)
def test_mcnemar_exact_p_matches_hand_computation(only_first, only_second, expected):
    assert stats.mcnemar_exact_p(only_first, only_second) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_exact_p_matches_scipy_on_a_larger_table():
    assert stats.mcnemar_exact_p(41, 22) == pytest.approx(binomtest(22, 63, 0.5).pvalue, rel=1e-12)


def test_mcnemar_counts_discordant_pairs_from_outcomes():
    first = np.array([1, 1, 1, 0, 0, 1, 0], dtype=bool)
    second = np.array([1, 0, 0, 1, 0, 1, 0], dtype=bool)
    result = stats.mcnemar(first, second)
    assert (result.only_first, result.only_second) == (2, 1)
    assert result.p_value == pytest.approx(1.0)


def test_majority_correct_needs_a_strict_majority():
    correct = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 0]], dtype=bool)
    assert stats.majority_correct(correct).tolist() == [True, False, True, False]
    # Two runs that split count as wrong.
    assert stats.majority_correct(correct[:2]).tolist() == [True, False, False, False]


def test_macro_f1_matches_sklearn_including_a_class_never_seen():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 4, 300)
    predicted = np.where(rng.random(300) < 0.7, gold, rng.integers(0, 4, 300))
    assert metrics.macro_f1(gold, predicted, 5) == pytest.approx(
        f1_score(gold, predicted, labels=range(5), average="macro", zero_division=0)
    )


def _reference_bootstrap(gold, predictions, n_classes, n_resamples, seed):
    """The documented procedure, spelled out with scikit-learn."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        index = rng.integers(0, len(gold), size=len(gold))
        values.append(
            np.mean(
                [
                    f1_score(gold[index], p[index], labels=range(n_classes), average="macro", zero_division=0)
                    for p in predictions
                ]
            )
        )
    return np.array(values)


def test_bootstrap_matches_a_plain_scikit_learn_implementation():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 80)
    runs = [np.where(rng.random(80) < q, gold, rng.integers(0, 3, 80)) for q in (0.6, 0.8)]
    fast = stats.bootstrap_macro_f1(gold, runs, 3, n_resamples=300, seed=11)
    assert fast == pytest.approx(_reference_bootstrap(gold, runs, 3, 300, 11), abs=1e-12)


def test_bootstrap_of_perfect_predictions_is_a_point():
    gold = np.arange(200) % 5
    assert stats.percentile_interval(stats.bootstrap_macro_f1(gold, [gold], 5)) == (1.0, 1.0)


def test_bootstrap_averages_per_run_scores_rather_than_pooling_predictions():
    # One perfect run and one that swaps the classes: every resample scores (1 + 0) / 2 exactly,
    # while pooling the predictions would depend on the class balance (0.47 here).
    gold = np.array([0] * 90 + [1] * 30)
    samples = stats.bootstrap_macro_f1(gold, [gold, 1 - gold], 2, n_resamples=200)
    assert samples.min() == samples.max() == pytest.approx(0.5)


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_examples():
    def interval(n):
        rng = np.random.default_rng(5)
        gold = rng.integers(0, 4, n)
        predicted = np.where(rng.random(n) < 0.8, gold, (gold + 1) % 4)
        low, high = stats.percentile_interval(stats.bootstrap_macro_f1(gold, [predicted], 4, n_resamples=500))
        return low, metrics.macro_f1(gold, predicted, 4), high

    small, large = interval(100), interval(2500)
    for low, estimate, high in (small, large):
        assert low < estimate < high
    # The width goes as 1/sqrt(n): 25 times the examples, about a fifth of the width.
    ratio = (small[2] - small[0]) / (large[2] - large[0])
    assert 3.5 < ratio < 7


def test_bootstrap_is_fixed_by_its_seed():
    gold = np.arange(60) % 3
    predicted = np.where(np.arange(60) % 4 == 0, (gold + 1) % 3, gold)
    first = stats.bootstrap_macro_f1(gold, [predicted], 3, n_resamples=100, seed=1)
    assert np.array_equal(first, stats.bootstrap_macro_f1(gold, [predicted], 3, n_resamples=100, seed=1))
    assert not np.array_equal(first, stats.bootstrap_macro_f1(gold, [predicted], 3, n_resamples=100, seed=2))


def test_bootstrap_does_not_depend_on_the_block_size(monkeypatch):
    gold = np.arange(50) % 2
    predicted = np.where(np.arange(50) % 3 == 0, 1 - gold, gold)
    whole = stats.bootstrap_macro_f1(gold, [predicted], 2, n_resamples=90, seed=4)
    monkeypatch.setattr(stats, "_BLOCK", 7)
    assert np.array_equal(whole, stats.bootstrap_macro_f1(gold, [predicted], 2, n_resamples=90, seed=4))


def test_percentile_interval_is_the_central_95_percent():
    assert stats.percentile_interval(np.arange(1001) / 1000) == pytest.approx((0.025, 0.975))


def test_bootstrap_accuracy_draws_the_same_resamples_as_macro_f1():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 4, 150)
    runs = [np.where(rng.random(150) < q, gold, (gold + 1) % 4) for q in (0.7, 0.9)]
    fast = stats.bootstrap_accuracy(gold, runs, n_resamples=200, seed=5)
    draws = np.random.default_rng(5)
    expected = []
    for _ in range(200):
        index = draws.integers(0, 150, 150)
        expected.append(np.mean([(gold[index] == run[index]).mean() for run in runs]))
    assert fast == pytest.approx(expected, abs=1e-12)
    low, high = stats.percentile_interval(fast)
    assert low < np.mean([(gold == run).mean() for run in runs]) < high


@pytest.mark.parametrize(
    ("p_values", "expected"),
    [
        # Sorted 0.01, 0.02, 0.04 of m = 3: 0.03, 0.04, 0.04 (kept monotone: max(0.04, 1 × 0.04)).
        ([0.04, 0.01, 0.02], [0.04, 0.03, 0.04]),
        # The step-down keeps an adjusted value from falling below the one before it.
        ([0.01, 0.011, 0.5, 0.9], [0.04, 0.04, 1.0, 1.0]),
        ([0.3], [0.3]),
        ([], []),
    ],
)
def test_holm_matches_hand_computation(p_values, expected):
    assert stats.holm(p_values) == pytest.approx(expected)


def test_holm_never_rejects_more_than_bonferroni_allows_or_less_than_it():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.random(8) ** 3
        adjusted = np.array(stats.holm(list(p)))
        assert np.all(adjusted >= p) and np.all(adjusted <= np.minimum(1, 8 * p) + 1e-12)


def test_resolvable_difference_has_the_power_it_claims():
    """Simulate pairs of systems differing by exactly the resolvable difference: McNemar at α = 0.05 should
    find about 80% of them."""
    n, disagreement = 2000, 0.08
    d = stats.resolvable_difference(disagreement, n)
    rng = np.random.default_rng(1)
    discordant = rng.binomial(n, disagreement, size=600)
    only_first = rng.binomial(discordant, (1 + d / disagreement) / 2)
    detected = np.mean([stats.mcnemar_exact_p(a, b - a) < 0.05 for a, b in zip(only_first, discordant, strict=True)])
    assert 0.72 < detected < 0.88, (d, detected)


def test_resolvable_difference_shrinks_with_more_examples_and_less_disagreement():
    base = stats.resolvable_difference(0.06, 10_000)
    assert stats.resolvable_difference(0.06, 40_000) == pytest.approx(base / 2, rel=0.02)
    assert stats.resolvable_difference(0.03, 10_000) < base
    # (1.96 + 0.84) × √(0.06 / 10,000) ≈ 0.0069: the textbook approximation, close to the exact solution.
    assert base == pytest.approx(0.0069, abs=0.0003)
    assert stats.resolvable_difference(0.0, 10_000) is None  # never disagreeing: nothing can be told apart
    assert stats.resolvable_difference(0.01, 50) is None  # at most one example in dispute: never detected
