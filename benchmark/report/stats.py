"""Statistics for the leaderboard: mean ± std over seeds, bootstrap CIs for accuracy and macro-F1, McNemar's test,
Holm's adjustment for many comparisons, and the smallest difference a test set can resolve.

Everything here is deterministic: random draws come from a generator seeded by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binomtest, norm

# A fixed seed and count so that regenerating the leaderboard gives the same intervals.
BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 2000
# Resamples per block: bounds memory at about block × examples × 4 bytes.
_BLOCK = 250


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof=1); the std is None for a single value."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError("mean_std needs at least one value")
    std = float(array.std(ddof=1)) if array.size > 1 else None
    return float(array.mean()), std


def _weight_blocks(n_examples: int, n_resamples: int, seed: int):
    """How often each example is drawn, one row per resample, in blocks of rows.

    Row r is `bincount(rng.integers(0, n, n))` for the r-th draw of `default_rng(seed)`,
    whatever the block size.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, _BLOCK):
        rows = min(_BLOCK, n_resamples - start)
        block = np.empty((rows, n_examples), dtype=np.float32)
        for row in range(rows):
            block[row] = np.bincount(rng.integers(0, n_examples, size=n_examples), minlength=n_examples)
        yield block


def _weighted_macro_f1(weights: np.ndarray, gold: np.ndarray, predicted: np.ndarray, n_classes: int):
    """Macro-F1 of one run under each row of example weights, vectorised as one matrix product."""
    classes = np.arange(n_classes)
    gold_hot = gold[:, None] == classes
    pred_hot = predicted[:, None] == classes
    indicators = np.concatenate([gold_hot & pred_hot, gold_hot, pred_hot], axis=1).astype(np.float32)
    # Counts are whole numbers below 2**24, so float32 sums are exact whatever the summation order.
    counts = weights @ indicators
    tp, n_gold, n_pred = np.split(counts.astype(np.float64), 3, axis=1)
    denominator = n_gold + n_pred
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1.mean(axis=1)


def _weighted_accuracy(weights: np.ndarray, gold: np.ndarray, predicted: np.ndarray, n_classes: int):
    correct = (gold == predicted).astype(np.float32)
    return (weights @ correct).astype(np.float64) / len(gold)


def _bootstrap(score, gold, predictions, n_classes, n_resamples, seed) -> np.ndarray:
    gold = np.asarray(gold)
    if not predictions:
        raise ValueError("a bootstrap needs at least one run")
    parts = []
    for block in _weight_blocks(len(gold), n_resamples, seed):
        scores = [score(block, gold, np.asarray(p), n_classes) for p in predictions]
        parts.append(np.mean(scores, axis=0))
    return np.concatenate(parts)


def bootstrap_macro_f1(
    gold: np.ndarray,
    predictions: Sequence[np.ndarray],
    n_classes: int,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> np.ndarray:
    """Bootstrap distribution of the seed-averaged macro-F1, one value per resample.

    Each resample draws len(gold) test examples with replacement; every run (seed) is
    scored on that same resample and the per-run macro-F1s are averaged. The spread is
    therefore the test-set sampling uncertainty of the mean over seeds; seed-to-seed
    variation is reported separately as the std. Labels are integer class ids.
    """
    return _bootstrap(_weighted_macro_f1, gold, predictions, n_classes, n_resamples, seed)


def bootstrap_accuracy(
    gold: np.ndarray,
    predictions: Sequence[np.ndarray],
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> np.ndarray:
    """As `bootstrap_macro_f1`, for accuracy; with the same seed it draws the same resamples."""
    return _bootstrap(_weighted_accuracy, gold, predictions, 0, n_resamples, seed)


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central `level` interval of a bootstrap distribution (percentile method)."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def majority_correct(correct: np.ndarray) -> np.ndarray:
    """Per example: right in a strict majority of runs. `correct` has shape (runs, examples).

    With an even number of runs a split counts as wrong; the rule is applied to both sides
    of a comparison on the same seeds, so it favours neither.
    """
    correct = np.asarray(correct, dtype=bool)
    return 2 * correct.sum(axis=0) > correct.shape[0]


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on paired correct/incorrect outcomes."""

    only_first: int  # examples the first system got right and the second wrong
    only_second: int  # and the reverse
    p_value: float


def mcnemar_exact_p(only_first: int, only_second: int) -> float:
    """Two-sided exact p-value: under no difference each discordant pair falls either way with p = 1/2."""
    n = only_first + only_second
    if n == 0:
        return 1.0
    return float(binomtest(only_first, n, 0.5, alternative="two-sided").pvalue)


def mcnemar(correct_first: np.ndarray, correct_second: np.ndarray) -> McNemar:
    """Compare two systems scored on the same examples (boolean arrays in the same order)."""
    first = np.asarray(correct_first, dtype=bool)
    second = np.asarray(correct_second, dtype=bool)
    if first.shape != second.shape:
        raise ValueError(f"paired outcomes differ in shape: {first.shape} vs {second.shape}")
    only_first = int((first & ~second).sum())
    only_second = int((~first & second).sum())
    return McNemar(only_first, only_second, mcnemar_exact_p(only_first, only_second))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment, in the order given: the k-th smallest of m p-values is multiplied by
    m − k + 1, and each adjusted value is at least the one before it (capped at 1). Rejecting where the
    adjusted value is below α keeps the chance of any false "differs" among all m tests at most α."""
    m = len(p_values)
    adjusted = [1.0] * m
    running = 0.0
    for position, index in enumerate(sorted(range(m), key=lambda i: (p_values[i], i))):
        running = max(running, min(1.0, (m - position) * p_values[index]))
        adjusted[index] = running
    return adjusted


def resolvable_difference(
    disagreement: float, n_examples: int, alpha: float = 0.05, power: float = 0.8
) -> float | None:
    """The smallest accuracy difference McNemar's test detects with this power on `n_examples` paired examples,
    when the two systems disagree (one right, the other wrong) on a share `disagreement` of them.

    Connor's (1987) normal approximation: n·d² = (z₁₋α/₂·√ψ + z_power·√(ψ − d²))², solved for d. The
    difference can never exceed ψ itself. None when no difference is detectable that often: the systems
    never disagree, or disagree on too few examples for even the largest possible difference (d = ψ).
    """
    psi = float(disagreement)
    if not 0 < psi <= 1 or n_examples < 1:
        return None
    z_alpha, z_power = norm.ppf(1 - alpha / 2), norm.ppf(power)

    def gap(d: float) -> float:
        return np.sqrt(n_examples) * d - (z_alpha * np.sqrt(psi) + z_power * np.sqrt(max(psi - d * d, 0.0)))

    if gap(psi) < 0:  # even a difference as large as the disagreement itself is not detected reliably
        return None
    return float(brentq(gap, 0.0, psi))
