"""Small Trainer callbacks of every fine-tuning run: a diverged loss and SIGTERM stop it, and a stopwatch times the
steps apart from the dev evaluations."""

from __future__ import annotations

import math
import time

from transformers import TrainerCallback

from benchmark.errors import Diverged
from benchmark.run.signals import raise_if_terminated


class StopOnNonFinite(TrainerCallback):
    """A NaN or infinite loss stops the run at the logging step or dev evaluation where it shows, instead of
    training on to a result no one should rank."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise Diverged("training loss", loss, state.global_step, (logs or {}).get("learning_rate"))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        loss = (metrics or {}).get("eval_loss")
        if loss is not None and not math.isfinite(loss):
            rates = [entry["learning_rate"] for entry in state.log_history if "learning_rate" in entry]
            raise Diverged("dev loss", loss, state.global_step, rates[-1] if rates else None)


class StopOnSigterm(TrainerCallback):
    """Ends training at the next step when SIGTERM arrived and its exception was swallowed on the way."""

    def on_step_end(self, args, state, control, **kwargs):
        raise_if_terminated()


class StopwatchCallback(TrainerCallback):
    """Training time without the time spent evaluating on dev, for an honest throughput.

    A resumed run times only the steps it trains itself, from `first_step` on.
    """

    def __init__(self):
        self.started = self.eval_seconds = 0.0
        self.train_seconds = 0.0
        self.first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()
        self.first_step = state.global_step

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.eval_seconds += (metrics or {}).get("eval_runtime", 0.0)

    def on_train_end(self, args, state, control, **kwargs):
        self.train_seconds = time.perf_counter() - self.started
