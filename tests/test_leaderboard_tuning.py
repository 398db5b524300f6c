"""A tuning sweep on the leaderboard: tuned tables apart from the recommended settings, trials never ranked, the
expected validation performance of each study (Dodge et al. 2019), and the chosen settings against the recommended.
Synthetic run folders written by hand, following docs/results-format.md."""

import itertools
import statistics

import pytest
from synthetic_runs import trial_section, write_run

from benchmark.report import tuning
from benchmark.report.leaderboard import write_leaderboard

# ---------------------------------------------------------------- the formula


def _enumerated(values, k):
    """Mean and std of the best of k draws with replacement, over every one of the N^k equally likely draws."""
    best = [max(draw) for draw in itertools.product(values, repeat=k)]
    return statistics.fmean(best), statistics.pstdev(best)


@pytest.mark.parametrize("values", [[0.1, 0.5, 0.5, 0.9], [0.3, 0.7, 0.2]])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_expected_maximum_equals_enumerating_every_draw(values, k):
    mean, std = tuning.expected_maximum(values, k)
    expected_mean, expected_std = _enumerated(values, k)
    assert abs(mean - expected_mean) < 1e-12
    assert abs(std - expected_std) < 1e-12


def test_one_trial_expects_the_mean_and_many_expect_the_best():
    values = [0.3, 0.7, 0.2, 0.65]
    assert tuning.expected_maximum(values, 1) == pytest.approx((statistics.fmean(values), statistics.pstdev(values)))
    mean, std = tuning.expected_maximum(values, 400)
    assert abs(mean - max(values)) < 1e-12 and std < 1e-12
    curve = tuning.curve(values)
    assert len(curve) == len(values)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(curve)), "more trials never expect less"


# ---------------------------------------------------------------- reading a sweep


def test_a_trial_without_its_dev_score_is_skipped_naming_the_field(tmp_path, no_plots):
    section = trial_section("alpha-s", 0, 2, 0.8)
    del section["dev"]
    write_run(tmp_path, "alpha-trial0", backbone="alpha", seed=1, tuning=section)
    write_leaderboard(tmp_path, reported=[])
    skipped = (tmp_path / "leaderboard.md").read_text(encoding="utf-8").split("## Skipped files")[1]
    assert "`alpha-trial0/metrics.json`: a trial's field 'tuning.dev.accuracy'" in skipped
