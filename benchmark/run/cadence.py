"""When training leaves a resumable checkpoint (benchmark.run.checkpoints writes it)."""

from __future__ import annotations

import math
import time

from transformers import TrainerCallback


class CheckpointCadence(TrainerCallback):
    """Which dev evaluations leave a resumable checkpoint: the first one `save_every_minutes` or more minutes of
    training, or `save_every` or more steps, after the previous checkpoint, so a killed run loses at most about
    that much. Time is the default measure because what a kill loses is time: 500 steps are half an hour of a
    CPU and a few seconds of a fast GPU, where a checkpoint every few seconds would cost more than the steps.
    With `save_best` (FSDP and DeepSpeed, whose sharded weights the harness does not copy in memory) also every
    new best of the selected dev score, which Trainer restores at the end."""

    def __init__(
        self,
        save_every: int,
        select_by: str = "loss",
        save_best: bool = False,
        save_every_minutes: float = 0.0,
        clock=time.monotonic,
    ):
        self.save_every, self.metric, self.higher = save_every, f"eval_{select_by}", select_by != "loss"
        self.save_best, self.seconds, self.clock = save_best, 60 * save_every_minutes, clock
        self.last_saved, self.last_saved_at = 0, 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.last_saved = state.global_step  # a resumed run starts at its checkpoint
        self.last_saved_at = self.clock()

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        # Trainer updates best_metric after this callback, so it still holds the previous best here.
        value = (metrics or {}).get(self.metric, -math.inf if self.higher else math.inf)
        new_best = state.best_metric is None or (
            value > state.best_metric if self.higher else value < state.best_metric
        )
        due = (self.save_every > 0 and state.global_step - self.last_saved >= self.save_every) or (
            self.seconds > 0 and self._since_saved(args) >= self.seconds
        )
        control.should_save = due or (self.save_best and new_best)

    def _since_saved(self, args) -> float:
        """Seconds since the last checkpoint by the main process's clock, so that all processes decide alike."""
        elapsed = [self.clock() - self.last_saved_at]
        if args is not None and args.world_size > 1:
            from accelerate.utils import broadcast_object_list

            broadcast_object_list(elapsed)
        return elapsed[0]

    def on_save(self, args, state, control, **kwargs):
        self.last_saved, self.last_saved_at = state.global_step, self.clock()
