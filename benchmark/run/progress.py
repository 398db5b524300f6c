"""Training progress that fits where it is shown: a bar on a terminal, a few dozen lines in a file or Slurm log."""

from __future__ import annotations

import math
import sys
import time

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from benchmark.console import log

# Without a terminal, a line at each tenth of the steps and at least once a minute: a three-epoch run's log stays
# a few dozen lines however long it trains.
LINE_EVERY_SHARE = 0.1
LINE_EVERY_SECONDS = 60.0


def progress_for_output(stream=None) -> TrainerCallback:
    """The bar where the output is a terminal, else lines (a bar redrawn at every step would be one line of
    thousands of carriage returns in a file)."""
    stream = stream or sys.stderr  # where tqdm draws
    return LiveProgress() if stream.isatty() else ProgressLines()


def quiet_library_bars(stream=None) -> None:
    """Without a terminal, the libraries' own bars (hub downloads, writing model shards) are left out too: each
    would be one line of carriage returns in the log."""
    if not (stream or sys.stderr).isatty():
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging

        disable_progress_bars()
        logging.disable_progress_bar()


class LiveProgress(ProgressCallback):
    """The usual progress bar, with the latest dev loss and accuracy beside it."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        super().on_evaluate(args, state, control, **kwargs)
        if self.training_bar is not None and metrics:
            self.training_bar.set_postfix(
                dev_loss=f"{metrics.get('eval_loss', math.nan):.4f}",
                dev_acc=f"{metrics.get('eval_accuracy', math.nan):.4f}",
                best=f"{state.best_metric:.4f}" if state.best_metric is not None else "-",
            )

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass  # metrics go to the bar's postfix and the results file, not to interleaved prints

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        pass  # a second bar for every dev evaluation would only flicker


def clock_time(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressLines(TrainerCallback):
    """One line per tenth of the steps or per minute, whichever comes first: step, train loss, the latest dev
    scores, the best so far, the time taken and the time left."""

    def __init__(self, clock=time.monotonic):
        self.clock, self.every_share, self.every_seconds = clock, LINE_EVERY_SHARE, LINE_EVERY_SECONDS
        self.loss = self.dev = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self.last = self.clock()
        self.first = state.global_step  # a resumed run counts its own steps for the estimate
        self.stride = max(1, math.ceil(state.max_steps * self.every_share))
        self.next = (state.global_step // self.stride + 1) * self.stride

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.loss = logs["loss"]

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.dev = metrics or self.dev

    def on_step_end(self, args, state, control, **kwargs):
        now, step = self.clock(), state.global_step
        if step >= self.next or now - self.last >= self.every_seconds or step == state.max_steps:
            self.last, self.next = now, (step // self.stride + 1) * self.stride
            log(self.line(state, now))

    def line(self, state, now: float) -> str:
        step, total = state.global_step, state.max_steps
        parts = [f"step {step:,}/{total:,} ({100 * step / max(total, 1):.0f}%)"]
        if self.loss is not None:
            parts.append(f"train loss {self.loss:.4f}")
        if self.dev:
            loss, accuracy = self.dev.get("eval_loss", math.nan), self.dev.get("eval_accuracy", math.nan)
            parts.append(f"dev loss {loss:.4f}, accuracy {accuracy:.4f}")
        if state.best_metric is not None:
            parts.append(f"best {state.best_metric:.4f}")
        elapsed, done = now - self.started, step - self.first
        left = f", about {clock_time(elapsed / done * (total - step))} left" if done > 0 and step < total else ""
        return ", ".join(parts) + f"; {clock_time(elapsed)} elapsed{left}"
