"""A fair tuning budget (--tune N): every backbone of the command gets the same N trials, drawn by Optuna from its
search space, each an ordinary run of its own, selected on the dev set's main score alone; the settings chosen
are then run once per --seeds for the scores the leaderboard ranks.

The test set is scored for every trial and recorded, as for any run, but never read here: what a trial tells
its study is its dev score (its record's `tuning.dev`). A trial that fails (a loss that diverged) counts against
the budget. Trials run one after another, or through the fan-out (--workers) as many at a time. Run with the
trial seed (--tune-seed, 0) apart from the final seeds (1 2 3), the chosen settings are scored on seeds that did
not choose them.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from dataclasses import dataclass
from pathlib import Path

from benchmark.config import OUTPUT_ONLY, config_fields, value_type
from benchmark.console import log, report_error
from benchmark.errors import HarnessError
from benchmark.record import METRICS_FILE
from benchmark.registry import get_backbone
from benchmark.settings import Settings, check_config, resolve_settings, training_mode
from benchmark.space import default_space, parse_entries, read_space, space_text
from benchmark.tune import study as studies

STUDIES = "studies"  # the folder in --results-dir that keeps the studies


@dataclass
class Options:
    budget: int
    sampler: str = "tpe"
    search: tuple[str, ...] = ()
    search_space: str | None = None
    seed: int = 0
    seeds: tuple[int, ...] = (1, 2, 3)


def space_for(backbone, config, options: Options) -> dict:
    """The backbone's space (or the file's, which replaces it), with --search's dimensions over it, checked
    against the run options' ranges and what the backbone's runs read."""
    space = (
        read_space(Path(options.search_space))
        if options.search_space
        else default_space(backbone, training_mode(config))
    )
    space.update(parse_entries(list(options.search)))
    fields = {spec.name: spec for spec in config_fields()}
    for name, dimension in space.items():
        spec = fields.get(name)
        if spec is None or name in OUTPUT_ONLY or name in ("model", "seed", "smoke"):
            raise HarnessError(f"--search {name}: not a run option a trial can vary (see --help, run options)")
        accepts, kind = spec.metadata.get("range"), value_type(spec)
        for value in dimension.bounds():
            if kind in (int, float) and not isinstance(value, int | float) or accepts and not accepts.admits(value):
                raise HarnessError(
                    f"--search {name}={dimension.text()}: {value!r} is not a value of --{name.replace('_', '-')}"
                    + (f" ({accepts.describe()})" if accepts else "")
                )
    return space


class Study:
    """One backbone's study: its space, its trials' settings, what they told it, and its choice."""

    def __init__(self, name: str, given: dict, options: Options):
        self.backbone, self.given, self.options = get_backbone(name), given, options
        base = resolve_settings(self.backbone, given)
        self.space = space_for(self.backbone, base.config, options)
        self.recommended = {key: getattr(base.config, key) for key in self.space}
        if options.sampler == "grid" and studies.grid_size(self.space, name) < options.budget:
            raise HarnessError(f"--tune {options.budget}: {name}'s grid holds fewer settings; a budget is the same N")
        from benchmark.data.load import dataset_for

        self.main_score = dataset_for(base.config)[0].main_score
        identity = {key: value for key, value in base.config.to_dict().items() if key not in OUTPUT_ONLY | {"seed"}}
        described = json.dumps([identity, space_text(self.space), options.sampler, options.seed], sort_keys=True)
        self.name = f"{name}-{base.config.protocol or 'default'}-{hashlib.sha256(described.encode()).hexdigest()[:8]}"
        self.study = studies.open_study(Path(base.config.results_dir) / STUDIES, self.name)
        studies.ask_again_what_was_lost(self.study)
        self.in_flight: dict[int, object] = {}  # trial number (as the run knows it) -> Optuna trial

    def marker(self, **extra) -> dict:
        return {
            "study": self.name,
            "budget": self.options.budget,
            "sampler": self.options.sampler,
            "seed": self.options.seed,
            "space": space_text(self.space),
            "main_score": self.main_score,
            **extra,
        }

    def settings(self, sampled: dict, seed: int, tuning: dict, origin: str) -> Settings:
        fields = {spec.name: spec for spec in config_fields()}
        values = {
            key: value if isinstance(value, bool | str) else value_type(fields[key])(value)
            for key, value in sampled.items()
        }
        settings = resolve_settings(self.backbone, {**self.given, **values, "seed": seed})
        check_config(settings.config, settings.given)
        settings.origins.update(dict.fromkeys(values, origin))
        settings.tuning = tuning
        return settings

    def next_trial(self) -> Settings | None:
        """The next trial's settings, while the budget allows."""
        if len(studies.counted(self.study)) + len(self.in_flight) >= self.options.budget:
            return None
        trial = studies.ask(self.study, self.options.sampler, self.options.seed, self.space)
        number = studies.trial_number(trial)
        self.in_flight[number] = trial
        tuning = self.marker(trial=number, sampled=dict(trial.params))
        return self.settings(trial.params, self.options.seed, tuning, f"trial {number} of {self.name}")

    def done(self, settings: Settings, folder: Path | None) -> None:
        """Tell the study the trial's dev score (from its record), or that it failed."""
        trial = self.in_flight.pop(settings.tuning["trial"])
        value = None
        if folder is not None:
            record = json.loads((Path(folder) / METRICS_FILE).read_text(encoding="utf-8"))
            value = record["tuning"]["dev"][self.main_score]
        studies.tell(self.study, trial, value)
        shown = ", ".join(
            f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}" for key, value in trial.params.items()
        )
        done = len(studies.counted(self.study))
        scored = f"dev {self.main_score} {value:.4f}" if value is not None else "failed"
        log(f"trial {done}/{self.options.budget} of {self.backbone.name}: {shown}: {scored}")

    def chosen(self):
        """The best trial on dev among the first `budget` counted (a study may hold more from a larger --tune);
        the earliest of equals. None when every one failed."""
        first = studies.counted(self.study)[: self.options.budget]
        complete = [trial for trial in first if trial.value is not None]
        return max(complete, key=lambda t: (t.value, -t.number)) if complete else None

    def final_runs(self) -> list[Settings]:
        chosen = self.chosen()
        if chosen is None:
            report_error(
                f"{self.backbone.name}: every trial of {self.name} failed; nothing to run with chosen settings"
            )
            return []
        trials = len(studies.counted(self.study))
        tuning = self.marker(
            chosen_trial=studies.trial_number(chosen),
            trials=min(trials, self.options.budget),
            sampled=dict(chosen.params),
            recommended=self.recommended,
        )
        origin = f"chosen by {self.name} (trial {studies.trial_number(chosen)})"
        return [self.settings(chosen.params, seed, tuning, origin) for seed in self.options.seeds]


