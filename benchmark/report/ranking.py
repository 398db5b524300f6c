"""From runs to ranked rows: groups of comparable runs, one row per backbone and settings, statistics.

A row (an `Entry`) pools the runs of one backbone with identical settings (`Run.settings`), which
may differ only in their seed. When a backbone has rows with different settings in one group, each
row's label names the settings that tell them apart.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.report import stats
from benchmark.report.format import slug
from benchmark.report.runs import Run, skip

ALPHA = 0.05

# How settings are named in labels: the config's own field names, and these from elsewhere in metrics.json.
_SETTING_NAMES = {
    "backbone.source": "source",
    "backbone.parameters": "parameters",
    "environment.num_processes": "processes",
}
# A hub id such as `hfl/chinese-macbert-base`; any other source is a local folder.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


@dataclass(eq=False)
class Entry:
    """One row of a group: a backbone with one set of settings, summarised over its runs (seeds)."""

    backbone: str
    runs: list[Run]
    # The settings that tell this row from the backbone's other rows in the group; "" when it has one.
    settings: str = ""
    rank: int = 0
    accuracy: tuple[float, float | None] = (0.0, None)
    macro_f1: tuple[float, float | None] = (0.0, None)
    macro_f1_ci: tuple[float, float] = (0.0, 0.0)
    per_class_f1: np.ndarray = field(default_factory=lambda: np.zeros(0))
    versus_leader: stats.McNemar | None = None
    paired_seeds: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        """The row's name wherever it is shown."""
        return f"{self.backbone} · {self.settings}" if self.settings else self.backbone

    @property
    def settings_id(self) -> str:
        return self.runs[0].settings_id

    @property
    def key(self) -> str:
        """Distinct within a group and stable across regenerations: names the row's plots and anchors."""
        return f"{self.backbone}-{self.settings_id}" if self.settings else self.backbone

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
    main_score: str = "accuracy"  # what the rows are ranked by; the other score breaks ties

    @property
    def n_examples(self) -> int:
        return len(self.entries[0].runs[0].gold)

    @property
    def devices(self) -> list[tuple[str, int]]:
        counts = Counter(run.device for entry in self.entries for run in entry.runs)
        return sorted(counts.items())


# ---------------------------------------------------------------- settings labels


def _name(key: str) -> str:
    if key.startswith("data."):
        return f"{key.removeprefix('data.')} file"
    return _SETTING_NAMES.get(key, key)


def _show(key: str, settings: dict, shorten: bool) -> str:
    if key not in settings:
        return "unset"
    value = settings[key]
    if key.startswith("data.") and shorten and isinstance(value, str):
        return value[:8]  # a file's hash, shortened as the test file's is in the headings
    if key == "backbone.parameters" and isinstance(value, int):
        return f"{value:,}"
    if key == "backbone.source" and shorten and isinstance(value, str) and not _HUB_ID.fullmatch(value):
        # A local folder's full path names the user's machine; its last part usually tells folders apart.
        return "…/" + re.split(r"[\\/]", value.rstrip("\\/"))[-1]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def differing_settings(variants: Sequence[Run]) -> list[str]:
    """For runs of one backbone with different settings, one per variant: the settings that differ, as text."""
    # In the order of the names shown, so labels read alphabetically.
    keys = sorted({key for run in variants for key in run.settings}, key=lambda k: (_name(k), k))
    differing = [
        key
        for key in keys
        if len({json.dumps(run.settings.get(key), sort_keys=True) if key in run.settings else None for run in variants})
        > 1
    ]

    def describe(run: Run, shorten: bool) -> str:
        return ", ".join(f"{_name(key)} {_show(key, run.settings, shorten)}" for key in differing)

    texts = [describe(run, shorten=True) for run in variants]
    if len(set(texts)) < len(texts):
        texts = [describe(run, shorten=False) for run in variants]
    if len(set(texts)) < len(texts):  # values that only differ in type, such as 32 and "32"
        texts = [f"{text} [{run.settings_id}]" for text, run in zip(texts, variants, strict=True)]
    return texts


# ---------------------------------------------------------------- grouping and statistics


