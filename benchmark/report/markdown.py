"""`leaderboard.md`: a table per group, per-class F1, plot links, smoke runs, reported figures, skipped files."""

from __future__ import annotations

from collections.abc import Sequence

from benchmark.report import stats
from benchmark.report.columns import markdown_table
from benchmark.report.format import (
    anchor,
    cell,
    group_heading,
    pct,
    plot_name,
    plural,
)
from benchmark.report.ranking import ALPHA, Group, main_value
from benchmark.report.runs import Run


def _notes(group: Group) -> list[str]:
    devices = ", ".join(f"{cell(name)} ({plural(n, 'run')})" for name, n in group.devices)
    lines = [
        "",
        "Accuracy and macro-F1: mean ± sample std over runs (seeds). CI: 95% percentile bootstrap of the "
        f"seed-averaged macro-F1 over test examples ({stats.BOOTSTRAP_RESAMPLES} resamples). vs leader: "
        "McNemar's exact test against rank 1 on the same test examples, using per-example strict-majority "
        "correctness over the seeds both ran; (a/b) = examples only the leader / only this backbone got "
        f"right; ≈ tied = p ≥ {ALPHA}. Times and throughputs: means over runs; memory: the largest peak.",
    ]
    if group.main_score == "macro_f1":
        lines += ["", "Ranked by macro-F1, this dataset's main score (its classes are imbalanced), then accuracy."]
    if any(e.settings for e in group.entries):
        lines += [
            "",
            "A backbone run with different settings has a row per settings, named by the settings that "
            "differ between its rows (config fields as in metrics.json; source = the model loaded). "
            "Only runs with identical settings are pooled as seeds.",
        ]
    lines += ["", f"Measured on: {devices}."]
    if len(group.devices) > 1:
        lines.append("**Runs in this group ran on different devices: compare times and throughputs with care.**")
    return lines


def _per_class(group: Group) -> list[str]:
    names = [e.label for e in group.entries]
    lines = [
        "",
        "### Per-class F1 (%), mean over runs",
        "",
        "| id | class | " + " | ".join(cell(n) for n in names) + " |",
        "|" + "---|" * (len(names) + 2),
    ]
    for i, label in enumerate(group.labels):
        values = [e.per_class_f1[i] for e in group.entries]
        best = max(round(v, 12) for v in values)
        cells = [f"**{pct(v)}**" if round(v, 12) == best else pct(v) for v in values]
        lines.append(f"| {i} | {cell(label)} | " + " | ".join(cells) + " |")
    return lines


def _plot_links(group: Group) -> list[str]:
    base = f"plots/{group.slug}"
    lines = [
        "",
        "### Plots",
        "",
        f"![Accuracy against inference time per example]({base}/{plot_name('accuracy-vs-cost')})",
        "",
        f"![Per-class F1]({base}/{plot_name('per-class-f1')})",
        "",
        "| backbone | confusion matrix | training curves | error analysis |",
        "|---|---|---|---|",
    ]
    for e in group.entries:
        lines.append(
            f"| {cell(e.label)} | [confusion]({base}/{plot_name('confusion', e)}) "
            f"| [curves]({base}/{plot_name('curves', e)}) "
            f"| [errors](errors.md#{anchor(group, e)}) |"
        )
    return lines


def _group_markdown(group: Group) -> list[str]:
    n_runs = sum(len(e.runs) for e in group.entries)
    backbones = plural(len({e.backbone for e in group.entries}), "backbone")
    if any(e.settings for e in group.entries):
        backbones += f" ({len(group.entries)} rows)"
    summary = f"{plural(group.n_examples, 'test example')} · {backbones} · {plural(n_runs, 'run')}"
    return [
        group_heading(group),
        "",
        summary,
        "",
        *markdown_table(group),
        *_notes(group),
        *_per_class(group),
        *_plot_links(group),
        "",
    ]


