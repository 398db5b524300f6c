"""Expected validation performance: the best dev score to expect from a tuning budget of k trials.

Dodge, Gururangan, Card, Schwartz and Smith, "Show Your Work: Improved Reporting of Experimental Results",
EMNLP 2019, section 3. A study observed N dev scores, one per trial. Drawing k of them with replacement from
that empirical distribution, the best of the k is the i-th smallest, v(1) <= ... <= v(N), with probability
w_i(k) = (i/N)^k - ((i-1)/N)^k (tied scores add their weights up), so

    E[max of k] = sum_i w_i(k) v(i),    Var[max of k] = sum_i w_i(k) v(i)^2 - E[max of k]^2.

Both are exact for the observed scores; nothing is resampled. k = 1 gives the mean of the scores, and as k
grows the expectation rises to the best score and the spread falls to 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Means closer than this are level: summation order alone must not make one curve lead another.
LEVEL = 1e-12


def expected_maximum(scores: Sequence[float], k: int) -> tuple[float, float]:
    """The mean and standard deviation of the best of k scores drawn with replacement from `scores`."""
    values = np.sort(np.asarray(scores, dtype=float))
    n = len(values)
    if n == 0 or k < 1:
        raise ValueError(f"expected_maximum needs at least one score and k >= 1 (got {n} scores, k = {k})")
    ranks = np.arange(1, n + 1)
    weights = (ranks / n) ** k - ((ranks - 1) / n) ** k
    mean = float(weights @ values)
    # E[max^2] - E[max]^2 written as the weighted squared deviation: the same value, without the cancellation that
    # leaves a spurious spread where the best score is all but certain.
    variance = float(weights @ (values - mean) ** 2)
    return mean, math.sqrt(max(variance, 0.0))


def curve(scores: Sequence[float]) -> list[tuple[float, float]]:
    """Expected best score and its standard deviation after k = 1 .. N trials, N the number of scores."""
    return [expected_maximum(scores, k) for k in range(1, len(scores) + 1)]


def leads(first: Sequence[tuple[float, float]], second: Sequence[tuple[float, float]]) -> list[int]:
    """Per budget k = 1 .. the shorter curve's length: 1 where the first curve's mean is ahead, -1 where the
    second's is, 0 where they are level."""
    signs = []
    for (a, _), (b, _) in zip(first, second, strict=False):
        signs.append(0 if abs(a - b) <= LEVEL else 1 if a > b else -1)
    return signs


def stretches(signs: Sequence[int]) -> list[tuple[int, int, int]]:
    """Runs of the same lead, as (lead, first k, last k), k counted from 1."""
    runs: list[tuple[int, int, int]] = []
    for k, sign in enumerate(signs, start=1):
        if runs and runs[-1][0] == sign:
            runs[-1] = (sign, runs[-1][1], k)
        else:
            runs.append((sign, k, k))
    return runs
