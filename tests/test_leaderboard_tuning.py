"""A tuning sweep on the leaderboard: tuned tables apart from the recommended settings, trials never ranked, the
expected validation performance of each study (Dodge et al. 2019), and the chosen settings against the recommended.
Synthetic run folders written by hand, following docs/results-format.md."""

import csv
import itertools
import re
import statistics
from types import SimpleNamespace

import pytest
from synthetic_runs import RECOMMENDED, chosen_section, trial_section, write_failed_trial, write_run

from benchmark.report import leaderboard, notes, tuning
from benchmark.report.format import pct_std
from benchmark.report.leaderboard import write_leaderboard
from benchmark.report.runs import load_runs
from benchmark.report.sweeps import Study, build_sweeps
from benchmark.report.trials import load_failed

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


# ---------------------------------------------------------------- a sweep on the board

ALPHA_DEV = [0.80, 0.86, 0.83, 0.90]  # four trials, the last chosen
BETA_DEV = [0.84, 0.85, 0.845]  # and a fourth that failed
GAMMA_DEV = [0.88, 0.89]  # a budget of two: fewer than the others
ALPHA_CHOSEN = {"learning_rate": 3e-05, "batch_size": 32, "warmup": 0.06, "lr_scheduler_type": "cosine"}


def _study(results, backbone, dev, budget, chosen_trial, chosen, wrong, failed=()):
    study = f"{backbone}-mini-0123abcd"
    for trial, score in enumerate(dev):
        sampled = {"learning_rate": 1e-05 * (trial + 1), "batch_size": 32}
        # Trials score every test example right: ranked, they would lead every table.
        write_run(
            results,
            f"{backbone}-trial{trial}",
            backbone=backbone,
            seed=1,
            config=sampled,
            tuning=trial_section(study, trial, budget, score, sampled),
        )
    for trial in failed:
        write_failed_trial(
            results, f"{backbone}-trial{trial}", backbone=backbone, tuning=trial_section(study, trial, budget, None)
        )
    for seed in (1, 2, 3):
        write_run(
            results,
            f"{backbone}-tuned-seed{seed}",
            backbone=backbone,
            seed=seed,
            wrong=wrong,
            config=chosen,
            tuning=chosen_section(study, chosen_trial, budget, chosen),
        )


def build_sweep(results):
    for backbone, wrong in (("alpha", range(20)), ("beta", range(25))):
        for seed in (1, 2):
            write_run(results, f"{backbone}-seed{seed}", backbone=backbone, seed=seed, wrong=wrong, config=RECOMMENDED)
    _study(results, "alpha", ALPHA_DEV, 4, 3, ALPHA_CHOSEN, range(10))
    _study(results, "beta", BETA_DEV, 4, 1, {"learning_rate": 2e-05, "batch_size": 32}, range(12), failed=[3])
    _study(results, "gamma", GAMMA_DEV, 2, 1, {"learning_rate": 2e-05, "batch_size": 32}, range(8))
    return results


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    results = build_sweep(tmp_path_factory.mktemp("results"))
    with pytest.MonkeyPatch.context() as patch:  # the tables' own plots are covered elsewhere; the curves are drawn
        patch.setattr(leaderboard, "_write_plots", lambda group, plots_dir, font: [])
        written = write_leaderboard(results, reported=[])
    return SimpleNamespace(
        results=results,
        written=written,
        rows=list(csv.DictReader((results / "leaderboard.csv").open(encoding="utf-8"))),
        pairs=list(csv.DictReader((results / "leaderboard-pairs.csv").open(encoding="utf-8"))),
        md=(results / "leaderboard.md").read_text(encoding="utf-8"),
        html=(results / "leaderboard.html").read_text(encoding="utf-8"),
    )


def _section(md: str, heading: str) -> str:
    return md.split(heading + "\n")[1].split("\n## ")[0]


def _ranked(section: str) -> list[str]:
    return [line.split(" | ")[2] for line in section.split("### ")[0].splitlines() if re.match(r"\| \d+ \| ", line)]


RECOMMENDED_TABLE = "## thucnews · mini · test file aaaaaaaa · recommended settings"
TUNED_TABLE = "## thucnews · mini · test file aaaaaaaa · tuned, 4 trials each"
FEWER_TABLE = "## thucnews · mini · test file aaaaaaaa · tuned, 2 trials — fewer than the 4 of the others"
TUNING = "## thucnews · mini · test file aaaaaaaa · tuning"


