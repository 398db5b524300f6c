"""The leaderboard: a pure function of the run folders under `results/`.

`write_leaderboard(results_dir)` reads every `<run>/metrics.json` and the `predictions.csv`
beside it (format: docs/results-format.md), groups comparable runs, and writes
`leaderboard.md`, `leaderboard.csv`, `errors.md` and `plots/<group>/*.png`. Unusable files
are skipped with a logged warning naming them; the output holds no timestamps and every
ordering has a tie-break, so the same runs always give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark import plots, stats
from benchmark.errors import HarnessError

log = logging.getLogger(__name__)

ALPHA = 0.05
ERROR_PAIRS = 5  # most-confused class pairs listed per backbone
ERROR_EXAMPLES = 10  # misclassified texts listed per backbone
_TEXT_CHARS = 80
_PREDICTION_COLUMNS = ["index", "text", "gold", "predicted", "probability"]


class _Unusable(Exception):
    """Why a results file cannot be used; the message is shown to the user."""


@dataclass(frozen=True, eq=False)
class Run:
    """What the leaderboard needs from one run folder."""

    folder: str
    run_id: str
    smoke: bool
    backbone: str
    parameters: int | None
    dataset: str
    protocol: str
    test_sha256: str
    labels: tuple[str, ...]
    seed: int
    accuracy: float
    macro_f1: float
    per_class_f1: tuple[float, ...]  # in label order
    confusion: np.ndarray  # rows gold, columns predicted
    train_seconds: float | None
    train_examples_per_second: float | None
    eval_examples_per_second: float | None
    peak_memory_mb: float | None
    device: str
    history: tuple[dict, ...]
    best_step: int | None
    # Per test example, in test-file order; None for smoke runs, which are not compared.
    texts: tuple[str, ...] | None = None
    gold: np.ndarray | None = None  # label ids
    predicted: np.ndarray | None = None
    probability: np.ndarray | None = None


# ---------------------------------------------------------------- reading


def _field(data: object, dotted: str, kind: type, *, nullable: bool = False):
    value = data
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise _Unusable(f"missing field {dotted!r}")
        value = value[key]
    if value is None and nullable:
        return None
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise _Unusable(f"field {dotted!r} should be {kind.__name__}, found {str(value)[:40]!r}")
    return value


def _labels(data: dict) -> tuple[str, ...]:
    labels = _field(data, "task.labels", list)
    if not labels or not all(isinstance(x, str) for x in labels) or len(set(labels)) != len(labels):
        raise _Unusable("field 'task.labels' should be a non-empty list of distinct names")
    return tuple(labels)


def _confusion(data: dict, k: int) -> np.ndarray:
    rows = _field(data, "metrics.confusion_matrix", list)
    shape_ok = len(rows) == k and all(isinstance(r, list) and len(r) == k for r in rows)
    if not shape_ok or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                               for r in rows for v in r):
        raise _Unusable(f"field 'metrics.confusion_matrix' should be {k}×{k} counts, one row per label")
    return np.array(rows, dtype=np.int64)


def _per_class_f1(data: dict, labels: tuple[str, ...]) -> tuple[float, ...]:
    # Looked up by hand, not by dotted path: a label name may itself contain a dot.
    per_class = _field(data, "metrics.per_class", dict)
    values = []
    for label in labels:
        record = per_class.get(label)
        f1 = record.get("f1") if isinstance(record, dict) else None
        if not isinstance(f1, int | float) or isinstance(f1, bool) or not math.isfinite(f1):
            raise _Unusable(f"field 'metrics.per_class' has no F1 for label {label!r}")
        values.append(float(f1))
    return tuple(values)


def _parse_metrics(data: object, folder: str) -> Run:
    if _field(data, "schema_version", int) != 1:
        raise _Unusable(f"unsupported schema_version {data['schema_version']!r} (this leaderboard reads 1)")
    labels = _labels(data)
    confusion = _confusion(data, len(labels))
    accuracy = _field(data, "metrics.accuracy", float)
    if confusion.sum() == 0 or abs(accuracy - np.trace(confusion) / confusion.sum()) > 1e-3:
        raise _Unusable("metrics.accuracy disagrees with metrics.confusion_matrix")
    history = _field(data, "training.history", list)
    if not all(isinstance(h, dict) and isinstance(h.get("step"), int) for h in history):
        raise _Unusable("field 'training.history' should be a list of records with an integer 'step'")
    environment = data.get("environment") if isinstance(data.get("environment"), dict) else {}
    return Run(
        folder=folder,
        run_id=_field(data, "run_id", str),
        smoke=_field(data, "smoke", bool) or _field(data, "task.protocol", str) == "smoke",
        backbone=_field(data, "backbone.name", str),
        parameters=_field(data, "backbone.parameters", int, nullable=True),
        dataset=_field(data, "task.dataset", str),
        protocol=_field(data, "task.protocol", str),
        test_sha256=_field(data, "task.files.test.sha256", str),
        labels=labels,
        seed=_field(data, "seed", int),
        accuracy=accuracy,
        macro_f1=_field(data, "metrics.macro.f1", float),
        per_class_f1=_per_class_f1(data, labels),
        confusion=confusion,
        train_seconds=_field(data, "timing.train_seconds", float, nullable=True),
        train_examples_per_second=_field(data, "timing.train_examples_per_second", float, nullable=True),
        eval_examples_per_second=_field(data, "timing.eval_examples_per_second", float, nullable=True),
        peak_memory_mb=_field(data, "timing.peak_memory_mb", float, nullable=True),
        device=str(environment.get("device_name") or environment.get("device") or "unknown device"),
        history=tuple(history),
        best_step=_field(data, "training.best_step", int, nullable=True),
    )


def _read_predictions(path: Path, run: Run) -> Run:
    ids = {label: i for i, label in enumerate(run.labels)}
    texts, gold, predicted, probability = [], [], [], []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != _PREDICTION_COLUMNS:
                raise _Unusable(f"header should be {','.join(_PREDICTION_COLUMNS)}")
            for row in reader:
                if len(row) != 5 or row[0] != str(len(texts)):
                    raise _Unusable(f"row {len(texts) + 1} is malformed or out of order")
                if row[2] not in ids or row[3] not in ids:
                    raise _Unusable(f"row {len(texts) + 1} names a label not in task.labels")
                if not 0 <= float(row[4]) <= 1:
                    raise _Unusable(f"row {len(texts) + 1} has a probability outside [0, 1]")
                texts.append(row[1])
                gold.append(ids[row[2]])
                predicted.append(ids[row[3]])
                probability.append(float(row[4]))
    except FileNotFoundError:
        raise _Unusable("missing") from None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as error:
        raise _Unusable(f"unreadable ({error})") from None
    gold_ids, predicted_ids = np.array(gold, dtype=np.int64), np.array(predicted, dtype=np.int64)
    k = len(run.labels)
    rebuilt = np.bincount(gold_ids * k + predicted_ids, minlength=k * k).reshape(k, k)
    if not np.array_equal(rebuilt, run.confusion):
        raise _Unusable("disagrees with the confusion matrix in metrics.json (from another run?)")
    return Run(**{**run.__dict__, "texts": tuple(texts), "gold": gold_ids, "predicted": predicted_ids,
                  "probability": np.array(probability)})


def load_runs(results_dir: Path, skipped: list[str]) -> list[Run]:
    """Every usable run under results_dir, in folder-name order; unusable files go to `skipped`."""
    runs = []
    for metrics_path in sorted(results_dir.glob("*/metrics.json")):
        folder = metrics_path.parent.name
        current = metrics_path
        try:
            try:
                data = json.loads(metrics_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as error:
                raise _Unusable(f"not readable JSON ({error})") from None
            run = _parse_metrics(data, folder)
            if not run.smoke:
                current = metrics_path.with_name("predictions.csv")
                run = _read_predictions(current, run)
        except _Unusable as reason:
            _skip(skipped, results_dir, current, str(reason))
            continue
        runs.append(run)
    return runs


def _skip(skipped: list[str], results_dir: Path, path: Path, reason: str) -> None:
    log.warning("leaderboard: skipped %s: %s", path, reason)
    skipped.append(f"`{path.relative_to(results_dir).as_posix()}`: {reason}")


# ---------------------------------------------------------------- grouping and statistics


@dataclass(eq=False)
class Entry:
    """One backbone within a group, summarised over its runs (seeds)."""

    backbone: str
    runs: list[Run]
    rank: int = 0
    accuracy: tuple[float, float | None] = (0.0, None)
    macro_f1: tuple[float, float | None] = (0.0, None)
    macro_f1_ci: tuple[float, float] = (0.0, 0.0)
    per_class_f1: np.ndarray = field(default_factory=lambda: np.zeros(0))
    versus_leader: stats.McNemar | None = None
    paired_seeds: tuple[int, ...] = ()

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(run.seed for run in self.runs)

    @property
    def tied(self) -> bool | None:
        return None if self.versus_leader is None else self.versus_leader.p_value >= ALPHA

    def mean(self, attribute: str) -> float | None:
        values = [getattr(run, attribute) for run in self.runs]
        return None if None in values else float(np.mean(values))

    @property
    def eval_ms_per_example(self) -> float | None:
        speeds = [run.eval_examples_per_second for run in self.runs]
        if None in speeds or not all(speeds):
            return None
        return float(np.mean([1000 / s for s in speeds]))

    @property
    def peak_memory_mb(self) -> float | None:
        values = [run.peak_memory_mb for run in self.runs]
        return None if None in values else max(values)


@dataclass(eq=False)
class Group:
    """Runs that may be compared: same dataset, protocol and test file."""

    dataset: str
    protocol: str
    test_sha256: str
    labels: tuple[str, ...]
    slug: str
    entries: list[Entry]

    @property
    def n_examples(self) -> int:
        return len(self.entries[0].runs[0].gold)

    @property
    def devices(self) -> list[tuple[str, int]]:
        counts = Counter(run.device for entry in self.entries for run in entry.runs)
        return sorted(counts.items())


def _consistent(runs: list[Run], results_dir: Path, skipped: list[str]) -> list[Run]:
    """Drop runs whose labels or gold answers differ from the group's majority, and repeated seeds."""
    runs = sorted(runs, key=lambda r: (r.backbone, r.seed, r.run_id))
    signature = Counter((r.labels, r.gold.tobytes()) for r in runs).most_common(1)[0][0]
    kept: dict[tuple[str, int], Run] = {}
    for run in runs:
        path = results_dir / run.folder / "predictions.csv"
        if (run.labels, run.gold.tobytes()) != signature:
            _skip(skipped, results_dir, path,
                  "labels or gold answers differ from other runs on this test file")
            continue
        previous = kept.get((run.backbone, run.seed))
        if previous is not None:
            # Run ids end in a timestamp, so the id sorting last is the newest run of this seed.
            _skip(skipped, results_dir, results_dir / previous.folder / "metrics.json",
                  f"same backbone and seed as run {run.run_id}, which supersedes it")
        kept[(run.backbone, run.seed)] = run
    return list(kept.values())


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def _summarise(backbone: str, runs: list[Run], k: int) -> Entry:
    entry = Entry(backbone, sorted(runs, key=lambda r: (r.seed, r.run_id)))
    entry.accuracy = stats.mean_std([r.accuracy for r in entry.runs])
    entry.macro_f1 = stats.mean_std([r.macro_f1 for r in entry.runs])
    samples = stats.bootstrap_macro_f1(entry.runs[0].gold, [r.predicted for r in entry.runs], k)
    entry.macro_f1_ci = stats.percentile_interval(samples)
    entry.per_class_f1 = np.mean([r.per_class_f1 for r in entry.runs], axis=0)
    return entry


