"""Trainer callbacks the tests add to a run, in this process or in a child process (`python -c`, with this
folder on PYTHONPATH)."""

from __future__ import annotations

import os
import signal
import time

from transformers import TrainerCallback

from benchmark.run import finetune


def with_callback(build, callback):
    """`finetune.build_trainer` that also adds `callback` to the trainer it builds."""

    def build_with_callback(*args, **kwargs):
        trainer, stopwatch = build(*args, **kwargs)
        trainer.add_callback(callback)
        return trainer, stopwatch

    return build_with_callback


def add_to_runs(callback) -> None:
    """For a child process: every run it makes gets `callback`."""
    finetune.build_trainer = with_callback(finetune.build_trainer, callback)


class KillAt(TrainerCallback):
    """The main process kills itself (SIGKILL, no clean-up) at the end of step `step`."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step and args.process_index == 0:
            os.kill(os.getpid(), signal.SIGKILL)


class SlowFrom(TrainerCallback):
    """Each step from `step` on takes a second longer, so a test can kill the run there."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            time.sleep(1.0)
