"""The leaderboard's columns, declared once: each says how it is computed and how it appears in the tables for
reading (Markdown and HTML) and in the CSV. Adding a column is one entry here (and its line in
docs/leaderboard.md).

A column may appear in one output only: the table for reading has one cell per idea, formatted; the CSV is for
programs (every number apart, unformatted, fractions as in metrics.json). A page sorts a column by its first
CSV value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmark.report.format import count, duration, number, p_value, pct, pct_std
from benchmark.report.ranking import Entry, Group
from benchmark.report.tables import Cell, Strong, Table


@dataclass(frozen=True)
class Row:
    """What a column sees: one entry of a group and whether it leads."""

    group: Group
    entry: Entry
    leader: bool


@dataclass(frozen=True)
class Column:
    markdown: str | None = None  # the header in the tables for reading; None: CSV only
    show: Callable[[Row], Cell] | None = None  # the cell in the tables for reading
    csv: tuple[tuple[str, Callable[[Row], object]], ...] = ()  # CSV header(s) and value(s)
    sort: Callable[[Row], object] | None = None  # what a page sorts the column by; default: the first CSV value

    def sort_key(self, row: Row) -> object:
        return self.sort(row) if self.sort else self.csv[0][1](row) if self.csv else None


def _versus(row: Row) -> Cell:
    if row.leader:
        return Strong("leader")
    pair = row.entry.versus_leader
    if pair is None:
        return "— (no seed in common)"
    verdict = "≈ tied" if row.entry.tied else "differs"
    return f"{verdict}, Holm {p_value(pair.p_holm)} ({pair.test.only_first}/{pair.test.only_second})"


def _test(field: str):
    return lambda r: getattr(r.entry.versus_leader.test, field) if r.entry.versus_leader else None


def _runs(row: Row) -> str:
    entry = row.entry
    distinct = len(entry.distinct_runs)
    return str(len(entry.runs)) if distinct == len(entry.runs) else f"{len(entry.runs)} ({distinct} distinct)"


def _accuracy(row: Row) -> str:
    return f"{pct(row.entry.accuracy[0])} (deterministic)" if row.entry.deterministic else pct_std(row.entry.accuracy)


def _rank_range(row: Row) -> str:
    low, high = row.entry.rank_range
    return str(low) if low == high else f"{low}–{high}"


def _interval(low_high: tuple[float, float]) -> str:
    return f"[{pct(low_high[0])}, {pct(low_high[1])}]"


COLUMNS = [
    Column(
        csv=(
            ("group", lambda r: r.group.slug),
            ("dataset", lambda r: r.group.dataset),
            ("protocol", lambda r: r.group.protocol),
            ("test_sha256", lambda r: r.group.test_sha256),
            ("test_examples", lambda r: r.group.n_examples),
            ("kind", lambda r: table_of(r.group)),
            ("tuning_trials", lambda r: r.group.budget),
        )
    ),
    Column("rank", lambda r: str(r.entry.rank), (("rank", lambda r: r.entry.rank),)),
    Column(
        "rank range",
        _rank_range,
        (("rank_low", lambda r: r.entry.rank_range[0]), ("rank_high", lambda r: r.entry.rank_range[1])),
    ),
    Column(
        "backbone",
        lambda r: r.entry.label,
        (
            ("backbone", lambda r: r.entry.backbone),
            ("settings", lambda r: r.entry.settings),
            ("settings_id", lambda r: r.entry.settings_id),
        ),
    ),
    Column(
        "runs",
        _runs,
        (
            ("runs", lambda r: len(r.entry.runs)),
            ("seeds", lambda r: " ".join(map(str, r.entry.seeds))),
            ("distinct_results", lambda r: len(r.entry.distinct_runs)),
            ("deterministic", lambda r: r.entry.deterministic),
        ),
    ),
    Column(
        "accuracy (%)",
        _accuracy,
        (("accuracy_mean", lambda r: r.entry.accuracy[0]), ("accuracy_std", lambda r: r.entry.accuracy[1])),
    ),
    Column(
        "accuracy 95% CI",
        lambda r: _interval(r.entry.accuracy_ci),
        (("accuracy_ci_low", lambda r: r.entry.accuracy_ci[0]), ("accuracy_ci_high", lambda r: r.entry.accuracy_ci[1])),
    ),
    Column(
        "macro-F1 (%)",
        lambda r: pct_std(r.entry.macro_f1),
        (("macro_f1_mean", lambda r: r.entry.macro_f1[0]), ("macro_f1_std", lambda r: r.entry.macro_f1[1])),
    ),
    Column(
        "macro-F1 95% CI",
        lambda r: _interval(r.entry.macro_f1_ci),
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
            ("mcnemar_p_holm", lambda r: r.entry.versus_leader.p_holm if r.entry.versus_leader else None),
            ("tied_with_leader", lambda r: r.entry.tied),
        ),
        # The leader first, then by how surely a row differs from it; rows never tested last.
        sort=lambda r: -1.0 if r.leader else r.entry.versus_leader.p_holm if r.entry.versus_leader else None,
    ),
    Column(
        "parameters",
        lambda r: count(r.entry.runs[0].parameters),
        (("parameters", lambda r: r.entry.runs[0].parameters),),
    ),
    Column(
        "trained",
        lambda r: count(r.entry.runs[0].trainable_parameters),
        (("trainable_parameters", lambda r: r.entry.runs[0].trainable_parameters),),
    ),
    Column(
        "train time",
        lambda r: duration(r.entry.mean("train_seconds")),
        (("train_seconds", lambda r: r.entry.mean("train_seconds")),),
    ),
    Column(
        "wall time",
        lambda r: duration(r.entry.mean("wall_seconds")),
        (("wall_seconds", lambda r: r.entry.mean("wall_seconds")),),
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
        "ms / 1k texts, batch 1",
        lambda r: number(r.entry.mean("ms_per_1000_batch_1"), ",.0f"),
        (("ms_per_1000_texts_batch_1", lambda r: r.entry.mean("ms_per_1000_batch_1")),),
    ),
    Column(
        "ms / 1k texts, batch 64",
        lambda r: number(r.entry.mean("ms_per_1000_batch_64"), ",.0f"),
        (("ms_per_1000_texts_batch_64", lambda r: r.entry.mean("ms_per_1000_batch_64")),),
    ),
    Column(
        "peak memory (MB)",
        lambda r: number(r.entry.peak_memory_mb, ",.0f"),
        (("peak_memory_mb", lambda r: r.entry.peak_memory_mb),),
    ),
]


def table_of(group: Group) -> str:
    """Which settings a row ran: recommended (untuned) or tuned, for programs telling the tables apart."""
    return "recommended" if group.budget is None else "tuned"


def rows(group: Group) -> list[Row]:
    return [Row(group, entry, n == 0) for n, entry in enumerate(group.entries)]


def main_table(group: Group, columns: Sequence[Column] = COLUMNS) -> Table:
    """The group's ranked rows, one per entry, with what each column sorts by and the entry behind each row."""
    shown = [c for c in columns if c.markdown]
    listed = rows(group)
    return Table(
        tuple(c.markdown for c in shown),
        [tuple(c.show(row) for c in shown) for row in listed],
        [tuple(c.sort_key(row) for c in shown) for row in listed],
        [row.entry for row in listed],
    )


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


PAIR_COLUMNS = (
    "group",
    "kind",
    "tuning_trials",
    "first",
    "second",
    "paired_seeds",
    "only_first_right",
    "only_second_right",
    "mcnemar_p",
    "mcnemar_p_holm",
    "significant",
    "better",
)


def pairs_csv(groups: Sequence[Group]) -> str:
    """Every pairwise McNemar test with its raw counts, `first` ranked above `second`; Holm-adjusted per group."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PAIR_COLUMNS)
    for group in groups:
        for pair in group.pairs:
            values = (
                group.slug,
                table_of(group),
                group.budget,
                pair.first.label,
                pair.second.label,
                " ".join(map(str, pair.seeds)),
                pair.test.only_first,
                pair.test.only_second,
                pair.test.p_value,
                pair.p_holm,
                pair.significant,
                pair.better.label if pair.better else "",
            )
            writer.writerow([_csv_value(value) for value in values])
    return buffer.getvalue()
