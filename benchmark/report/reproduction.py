"""The reproduction check: a published figure beside the measured mean of the same backbone, dataset and protocol.

A figure lies "inside" when it falls in the measured row's 95% bootstrap interval of the same metric. Where the
source recorded its setup (`Reported.setup`), the settings a measured run used differently are named, so a gap
can be traced to tokenisation, length, batch or schedule rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmark.report.ranking import Entry, Group
from benchmark.report.runs import Run


@dataclass(frozen=True)
class Check:
    backbone: str
    metric: str  # accuracy or macro_f1
    reported: float  # a fraction, like the measured figures
    source: str
    note: str
    entry: Entry | None  # the backbone's best row in the group; None when it was not measured there
    setup_differences: tuple[str, ...] = ()  # "setting: reported → measured"

    @property
    def measured(self) -> float | None:
        if self.entry is None:
            return None
        return self.entry.macro_f1[0] if self.metric == "macro_f1" else self.entry.accuracy[0]

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.entry is None:
            return None
        return self.entry.macro_f1_ci if self.metric == "macro_f1" else self.entry.accuracy_ci

    @property
    def difference(self) -> float | None:
        """Measured minus reported: positive where this harness measured more."""
        return None if self.entry is None else self.measured - self.reported

    @property
    def inside(self) -> bool | None:
        if self.entry is None:
            return None
        low, high = self.interval
        return low <= self.reported <= high


def _effective_batch(settings: dict) -> int | None:
    batch = settings.get("batch_size")
    if not isinstance(batch, int):
        return None
    processes = settings.get("environment.num_processes")
    return batch * (settings.get("grad_accum") or 1) * (processes if isinstance(processes, int) else 1)


def _show(value: object) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def setup_differences(setup: dict, run: Run) -> tuple[str, ...]:
    """The reported setup's settings that this run did not use, as "name: reported → measured"."""
    settings = run.settings
    measured = {
        "max_length": settings.get("max_length"),
        "truncation": settings.get("truncation"),
        "batch_size": _effective_batch(settings),
        "learning_rate": settings.get("learning_rate"),
        "epochs": settings.get("epochs"),
        "lowercase": run.lowercase,
    }
    names = {"batch_size": "batch (effective)", "lowercase": "lower-casing"}
    differences = []
    for key in sorted(setup):
        if key not in measured:
            continue
        value = measured[key]
        if key == "epochs" and isinstance(settings.get("max_steps"), int) and settings["max_steps"] > 0:
            differences.append(f"epochs: {setup[key]:g} → max steps {settings['max_steps']}")
        elif value is None or value != setup[key]:
            shown = "not recorded" if value is None else _show(value)
            differences.append(f"{names.get(key, key)}: {_show(setup[key])} → {shown}")
    return tuple(differences)


def reproduction_checks(group: Group, reported: Sequence) -> list[Check]:
    """One check per published figure of this group's dataset and protocol, in backbone and source order.

    `reported` holds (dataset name, Reported) pairs, as the leaderboard receives them.
    """
    figures = sorted(
        (figure for dataset, figure in reported if dataset == group.dataset and figure.protocol == group.protocol),
        key=lambda f: (f.backbone, f.source),
    )
    checks = []
    for figure in figures:
        rows = [e for e in group.entries if e.backbone == figure.backbone]  # in rank order: the best first
        entry = rows[0] if rows else None
        differences = setup_differences(figure.setup, entry.runs[0]) if entry and figure.setup else ()
        metric = "macro_f1" if figure.metric == "macro_f1" else "accuracy"
        checks.append(
            Check(figure.backbone, metric, figure.value / 100, figure.source, figure.note, entry, differences)
        )
    return checks