def _compare_with_leader(leader: Entry, entry: Entry) -> None:
    """McNemar on strict-majority correctness over the seeds both backbones ran."""
    shared = sorted(set(leader.seeds) & set(entry.seeds))
    if not shared:
        return

    def correct(e: Entry) -> np.ndarray:
        chosen = [r for r in e.runs if r.seed in shared]
        return stats.majority_correct(np.array([r.gold == r.predicted for r in chosen]))

    entry.paired_seeds = tuple(shared)
    entry.versus_leader = stats.mcnemar(correct(leader), correct(entry))


def _rank(entries: list[Entry]) -> list[Entry]:
    # Means are rounded before comparing so summation order cannot split an exact tie.
    def key(e: Entry):
        return (-round(e.accuracy[0], 12), -round(e.macro_f1[0], 12), e.backbone)

    entries = sorted(entries, key=key)
    for entry in entries:
        entry.rank = 1 + sum(round(o.accuracy[0], 12) > round(entry.accuracy[0], 12) for o in entries)
    for entry in entries[1:]:
        _compare_with_leader(entries[0], entry)
    return entries


def build_groups(runs: Sequence[Run], results_dir: Path, skipped: list[str]) -> list[Group]:
    """One ranked group per (dataset, protocol, test sha256); smoke runs are left out."""
    by_key: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    for run in runs:
        if not run.smoke:
            by_key[(run.dataset, run.protocol, run.test_sha256)].append(run)
    groups, slugs = [], set()
    for (dataset, protocol, sha256) in sorted(by_key):
        members = _consistent(by_key[(dataset, protocol, sha256)], results_dir, skipped)
        labels = members[0].labels
        by_backbone: dict[str, list[Run]] = defaultdict(list)
        for run in members:
            by_backbone[run.backbone].append(run)
        entries = _rank([_summarise(name, rs, len(labels)) for name, rs in sorted(by_backbone.items())])
        slug = base = _slug(f"{dataset}-{protocol}-{sha256[:8]}")
        suffix = 1
        while slug in slugs:  # names that only differ in characters the slug drops
            suffix += 1
            slug = f"{base}-{suffix}"
        slugs.add(slug)
        groups.append(Group(dataset, protocol, sha256, labels, slug, entries))
    return groups


