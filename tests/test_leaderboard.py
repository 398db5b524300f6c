"""The leaderboard on synthetic run folders written by hand, following docs/results-format.md."""

import csv
import json
import logging
import os
import re
import shutil
import statistics
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import f1_score
from synthetic_runs import FULL_SHA, GOLD, LABELS, MINI_SHA, REPORTED, N, write_run

from benchmark import atomic
from benchmark.config import config_fields
from benchmark.errors import HarnessError
from benchmark.report import format as report_format
from benchmark.report import plots
from benchmark.report.labels import differing_settings
from benchmark.report.leaderboard import write_leaderboard
from benchmark.report.runs import NOT_SETTINGS, settings_of

# The crafted mini group. alpha leads. Against alpha's strict-majority correctness on the shared seeds:
#   gamma (seeds 1-3): only alpha right on 10..17 (8), only gamma right on 7, 8, 9 (3) -> p = 464/2048.
#   beta (seeds 1-2; alpha's seed 2 also misses 100, and a 1-1 split counts as wrong):
#       only alpha right on 10..19 (10), only beta right on 8, 9 (2) -> p = 158/4096.
#   delta (seed 7 only): no seed in common with alpha, no test.
ALPHA_WRONG = {1: range(10), 2: [*range(10), 100], 3: range(10)}
GAMMA_WRONG = [*range(10, 18), *range(7)]
BETA_WRONG = [*range(10, 20), *range(8), 100]


def build_results(results: Path, order=1, other_groups=True) -> Path:
    mini = [
        *[
            # Seeds 1 and 3 miss the same examples, with other confidences: two results, not one.
            (
                f"alpha-mini-seed{s}",
                dict(backbone="alpha", seed=s, wrong=w, eval_speed=500.0, probability=[0.8 + s / 100] * N),
            )
            for s, w in ALPHA_WRONG.items()
        ],
        *[
            (f"gamma-mini-seed{s}", dict(backbone="gamma", seed=s, wrong=GAMMA_WRONG, eval_speed=2000.0))
            for s in (1, 2, 3)
        ],
        *[(f"beta-mini-seed{s}", dict(backbone="beta", seed=s, wrong=BETA_WRONG, eval_speed=400.0)) for s in (1, 2)],
        ("delta-mini-seed7", dict(backbone="delta", seed=7, wrong=range(40), eval_speed=4000.0)),
        ("smoke-seed1", dict(backbone="alpha", seed=1, wrong=range(60), protocol="smoke", smoke=True, sha="c" * 64)),
    ]
    others = [
        ("alpha-full-seed1", dict(backbone="alpha", seed=1, wrong=range(3), protocol="full", sha=FULL_SHA)),
        ("alpha-other-seed1", dict(backbone="alpha", seed=1, wrong=range(5), dataset="other")),
    ]
    runs = mini + others if other_groups else mini
    for folder, kwargs in runs[::order]:
        write_run(results, folder, **kwargs)
    return results


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    # Only the crafted group (plus a smoke run): drawing dominates the time of these tests.
    results = build_results(tmp_path_factory.mktemp("results"), other_groups=False)
    written = write_leaderboard(results, reported=REPORTED)
    rows = list(csv.DictReader((results / "leaderboard.csv").open(encoding="utf-8")))
    return SimpleNamespace(
        results=results,
        written=written,
        rows=rows,
        md=(results / "leaderboard.md").read_text(encoding="utf-8"),
        errors=(results / "errors.md").read_text(encoding="utf-8"),
    )


def _rows(board, protocol, dataset="thucnews"):
    return [r for r in board.rows if r["protocol"] == protocol and r["dataset"] == dataset]


def test_groups_never_mix_protocols_or_datasets(tmp_path, no_plots):
    results = build_results(tmp_path)
    write_leaderboard(results, reported=[])
    board = SimpleNamespace(
        rows=list(csv.DictReader((results / "leaderboard.csv").open(encoding="utf-8"))),
        md=(results / "leaderboard.md").read_text(encoding="utf-8"),
    )
    groups = {
        g: {(r["dataset"], r["protocol"], r["test_sha256"]) for r in board.rows if r["group"] == g}
        for g in {r["group"] for r in board.rows}
    }
    assert len(groups) == 3
    assert all(len(keys) == 1 for keys in groups.values())
    assert [r["backbone"] for r in _rows(board, "full")] == ["alpha"]
    assert float(_rows(board, "full")[0]["accuracy_mean"]) == pytest.approx((N - 3) / N)
    assert [r["backbone"] for r in _rows(board, "mini", "other")] == ["alpha"]
    # One table per group in the Markdown.
    assert board.md.count("| rank | rank range | backbone |") == 3


