"""`errors.md`: per leaderboard row, the most confused class pairs and the most confident mistakes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.report.format import anchor, cell, group_heading, plural
from benchmark.report.ranking import Entry, Group
from benchmark.report.runs import Run

ERROR_PAIRS = 5  # most-confused class pairs listed per row
ERROR_EXAMPLES = 10  # misclassified texts listed per row
_TEXT_CHARS = 80


def _mistakes(entry: Entry) -> list[tuple[Run, int, int]]:
    """Highest-confidence mistakes over all runs, each example once: (run, index, runs wrong)."""
    wrong_count = np.sum([r.gold != r.predicted for r in entry.runs], axis=0)
    candidates = sorted(
        (
            ((-float(r.probability[i]), int(i), r.seed, r.run_id), r)
            for r in entry.runs
            for i in np.flatnonzero(r.gold != r.predicted)
        ),
        key=lambda pair: pair[0],
    )
    chosen, seen = [], set()
    for (_, index, _, _), run in candidates:
        if index not in seen:
            seen.add(index)
            chosen.append((run, index, int(wrong_count[index])))
            if len(chosen) == ERROR_EXAMPLES:
                break
    return chosen


def _confused_pairs(group: Group, entry: Entry) -> list[tuple[int, int, int]]:
    confusion = np.sum([r.confusion for r in entry.runs], axis=0)
    pairs = [
        (-int(confusion[i, j]), i, j)
        for i in range(len(group.labels))
        for j in range(len(group.labels))
        if i != j and confusion[i, j] > 0
    ]
    return [(i, j, -count) for count, i, j in sorted(pairs)[:ERROR_PAIRS]]


def _entry_section(group: Group, entry: Entry) -> list[str]:
    labels = group.labels
    runs = len(entry.runs)
    lines = [f'<a id="{anchor(group, entry)}"></a>', "", f"### {cell(entry.label)} ({plural(runs, 'run')})", ""]
    pairs = _confused_pairs(group, entry)
    gold_total = np.sum([r.confusion for r in entry.runs], axis=0).sum(axis=1)
    if pairs:
        lines += ["| gold | predicted as | count | share of the gold class |", "|---|---|---|---|"]
        lines += [
            f"| {cell(labels[i])} | {cell(labels[j])} | {c} | {100 * c / gold_total[i]:.2f}% |" for i, j, c in pairs
        ]
    else:
        lines.append("No confusions.")
    mistakes = _mistakes(entry)
    if mistakes:
        lines += ["", "| index | gold | predicted | probability | runs wrong | text |", "|---|---|---|---|---|---|"]
        for run, i, wrong in mistakes:
            text = run.texts[i]
            short = text if len(text) <= _TEXT_CHARS else text[:_TEXT_CHARS] + "…"
            lines.append(
                f"| {i} | {cell(labels[run.gold[i]])} | {cell(labels[run.predicted[i]])} "
                f"| {run.probability[i]:.3f} (seed {run.seed}) | {wrong} of {runs} | {cell(short)} |"
            )
    return lines + [""]


def errors_markdown(groups: Sequence[Group]) -> str:
    lines = [
        "# Error analysis",
        "",
        "Linked from [the leaderboard](leaderboard.md). Per backbone: the most confused class pairs "
        "(confusion matrices summed over runs; share = of that gold class's examples) and the most "
        "confident mistakes over all runs, each test example once, ties broken by example index.",
        "",
    ]
    if not groups:
        lines += ["No runs yet.", ""]
    for group in groups:
        lines += [group_heading(group), ""]
        for entry in group.entries:
            lines += _entry_section(group, entry)
    return "\n".join(lines)
