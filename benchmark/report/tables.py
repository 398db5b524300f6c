"""The leaderboard's tables as data, built once and written both as Markdown and as HTML.

A cell is plain text, `Strong` (a leader, a column's best value) or `Link`; each writer escapes text its own way,
so no table is assembled twice and the two files cannot disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmark.report.format import cell, p_value, pct, pct_std, table_kind
from benchmark.report.ranking import Entry, Group, main_value
from benchmark.report.reproduction import reproduction_checks
from benchmark.report.runs import Run
from benchmark.report.sweeps import Sweep, chosen_distance

ERROR_PAIRS = 5  # most-confused class pairs listed per row
ERROR_EXAMPLES = 10  # misclassified texts listed per row
_TEXT_CHARS = 80


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Link:
    text: str
    href: str


Cell = str | Strong | Link


def text_of(value: Cell) -> str:
    return value if isinstance(value, str) else value.text


@dataclass
class Table:
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)
    # Per row and column, what a page sorts by where it differs from the text (numbers as numbers); None: the text.
    sort_keys: list[tuple[object, ...]] | None = None
    # Per row, the leaderboard entry it shows, so a page can open that entry's details.
    entries: list[Entry] | None = None


def to_markdown(table: Table) -> list[str]:
    def show(value: Cell) -> str:
        if isinstance(value, Strong):
            return f"**{cell(value.text)}**"
        if isinstance(value, Link):
            return f"[{cell(value.text)}]({value.href})"
        return cell(value)

    lines = ["| " + " | ".join(cell(h) for h in table.headers) + " |", "|" + "---|" * len(table.headers)]
    return lines + ["| " + " | ".join(show(value) for value in row) + " |" for row in table.rows]


# ---------------------------------------------------------------- per group


def per_class_table(group: Group) -> Table:
    """Per-class F1 (%) of every row, the best of each class in bold."""
    table = Table(("id", "class", *(e.label for e in group.entries)))
    for i, label in enumerate(group.labels):
        values = [e.per_class_f1[i] for e in group.entries]
        best = max(round(v, 12) for v in values)
        cells = [Strong(pct(v)) if round(v, 12) == best else pct(v) for v in values]
        table.rows.append((str(i), label, *cells))
    return table


def pairs_table(group: Group) -> Table:
    table = Table(("first", "second", "seeds", "only first right", "only second right", "p", "Holm p", "verdict"))
    table.sort_keys = []
    for pair in group.pairs:
        verdict = f"{pair.better.label} better" if pair.better else "not told apart"
        test = pair.test
        table.rows.append(
            (
                pair.first.label,
                pair.second.label,
                " ".join(map(str, pair.seeds)),
                str(test.only_first),
                str(test.only_second),
                p_value(test.p_value),
                p_value(pair.p_holm),
                verdict,
            )
        )
        table.sort_keys.append((None, None, None, test.only_first, test.only_second, test.p_value, pair.p_holm, None))
    return table


def reproduction_table(group: Group, reported: Sequence) -> Table | None:
    """Published figures beside the recommended settings' rows; tuned rows had a budget the sources did not."""
    checks = reproduction_checks(group, reported) if group.budget is None else []
    if not checks:
        return None
    table = Table(
        (
            "backbone",
            "metric",
            "reported (%)",
            "measured (%)",
            "difference",
            "inside the interval",
            "settings that differ",
            "source",
        )
    )
    for check in checks:
        if check.entry is None:
            measured = difference = inside = "not measured"
        else:
            measured, difference = pct(check.measured), f"{100 * check.difference:+.2f}"
            inside = "yes" if check.inside else "no"
        settings = "; ".join(check.setup_differences) or ("none" if check.entry else "")
        table.rows.append(
            (check.backbone, check.metric, pct(check.reported), measured, difference, inside, settings, check.source)
        )
    return table


def across_table(groups: Sequence[Group]) -> Table | None:
    """One row per backbone, one column per dataset and protocol (and tuned table): its best row's main score, mean
    over seeds. A backbone not run on a dataset has an empty cell, never an average over what it was run on. None
    where every group shares one test file: its tables are the whole story."""
    if len({(g.dataset, g.protocol, g.test_sha256) for g in groups}) < 2:
        return None
    places = {(g.dataset, g.protocol, g.test_sha256) for g in groups}
    files = Counter((dataset, protocol) for dataset, protocol, _ in places)
    headers = [
        f"{g.dataset} · {g.protocol}"
        + (f" · test file {g.test_sha256[:8]}" if files[(g.dataset, g.protocol)] > 1 else "")
        + (f" · {table_kind(g)}" if table_kind(g) else "")
        + (" (macro-F1)" if g.main_score == "macro_f1" else "")
        for g in groups
    ]
    table = Table(("backbone", *headers))
    for backbone in sorted({e.backbone for g in groups for e in g.entries}):
        cells = []
        for group in groups:
            rows = [e for e in group.entries if e.backbone == backbone]
            cells.append(pct(main_value(rows[0], group.main_score)) if rows else "")
        table.rows.append((backbone, *cells))
    return table


# ---------------------------------------------------------------- per tuning sweep