def test_tuned_and_recommended_settings_have_tables_of_their_own(board):
    headings = [line for line in board.md.splitlines() if line.startswith("## ")]
    assert headings[:4] == [RECOMMENDED_TABLE, TUNED_TABLE, FEWER_TABLE, TUNING], "one test file: no table across"
    assert _ranked(_section(board.md, RECOMMENDED_TABLE)) == ["alpha", "beta"]
    assert _ranked(_section(board.md, TUNED_TABLE)) == ["alpha", "beta"]
    assert "Tuned settings." in _section(board.md, TUNED_TABLE)
    kinds = [(r["kind"], r["tuning_trials"], r["backbone"], r["seeds"]) for r in board.rows]
    assert kinds == [
        ("recommended", "", "alpha", "1 2"),
        ("recommended", "", "beta", "1 2"),
        ("tuned", "4", "alpha", "1 2 3"),
        ("tuned", "4", "beta", "1 2 3"),
        ("tuned", "2", "gamma", "1 2 3"),
    ]
    # Untuned rows hold the untuned runs only, tuned rows the chosen settings' runs only.
    assert [float(r["accuracy_mean"]) for r in board.rows] == pytest.approx(
        [100 / 120, 95 / 120, 110 / 120, 108 / 120, 112 / 120]
    )
    assert {(p["kind"], p["tuning_trials"], p["first"], p["second"]) for p in board.pairs} == {
        ("recommended", "", "alpha", "beta"),
        ("tuned", "4", "alpha", "beta"),
    }


def test_trials_are_never_ranked(board):
    # Every trial scored 100% on test; no table, row or pair shows one.
    assert all(float(r["accuracy_mean"]) < 1 for r in board.rows)
    tables = [_section(board.md, heading) for heading in (RECOMMENDED_TABLE, TUNED_TABLE, FEWER_TABLE)]
    assert not any("100.00" in table.split("### Per-class")[0] for table in tables)


def test_a_backbone_with_fewer_trials_is_listed_apart(board):
    fewer = _section(board.md, FEWER_TABLE)
    assert _ranked(fewer) == ["gamma"]
    assert "**Fewer trials.** gamma's study ran 2 trials, fewer than the 4 of the others" in fewer
    assert "gamma" not in _section(board.md, TUNED_TABLE).split("### Per-class")[0]


def test_the_curve_table_shows_each_study_at_selected_budgets(board):
    tuning_section = _section(board.md, TUNING)
    assert "| backbone | trials | best trial | k = 1 | k = 2 | k = 4 |" in tuning_section
    alpha = tuning.curve(ALPHA_DEV)
    assert f"| alpha | 4 | 90.00 | {pct_std(alpha[0])} | {pct_std(alpha[1])} | {pct_std(alpha[3])} |" in tuning_section
    gamma = tuning.curve(GAMMA_DEV)
    assert f"| gamma | 2 | 89.00 | {pct_std(gamma[0])} | {pct_std(gamma[1])} |  |" in tuning_section
    assert "3 studies · 10 trials (1 failed) · drawn by tpe · selected on dev accuracy" in tuning_section


def test_a_failed_trial_counts_against_the_budget_as_a_score_of_zero(board):
    runs = load_runs(board.results, [])
    (sweep,) = build_sweeps(runs, load_failed(board.results))
    beta = next(s for s in sweep.studies if s.backbone == "beta")
    assert beta.failed == {3} and len(beta.scores) == beta.budget == 4
    assert beta.curve == tuning.curve([*BETA_DEV, 0.0])
    assert "| beta | 4 (1 failed) | 85.00 |" in _section(board.md, TUNING)
    # The failed folder is still listed among the failed runs.
    assert "`beta-trial3`: beta seed 1: the training loss became nan" in board.md.split("## Failed runs")[1]


def test_pair_sentences_say_who_is_ahead_at_which_budget(board):
    sentences = [line for line in _section(board.md, TUNING).splitlines() if line.startswith("- ")]
    assert sentences == [
        "- alpha is ahead of beta at every budget up to 4 trials.",
        "- gamma is ahead of alpha at every budget up to 2 trials (compared over the 2 trials gamma ran).",
        "- gamma is ahead of beta at every budget up to 2 trials (compared over the 2 trials gamma ran).",
    ]


def test_curves_that_cross_say_where(tmp_path, no_plots):
    # risky has one excellent trial among poor ones, steady is always good: steady leads small budgets, and risky
    # overtakes it once enough trials make its best one likely.
    for backbone, dev in (
        ("risky", [0.60, 0.95, 0.65, 0.70, 0.62, 0.66]),
        ("steady", [0.84, 0.85, 0.86, 0.85, 0.845, 0.855]),
    ):
        for trial, score in enumerate(dev):
            section = trial_section(f"{backbone}-s", trial, 6, score)
            write_run(tmp_path, f"{backbone}-{trial}", backbone=backbone, seed=1, tuning=section)
    write_leaderboard(tmp_path, reported=[])
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "- risky is ahead of steady from 6 trials on; steady is ahead below." in md
    assert "No runs yet" not in md and "| rank |" not in md, "trials alone make no ranked table"


def test_level_curves_say_so():
    same = {0: 0.8, 1: 0.9, 2: 0.85}
    first, second = Study("a-s", "a", 3, dict(same), label="a"), Study("b-s", "b", 3, dict(same), label="b")
    assert notes.pair_sentence(first, second) == "a and b are level at every budget up to 3 trials."


