"""`leaderboard.md` and `errors.md`: the tables of `benchmark.report.tables` and the words of
`benchmark.report.notes`, written as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.report import notes
from benchmark.report.columns import main_table
from benchmark.report.format import anchor, cell, group_heading, place_title, plot_name, plural
from benchmark.report.ranking import Group
from benchmark.report.runs import Run
from benchmark.report.sweeps import Sweep, curve_pairs, interleave
from benchmark.report.tables import (
    Link,
    Table,
    across_table,
    chosen_table,
    confusions_table,
    expected_table,
    mistakes_table,
    pairs_table,
    per_class_table,
    reported_by_dataset,
    reported_table,
    reproduction_table,
    runs_apart_table,
    to_markdown,
)


def _section(heading: str, *blocks: str | list[str] | Table | None) -> list[str]:
    """A heading, then paragraphs and tables, each followed by a blank line; None blocks are left out."""
    lines = [heading, ""]
    for block in blocks:
        if block is None:
            continue
        lines += to_markdown(block) if isinstance(block, Table) else [block] if isinstance(block, str) else block
        lines.append("")
    return lines


def _plot_links(group: Group) -> list[str]:
    base = f"plots/{group.slug}"
    links = Table(("backbone", "confusion matrix", "training curves", "error analysis"))
    for e in group.entries:
        links.rows.append(
            (
                e.label,
                Link("confusion", f"{base}/{plot_name('confusion', e)}"),
                Link("curves", f"{base}/{plot_name('curves', e)}"),
                Link("errors", f"errors.md#{anchor(group, e)}"),
            )
        )
    return _section(
        "### Plots",
        f"![Accuracy against inference time per example]({base}/{plot_name('accuracy-vs-cost')})",
        f"![Per-class F1]({base}/{plot_name('per-class-f1')})",
        links,
    )


def _group_markdown(group: Group, reported: Sequence) -> list[str]:
    tuned = [notes.TUNED] if group.budget is not None else []
    if group.budget is not None and group.budget < group.most_trials:
        tuned.append(notes.fewer_trials(group))
    lines = _section(group_heading(group), notes.summary(group), main_table(group), *tuned, *notes.how_to_read(group))
    if group.pairs:
        lines += _section(f"### {notes.PAIRS}", pairs_table(group))
    reproduction = reproduction_table(group, reported)
    if reproduction is not None:
        lines += _section("### Reproduction check against published figures", notes.REPRODUCTION, reproduction)
    lines += _section("### Per-class F1 (%), mean over runs", per_class_table(group))
    return lines + _plot_links(group)


def _sweep_markdown(sweep: Sweep) -> list[str]:
    lines = _section(f"## {cell(place_title(sweep))} · tuning", notes.sweep_summary(sweep))
    if sweep.with_trials:
        plot = f"plots/{sweep.slug}/{plot_name('expected-validation')}"
        sentences = [f"- {cell(notes.pair_sentence(a, b))}" for a, b in curve_pairs(sweep)]
        lines += _section(
            "### Expected validation performance",
            notes.EXPECTED,
            f"![Expected best dev score after k trials]({plot})",
            expected_table(sweep),
            *([notes.AHEAD, sentences] if sentences else []),
        )
    chosen = chosen_table(sweep)
    if chosen is not None:
        lines += _section("### Chosen settings against the recommended ones", notes.CHOSEN, chosen)
    return lines


def _reported_markdown(reported: Sequence) -> list[str]:
    lines = _section("## Reported, not measured here", notes.REPORTED)
    if not reported:
        return lines + [notes.NO_REPORTED, ""]
    for dataset, figures in reported_by_dataset(reported).items():
        lines += _section(f"### {cell(dataset)}", reported_table(figures))
    return lines


def leaderboard_markdown(
    groups: Sequence[Group],
    runs: Sequence[Run],
    reported: Sequence,
    skipped: Sequence[str],
    failed: Sequence[str] = (),
    sweeps: Sequence[Sweep] = (),
) -> str:
    lines = _section(f"# {notes.TITLE}", notes.INTRO, None if groups or sweeps else notes.NO_RUNS)
    across = across_table(groups)
    if across is not None:
        lines += _section("## Across datasets", notes.ACROSS, across)
    for section in interleave(groups, sweeps):
        lines += _group_markdown(section, reported) if isinstance(section, Group) else _sweep_markdown(section)
    unranked = [r for r in runs if r.unranked and not r.smoke]
    if unranked:
        lines += _section("## Not ranked", notes.UNRANKED, runs_apart_table(unranked, why=True))
    if failed:
        lines += _section("## Failed runs", notes.FAILED) + [f"- {line}" for line in failed] + [""]
    smoke = [r for r in runs if r.smoke]
    if smoke:
        lines += _section("## Smoke runs (pipeline checks, not benchmarks)", notes.SMOKE, runs_apart_table(smoke))
    lines += _reported_markdown(reported)
    if skipped:
        lines += ["## Skipped files", ""] + [f"- {s}" for s in skipped] + [""]
    return "\n".join(lines)


def errors_markdown(groups: Sequence[Group]) -> str:
    """Per row: the most confused class pairs and the most confident mistakes."""
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
            lines += [f'<a id="{anchor(group, entry)}"></a>', ""]
            confusions = confusions_table(group, entry) or "No confusions."
            heading = f"### {cell(entry.label)} ({plural(len(entry.runs), 'run')})"
            lines += _section(heading, confusions, mistakes_table(group, entry))
    return "\n".join(lines)