def test_smoke_runs_are_kept_out_of_tables_and_listed_apart(board):
    assert all(r["protocol"] != "smoke" for r in board.rows)
    smoke_section = board.md.split("## Smoke runs")[1].split("\n## ")[0]
    assert "smoke-seed1-run" in smoke_section
    assert "smoke" not in board.md.split("## Smoke runs")[0].lower().replace("smoke runs", "")


def test_ranks_and_mean_std(board):
    mini = _rows(board, "mini")
    assert [(r["rank"], r["backbone"], r["runs"]) for r in mini] == [
        ("1", "alpha", "3"),
        ("2", "gamma", "3"),
        ("3", "beta", "2"),
        ("4", "delta", "1"),
    ]
    accuracies = [(N - len(w)) / N for w in ALPHA_WRONG.values()]
    alpha = mini[0]
    assert float(alpha["accuracy_mean"]) == pytest.approx(statistics.mean(accuracies))
    assert float(alpha["accuracy_std"]) == pytest.approx(statistics.stdev(accuracies))
    assert alpha["seeds"] == "1 2 3"
    # gamma's three seeds gave identical predictions: one result, not three measurements agreeing by chance.
    assert (mini[1]["distinct_results"], mini[1]["deterministic"], mini[1]["accuracy_std"]) == ("1", "True", "")
    assert (alpha["distinct_results"], alpha["deterministic"]) == ("3", "False")
    assert mini[3]["accuracy_std"] == "" and mini[3]["deterministic"] == "False"  # one run: no std, no claim
    mini_table = board.md.split("## thucnews · mini")[1]
    assert f"| 3 (1 distinct) | {100 * (N - len(GAMMA_WRONG)) / N:.2f} (deterministic) |" in mini_table
    table_row = next(line for line in mini_table.splitlines() if line.startswith("| 1 | 1–4 | alpha |"))
    assert f"{100 * statistics.mean(accuracies):.2f} ± {100 * statistics.stdev(accuracies):.2f}" in table_row


def test_per_class_f1_is_the_mean_over_seeds(board):
    alpha = _rows(board, "mini")[0]
    expected = np.mean(
        [
            f1_score(GOLD, np.where(np.isin(np.arange(N), list(w)), (GOLD + 1) % 4, GOLD), average=None)
            for w in ALPHA_WRONG.values()
        ],
        axis=0,
    )
    assert [float(alpha[f"f1:{name}"]) for name in LABELS] == pytest.approx(expected)


def test_tie_marking_matches_hand_computed_mcnemar(board):
    alpha, gamma, beta, delta = _rows(board, "mini")
    assert alpha["leader"] == "True" and alpha["mcnemar_p"] == ""
    assert (gamma["only_leader_right"], gamma["only_this_right"]) == ("8", "3")
    assert float(gamma["mcnemar_p"]) == pytest.approx(464 / 2048)
    assert gamma["tied_with_leader"] == "True"
    assert (beta["paired_seeds"], beta["only_leader_right"], beta["only_this_right"]) == ("1 2", "10", "2")
    assert float(beta["mcnemar_p"]) == pytest.approx(158 / 4096)
    # Three pairs share seeds (delta shares none): alpha-beta p = 158/4096, gamma-beta (4/0) p = 1/8, alpha-gamma
    # p = 464/2048. Holm: 3 × 0.0386 = 0.116, then max(0.116, 2 × 0.125) = 0.25, then max(0.25, 0.227) = 0.25.
    # Alone, beta would differ from the leader; among three comparisons it does not.
    assert float(beta["mcnemar_p_holm"]) == pytest.approx(3 * 158 / 4096)
    assert float(gamma["mcnemar_p_holm"]) == pytest.approx(0.25)
    assert beta["tied_with_leader"] == "True"
    assert delta["mcnemar_p"] == "" and delta["tied_with_leader"] == ""
    assert "≈ tied, Holm p = 0.250 (8/3)" in board.md
    assert "≈ tied, Holm p = 0.116 (10/2)" in board.md
    assert "no seed in common" in board.md
    # No pair differs, so every row may hold any rank.
    assert [(r["rank_low"], r["rank_high"]) for r in (alpha, gamma, beta, delta)] == [("1", "4")] * 4