# ---------------------------------------------------------------- formatting


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell: one line, no table or emphasis syntax."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return re.sub(r"([\\|*_`<>\[\]#])", r"\\\1", text)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _pct_std(mean_std: tuple[float, float | None]) -> str:
    mean, std = mean_std
    return _pct(mean) if std is None else f"{_pct(mean)} ± {_pct(std)}"


def _count(n: int | None) -> str:
    if n is None:
        return "—"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def _number(value: float | None, pattern: str) -> str:
    return "—" if value is None else format(value, pattern)


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _versus(entry: Entry, is_leader: bool) -> str:
    if is_leader:
        return "**leader**"
    test = entry.versus_leader
    if test is None:
        return "— (no seed in common)"
    verdict = "≈ tied" if entry.tied else "differs"
    return f"{verdict}, {_p(test.p_value)} ({test.only_first}/{test.only_second})"


def _group_heading(group: Group) -> str:
    return f"## {_cell(group.dataset)} · {_cell(group.protocol)} · test file {group.test_sha256[:8]}"


def _anchor(group: Group, backbone: str) -> str:
    return f"{group.slug}-{_slug(backbone)}".lower()


def _plot_name(kind: str, backbone: str = "") -> str:
    return f"{kind}-{_slug(backbone)}.png" if backbone else f"{kind}.png"


# ---------------------------------------------------------------- Markdown


_HEADER = ("| rank | backbone | runs | accuracy (%) | macro-F1 (%) | macro-F1 95% CI | vs leader "
           "| parameters | train time | train ex/s | inference ms/ex | peak memory (MB) |")


def _group_markdown(group: Group) -> list[str]:
    n_runs = sum(len(e.runs) for e in group.entries)
    lines = [
        _group_heading(group),
        "",
        f"{_plural(group.n_examples, 'test example')} · {_plural(len(group.entries), 'backbone')} · "
        f"{_plural(n_runs, 'run')}",
        "",
        _HEADER,
        "|" + "---|" * 12,
    ]
    for n, e in enumerate(group.entries):
        lo, hi = e.macro_f1_ci
        cells = [
            str(e.rank), _cell(e.backbone), str(len(e.runs)), _pct_std(e.accuracy), _pct_std(e.macro_f1),
            f"[{_pct(lo)}, {_pct(hi)}]", _versus(e, n == 0), _count(e.runs[0].parameters),
            _duration(e.mean("train_seconds")), _number(e.mean("train_examples_per_second"), ",.0f"),
            _number(e.eval_ms_per_example, ".3g"), _number(e.peak_memory_mb, ",.0f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    devices = ", ".join(f"{_cell(name)} ({_plural(count, 'run')})" for name, count in group.devices)
    lines += [
        "",
        "Accuracy and macro-F1: mean ± sample std over runs (seeds). CI: 95% percentile bootstrap of the "
        f"seed-averaged macro-F1 over test examples ({stats.BOOTSTRAP_RESAMPLES} resamples). vs leader: "
        "McNemar's exact test against rank 1 on the same test examples, using per-example strict-majority "
        "correctness over the seeds both ran; (a/b) = examples only the leader / only this backbone got "
        f"right; ≈ tied = p ≥ {ALPHA}. Times and throughputs: means over runs; memory: the largest peak.",
        "",
        f"Measured on: {devices}.",
    ]
    if len(group.devices) > 1:
        lines.append("**Runs in this group ran on different devices: compare times and throughputs "
                     "with care.**")
    lines += ["", "### Per-class F1 (%), mean over runs", ""]
    names = [e.backbone for e in group.entries]
    lines += ["| id | class | " + " | ".join(_cell(n) for n in names) + " |", "|" + "---|" * (len(names) + 2)]
    for i, label in enumerate(group.labels):
        values = [e.per_class_f1[i] for e in group.entries]
        best = max(round(v, 12) for v in values)
        cells = [f"**{_pct(v)}**" if round(v, 12) == best else _pct(v) for v in values]
        lines.append(f"| {i} | {_cell(label)} | " + " | ".join(cells) + " |")
    base = f"plots/{group.slug}"
    lines += [
        "",
        "### Plots",
        "",
        f"![Accuracy against inference time per example]({base}/{_plot_name('accuracy-vs-cost')})",
        "",
        f"![Per-class F1]({base}/{_plot_name('per-class-f1')})",
        "",
        "| backbone | confusion matrix | training curves | error analysis |",
        "|---|---|---|---|",
    ]
    for e in group.entries:
        lines.append(
            f"| {_cell(e.backbone)} | [confusion]({base}/{_plot_name('confusion', e.backbone)}) "
            f"| [curves]({base}/{_plot_name('curves', e.backbone)}) "
            f"| [errors](errors.md#{_anchor(group, e.backbone)}) |"
        )
    return lines + [""]


def _reported_markdown(reported: Sequence) -> list[str]:
    lines = [
        "## Reported, not measured here",
        "",
        "Test accuracy on THUCNews-10 under the full protocol, as reported by the reference course and "
        "copied from the backbone registry. No run in this folder produced these numbers; they are not "
        "ranked or tested, and compare at best with measured rows of the full THUCNews protocol.",
        "",
    ]
    rows = sorted((b for b in reported if b.reported_accuracy is not None), key=lambda b: b.name)
    if not rows:
        return lines + ["No registered backbone carries a reported figure.", ""]
    lines += ["| backbone | hub id | reported accuracy (%) | note |", "|---|---|---|---|"]
    lines += [f"| {_cell(b.name)} | {_cell(b.hub_id)} | {b.reported_accuracy:.2f} | {_cell(b.note)} |"
              for b in rows]
    return lines + [""]


def _smoke_markdown(runs: Sequence[Run]) -> list[str]:
    smoke = sorted((r for r in runs if r.smoke), key=lambda r: (r.run_id, r.folder))
    if not smoke:
        return []
    lines = [
        "## Smoke runs (pipeline checks, not benchmarks)",
        "",
        "These runs used a tiny random model (`smoke: true`); they are left out of every table, "
        "test, plot and the CSV above.",
        "",
        "| run id | backbone | dataset | protocol | accuracy (%) |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {_cell(r.run_id)} | {_cell(r.backbone)} | {_cell(r.dataset)} | {_cell(r.protocol)} "
              f"| {_pct(r.accuracy)} |" for r in smoke]
    return lines + [""]


def leaderboard_markdown(groups: Sequence[Group], runs: Sequence[Run], reported: Sequence,
                         skipped: Sequence[str]) -> str:
    lines = [
        "# Leaderboard",
        "",
        "Generated by `python run.py --leaderboard` from the run folders beside this file; "
        "regenerating overwrites it. Each table holds runs on one dataset, protocol and test file, "
        "never mixed. How to read it: README, \"Reading the leaderboard\".",
        "",
    ]
    if not groups:
        lines += ["No runs yet. Run `python run.py --model NAME --seeds 1 2 3`, then "
                  "`python run.py --leaderboard`.", ""]
    for group in groups:
        lines += _group_markdown(group)
    lines += _smoke_markdown(runs)
    lines += _reported_markdown(reported)
    if skipped:
        lines += ["## Skipped files", ""] + [f"- {s}" for s in skipped] + [""]
    return "\n".join(lines)


def _mistakes(entry: Entry) -> list[tuple[Run, int, int]]:
    """Highest-confidence mistakes over all runs, each example once: (run, index, runs wrong)."""
    wrong_count = np.sum([r.gold != r.predicted for r in entry.runs], axis=0)
    candidates = sorted(
        (((-float(r.probability[i]), int(i), r.seed, r.run_id), r)
         for r in entry.runs for i in np.flatnonzero(r.gold != r.predicted)),
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
    pairs = [(-int(confusion[i, j]), i, j) for i in range(len(group.labels))
             for j in range(len(group.labels)) if i != j and confusion[i, j] > 0]
    return [(i, j, -count) for count, i, j in sorted(pairs)[:ERROR_PAIRS]]


def errors_markdown(groups: Sequence[Group]) -> str:
    lines = ["# Error analysis", "",
             "Linked from [the leaderboard](leaderboard.md). Per backbone: the most confused class pairs "
             "(confusion matrices summed over runs; share = of that gold class's examples) and the most "
             "confident mistakes over all runs, each test example once, ties broken by example index.", ""]
    if not groups:
        lines += ["No runs yet.", ""]
    for group in groups:
        lines += [_group_heading(group), ""]
        for entry in group.entries:
            labels = group.labels
            runs = len(entry.runs)
            lines += [f'<a id="{_anchor(group, entry.backbone)}"></a>', "",
                      f"### {_cell(entry.backbone)} ({_plural(runs, 'run')})", ""]
            pairs = _confused_pairs(group, entry)
            gold_total = np.sum([r.confusion for r in entry.runs], axis=0).sum(axis=1)
            if pairs:
                lines += ["| gold | predicted as | count | share of the gold class |", "|---|---|---|---|"]
                lines += [f"| {_cell(labels[i])} | {_cell(labels[j])} | {c} | {100 * c / gold_total[i]:.2f}% |"
                          for i, j, c in pairs]
            else:
                lines.append("No confusions.")
            mistakes = _mistakes(entry)
            if mistakes:
                lines += ["", "| index | gold | predicted | probability | runs wrong | text |",
                          "|---|---|---|---|---|---|"]
                for run, i, wrong in mistakes:
                    text = run.texts[i]
                    short = text if len(text) <= _TEXT_CHARS else text[:_TEXT_CHARS] + "…"
                    lines.append(f"| {i} | {_cell(labels[run.gold[i]])} | {_cell(labels[run.predicted[i]])} "
                                 f"| {run.probability[i]:.3f} (seed {run.seed}) | {wrong} of {runs} "
                                 f"| {_cell(short)} |")
            lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- CSV


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def leaderboard_csv(groups: Sequence[Group]) -> str:
    """One row per backbone per group; fractions in [0, 1] like metrics.json; empty where unknown."""
    labels = list(dict.fromkeys(label for g in groups for label in g.labels))
    columns = [
        "group", "dataset", "protocol", "test_sha256", "test_examples", "rank", "backbone", "runs", "seeds",
        "accuracy_mean", "accuracy_std", "macro_f1_mean", "macro_f1_std", "macro_f1_ci_low",
        "macro_f1_ci_high", "leader", "paired_seeds", "only_leader_right", "only_this_right",
        "mcnemar_p", "tied_with_leader", "parameters", "train_seconds", "train_examples_per_second",
        "eval_ms_per_example", "peak_memory_mb",
    ] + [f"f1:{label}" for label in labels]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for g in groups:
        for n, e in enumerate(g.entries):
            test = e.versus_leader
            row = [
                g.slug, g.dataset, g.protocol, g.test_sha256, g.n_examples, e.rank, e.backbone, len(e.runs),
                " ".join(map(str, e.seeds)), *e.accuracy, *e.macro_f1, *e.macro_f1_ci, n == 0,
                " ".join(map(str, e.paired_seeds)), test and test.only_first, test and test.only_second,
                test and test.p_value, e.tied, e.runs[0].parameters, e.mean("train_seconds"),
                e.mean("train_examples_per_second"), e.eval_ms_per_example, e.peak_memory_mb,
            ]
            per_class = dict(zip(g.labels, e.per_class_f1.tolist(), strict=True))
            writer.writerow([_csv_value(v) for v in row] + [_csv_value(per_class.get(x)) for x in labels])
    return buffer.getvalue()


# ---------------------------------------------------------------- plots and writing


def _write_plots(group: Group, plots_dir: Path, font: str | None) -> list[Path]:
    out = plots_dir / group.slug
    names, fell_back = plots.plot_labels(group.labels, font)
    if fell_back:
        log.warning("leaderboard: no CJK font found; plots of %s show label ids (see the per-class table "
                    "for names). Install e.g. fonts-noto-cjk to see names.", group.slug)
    written = [
        plots.accuracy_vs_cost(
            out / _plot_name("accuracy-vs-cost"),
            [(e.backbone, e.eval_ms_per_example, e.accuracy[0]) for e in group.entries
             if e.eval_ms_per_example is not None],
            f"{group.protocol} protocol, {group.n_examples} test examples", font),
        plots.per_class_f1(out / _plot_name("per-class-f1"), names,
                           {e.backbone: e.per_class_f1 for e in group.entries}, "Per-class F1", font),
    ]
    for e in group.entries:
        confusion = np.sum([r.confusion for r in e.runs], axis=0)
        written.append(plots.confusion_matrix(
            out / _plot_name("confusion", e.backbone), confusion, names,
            f"{e.backbone}: counts summed over {_plural(len(e.runs), 'run')}, colour = row share", font))
        written.append(plots.training_curves(
            out / _plot_name("curves", e.backbone), [(r.seed, r.history, r.best_step) for r in e.runs],
            f"{e.backbone}: training curves ({group.protocol} protocol)", font))
    return written


def _write_text(path: Path, text: str) -> Path:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8", newline="\n")
    os.replace(temporary, path)
    return path


def _remove_stale_plots(plots_dir: Path, keep: set[Path]) -> None:
    """Plots of backbones or groups no longer present would otherwise linger and mislead."""
    if not plots_dir.is_dir():
        return
    for png in plots_dir.rglob("*.png"):
        if png not in keep:
            png.unlink()
    for folder in sorted(plots_dir.rglob("*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def write_leaderboard(results_dir: Path, *, reported: Sequence | None = None) -> list[Path]:
    """Regenerate the leaderboard files from the run folders in results_dir; return the files written.

    `reported` defaults to the backbone registry (records with name, hub_id, reported_accuracy, note).
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise HarnessError(f"results folder {results_dir} does not exist; runs write their folders there.")
    if reported is None:
        from benchmark.registry import list_backbones  # imports transformers: only when needed

        reported = list_backbones()
    skipped: list[str] = []
    runs = load_runs(results_dir, skipped)
    groups = build_groups(runs, results_dir, skipped)
    font = plots.cjk_font()
    plots_dir = results_dir / "plots"
    written = [png for group in groups for png in _write_plots(group, plots_dir, font)]
    _remove_stale_plots(plots_dir, set(written))
    return [
        _write_text(results_dir / "leaderboard.md", leaderboard_markdown(groups, runs, reported, skipped)),
        _write_text(results_dir / "leaderboard.csv", leaderboard_csv(groups)),
        _write_text(results_dir / "errors.md", errors_markdown(groups)),
        *written,
    ]
