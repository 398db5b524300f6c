"""From runs to ranked rows: groups of comparable runs, one row per backbone and settings, statistics.

A row (an `Entry`) pools the runs of one backbone with identical settings (`Run.settings`), which
may differ only in their seed. When a backbone has rows with different settings in one group, each
row's label names the settings that tell them apart.

Every pair of rows is compared with McNemar's test, and the p-values of a group are adjusted together
with Holm's method, so "differs" holds for all comparisons at once. A row's rank range runs from one
plus the rows significantly better than it to the count of rows minus those significantly worse.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.report import stats
from benchmark.report.format import slug
from benchmark.report.labels import differing_settings
from benchmark.report.runs import Run, skip

ALPHA = 0.05


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
    accuracy_ci: tuple[float, float] = (0.0, 0.0)
    rank_range: tuple[int, int] = (0, 0)
    per_class_f1: np.ndarray = field(default_factory=lambda: np.zeros(0))
    versus_leader: Pair | None = None

    @property
    def paired_seeds(self) -> tuple[int, ...]:
        return self.versus_leader.seeds if self.versus_leader else ()

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
        return None if self.versus_leader is None else not self.versus_leader.significant

    @property
    def distinct_runs(self) -> list[Run]:
        """One run per distinct result: runs whose predictions and probabilities agree bit for bit are one
        measurement, not several (a deterministic method repeated with other seeds)."""
        seen: dict[bytes, Run] = {}
        for run in self.runs:
            seen.setdefault(run.result_fingerprint, run)
        return list(seen.values())

    @property
    def deterministic(self) -> bool:
        """More than one run, and all gave the same result."""
        return len(self.runs) > 1 and len(self.distinct_runs) == 1

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
class Pair:
    """McNemar's test of two rows on the seeds both ran, `first` ranked above `second`."""

    first: Entry
    second: Entry
    seeds: tuple[int, ...]
    test: stats.McNemar
    p_holm: float = 1.0  # adjusted over every pair of the group

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    @property
    def better(self) -> Entry | None:
        """The row right on more of the examples where they disagree, when the difference is significant."""
        if not self.significant:
            return None
        return self.first if self.test.only_first > self.test.only_second else self.second

    def disagreement(self, n_examples: int) -> float:
        return (self.test.only_first + self.test.only_second) / n_examples


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
    pairs: list[Pair] = field(default_factory=list)  # every two rows with a seed in common, in rank order
    # Runs of tuned settings: the trials their studies ran; None for the recommended settings. Tuned runs had a
    # budget untuned runs did not, and fewer trials find worse settings, so each budget is a table of its own.
    budget: int | None = None
    # The most trials behind any tuned table of this dataset, protocol and test file; None where none was tuned.
    most_trials: int | None = None

    @property
    def n_examples(self) -> int:
        return len(self.entries[0].runs[0].gold)

    @property
    def resolvable_difference(self) -> float | None:
        """The smallest accuracy difference this test set resolves (α = ALPHA, power 80%) at the median share
        of examples on which two rows of this group disagree; None with fewer than two compared rows."""
        median = self.median_disagreement
        return None if median is None else stats.resolvable_difference(median, self.n_examples, ALPHA)

    @property
    def median_disagreement(self) -> float | None:
        return float(np.median([p.disagreement(self.n_examples) for p in self.pairs])) if self.pairs else None

    @property
    def devices(self) -> list[tuple[str, int]]:
        counts = Counter(run.device for entry in self.entries for run in entry.runs)
        return sorted(counts.items())


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
    """Means, spreads and intervals over the distinct results only: repeating a deterministic method with
    other seeds adds no measurement, and would show a spread of 0 as if one had been measured."""
    entry = Entry(backbone, sorted(runs, key=lambda r: (r.seed, r.run_id)), settings)
    independent = entry.distinct_runs
    entry.accuracy = stats.mean_std([r.accuracy for r in independent])
    entry.macro_f1 = stats.mean_std([r.macro_f1 for r in independent])
    gold, predictions = independent[0].gold, [r.predicted for r in independent]
    entry.macro_f1_ci = stats.percentile_interval(stats.bootstrap_macro_f1(gold, predictions, k))
    entry.accuracy_ci = stats.percentile_interval(stats.bootstrap_accuracy(gold, predictions))
    entry.per_class_f1 = np.mean([r.per_class_f1 for r in independent], axis=0)
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