def budgets_shown(sweep: Sweep) -> list[int]:
    """The budgets k a curve table shows: 1, 2, 4, … up to the most trials, and each study's own number."""
    most = sweep.most_trials
    powers = {2**i for i in range(most.bit_length()) if 2**i <= most}
    return sorted(powers | {len(s.scores) for s in sweep.with_trials})


def _trials(study) -> str:
    n = len(study.scores)
    text = str(n) if n >= study.budget else f"{n} of {study.budget}"
    notes = [f"{len(study.failed)} failed"] * bool(study.failed) + [f"{len(study.left_out)} left out"] * bool(
        study.left_out
    )
    return text + (f" ({', '.join(notes)})" if notes else "")


def expected_table(sweep: Sweep) -> Table:
    """Per study: its trials, the best of them, and the expected best dev score ± std at selected budgets."""
    ks = budgets_shown(sweep)
    table = Table(("backbone", "trials", "best trial", *(f"k = {k}" for k in ks)))
    table.sort_keys = []
    for study in sweep.with_trials:
        points = [study.curve[k - 1] if k <= len(study.curve) else None for k in ks]
        table.rows.append(
            (study.label, _trials(study), pct(max(study.values)), *("" if p is None else pct_std(p) for p in points))
        )
        table.sort_keys.append((None, len(study.scores), max(study.values), *(p and p[0] for p in points)))
    return table


def _setting(value: object) -> str:
    if value is None:
        return "default"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".4g")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def chosen_table(sweep: Sweep) -> Table | None:
    """Per study whose chosen settings ran: each setting chosen, the recommended value, and how far apart."""
    chosen = [s for s in sweep.studies if s.chosen]
    if not chosen:
        return None
    table = Table(("backbone", "chosen trial", "setting", "chosen", "recommended", "chosen / recommended"))
    for study in chosen:
        section = study.chosen
        # Optuna numbers trials from 0: "no. 0" is the first
        trial = f"no. {section.chosen_trial} of {section.trials_run}"
        for name in sorted(section.sampled):
            value = section.sampled[name]
            if name in section.recommended:
                recommended = section.recommended[name]
                shown, distance = _setting(recommended), chosen_distance(value, recommended)
            else:
                shown = distance = "—"
            table.rows.append((study.label, trial, name, _setting(value), shown, distance))
    return table


# ---------------------------------------------------------------- per entry: error analysis


def mistakes(entry: Entry) -> list[tuple[Run, int, int]]:
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


def confusions_table(group: Group, entry: Entry) -> Table | None:
    """The most confused class pairs, confusion matrices summed over runs; None when there is no confusion."""
    confusion = np.sum([r.confusion for r in entry.runs], axis=0)
    k = len(group.labels)
    pairs = sorted((-int(confusion[i, j]), i, j) for i in range(k) for j in range(k) if i != j and confusion[i, j])
    if not pairs:
        return None
    gold_total = confusion.sum(axis=1)
    table = Table(("gold", "predicted as", "count", "share of the gold class"))
    for negative, i, j in pairs[:ERROR_PAIRS]:
        table.rows.append((group.labels[i], group.labels[j], str(-negative), f"{-100 * negative / gold_total[i]:.2f}%"))
    return table


def mistakes_table(group: Group, entry: Entry) -> Table | None:
    chosen = mistakes(entry)
    if not chosen:
        return None
    table = Table(("index", "gold", "predicted", "probability", "runs wrong", "text"))
    for run, i, wrong in chosen:
        text = run.texts[i]
        short = text if len(text) <= _TEXT_CHARS else text[:_TEXT_CHARS] + "…"
        table.rows.append(
            (
                str(i),
                group.labels[run.gold[i]],
                group.labels[run.predicted[i]],
                f"{run.probability[i]:.3f} (seed {run.seed})",
                f"{wrong} of {len(entry.runs)}",
                short,
            )
        )
    return table


# ---------------------------------------------------------------- the page's other lists


def runs_apart_table(runs: Sequence[Run], why: bool = False) -> Table:
    """Runs left out of every table, test, plot and the CSV, in run-id order."""
    table = Table(("run id", "backbone", "dataset", "protocol", "accuracy (%)", *(("why",) if why else ())))
    for r in sorted(runs, key=lambda r: (r.run_id, r.folder)):
        table.rows.append(
            (r.run_id, r.backbone, r.dataset, r.protocol, pct(r.accuracy), *((r.unranked,) if why else ()))
        )
    return table


def reported_table(figures: Sequence) -> Table:
    table = Table(("backbone", "protocol", "split", "metric", "reported (%)", "source", "note"))
    for f in sorted(figures, key=lambda f: (f.backbone, f.source)):
        table.rows.append((f.backbone, f.protocol, f.split, f.metric, f"{f.value:.2f}", f.source, f.note))
    return table


def reported_by_dataset(reported: Sequence) -> dict[str, list]:
    """(dataset name, Reported) pairs as {dataset: figures}, datasets in name order."""
    by_dataset: dict[str, list] = {}
    for dataset, figure in sorted(reported, key=lambda pair: pair[0]):
        by_dataset.setdefault(dataset, []).append(figure)
    return by_dataset