class Trials:
    """Every study's trials as one source of runs (for the fan-out, and one after another)."""

    def __init__(self, studies_: list[Study]):
        self.studies = studies_

    def next_run(self) -> Settings | None:
        for study in self.studies:
            settings = study.next_trial()
            if settings is not None:
                return settings
        return None

    def left(self) -> int:
        return sum(max(0, s.options.budget - len(studies.counted(s.study)) - len(s.in_flight)) for s in self.studies)

    def done(self, settings: Settings, outcome: dict) -> None:
        study = next(s for s in self.studies if s.name == settings.tuning["study"])
        study.done(settings, outcome.get("folder"))


def tune(names: list[str], given: dict, options: Options, fanout=None) -> int:
    """Run every backbone's trials, then its chosen settings once per seed (through `fanout`, a
    benchmark.run.fanout.Fanout, when given); 0 when every chosen run finished. Finished runs are never run
    again, so the same command continues a sweep that was stopped."""
    from benchmark.run.fanout import Waiting
    from benchmark.run.queue import run_queue, summarize

    sweep = Trials([Study(name, given, options) for name in names])
    log(
        f"tuning: {len(names)} backbone(s), {options.budget} trials each ({options.sampler}, seed {options.seed}), "
        f"selected on dev; then the chosen settings with seeds {' '.join(map(str, options.seeds))}"
    )
    if fanout is not None:
        fanout.run(sweep)
    else:
        one_after_another(sweep)
    finals = [settings for study in sweep.studies for settings in study.final_runs()]
    if not finals:
        return 1
    # A failed trial counts against its backbone's budget and is listed; the exit status is the chosen runs'.
    return summarize(fanout.run(Waiting(finals))) if fanout is not None else run_queue(finals, skip_finished=True)


def one_after_another(sweep: Trials) -> None:
    from benchmark.run import driver
    from benchmark.run.queue import describe_failure, foreseen

    while (settings := sweep.next_run()) is not None:
        log(settings.describe())
        try:
            folder = driver.run(settings, skip_finished=True)
        except Exception as error:  # a failed trial counts against the budget; the sweep goes on
            if not foreseen(error):
                traceback.print_exc()
            message = describe_failure(error) if foreseen(error) else f"{type(error).__name__}: {error}"
            report_error(f"{settings.config.model} trial {settings.tuning['trial']}: {message}")
            sweep.done(settings, {})
            continue
        sweep.done(settings, {"folder": folder})