def _consistent(runs: list[Run], results_dir: Path, skipped: list[str]) -> list[Run]:
    """Drop runs whose labels or gold answers differ from the group's majority, and repeated seeds of a row."""
    runs = sorted(runs, key=lambda r: (r.backbone, r.settings_key, r.seed, r.run_id))
    signature = Counter((r.labels, r.gold.tobytes()) for r in runs).most_common(1)[0][0]
    kept: dict[tuple[str, str, int], Run] = {}
    for run in runs:
        path = results_dir / run.folder / "predictions.csv"
        if (run.labels, run.gold.tobytes()) != signature:
            skip(skipped, results_dir, path, "labels or gold answers differ from other runs on this test file")
            continue
        row_seed = (run.backbone, run.settings_key, run.seed)
        previous = kept.get(row_seed)
        if previous is not None:
            # Run ids end in a timestamp, so the id sorting last is the newest run of this seed.
            skip(
                skipped,
                results_dir,
                results_dir / previous.folder / "metrics.json",
                f"same backbone, settings and seed as run {run.run_id}, which supersedes it",
            )
        kept[row_seed] = run
    return list(kept.values())


def _summarise(backbone: str, settings: str, runs: list[Run], k: int) -> Entry:
    entry = Entry(backbone, sorted(runs, key=lambda r: (r.seed, r.run_id)), settings)
    entry.accuracy = stats.mean_std([r.accuracy for r in entry.runs])
    entry.macro_f1 = stats.mean_std([r.macro_f1 for r in entry.runs])
    samples = stats.bootstrap_macro_f1(entry.runs[0].gold, [r.predicted for r in entry.runs], k)
    entry.macro_f1_ci = stats.percentile_interval(samples)
    entry.per_class_f1 = np.mean([r.per_class_f1 for r in entry.runs], axis=0)
    return entry


def _entries(members: list[Run], k: int) -> list[Entry]:
    """One entry per backbone and settings, each labelled by what differs from the backbone's other rows."""
    rows: dict[str, dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for run in members:
        rows[run.backbone][run.settings_key].append(run)
    entries = []
    for backbone, variants in sorted(rows.items()):
        keys = sorted(variants)
        texts = differing_settings([variants[key][0] for key in keys]) if len(keys) > 1 else [""]
        entries += [_summarise(backbone, text, variants[key], k) for key, text in zip(keys, texts, strict=True)]
    return entries


def _compare_with_leader(leader: Entry, entry: Entry) -> None:
    """McNemar on strict-majority correctness over the seeds both rows ran."""
    shared = sorted(set(leader.seeds) & set(entry.seeds))
    if not shared:
        return

    def correct(e: Entry) -> np.ndarray:
        chosen = [r for r in e.runs if r.seed in shared]
        return stats.majority_correct(np.array([r.gold == r.predicted for r in chosen]))

    entry.paired_seeds = tuple(shared)
    entry.versus_leader = stats.mcnemar(correct(leader), correct(entry))


def main_value(entry: Entry, main_score: str) -> float:
    return entry.macro_f1[0] if main_score == "macro_f1" else entry.accuracy[0]


def _rank(entries: list[Entry], main_score: str = "accuracy") -> list[Entry]:
    other = "accuracy" if main_score == "macro_f1" else "macro_f1"

    # Means are rounded before comparing so summation order cannot split an exact tie.
    def key(e: Entry):
        main, second = round(main_value(e, main_score), 12), round(main_value(e, other), 12)
        return (-main, -second, e.backbone, e.settings, e.settings_id)

    entries = sorted(entries, key=key)
    for entry in entries:
        entry.rank = 1 + sum(
            round(main_value(o, main_score), 12) > round(main_value(entry, main_score), 12) for o in entries
        )
    for entry in entries[1:]:
        _compare_with_leader(entries[0], entry)
    return entries


def build_groups(runs: Sequence[Run], results_dir: Path, skipped: list[str]) -> list[Group]:
    """One ranked group per (dataset, protocol, test sha256); smoke runs and unranked runs are left out."""
    by_key: dict[tuple[str, str, str], list[Run]] = defaultdict(list)
    for run in runs:
        if not run.smoke and run.unranked is None:
            by_key[(run.dataset, run.protocol, run.test_sha256)].append(run)
    groups, slugs = [], set()
    for dataset, protocol, sha256 in sorted(by_key):
        members = _consistent(by_key[(dataset, protocol, sha256)], results_dir, skipped)
        labels = members[0].labels
        main_score = Counter(run.main_score for run in members).most_common(1)[0][0]
        entries = _rank(_entries(members, len(labels)), main_score)
        name = base = slug(f"{dataset}-{protocol}-{sha256[:8]}")
        suffix = 1
        while name in slugs:  # names that only differ in characters the slug drops
            suffix += 1
            name = f"{base}-{suffix}"
        slugs.add(name)
        groups.append(Group(dataset, protocol, sha256, labels, name, entries, main_score))
    return groups