def test_ci_brackets_the_macro_f1(board):
    for row in board.rows:
        low, high = float(row["macro_f1_ci_low"]), float(row["macro_f1_ci_high"])
        assert low <= float(row["macro_f1_mean"]) <= high
        assert 0 < high - low < 0.25  # 120 examples: a few points wide, not degenerate


def test_plots_exist_and_are_linked(board):
    pngs = [p for p in board.written if p.suffix == ".png"]
    # The cost chart, the per-class chart, then a confusion matrix and curves per backbone.
    assert len(pngs) == 2 + 2 * 4
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    links = re.findall(r"\]\((plots/[^)]+)\)", board.md)
    assert sorted(board.results / link for link in links) == sorted(pngs)


def test_error_analysis_lists_confused_pairs_and_confident_mistakes(tmp_path, no_plots):
    probability = np.full(N, 0.5)
    probability[[5, 3, 9]] = [0.99, 0.97, 0.99]
    texts = [f"文本{i}|竖线" for i in range(N)]
    write_run(tmp_path, "a1", backbone="alpha", seed=1, wrong=[3, 5, 9, 2, 6], probability=probability, texts=texts)
    write_leaderboard(tmp_path, reported=[])
    errors = (tmp_path / "errors.md").read_text(encoding="utf-8")
    # Gold of 5, 9 is realty, of 2, 6 stocks, of 3 sports; each mistake predicts the next label.
    pairs = [line for line in errors.splitlines() if re.match(r"\| [a-z]+ \| [a-z]+ \| \d+ \|", line)]
    assert pairs == [
        "| realty | stocks | 2 | 6.67% |",
        "| stocks | sports | 2 | 6.67% |",
        "| sports | finance | 1 | 3.33% |",
    ]  # by count, ties in label order; 30 per class
    indices = [int(line.split("|")[1]) for line in errors.splitlines() if re.match(r"\| \d+ \| ", line)]
    assert indices == [5, 9, 3, 2, 6]  # most confident first, ties by index
    assert "文本5\\|竖线" in errors  # a pipe in the text cannot break the table
    assert "[errors](errors.md#" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")


def test_reported_figures_stand_in_their_own_table(board):
    measured, reported = board.md.split("## Reported, not measured here")
    assert "99.87" in reported and "course figure" in reported
    tables = measured.split("### Reproduction check")[0]
    assert "99.87" not in tables, "never ranked with the measured rows"
    assert all("99.87" not in value for row in board.rows for value in row.values())


def test_reported_table_comes_from_the_registry_by_default(tmp_path):
    write_leaderboard(tmp_path)
    reported = (tmp_path / "leaderboard.md").read_text(encoding="utf-8").split("## Reported, not measured here")[1]
    assert "| macbert | full | test | accuracy | 94.48 | the reference course" in reported.split("### thucnews")[1]
    assert "| ernie3\\_base | clue-dev | dev | accuracy | 58.26 | PaddleNLP" in reported.split("### tnews")[1]


def test_regenerating_gives_identical_bytes(board):
    before = {p: p.read_bytes() for p in board.written}
    again = write_leaderboard(board.results, reported=REPORTED)
    assert again == board.written
    assert {p: p.read_bytes() for p in again} == before


def test_output_does_not_depend_on_folder_creation_order(tmp_path, no_plots):
    first = build_results(tmp_path / "first")
    second = build_results(tmp_path / "second", order=-1)
    written = write_leaderboard(first, reported=REPORTED)
    assert [p.relative_to(second) for p in write_leaderboard(second, reported=REPORTED)] == [
        p.relative_to(first) for p in written
    ]
    for path in written:
        assert (second / path.relative_to(first)).read_bytes() == path.read_bytes(), path.name


