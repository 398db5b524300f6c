"""The leaderboard: a pure function of the run folders under `results/`.

`write_leaderboard(results_dir)` reads every `<run>/metrics.json` and the `predictions.csv`
beside it (format: docs/results-format.md), groups comparable runs, and writes
`leaderboard.md`, `leaderboard.html` (the same on one page that sorts and opens rows),
`leaderboard.csv`, `leaderboard-pairs.csv` (every pairwise test with its raw counts), `errors.md`
and `plots/<group>/*.png`; runs of a tuning sweep add the tables of tuned settings and, per sweep, the expected
validation performance of each study. Unusable files
are skipped with a logged warning naming them; the output holds no timestamps and every
ordering has a tie-break, so the same runs always give the same bytes.

The work is split by job:

- `benchmark.report.runs`: reading and validating run folders, and each run's settings;
- `benchmark.report.ranking`: groups, one row per backbone and settings, statistics and ranks;
- `benchmark.report.trials`, `benchmark.report.sweeps`, `benchmark.report.tuning`: tuning sections and failed
  folders, each sweep's studies, and the expected validation performance of a study's trials;
- `benchmark.report.columns`: the table's columns, once for the Markdown table and the CSV;
- `benchmark.report.tables`, `benchmark.report.notes`: every table as data and every paragraph, once;
- `benchmark.report.markdown`, `benchmark.report.html`: the Markdown files and the HTML page, with
  `benchmark.report.format` for the cells and names they share;
- this module: drawing the plots and writing every file in place (`benchmark.atomic`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.atomic import write_atomic
from benchmark.errors import HarnessError
from benchmark.report import plots
from benchmark.report.columns import leaderboard_csv, pairs_csv
from benchmark.report.format import place_title, plot_name, plural
from benchmark.report.html import leaderboard_html
from benchmark.report.markdown import errors_markdown, leaderboard_markdown
from benchmark.report.ranking import Group, build_groups
from benchmark.report.runs import load_runs
from benchmark.report.sweeps import Sweep, build_sweeps
from benchmark.report.trials import load_failed

log = logging.getLogger(__name__)


def _write_plots(group: Group, plots_dir: Path, font: str | None) -> list[Path]:
    out = plots_dir / group.slug
    names, fell_back = plots.plot_labels(group.labels, font)
    if fell_back:
        log.warning(
            "leaderboard: no CJK font found; plots of %s show label ids (see the per-class table "
            "for names). Install e.g. fonts-noto-cjk to see names.",
            group.slug,
        )
    written = [
        plots.accuracy_vs_cost(
            out / plot_name("accuracy-vs-cost"),
            [
                (e.label, e.eval_ms_per_example, e.accuracy[0])
                for e in group.entries
                if e.eval_ms_per_example is not None
            ],
            f"{group.protocol} protocol, {group.n_examples} test examples",
            font,
        ),
        plots.per_class_f1(
            out / plot_name("per-class-f1"),
            names,
            {e.label: e.per_class_f1 for e in group.entries},
            "Per-class F1",
            font,
        ),
    ]
    for e in group.entries:
        confusion = np.sum([r.confusion for r in e.runs], axis=0)
        written.append(
            plots.confusion_matrix(
                out / plot_name("confusion", e),
                confusion,
                names,
                f"{e.label}: counts summed over {plural(len(e.runs), 'run')}, colour = row share",
                font,
            )
        )
        written.append(
            plots.training_curves(
                out / plot_name("curves", e),
                [(r.seed, r.history, r.best_step) for r in e.runs],
                f"{e.label}: training curves ({group.protocol} protocol)",
                font,
            )
        )
    return written


def _write_sweep_plot(sweep: Sweep, plots_dir: Path, font: str | None) -> list[Path]:
    score = "macro-F1" if sweep.main_score == "macro_f1" else "accuracy"
    curves = {s.label: (s.curve, min(s.values), max(s.values)) for s in sweep.with_trials}
    if not curves:
        return []
    return [
        plots.expected_validation(
            plots_dir / sweep.slug / plot_name("expected-validation"),
            curves,
            f"expected best dev {score} (%), ±1 std within the trials' range",
            f"{place_title(sweep)}: expected validation performance",
            font,
        )
    ]


def _write_text(path: Path, text: str) -> Path:
    return write_atomic(path, text.encode("utf-8"))


def _remove_stale_plots(plots_dir: Path, keep: set[Path]) -> None:
    """Plots of rows or groups no longer present would otherwise linger and mislead."""
    if not plots_dir.is_dir():
        return
    # Tolerant of a regeneration running at the same time, which may remove or add files here too.
    for png in plots_dir.rglob("*.png"):
        if png not in keep:
            png.unlink(missing_ok=True)
    for folder in sorted(plots_dir.rglob("*"), reverse=True):
        with contextlib.suppress(OSError):  # gone already, or just given a file
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def write_leaderboard(results_dir: Path, *, reported: Sequence | None = None) -> list[Path]:
    """Regenerate the leaderboard files from the run folders in results_dir; return the files written.

    `reported` defaults to the published figures of the dataset registry, as (dataset name, Reported) pairs.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise HarnessError(f"results folder {results_dir} does not exist; runs write their folders there.")
    if reported is None:
        from benchmark.registry import list_datasets

        reported = [(dataset.name, figure) for dataset in list_datasets() for figure in dataset.reported]
    skipped: list[str] = []
    runs = load_runs(results_dir, skipped)
    failed_runs = load_failed(results_dir)
    failed = [f.line for f in failed_runs]
    groups = build_groups(runs, results_dir, skipped)
    sweeps = build_sweeps(runs, failed_runs)
    font = plots.cjk_font()
    plots_dir = results_dir / "plots"
    try:
        written = [png for group in groups for png in _write_plots(group, plots_dir, font)]
        written += [png for sweep in sweeps for png in _write_sweep_plot(sweep, plots_dir, font)]
        _remove_stale_plots(plots_dir, set(written))
        return [
            _write_text(
                results_dir / "leaderboard.md", leaderboard_markdown(groups, runs, reported, skipped, failed, sweeps)
            ),
            _write_text(results_dir / "leaderboard.csv", leaderboard_csv(groups)),
            _write_text(results_dir / "leaderboard-pairs.csv", pairs_csv(groups)),
            _write_text(results_dir / "errors.md", errors_markdown(groups)),
            _write_text(
                results_dir / "leaderboard.html", leaderboard_html(groups, runs, reported, skipped, failed, sweeps)
            ),
            *written,
        ]
    except OSError as error:
        where = error.filename or results_dir
        raise HarnessError(
            f"cannot write the leaderboard: {where}: {error.strerror or error}; the run folders are "
            f"untouched. Regenerate it where the results folder is writable"
        ) from None
