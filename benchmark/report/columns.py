"""The leaderboard's columns, declared once: each says how it is computed and how it appears in the Markdown
table and in the CSV. Adding a column is one entry here (and its line in docs/leaderboard.md).

A column may appear in one output only: the Markdown table is for reading (one cell per idea, formatted), the
CSV for programs (every number apart, unformatted, fractions as in metrics.json).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmark.report.format import cell, count, duration, number, p_value, pct, pct_std
from benchmark.report.ranking import Entry, Group


@dataclass(frozen=True)
class Row:
    """What a column sees: one entry of a group and whether it leads."""

    group: Group
    entry: Entry
    leader: bool


@dataclass(frozen=True)
class Column:
    markdown: str | None = None  # the Markdown header; None: CSV only
    show: Callable[[Row], str] | None = None  # the Markdown cell
    csv: tuple[tuple[str, Callable[[Row], object]], ...] = ()  # CSV header(s) and value(s)


def _versus(row: Row) -> str:
    if row.leader:
        return "**leader**"
    test = row.entry.versus_leader
    if test is None:
        return "— (no seed in common)"
    verdict = "≈ tied" if row.entry.tied else "differs"
    return f"{verdict}, {p_value(test.p_value)} ({test.only_first}/{test.only_second})"


def _test(field: str):
    return lambda r: getattr(r.entry.versus_leader, field) if r.entry.versus_leader else None


COLUMNS = [
    Column(
        csv=(
            ("group", lambda r: r.group.slug),
            ("dataset", lambda r: r.group.dataset),
            ("protocol", lambda r: r.group.protocol),
            ("test_sha256", lambda r: r.group.test_sha256),
            ("test_examples", lambda r: r.group.n_examples),
        )
    ),
    Column("rank", lambda r: str(r.entry.rank), (("rank", lambda r: r.entry.rank),)),
    Column(
        "backbone",
        lambda r: cell(r.entry.label),
        (
            ("backbone", lambda r: r.entry.backbone),
            ("settings", lambda r: r.entry.settings),
            ("settings_id", lambda r: r.entry.settings_id),
        ),
    ),
    Column(
        "runs",
        lambda r: str(len(r.entry.runs)),
        (("runs", lambda r: len(r.entry.runs)), ("seeds", lambda r: " ".join(map(str, r.entry.seeds)))),
    ),
    Column(
        "accuracy (%)",
        lambda r: pct_std(r.entry.accuracy),
        (("accuracy_mean", lambda r: r.entry.accuracy[0]), ("accuracy_std", lambda r: r.entry.accuracy[1])),
    ),
    Column(
        "macro-F1 (%)",
        lambda r: pct_std(r.entry.macro_f1),
        (("macro_f1_mean", lambda r: r.entry.macro_f1[0]), ("macro_f1_std", lambda r: r.entry.macro_f1[1])),
    ),
    Column(
        "macro-F1 95% CI",
        lambda r: f"[{pct(r.entry.macro_f1_ci[0])}, {pct(r.entry.macro_f1_ci[1])}]",
        (("macro_f1_ci_low", lambda r: r.entry.macro_f1_ci[0]), ("macro_f1_ci_high", lambda r: r.entry.macro_f1_ci[1])),
    ),
    Column(
        "vs leader",
        _versus,
        (
            ("leader", lambda r: r.leader),
            ("paired_seeds", lambda r: " ".join(map(str, r.entry.paired_seeds))),
            ("only_leader_right", _test("only_first")),
            ("only_this_right", _test("only_second")),
            ("mcnemar_p", _test("p_value")),
            ("tied_with_leader", lambda r: r.entry.tied),
        ),
    ),
    Column(
        "parameters",
        lambda r: count(r.entry.runs[0].parameters),
        (("parameters", lambda r: r.entry.runs[0].parameters),),
    ),
    Column(
        "train time",
        lambda r: duration(r.entry.mean("train_seconds")),
        (("train_seconds", lambda r: r.entry.mean("train_seconds")),),
    ),
    Column(
        "train ex/s",
        lambda r: number(r.entry.mean("train_examples_per_second"), ",.0f"),
        (("train_examples_per_second", lambda r: r.entry.mean("train_examples_per_second")),),
    ),
    Column(
        "inference ms/ex",
        lambda r: number(r.entry.eval_ms_per_example, ".3g"),
        (("eval_ms_per_example", lambda r: r.entry.eval_ms_per_example),),
    ),
    Column(
        "peak memory (MB)",
        lambda r: number(r.entry.peak_memory_mb, ",.0f"),
        (("peak_memory_mb", lambda r: r.entry.peak_memory_mb),),
    ),
]


def rows(group: Group) -> list[Row]:
    return [Row(group, entry, n == 0) for n, entry in enumerate(group.entries)]


def markdown_table(group: Group, columns: Sequence[Column] = COLUMNS) -> list[str]:
    shown = [c for c in columns if c.markdown]
    lines = ["| " + " | ".join(c.markdown for c in shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(c.show(row) for c in shown) + " |" for row in rows(group)]
    return lines


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def csv_header(columns: Sequence[Column] = COLUMNS) -> list[str]:
    return [name for column in columns for name, _ in column.csv]


def leaderboard_csv(groups: Sequence[Group], columns: Sequence[Column] = COLUMNS) -> str:
    """One row per entry per group, then per-class F1 for every label of any group (empty where absent)."""
    labels = list(dict.fromkeys(label for g in groups for label in g.labels))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(columns) + [f"f1:{label}" for label in labels])
    for group in groups:
        for row in rows(group):
            per_class = dict(zip(group.labels, row.entry.per_class_f1.tolist(), strict=True))
            writer.writerow(
                [_csv_value(value(row)) for column in columns for _, value in column.csv]
                + [_csv_value(per_class.get(label)) for label in labels]
            )
    return buffer.getvalue()