def test_unusable_files_are_skipped_with_a_warning_naming_them(tmp_path, caplog, no_plots):
    write_run(tmp_path, "good", backbone="alpha", seed=1, wrong=range(4))
    write_run(tmp_path, "truncated", backbone="beta", seed=1)
    metrics = tmp_path / "truncated" / "metrics.json"
    metrics.write_text(metrics.read_text()[:200])
    write_run(tmp_path, "no-labels", backbone="beta", seed=2)
    data = json.loads((tmp_path / "no-labels" / "metrics.json").read_text())
    del data["task"]["labels"]
    (tmp_path / "no-labels" / "metrics.json").write_text(json.dumps(data))
    write_run(tmp_path, "no-config", backbone="beta", seed=7)  # its settings cannot be told apart from others'
    data = json.loads((tmp_path / "no-config" / "metrics.json").read_text())
    del data["config"]
    (tmp_path / "no-config" / "metrics.json").write_text(json.dumps(data))
    write_run(tmp_path, "no-predictions", backbone="beta", seed=3)
    (tmp_path / "no-predictions" / "predictions.csv").unlink()
    write_run(tmp_path, "garbled", backbone="beta", seed=4)
    predictions = tmp_path / "garbled" / "predictions.csv"
    predictions.write_text(predictions.read_text().replace("finance", "financ"))
    write_run(tmp_path, "swapped", backbone="beta", seed=5)
    shutil.copy(tmp_path / "good" / "predictions.csv", tmp_path / "swapped" / "predictions.csv")
    write_run(tmp_path, "bad-probability", backbone="beta", seed=6, probability=np.full(N, 1.5))
    (tmp_path / "half-written").mkdir()  # a run still in progress has no metrics.json yet
    with caplog.at_level(logging.WARNING, logger="benchmark.report.leaderboard"):
        write_leaderboard(tmp_path, reported=[])
    messages = "\n".join(caplog.messages)
    for name in (
        "truncated/metrics.json",
        "no-labels/metrics.json",
        "no-config/metrics.json",
        "no-predictions/predictions.csv",
        "garbled/predictions.csv",
        "swapped/predictions.csv",
        "bad-probability/predictions.csv",
    ):
        assert str(tmp_path / name) in messages
    assert "half-written" not in messages
    assert "'task.labels'" in messages
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open(encoding="utf-8")))
    assert [r["backbone"] for r in rows] == ["alpha"]
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "`truncated/metrics.json`" in md.split("## Skipped files")[1]
    assert str(tmp_path) not in md  # no machine paths in the output


def test_repeated_seed_keeps_the_newest_run(tmp_path, caplog, no_plots):
    write_run(tmp_path, "alpha-seed1-20260101", backbone="alpha", seed=1, wrong=range(50))
    write_run(tmp_path, "alpha-seed1-20260202", backbone="alpha", seed=1, wrong=range(5))
    with caplog.at_level(logging.WARNING, logger="benchmark.report.leaderboard"):
        write_leaderboard(tmp_path, reported=[])
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open(encoding="utf-8")))
    assert rows[0]["runs"] == "1" and float(rows[0]["accuracy_mean"]) == pytest.approx((N - 5) / N)
    assert "alpha-seed1-20260101" in caplog.text


BASE_CONFIG = {
    "max_length": 32,
    "batch_size": 128,
    "learning_rate": 5e-5,
    "epochs": 3.0,
    "max_steps": -1,
    "results_dir": "results",
    "cache_dir": None,
    "data_dir": "data/thucnews",
    "num_workers": 0,
}


def _csv_rows(results: Path) -> list[dict]:
    return list(csv.DictReader((results / "leaderboard.csv").open(encoding="utf-8")))