def _reported_markdown(reported: Sequence) -> list[str]:
    """Published figures, per dataset: (dataset name, Reported) pairs from the dataset registry."""
    lines = [
        "## Reported, not measured here",
        "",
        "Figures published elsewhere, copied from the dataset registry with their source. No run in this folder "
        "produced them; they are not ranked or tested, and compare at best with measured rows of the same "
        "dataset and protocol.",
        "",
    ]
    if not reported:
        return lines + ["No registered dataset carries a reported figure.", ""]
    by_dataset: dict[str, list] = {}
    for dataset, figure in reported:
        by_dataset.setdefault(dataset, []).append(figure)
    for dataset in sorted(by_dataset):
        lines += [
            f"### {cell(dataset)}",
            "",
            "| backbone | protocol | split | metric | reported (%) | source | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in sorted(by_dataset[dataset], key=lambda f: (f.backbone, f.source)):
            lines.append(
                f"| {cell(f.backbone)} | {cell(f.protocol)} | {cell(f.split)} | {cell(f.metric)} "
                f"| {f.value:.2f} | {cell(f.source)} | {cell(f.note)} |"
            )
        lines.append("")
    return lines


def _summary_markdown(groups: Sequence[Group]) -> list[str]:
    """One row per backbone, one column per dataset and protocol: its best row's main score (mean over seeds).
    A backbone not run on a dataset has an empty cell, never an average over what it was run on."""
    if len(groups) < 2:
        return []
    backbones = sorted({e.backbone for g in groups for e in g.entries})
    lines = [
        "## Across datasets",
        "",
        "Each dataset's main score (accuracy, or macro-F1 where marked), mean over seeds, of the backbone's "
        "best row in that table; empty where the backbone was not run.",
        "",
        "| backbone | "
        + " | ".join(
            cell(f"{g.dataset} · {g.protocol}") + (" (macro-F1)" if g.main_score == "macro_f1" else "") for g in groups
        )
        + " |",
        "|" + "---|" * (len(groups) + 1),
    ]
    for backbone in backbones:
        cells = []
        for group in groups:
            rows = [e for e in group.entries if e.backbone == backbone]
            cells.append(pct(main_value(rows[0], group.main_score)) if rows else "")
        lines.append(f"| {cell(backbone)} | " + " | ".join(cells) + " |")
    return lines + [""]


def _runs_apart(heading: str, intro: str, runs: Sequence[Run], why: bool = False) -> list[str]:
    """A list of runs left out of every table, test, plot and the CSV, in run-id order."""
    if not runs:
        return []
    lines = [
        "## " + heading,
        "",
        intro,
        "",
        "| run id | backbone | dataset | protocol | accuracy (%) |" + (" why |" if why else ""),
        "|---|---|---|---|---|" + ("---|" if why else ""),
    ]
    for r in sorted(runs, key=lambda r: (r.run_id, r.folder)):
        lines.append(
            f"| {cell(r.run_id)} | {cell(r.backbone)} | {cell(r.dataset)} | {cell(r.protocol)} "
            f"| {pct(r.accuracy)} |" + (f" {cell(r.unranked)} |" if why else "")
        )
    return lines + [""]


def _smoke_markdown(runs: Sequence[Run]) -> list[str]:
    return _runs_apart(
        "Smoke runs (pipeline checks, not benchmarks)",
        "These runs used a tiny random model (`smoke: true`); they are left out of every table, "
        "test, plot and the CSV above.",
        [r for r in runs if r.smoke],
    )


def _unranked_markdown(runs: Sequence[Run]) -> list[str]:
    return _runs_apart(
        "Not ranked",
        "These runs finished, but their numbers do not measure the backbone they name; "
        "they are left out of every table, test, plot and the CSV above.",
        [r for r in runs if r.unranked and not r.smoke],
        why=True,
    )


def leaderboard_markdown(
    groups: Sequence[Group], runs: Sequence[Run], reported: Sequence, skipped: Sequence[str]
) -> str:
    lines = [
        "# Leaderboard",
        "",
        "Generated by `python run.py --leaderboard` from the run folders beside this file; "
        "regenerating overwrites it. Each table holds runs on one dataset, protocol and test file, "
        'never mixed. How to read it: README, "Reading the leaderboard".',
        "",
    ]
    if not groups:
        lines += [
            "No runs yet. Run `python run.py --model NAME --seeds 1 2 3`, then `python run.py --leaderboard`.",
            "",
        ]
    lines += _summary_markdown(groups)
    for group in groups:
        lines += _group_markdown(group)
    lines += _unranked_markdown(runs)
    lines += _smoke_markdown(runs)
    lines += _reported_markdown(reported)
    if skipped:
        lines += ["## Skipped files", ""] + [f"- {s}" for s in skipped] + [""]
    return "\n".join(lines)
