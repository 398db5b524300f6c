"""Several runs in a row: every backbone with every seed, a failure reported in one line and the rest run.

With several processes (torchrun) the queue stops at the first failure instead: the processes may no longer
be at the same point, and torchrun ends them all. A process stopped by another's failure, or by the
launcher's SIGTERM, says so in one line: the failing process's own message says why.
"""

from __future__ import annotations

import os
import signal
import traceback

from benchmark.config import RunConfig
from benchmark.console import log, report_error
from benchmark.errors import HarnessError


class Terminated(Exception):
    """The launcher (torchrun ending the others when one process failed, or a scheduler) sent SIGTERM."""


def several_processes() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def end_like_an_error_on_sigterm() -> None:
    """torchrun ends the other processes with SIGTERM when one fails: end like an error, so a run folder that
    holds nothing to continue from is removed rather than left behind."""

    def terminated(signum, frame):
        raise Terminated("stopped by SIGTERM from the launcher or scheduler")

    signal.signal(signal.SIGTERM, terminated)


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
    return isinstance(error, HarnessError | Terminated) or peer_failed(error)


def describe_failure(error: Exception) -> str:
    """One line for a failed run; a traceback only for a failure no message foresaw (a bug to report)."""
    if isinstance(error, HarnessError | Terminated):
        return str(error)
    if peer_failed(error):
        return "stopped because another process of this run failed; its own message says why"
    traceback.print_exc()
    return f"{type(error).__name__}: {error}"


def run_queue(queue: list[tuple[RunConfig, str]], skip_finished: bool = False) -> int:
    """Run each (config, description of its settings) in turn. The summary at the end lists each run's folder or
    error; the exit status is 1 if any failed."""
    from benchmark.run.pipeline import run

    outcomes = []  # (config, run folder or None, error or None)
    for config, settings in queue:
        try:
            log(settings)
            outcomes.append((config, run(config, skip_finished=skip_finished), None))
        except Exception as error:  # any failure of one run is reported, and the rest still run
            message = describe_failure(error)
            report_error(f"{config.model} seed {config.seed}: {message}")
            outcomes.append((config, None, message))
            if several_processes():
                break
    finished = sum(message is None for *_, message in outcomes)
    lines = [f"\nqueue summary: {finished} of {len(queue)} runs finished"]
    for config, folder, message in outcomes:
        lines.append(
            f"  ok      {config.model} seed {config.seed}: {folder}"
            if message is None
            else f"  FAILED  {config.model} seed {config.seed}: {message}"
        )
    lines += [f"  not run {config.model} seed {config.seed}" for config, _ in queue[len(outcomes) :]]
    log("\n".join(lines))
    return 0 if finished == len(queue) else 1