def test_one_backbone_with_different_settings_makes_one_row_per_settings(tmp_path, caplog, no_plots):
    for seed in (1, 2):
        write_run(
            tmp_path, f"alpha-lr5e-5-seed{seed}", backbone="alpha", seed=seed, wrong=range(seed), config=BASE_CONFIG
        )
        # The same seeds at another learning rate: different rows, so neither supersedes the other.
        write_run(
            tmp_path,
            f"alpha-lr1e-3-seed{seed}",
            backbone="alpha",
            seed=seed,
            wrong=range(30 + seed),
            config={**BASE_CONFIG, "learning_rate": 1e-3},
        )
    with caplog.at_level(logging.WARNING, logger="benchmark.report.leaderboard"):
        write_leaderboard(tmp_path, reported=[])
    assert "skipped" not in caplog.text
    rows = _csv_rows(tmp_path)
    assert [(r["backbone"], r["settings"], r["runs"], r["seeds"]) for r in rows] == [
        ("alpha", "learning_rate 5e-05", "2", "1 2"),
        ("alpha", "learning_rate 0.001", "2", "1 2"),
    ]
    assert rows[0]["settings_id"] != rows[1]["settings_id"]
    assert float(rows[1]["accuracy_mean"]) == pytest.approx((2 * N - 63) / (2 * N))
    # The runner-up is tested against the leader like any other row.
    assert rows[1]["paired_seeds"] == "1 2" and rows[1]["tied_with_leader"] == "False"
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "| 1 | 1 | alpha · learning\\_rate 5e-05 | 2 |" in md
    assert "| 2 | 2 | alpha · learning\\_rate 0.001 | 2 |" in md
    # Each row has its own plots and error-analysis section.
    links = re.findall(r"\]\((plots/[^)]+|errors\.md#[^)]+)\)", md)
    assert len(links) == 2 + 3 * 2 and len(set(links)) == len(links)
    errors = (tmp_path / "errors.md").read_text(encoding="utf-8")
    for anchor in (link.split("#")[1] for link in links if link.startswith("errors.md#")):
        assert f'<a id="{anchor}"></a>' in errors
    assert "### alpha · learning\\_rate 0.001 (2 runs)" in errors


def test_identical_settings_with_different_seeds_pool_into_one_row(tmp_path, no_plots):
    # Paths and worker counts differ too: they do not change what is trained.
    write_run(tmp_path, "a1", backbone="alpha", seed=1, wrong=range(2), config=BASE_CONFIG)
    write_run(
        tmp_path,
        "a2",
        backbone="alpha",
        seed=2,
        wrong=range(4),
        config={
            **BASE_CONFIG,
            "results_dir": "/elsewhere",
            "cache_dir": "/hf",
            "num_workers": 4,
            "data_dir": "/copy/of/thucnews",
            "epochs": 3,
        },
    )
    write_leaderboard(tmp_path, reported=[])
    rows = _csv_rows(tmp_path)
    assert [(r["backbone"], r["settings"], r["runs"], r["seeds"]) for r in rows] == [("alpha", "", "2", "1 2")]
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "| 1 | 1 | alpha | 2 |" in md and "different settings" not in md


def test_the_label_lists_only_the_settings_that_differ(tmp_path, no_plots):
    variants = {
        "hub": dict(config=BASE_CONFIG),
        "steps": dict(config={**BASE_CONFIG, "learning_rate": 1e-3, "max_steps": 300}),
        "local": dict(config=BASE_CONFIG, source=str(tmp_path / "checkpoints" / "alpha-local")),
    }
    for n, (folder, kwargs) in enumerate(variants.items()):
        write_run(tmp_path, folder, backbone="alpha", seed=1, wrong=range(n), **kwargs)
    write_run(tmp_path, "beta", backbone="beta", seed=1, wrong=range(9), config={**BASE_CONFIG, "max_length": 64})
    write_leaderboard(tmp_path, reported=[])
    assert [(r["backbone"], r["settings"]) for r in _csv_rows(tmp_path)] == [
        ("alpha", "learning_rate 5e-05, max_steps -1, source org/alpha"),
        ("alpha", "learning_rate 0.001, max_steps 300, source org/alpha"),
        ("alpha", "learning_rate 5e-05, max_steps -1, source …/alpha-local"),
        ("beta", ""),  # its only row: named as before, whatever its settings
    ]
    md = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "alpha · learning\\_rate 0.001, max\\_steps 300, source org/alpha" in md
    assert "batch\\_size" not in md.split("### Per-class")[0]  # shared by every variant, so not shown
    assert str(tmp_path) not in md  # a local folder is named by its last part


