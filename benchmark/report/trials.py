"""A run's place in a tuning sweep, read from its `tuning` section, and the folders of runs that failed.

Format: docs/results-format.md. A trial's section names its study, its number, the budget and its dev scores; a run
of the settings a study chose names the trial chosen, how many trials the study ran and the recommended settings
it departs from. A trial that failed leaves `failed.json` and `run_config.json`, whose `tuning` says which trial it
was: it counts against the budget.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.record import RecordError

MAIN_SCORES = ("accuracy", "macro_f1")


@dataclass(frozen=True)
class Tuning:
    """What the leaderboard needs from a `tuning` section."""

    study: str
    budget: int  # the trials every backbone of the sweep was given
    trial: int | None = None  # a trial's number; None for a run of the chosen settings
    chosen_trial: int | None = None
    trials: int | None = None  # how many trials the study had run when it chose (a chosen run)
    sampler: str = ""
    sampled: dict = field(default_factory=dict)  # the settings drawn for a trial, or those chosen
    recommended: dict = field(default_factory=dict)  # what the backbone runs with untuned, for the same names
    dev: dict = field(default_factory=dict)  # a trial's dev scores with its best weights
    main_score: str = "accuracy"  # what the study selects by

    @property
    def is_trial(self) -> bool:
        return self.trial is not None

    @property
    def trials_run(self) -> int:
        """The trials behind a chosen run: its tuned table is keyed by them."""
        return self.trials if self.trials is not None else self.budget

    @property
    def dev_score(self) -> float:
        return float(self.dev[self.main_score])


def _field(section: dict, name: str, kind: type, required: bool = True):
    value = section.get(name)
    if value is None:
        if required:
            raise RecordError(f"missing field 'tuning.{name}'")
        return None
    if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
        expected = "a non-negative int" if kind is int else kind.__name__
        raise RecordError(f"field 'tuning.{name}' should be {expected}, found {str(value)[:40]!r}")
    return value


def parse_tuning(section: dict, failed: bool = False) -> Tuning:
    """A `tuning` section checked; RecordError names the field that is wrong. A failed trial records no dev."""
    if not isinstance(section, dict):
        raise RecordError("field 'tuning' should be an object")
    trial = _field(section, "trial", int, required=False)
    chosen = _field(section, "chosen_trial", int, required=False)
    if (trial is None) == (chosen is None):
        raise RecordError("field 'tuning' should name either its 'trial' or the 'chosen_trial'")
    main_score = section.get("main_score", "accuracy")
    if main_score not in MAIN_SCORES:
        raise RecordError(f"field 'tuning.main_score' should be one of {', '.join(MAIN_SCORES)}")
    dev = section.get("dev") or {}
    if trial is not None and not failed:
        score = dev.get(main_score) if isinstance(dev, dict) else None
        if not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score):
            raise RecordError(f"a trial's field 'tuning.dev.{main_score}' should be a finite number")
    budget = _field(section, "budget", int)
    if budget < 1:
        raise RecordError("field 'tuning.budget' should be at least 1")
    return Tuning(
        study=_field(section, "study", str),
        budget=budget,
        trial=trial,
        chosen_trial=chosen,
        trials=_field(section, "trials", int, required=False),
        sampler=str(section.get("sampler") or ""),
        sampled=section.get("sampled") if isinstance(section.get("sampled"), dict) else {},
        recommended=section.get("recommended") if isinstance(section.get("recommended"), dict) else {},
        dev=dev if isinstance(dev, dict) else {},
        main_score=main_score,
    )


@dataclass(frozen=True)
class Failed:
    """A run folder marked failed: one line saying what ran and why, and a failed trial's place in its study."""

    folder: str
    line: str
    tuning: Tuning | None = None


def load_failed(results_dir: Path) -> list[Failed]:
    """Every run folder marked failed (failed.json, with run_config.json beside it), in folder order. Read as plain
    JSON; a file that cannot be read is named as such, and a tuning section that cannot be read counts no trial."""
    found = []
    for path in sorted(results_dir.glob("*/failed.json")):
        folder = path.parent.name
        try:
            failed = json.loads(path.read_text(encoding="utf-8"))
            run_config = json.loads((path.parent / "run_config.json").read_text(encoding="utf-8"))
            config = run_config.get("config", {})
            what = f"{config.get('model')} seed {config.get('seed')}"
            line = f"`{folder}`: {what}: {failed.get('message') or failed.get('reason')}"
        except (OSError, ValueError, AttributeError) as error:
            found.append(Failed(folder, f"`{folder}`: marked failed, but its files cannot be read ({error})"))
            continue
        try:
            tuning = parse_tuning(run_config["tuning"], failed=True) if "tuning" in run_config else None
        except RecordError:
            tuning = None
        found.append(Failed(folder, line, tuning if tuning and tuning.is_trial else None))
    return found
