"""A fair tuning budget (--tune N): every backbone of the command gets the same N trials, drawn by Optuna from its
search space, each an ordinary run of its own, selected on the dev set's main score alone; the settings chosen
are then run once per --seeds for the scores the leaderboard ranks.

The test set is scored for every trial and recorded, as for any run, but never read here: what a trial tells
its study is its dev score (its record's `tuning.dev`). A trial its settings fail (a loss that diverged, memory
run out) counts against the budget; any other failure (a missing file, a dead worker) stops that backbone's
study, and the same command continues it with that trial. Trials run one after another, or through the fan-out
(--workers) as many at a time. Run with the trial seed (--tune-seed, 0) apart from the final seeds (1 2 3), the
chosen settings are scored on seeds that did not choose them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
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
        else default_space(backbone, training_mode(config), training_mode(resolve_settings(backbone, {}).config))
    )
    space.update(parse_entries(list(options.search)))
    fields = {spec.name: spec for spec in config_fields()}
    for name, dimension in space.items():
        spec = fields.get(name)
        if spec is None or name in OUTPUT_ONLY or name in ("model", "seed", "smoke"):
            raise HarnessError(f"--search {name}: not a run option a trial can vary (see --help, run options)")
        accepts, kind = spec.metadata.get("range"), value_type(spec)
        whole = (
            dimension.kind == "int"
            or dimension.kind == "choice"
            and all(isinstance(value, int) and not isinstance(value, bool) for value in dimension.values)
        )
        if kind is int and not whole:
            raise HarnessError(
                f"--search {name}={dimension.text()}: --{name.replace('_', '-')} takes whole numbers; expected a "
                f"range of them (2:4) or a list (16,32,64)"
            )
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
        self.lock = studies.hold(Path(base.config.results_dir) / STUDIES, self.name)
        self.study = studies.open_study(Path(base.config.results_dir) / STUDIES, self.name)
        studies.ask_again_what_was_lost(self.study)
        self.in_flight: dict[int, object] = {}  # trial number (as the run knows it) -> Optuna trial
        # The trials counted against the budget: read once, then kept here, since this command alone tells the study
        # (its lock) and the fan-out asks how many are left several times a second.
        self.spent = len(studies.counted(self.study))
        self.stopped: str | None = None  # why no more trials are asked: a failure its settings did not cause

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
        if self.stopped or self.spent + len(self.in_flight) >= self.options.budget:
            return None
        trial = studies.ask(self.study, self.options.sampler, self.options.seed, self.space)
        number = studies.trial_number(trial)
        tuning = self.marker(trial=number, sampled=dict(trial.params))
        try:
            settings = self.settings(trial.params, self.options.seed, tuning, f"trial {number} of {self.name}")
        except HarnessError:  # settings the run refuses: the space's fault, not a trial to count or ask again
            studies.discard(self.study, trial)
            raise
        self.in_flight[number] = trial
        return settings

    def done(self, settings: Settings, outcome: dict) -> None:
        """Tell the study the trial's dev score (from its record), or that its settings failed (a loss that
        diverged, memory run out). A failure of any other kind (a missing file, a dead worker) is not the settings'
        doing: the trial is left untold, no further trial is asked, and the same command runs it again."""
        number = settings.tuning["trial"]
        trial = self.in_flight.pop(number)
        value = None
        if outcome.get("folder") is not None:
            record = json.loads((Path(outcome["folder"]) / METRICS_FILE).read_text(encoding="utf-8"))
            value = record["tuning"]["dev"][self.main_score]
            trial.set_user_attr(studies.DEV_LOSS, record["tuning"]["dev"]["loss"])  # breaks ties of the main score
        elif not outcome.get("failed_by_settings"):
            self.stopped = f"trial {number} failed: {outcome.get('error', 'no result')}"
            return
        studies.tell(self.study, trial, value)
        self.spent += 1
        shown = ", ".join(
            f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}" for key, value in trial.params.items()
        )
        scored = f"dev {self.main_score} {value:.4f}" if value is not None else "failed"
        log(f"trial {self.spent}/{self.options.budget} of {self.backbone.name}: {shown}: {scored}")

    def chosen(self):
        """The best trial on dev among the first `budget` counted (a study may hold more from a larger --tune).
        A dev set of a thousand examples often ties trials on accuracy: the lower dev loss, then the earlier trial,
        decides. None when every one failed."""
        return studies.best(studies.counted(self.study)[: self.options.budget])

    def final_runs(self) -> list[Settings]:
        if self.stopped:
            report_error(
                f"{self.backbone.name}: {self.name} stopped, {self.stopped}; that is not its settings' doing, so it "
                f"does not count: fix the cause and run the same command again, which continues with that trial"
            )
            return []
        chosen = self.chosen()
        if chosen is None:
            report_error(
                f"{self.backbone.name}: every trial of {self.name} failed; nothing to run with chosen settings"
            )
            return []
        tuning = self.marker(
            chosen_trial=studies.trial_number(chosen),
            trials=min(self.spent, self.options.budget),
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
        return sum(max(0, s.options.budget - s.spent - len(s.in_flight)) for s in self.studies if not s.stopped)

    def done(self, settings: Settings, outcome: dict) -> None:
        study = next(s for s in self.studies if s.name == settings.tuning["study"])
        study.done(settings, outcome)


def tune(names: list[str], given: dict, options: Options, fanout=None) -> int:
    """Run every backbone's trials, then its chosen settings once per seed (through `fanout`, a
    benchmark.run.fanout.Fanout, when given); 0 when every chosen run finished. Finished runs are never run
    again, so the same command continues a sweep that was stopped."""
    with contextlib.ExitStack() as held:
        sweep = Trials([])
        for name in names:
            sweep.studies.append(Study(name, given, options))
            held.callback(sweep.studies[-1].lock.close)  # the study's lock, released when the sweep ends
        log(
            f"tuning: {len(names)} backbone(s), {options.budget} trials each ({options.sampler}, seed "
            f"{options.seed}), selected on dev; then the chosen settings with seeds {' '.join(map(str, options.seeds))}"
        )
        return sweep_then_chosen(sweep, fanout)


def sweep_then_chosen(sweep: Trials, fanout) -> int:
    from benchmark.run.fanout import Waiting
    from benchmark.run.queue import run_queue, summarize

    if fanout is not None:
        fanout.run(sweep)
    else:
        one_after_another(sweep)
    per_study = [study.final_runs() for study in sweep.studies]
    finals, complete = [settings for runs in per_study for settings in runs], all(per_study)
    if not finals:
        return 1
    # A failed trial counts against its backbone's budget and is listed; the exit status is the chosen runs', and 1
    # where a study chose nothing.
    code = summarize(fanout.run(Waiting(finals))) if fanout is not None else run_queue(finals, skip_finished=True)
    return code or (0 if complete else 1)


def one_after_another(sweep: Trials) -> None:
    from benchmark.run import driver
    from benchmark.run.queue import describe_failure, failed_by_settings

    while (settings := sweep.next_run()) is not None:
        log(settings.describe())
        try:
            folder = driver.run(settings, skip_finished=True)
        except Exception as error:  # one line; the sweep goes on with the other trials
            message = describe_failure(error)  # with a traceback where no message foresaw the failure
            report_error(f"{settings.config.model} trial {settings.tuning['trial']}: {message}")
            sweep.done(settings, {"error": message, "failed_by_settings": failed_by_settings(error)})
            continue
        sweep.done(settings, {"folder": folder})