def test_settings_cover_the_model_source_and_size():
    def run(**settings):
        return SimpleNamespace(settings={"learning_rate": 5e-5, **settings}, settings_id="0123abcd")

    assert differing_settings(
        [run(**{"backbone.parameters": 102_000_000}), run(**{"backbone.parameters": 110_000_000})]
    ) == ["parameters 102,000,000", "parameters 110,000,000"]
    # Two folders with the same last part: the full paths tell them apart.
    assert differing_settings([run(**{"backbone.source": "/a/bert"}), run(**{"backbone.source": "/b/bert"})]) == [
        "source /a/bert",
        "source /b/bert",
    ]
    # Values that only differ in type would read alike: the settings id is added.
    assert differing_settings([run(max_length=32), run(max_length="32")]) == [
        "max_length 32 [0123abcd]",
        "max_length 32 [0123abcd]",
    ]
    assert differing_settings([run(), run(dropout=0.2)]) == ["dropout unset", "dropout 0.2"]


def test_the_settings_leave_out_seed_and_paths():
    config = {
        **BASE_CONFIG,
        "seed": 3,
        "model": "alpha",
        "model_path": "/m",
        "offline": True,
        "keep_checkpoints": True,
        "resume": "auto",
        "save_every": 500,
        "epochs": 3.0,
    }
    assert settings_of(config, "/m", 7, processes=2, data={"train": "f" * 64}) == {
        "max_length": 32,
        "batch_size": 128,
        "learning_rate": 5e-5,
        "epochs": 3,
        "max_steps": -1,
        "backbone.source": "/m",
        "backbone.parameters": 7,
        "environment.num_processes": 2,
        "data.train": "f" * 64,
    }
    # Every excluded name is a real flag: a renamed flag would otherwise silently start counting.
    assert not NOT_SETTINGS - {f.name for f in config_fields()}


def test_other_training_data_or_process_counts_make_other_rows(tmp_path, no_plots):
    write_run(tmp_path, "a1", backbone="alpha", seed=1, wrong=range(1), processes=1, train_sha="1" * 64)
    write_run(tmp_path, "a2", backbone="alpha", seed=2, wrong=range(2), processes=1, train_sha="1" * 64)
    write_run(tmp_path, "a4gpu", backbone="alpha", seed=1, wrong=range(3), processes=4, train_sha="1" * 64)
    write_run(tmp_path, "a-data", backbone="alpha", seed=1, wrong=range(4), processes=1, train_sha="2" * 64)
    write_leaderboard(tmp_path, reported=[])
    assert [(r["settings"], r["runs"]) for r in _csv_rows(tmp_path)] == [
        ("processes 1, train file 11111111", "2"),
        ("processes 4, train file 11111111", "1"),
        ("processes 1, train file 22222222", "1"),
    ]


def test_label_names_may_contain_dots(tmp_path, no_plots):
    write_run(tmp_path, "a1", backbone="alpha", seed=1, wrong=range(3), labels=["v1.0", "v2.0", "a.b.c", "x"])
    write_leaderboard(tmp_path, reported=[])
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open(encoding="utf-8")))
    assert [r["backbone"] for r in rows] == ["alpha"] and "f1:a.b.c" in rows[0]


def test_empty_results_folder_says_there_are_no_runs(tmp_path):
    written = write_leaderboard(tmp_path, reported=REPORTED)
    assert [p.name for p in written] == [
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard-pairs.csv",
        "errors.md",
        "leaderboard.html",
    ]
    assert "No runs yet" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert (tmp_path / "leaderboard.csv").read_text(encoding="utf-8").count("\n") == 1  # the header


def test_overlapping_writes_of_one_file_do_not_collide(tmp_path, monkeypatch):
    target = tmp_path / "leaderboard.md"
    real_replace = os.replace
    calls = []

    def replace_after_another_writer(source, destination):
        # The first writer is about to rename its file into place when a second writer runs start to end.
        calls.append(Path(source).name)
        if len(calls) == 1:
            atomic.write_atomic(target, b"second")
        real_replace(source, destination)

    monkeypatch.setattr(atomic.os, "replace", replace_after_another_writer)
    atomic.write_atomic(target, b"first")
    assert len(set(calls)) == 2 and all(name.endswith(".tmp") for name in calls)
    assert target.read_bytes() == b"first"  # the last rename wins; neither writer fails
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~atomic._UMASK)  # not mkstemp's 0600


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    target = tmp_path / "leaderboard.md"
    target.write_bytes(b"old")

    def refuse(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]