def test_the_table_across_datasets_keeps_tuned_and_recommended_columns_apart(tmp_path, no_plots):
    write_run(tmp_path, "alpha-other", backbone="alpha", seed=1, wrong=range(30), dataset="other")
    write_run(tmp_path, "alpha-untuned", backbone="alpha", seed=1, wrong=range(20))
    chosen = {"learning_rate": 2e-05}
    tuned = chosen_section("alpha-s", 1, 2, chosen)
    write_run(tmp_path, "alpha-tuned", backbone="alpha", seed=1, wrong=range(10), config=chosen, tuning=tuned)
    write_leaderboard(tmp_path, reported=[])
    across = _section((tmp_path / "leaderboard.md").read_text(encoding="utf-8"), "## Across datasets")
    assert (
        "| backbone | other · mini | thucnews · mini · recommended settings | thucnews · mini · tuned, 2 trials each |"
        in across
    )
    assert "| alpha | 75.00 | 83.33 | 91.67 |" in across


def test_the_chosen_settings_stand_beside_the_recommended(board):
    chosen = _section(board.md, TUNING).split("### Chosen settings against the recommended ones")[1]
    assert "| backbone | chosen trial | setting | chosen | recommended | chosen / recommended |" in chosen
    for row in (
        "| alpha | no. 3 of 4 | batch\\_size | 32 | 128 | 0.25x |",
        "| alpha | no. 3 of 4 | learning\\_rate | 3e-05 | 5e-05 | 0.6x |",
        "| alpha | no. 3 of 4 | lr\\_scheduler\\_type | cosine | linear | other |",
        "| alpha | no. 3 of 4 | warmup | 0.06 | 0.05 | 1.2x |",
        "| gamma | no. 1 of 2 | learning\\_rate | 2e-05 | 5e-05 | 0.4x |",
    ):
        assert row in chosen, row


def test_a_trial_whose_score_does_not_measure_the_backbone_is_left_out_of_the_curves_and_named(tmp_path, no_plots):
    study = "alpha-mini-0123abcd"
    for trial, score in enumerate([0.80, 0.86, 0.99]):
        weights = {"complete": False, "missing": ["encoder.layer.0"], "mismatched": []} if trial == 2 else None
        write_run(tmp_path, f"alpha-t{trial}", backbone="alpha", seed=0, wrong=range(30),
                  tuning=trial_section(study, trial, 3, score), weights=weights)  # fmt: skip
    write_leaderboard(tmp_path, reported=[])
    section = _section((tmp_path / "leaderboard.md").read_text(encoding="utf-8"), TUNING)
    assert section.strip().startswith(
        "1 study · 2 trials · drawn by tpe · selected on dev accuracy. Left out of the curves, their scores not "
        "measuring the backbone: alpha trial 2: incomplete pretrained weights"
    )
    assert "| alpha | 2 of 3 (1 left out) | 86.00 | 83.00 ± 3.00 |" in section, "0.99 is in no curve"


def test_a_setting_left_to_the_method_shows_as_default_with_no_ratio(tmp_path, no_plots):
    """A classic baseline untuned tries its grid of C on dev: there is no single recommended value to divide by."""
    chosen = {"regularization": 0.44}
    section = chosen_section("tfidf-s", 0, 4, chosen) | {"recommended": {"regularization": None}}
    write_run(tmp_path, "tfidf-tuned", backbone="tfidf", seed=1, wrong=range(10), config=chosen, tuning=section)
    write_leaderboard(tmp_path, reported=[])
    text = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "| tfidf | no. 0 of 4 | regularization | 0.44 | default | — |" in text


def test_the_page_has_the_same_sections_and_its_nav_lists_them(board):
    text = re.sub(r"<[^>]+>", " ", board.html)
    for title in (RECOMMENDED_TABLE, TUNED_TABLE, FEWER_TABLE, TUNING):
        assert f'">{title.removeprefix("## ")}</a></li>' in board.html, title
    for phrase in ("Expected validation performance", "Chosen settings against the recommended ones", "0.25x"):
        assert phrase in text, phrase
    assert "alpha is ahead of beta at every budget up to 4 trials." in text
    plot = "plots/thucnews-mini-aaaaaaaa-tuning/expected-validation.png"
    assert f'src="{plot}"' in board.html and f"]({plot})" in board.md
    assert (board.results / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert board.results / plot in board.written


def test_a_trial_without_its_dev_score_is_skipped_naming_the_field(tmp_path, no_plots):
    section = trial_section("alpha-s", 0, 2, 0.8)
    del section["dev"]
    write_run(tmp_path, "alpha-trial0", backbone="alpha", seed=1, tuning=section)
    write_leaderboard(tmp_path, reported=[])
    skipped = (tmp_path / "leaderboard.md").read_text(encoding="utf-8").split("## Skipped files")[1]
    assert "`alpha-trial0/metrics.json`: a trial's field 'tuning.dev.accuracy'" in skipped
