"""Several runs in a row: every backbone with every seed, a failure reported in one line and the rest run.

With several processes (torchrun) the queue stops at the first failure instead: the processes may no longer
be at the same point, and torchrun ends them all. A process stopped by another's failure, or by the
launcher's SIGTERM, says so in one line: the failing process's own message says why.
"""

from __future__ import annotations

import json
import os
import statistics
import traceback
from pathlib import Path

from benchmark.config import OUTPUT_ONLY, RunConfig
from benchmark.console import log, report_error
from benchmark.errors import Diverged, HarnessError, Terminated
from benchmark.settings import Settings


def several_processes() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def peer_failed(error: BaseException) -> bool:
    """A collective operation broken because another process of the group stopped; that process says why."""
    if not several_processes():
        return False
    import torch.distributed

    text = str(error)
    return isinstance(error, getattr(torch.distributed, "DistError", ())) or any(
        marker in text
        for marker in (
            "Connection closed by peer",
            "Connection reset by peer",
            "Broken pipe",
            "NCCL communicator",
            "ProcessGroupGloo",
        )
    )


def foreseen(error: BaseException) -> bool:
    return isinstance(error, HarnessError | Terminated | Diverged) or peer_failed(error)


def failed_by_settings(error: BaseException) -> bool:
    """A failure its settings caused (a loss that diverged, memory run out): a tuning trial that counts as failed.
    Any other failure (a missing file, an unreachable hub, a dead worker) says nothing about the settings."""
    return isinstance(error, Diverged) or type(error).__name__ == "OutOfMemoryError"


def describe_failure(error: Exception) -> str:
    """One line for a failed run; a traceback only for a failure no message foresaw (a bug to report)."""
    if isinstance(error, Diverged):
        return f"{error}" + (f"; {error.folder} is marked failed" if error.folder else "")
    if isinstance(error, HarnessError | Terminated):
        return str(error)
    if peer_failed(error):
        return "stopped because another process of this run failed; its own message says why"
    traceback.print_exc()
    return f"{type(error).__name__}: {error}"


def same_start(config: RunConfig, other: RunConfig) -> bool:
    """Whether two runs start from the same loaded model (seeds of one backbone; benchmark.run.reuse)."""
    return (
        config.model == other.model
        and config.model_path == other.model_path
        and not config.teacher
        and not other.teacher
        and config.smoke == other.smoke
    )


def past_walls(results_dir: Path) -> list[tuple[dict, float]]:
    """(config, wall seconds) of every finished run in a results folder."""
    found = []
    for path in results_dir.glob("*/metrics.json") if results_dir.is_dir() else ():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            found.append((record["config"], float(record["timing"]["wall_seconds"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def estimate(config: RunConfig, past: list[tuple[dict, float]]) -> tuple[float | None, int]:
    """The median wall time of the finished runs with this run's settings (any seed), and how many there were.
    A setting this run leaves to the dataset or the device (None here) matches whatever it became there."""
    wanted = {k: v for k, v in config.to_dict().items() if k not in OUTPUT_ONLY | {"seed"} and v is not None}
    walls = sorted(wall for saved, wall in past if all(saved.get(k) == v for k, v in wanted.items()))
    return (statistics.median(walls) if walls else None), len(walls)


def plan(queue: list[Settings]) -> str:
    """What the queue will run, with the time each backbone's runs took before with these settings."""
    past = past_walls(Path(queue[0].config.results_dir)) if queue else []
    lines, total, unknown = [f"plan: {len(queue)} runs, one after another"], 0.0, 0
    for model in dict.fromkeys(settings.config.model for settings in queue):
        configs = [settings.config for settings in queue if settings.config.model == model]
        seeds = " ".join(str(config.seed) for config in configs)
        seconds, found = estimate(configs[0], past)
        if seconds is None:
            unknown += len(configs)
            lines.append(f"  {model:<14} seeds {seeds:<10} no estimate: no finished run with these settings yet")
        else:
            total += seconds * len(configs)
            lines.append(
                f"  {model:<14} seeds {seeds:<10} about {duration(seconds)} each "
                f"(median of {found} finished run{'s' if found > 1 else ''} with these settings)"
            )
    estimated = f"estimated {duration(total)}" if total else "no estimate"
    lines.append(
        f"{estimated} for {len(queue) - unknown} of {len(queue)} runs"
        + (f"; {unknown} without an estimate" if unknown and total else "")
    )
    return "\n".join(lines)


def duration(seconds: float) -> str:
    return (
        f"{seconds / 3600:.1f} h"
        if seconds >= 5400
        else f"{seconds / 60:.0f} min"
        if seconds >= 90
        else f"{seconds:.0f} s"
    )


def run_queue(queue: list[Settings], skip_finished: bool = False) -> int:
    """Run each run's settings in turn, after printing the plan. The summary at the end lists each run's folder
    or error; the exit status is 1 if any failed."""
    from benchmark.run import driver

    log(plan(queue))
    outcomes = []  # (config, run folder or None, error or None)
    for position, settings in enumerate(queue):
        config = settings.config
        keep = any(same_start(config, later.config) for later in queue[position + 1 :])
        try:
            log(settings.describe())
            outcomes.append((config, driver.run(settings, skip_finished=skip_finished, keep_model=keep), None))
        except Exception as error:  # any failure of one run is reported, and the rest still run
            if isinstance(error, Terminated) and not several_processes():  # but SIGTERM stops the queue
                error.run = error.run or f"{config.model} seed {config.seed} (run {position + 1} of {len(queue)})"
                raise
            message = describe_failure(error)
            report_error(f"{config.model} seed {config.seed}: {message}")
            outcomes.append((config, None, message))
            if several_processes():
                break
    return summarize(outcomes, [s.config for s in queue[len(outcomes) :]])


def listed(config: RunConfig) -> str:
    """A run's name in what the queue prints: a checkpoint of the user's own is named by its --name."""
    return config.name or config.model


def summarize(outcomes: list[tuple], not_run: list[RunConfig] = ()) -> int:
    """Print each run's folder or error, then those not run; 0 when every run finished, else 1."""
    finished = sum(message is None for *_, message in outcomes)
    lines = [f"\nqueue summary: {finished} of {len(outcomes) + len(not_run)} runs finished"]
    for config, folder, message in outcomes:
        lines.append(
            f"  ok      {listed(config)} seed {config.seed}: {folder}"
            if message is None
            else f"  FAILED  {listed(config)} seed {config.seed}: {message}"
        )
    lines += [f"  not run {listed(config)} seed {config.seed}" for config in not_run]
    log("\n".join(lines))
    return 0 if finished == len(outcomes) + len(not_run) else 1