def test_missing_results_folder_is_a_harness_error(tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        write_leaderboard(tmp_path / "nowhere")


def test_plots_of_vanished_runs_are_removed(tmp_path):
    write_run(tmp_path, "a1", backbone="alpha", seed=1, wrong=range(3))
    write_run(tmp_path, "b1", backbone="beta", seed=1, wrong=range(6))
    write_leaderboard(tmp_path, reported=[])
    shutil.rmtree(tmp_path / "b1")
    written = write_leaderboard(tmp_path, reported=[])
    assert sorted((tmp_path / "plots").rglob("*.png")) == sorted(p for p in written if p.suffix == ".png")
    assert not list((tmp_path / "plots").rglob("*beta*"))


def test_chinese_labels_fall_back_to_ids_without_a_cjk_font(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    write_run(tmp_path, "a1", backbone="alpha", seed=1, wrong=range(3), labels=["财经", "房产", "股票", "体育"])
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        write_leaderboard(tmp_path, reported=[])
    assert "no CJK font" in caplog.text
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert "| 0 | 财经 |" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")


def test_plot_labels_only_fall_back_when_needed():
    assert plots.plot_labels(["财经", "sports"], None) == (["0", "1"], True)
    assert plots.plot_labels(["finance", "sports"], None) == (["finance", "sports"], False)
    assert plots.plot_labels(["财经"], "Some CJK Font") == (["财经"], False)


@pytest.mark.skipif(plots.cjk_font() is None, reason="no CJK font installed")
def test_chinese_labels_render_with_the_cjk_font(tmp_path):
    def glyph_warnings(font):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plots.confusion_matrix(tmp_path / "cm.png", np.eye(2, dtype=int), ["财经", "体育"], "标题", font)
        return [w for w in caught if "missing from font" in str(w.message)]

    assert glyph_warnings(None)  # the check can fail: DejaVu Sans alone lacks the glyphs
    assert not glyph_warnings(plots.cjk_font())


def test_pareto_front():
    points = [("a", 1.0, 0.90), ("b", 2.0, 0.95), ("c", 3.0, 0.93), ("d", 0.5, 0.80), ("e", 2.0, 0.94)]
    assert plots.pareto_front(points) == ["d", "a", "b"]


def test_markdown_cells_escape_table_syntax():
    assert report_format.cell("a|b\nc*d_e") == "a\\|b c\\*d\\_e"


def test_runs_that_do_not_measure_their_backbone_are_listed_apart_never_ranked(tmp_path):
    results = tmp_path / "results"
    write_run(results, "alpha-mini-seed1", backbone="alpha", seed=1, wrong=range(30))
    # Better scores than alpha's, but nothing was trained, or the encoder was partly random.
    write_run(results, "untrained-mini-seed1", backbone="untrained", seed=1, wrong=range(5), global_step=0)
    incomplete = {
        "complete": False,
        "missing": ["pooler.dense.weight", "pooler.dense.bias"],
        "mismatched": [],
        "unexpected": [],
        "loaded": 197,
        "ignored": 8,
        "folder": "x",
        "files": ["pytorch_model.bin"],
    }
    write_run(results, "partial-mini-seed1", backbone="partial", seed=1, wrong=range(2), weights=incomplete)
    complete = {**incomplete, "complete": True, "missing": []}
    write_run(results, "whole-mini-seed1", backbone="whole", seed=1, wrong=range(20), weights=complete)
    write_leaderboard(results, reported=[])
    board = (results / "leaderboard.md").read_text(encoding="utf-8")
    table = board.split("### Per-class F1")[0]
    ranked = [line.split(" | ")[2] for line in table.splitlines() if re.match(r"\| \d+ \| ", line)]
    assert ranked == ["whole", "alpha"]
    section = board.split("## Not ranked")[1]
    assert "| untrained-mini-seed1-run | untrained |" in section and "nothing was trained" in section
    assert "| partial-mini-seed1-run | partial |" in section and "incomplete pretrained weights (2 missing" in section
    rows = list(csv.DictReader((results / "leaderboard.csv").open(encoding="utf-8")))
    assert {row["backbone"] for row in rows} == {"whole", "alpha"}


def test_the_columns_of_both_tables_are_pinned(board):
    """One list of columns feeds both files; a change to it shows here first."""
    from benchmark.report.columns import COLUMNS, csv_header

    assert [c.markdown for c in COLUMNS if c.markdown] == [
        "rank",
        "rank range",
        "backbone",
        "runs",
        "accuracy (%)",
        "accuracy 95% CI",
        "macro-F1 (%)",
        "macro-F1 95% CI",
        "vs leader",
        "parameters",
        "trained",
        "train time",
        "wall time",
        "train ex/s",
        "inference ms/ex",
        "ms / 1k texts, batch 1",
        "ms / 1k texts, batch 64",
        "peak memory (MB)",
    ]
    assert csv_header() == [
        "group",
        "dataset",
        "protocol",
        "test_sha256",
        "test_examples",
        "kind",
        "tuning_trials",
        "rank",
        "rank_low",
        "rank_high",
        "backbone",
        "settings",
        "settings_id",
        "runs",
        "seeds",
        "distinct_results",
        "deterministic",
        "accuracy_mean",
        "accuracy_std",
        "accuracy_ci_low",
        "accuracy_ci_high",
        "macro_f1_mean",
        "macro_f1_std",
        "macro_f1_ci_low",
        "macro_f1_ci_high",
        "leader",
        "paired_seeds",
        "only_leader_right",
        "only_this_right",
        "mcnemar_p",
        "mcnemar_p_holm",
        "tied_with_leader",
        "parameters",
        "trainable_parameters",
        "train_seconds",
        "wall_seconds",
        "train_examples_per_second",
        "eval_ms_per_example",
        "ms_per_1000_texts_batch_1",
        "ms_per_1000_texts_batch_64",
        "peak_memory_mb",
    ]
    assert (
        "| rank | rank range | backbone | runs | accuracy (%) | accuracy 95% CI | macro-F1 (%) | macro-F1 95% CI "
        "| vs leader | parameters | trained | train time | wall time | train ex/s | inference ms/ex "
        "| ms / 1k texts, batch 1 | ms / 1k texts, batch 64 | peak memory (MB) |\n|" + "---|" * 18 in board.md
    )
    header = (board.results / "leaderboard.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[: len(csv_header())] == csv_header() and header[len(csv_header()) :] == [
        f"f1:{label}" for label in LABELS
    ]


def test_an_imbalanced_dataset_is_ranked_by_macro_f1_and_a_table_reads_across_datasets(tmp_path, no_plots):
    # Gold: 100 of class 0, 20 of class 1. "majority" answers 0 everywhere: accurate, but macro-F1 is poor.
    gold = np.array([0] * 100 + [1] * 20)
    imbalanced = {
        "gold": gold,
        "labels": ["common", "rare"],
        "dataset": "reviews",
        "protocol": "full",
        "main_score": "macro_f1",
    }
    write_run(tmp_path, "majority", backbone="majority", seed=1, wrong=range(100, 120), **imbalanced)
    write_run(tmp_path, "balanced", backbone="balanced", seed=1, wrong=range(0, 25), **imbalanced)
    write_run(tmp_path, "balanced-news", backbone="balanced", seed=1, wrong=range(10))
    write_leaderboard(tmp_path, reported=[])
    board = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    reviews = board.split("## reviews · full")[1]
    assert reviews.index("| 1 | 1–2 | balanced |") < reviews.index("| 2 | 1–2 | majority |"), "macro-F1 first"
    assert "Ranked by macro-F1, this dataset's main score" in reviews
    across = board.split("## Across datasets")[1].split("\n## ")[0]
    assert "| backbone | reviews · full (macro-F1) | thucnews · mini |" in across
    assert "| balanced | " in across and "| majority | 45.45 |  |" in across, "no run on thucnews: an empty cell"


def test_two_test_files_of_one_protocol_are_told_apart_across(tmp_path, no_plots):
    write_run(tmp_path, "a", backbone="alpha", seed=1, wrong=range(10))
    write_run(tmp_path, "b", backbone="alpha", seed=1, wrong=range(20), sha="b" * 64)
    write_leaderboard(tmp_path, reported=[])
    across = (tmp_path / "leaderboard.md").read_text(encoding="utf-8").split("## Across datasets")[1]
    header = across.split("\n## ")[0].splitlines()
    assert f"| backbone | thucnews · mini · test file {MINI_SHA[:8]} | thucnews · mini · test file bbbbbbbb |" in header
