"""Many comparisons on one board: Holm-adjusted pairwise tests, rank ranges, the power statement, repeats that are
not repeats, and the check against published figures."""

import csv

import pytest
from synthetic_runs import N, write_run

from benchmark.dataset import Reported
from benchmark.report.leaderboard import write_leaderboard
from benchmark.report.stats import holm, mcnemar_exact_p, resolvable_difference


def _csv(path):
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_rows_the_test_cannot_tell_apart_share_a_rank_range(tmp_path, no_plots):
    # top and close miss 10 and 12 examples (the same 10, plus 2): not told apart. weak misses 60.
    write_run(tmp_path, "top", backbone="top", seed=1, wrong=range(10))
    write_run(tmp_path, "close", backbone="close", seed=1, wrong=range(12))
    write_run(tmp_path, "weak", backbone="weak", seed=1, wrong=range(60))
    write_leaderboard(tmp_path, reported=[])
    rows = {r["backbone"]: r for r in _csv(tmp_path / "leaderboard.csv")}
    assert {name: (r["rank"], r["rank_low"], r["rank_high"]) for name, r in rows.items()} == {
        "top": ("1", "1", "2"),
        "close": ("2", "1", "2"),
        "weak": ("3", "3", "3"),
    }
    # Holm over the three pairs, by hand from the raw counts.
    raw = {"top-close": mcnemar_exact_p(2, 0), "top-weak": mcnemar_exact_p(50, 0), "close-weak": mcnemar_exact_p(48, 0)}
    adjusted = dict(zip(raw, holm(list(raw.values())), strict=True))
    pairs = {f"{p['first']}-{p['second']}": p for p in _csv(tmp_path / "leaderboard-pairs.csv")}
    assert set(pairs) == set(raw)
    for name, pair in pairs.items():
        assert float(pair["mcnemar_p"]) == pytest.approx(raw[name])
        assert float(pair["mcnemar_p_holm"]) == pytest.approx(adjusted[name])
    assert (pairs["top-close"]["only_first_right"], pairs["top-close"]["only_second_right"]) == ("2", "0")
    assert (pairs["top-weak"]["significant"], pairs["top-weak"]["better"]) == ("True", "top")
    assert (pairs["top-close"]["significant"], pairs["top-close"]["better"]) == ("False", "")
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "| 1 | 1–2 | top |" in md and "| 2 | 1–2 | close |" in md and "| 3 | 3 | weak |" in md
    assert "| top | weak | 1 | 50 | 0 | p \\< 0.001 | p \\< 0.001 | top better |" in md
    assert "| top | close | 1 | 2 | 0 | p = 0.500 | p = 0.500 | not told apart |" in md


def test_the_board_says_what_difference_its_test_set_can_resolve(tmp_path, no_plots):
    write_run(tmp_path, "top", backbone="top", seed=1, wrong=range(10))
    write_run(tmp_path, "close", backbone="close", seed=1, wrong=range(12))
    write_run(tmp_path, "weak", backbone="weak", seed=1, wrong=range(60))
    write_leaderboard(tmp_path, reported=[])
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    # Disagreements: 2, 50 and 48 of 120; the median is 48 (40.0%).
    expected = resolvable_difference(48 / N, N)
    assert f"disagree on a median 40.0% of the {N} test examples" in md
    assert f"below about {100 * expected:.2f} points" in md


def test_a_deterministic_method_repeated_over_seeds_is_one_result(tmp_path, no_plots):
    for seed in (1, 2, 3):
        write_run(tmp_path, f"tfidf-{seed}", backbone="tfidf", seed=seed, wrong=range(20))
    for seed, wrong in ((1, range(10)), (2, range(14))):
        write_run(tmp_path, f"net-{seed}", backbone="net", seed=seed, wrong=wrong)
    write_leaderboard(tmp_path, reported=[])
    rows = {r["backbone"]: r for r in _csv(tmp_path / "leaderboard.csv")}
    tfidf, net = rows["tfidf"], rows["net"]
    assert (tfidf["runs"], tfidf["distinct_results"], tfidf["deterministic"]) == ("3", "1", "True")
    assert tfidf["accuracy_std"] == "" and tfidf["macro_f1_std"] == "", "no spread was measured"
    assert (net["distinct_results"], net["deterministic"]) == ("2", "False") and float(net["accuracy_std"]) > 0
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert f"| 3 (1 distinct) | {100 * (N - 20) / N:.2f} (deterministic) |" in md


def test_published_figures_are_checked_against_the_measured_rows(tmp_path, no_plots):
    course = {"max_length": 32, "batch_size": 128, "learning_rate": 5e-5, "epochs": 3, "lowercase": True}
    config = {"max_length": 32, "batch_size": 64, "grad_accum": 1, "learning_rate": 5e-5, "epochs": 3}
    tokenization = {"lowercase": False}
    for seed, wrong in ((1, range(10)), (2, range(14))):
        write_run(
            tmp_path, f"a{seed}", backbone="alpha", seed=seed, wrong=wrong, config=config, tokenization=tokenization
        )
    # Two processes of 64: an effective batch of 128, as reported.
    write_run(tmp_path, "b1", backbone="beta", seed=1, wrong=range(30), config=config, processes=2)
    reported = [
        ("thucnews", Reported("alpha", 90.50, "mini", "paper A", setup=course)),  # inside alpha's interval
        ("thucnews", Reported("beta", 99.00, "mini", "paper B", setup=course)),  # far above beta's
        ("thucnews", Reported("gamma", 91.00, "mini", "paper C")),  # never measured here
        ("thucnews", Reported("alpha", 95.00, "full", "paper D")),  # another protocol: no table to check
    ]
    write_leaderboard(tmp_path, reported=reported)
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    check = md.split("### Reproduction check")[1].split("\n### ")[0]
    alpha_mean = 100 * (1 - 12 / N)
    assert (
        f"| alpha | accuracy | 90.50 | {alpha_mean:.2f} | {alpha_mean - 90.5:+.2f} | yes "
        "| batch (effective): 128 → 64; lower-casing: True → False | paper A |" in check
    )
    assert f"| beta | accuracy | 99.00 | {100 * (1 - 30 / N):.2f} | " in check
    beta = next(line for line in check.splitlines() if line.startswith("| beta |"))
    assert "| no | lower-casing: True → not recorded | paper B |" in beta, "the batch matches once processes count"
    assert "| gamma | accuracy | 91.00 | not measured | not measured | not measured |  | paper C |" in check
    assert "paper D" not in check