def _compare(first: Entry, second: Entry) -> Pair | None:
    """McNemar on strict-majority correctness over the seeds both rows ran; None when they share no seed."""
    shared = tuple(sorted(set(first.seeds) & set(second.seeds)))
    if not shared:
        return None

    def correct(e: Entry) -> np.ndarray:
        chosen = [r for r in e.runs if r.seed in shared]
        return stats.majority_correct(np.array([r.gold == r.predicted for r in chosen]))

    return Pair(first, second, shared, stats.mcnemar(correct(first), correct(second)))


def _compare_all(entries: list[Entry]) -> list[Pair]:
    """Every pair with a seed in common, Holm-adjusted together; then each row's rank range and its pair with
    the leader."""
    pairs = [p for i, a in enumerate(entries) for b in entries[i + 1 :] if (p := _compare(a, b)) is not None]
    for pair, adjusted in zip(pairs, stats.holm([p.test.p_value for p in pairs]), strict=True):
        pair.p_holm = adjusted
    for entry in entries:
        mine = [p for p in pairs if entry in (p.first, p.second)]
        above = sum(p.better is not None and p.better is not entry for p in mine)
        below = sum(p.better is entry for p in mine)
        # Ranked by macro-F1, a row may beat another on accuracy's test yet sit below it; its range keeps its rank.
        entry.rank_range = (min(1 + above, entry.rank), max(len(entries) - below, entry.rank))
    for pair in pairs:
        if pair.first is entries[0]:
            pair.second.versus_leader = pair
    return pairs


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
    return entries


def _table(run: Run) -> int | None:
    """Which table of its test file a run belongs to: the trials behind its tuned settings, None when untuned."""
    return run.tuning.trials_run if run.tuning else None


def build_groups(runs: Sequence[Run], results_dir: Path, skipped: list[str]) -> list[Group]:
    """One ranked group per (dataset, protocol, test sha256) and tuning budget: the recommended settings first, then
    the tuned, most trials first. Smoke runs, unranked runs and tuning trials are left out."""
    by_key: dict[tuple[str, str, str, int | None], list[Run]] = defaultdict(list)
    for run in runs:
        if not run.smoke and run.unranked is None and not run.is_trial:
            by_key[(run.dataset, run.protocol, run.test_sha256, _table(run))].append(run)
    most: dict[tuple[str, str, str], int] = {}
    for dataset, protocol, sha256, budget in by_key:
        if budget is not None:
            most[(dataset, protocol, sha256)] = max(budget, most.get((dataset, protocol, sha256), 0))
    groups, slugs = [], set()
    for dataset, protocol, sha256, budget in sorted(by_key, key=lambda k: (*k[:3], k[3] is not None, -(k[3] or 0))):
        members = _consistent(by_key[(dataset, protocol, sha256, budget)], results_dir, skipped)
        labels = members[0].labels
        main_score = Counter(run.main_score for run in members).most_common(1)[0][0]
        entries = _rank(_entries(members, len(labels)), main_score)
        pairs = _compare_all(entries)
        name = base = slug(f"{dataset}-{protocol}-{sha256[:8]}" + (f"-tuned-{budget}" if budget is not None else ""))
        suffix = 1
        while name in slugs:  # names that only differ in characters the slug drops
            suffix += 1
            name = f"{base}-{suffix}"
        slugs.add(name)
        group = Group(dataset, protocol, sha256, labels, name, entries, main_score, pairs, budget)
        group.most_trials = most.get((dataset, protocol, sha256))
        groups.append(group)
    return groups
