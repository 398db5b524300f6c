"""Checkpoints during training: when a resumable one is written."""

from __future__ import annotations

import math

from transformers import TrainerCallback


class CheckpointCadence(TrainerCallback):
    """Which dev evaluations leave a checkpoint: every new best of the selected dev score (the one restored at the
    end), and the first evaluation `save_every` or more steps after the previous checkpoint, so a killed run can
    resume without losing more than about that many steps."""

    def __init__(self, save_every: int, select_by: str = "loss"):
        self.save_every, self.metric, self.higher = save_every, f"eval_{select_by}", select_by != "loss"
        self.last_saved = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.last_saved = state.global_step  # a resumed run starts at its checkpoint

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        # Trainer updates best_metric after this callback, so it still holds the previous best here.
        value = (metrics or {}).get(self.metric, -math.inf if self.higher else math.inf)
        new_best = state.best_metric is None or (
            value > state.best_metric if self.higher else value < state.best_metric
        )
        due = self.save_every > 0 and state.global_step - self.last_saved >= self.save_every
        control.should_save = new_best or due

    def on_save(self, args, state, control, **kwargs):
        self.last_saved = state.global_step
