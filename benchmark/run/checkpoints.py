"""Checkpoints during training: the best weights in memory, resumable checkpoints written in the background.

A new best dev score no longer writes a checkpoint: its weights are copied in memory (on the GPU where there
is room for a second copy, else on the host) and restored when training ends, so early stopping scores exactly
the best weights. A full resumable checkpoint (weights, optimiser, schedule, random states, data position,
callback states) is written only when `benchmark.run.cadence` says (every `--save-every-minutes` of training,
or `--save-every` steps): the training loop copies the state to host memory and goes on while a background
thread writes the files into `checkpoint-N.partial/` and renames the folder into place once every file is whole
and synced. Resume reads `checkpoint-<digits>` folders only, so a write cut short is
never picked (and is removed when the run is resumed). Beside a checkpoint whose own weights are not the best
so far, `best_model.safetensors` holds the best weights, so they survive a resume.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers.trainer import OPTIMIZER_NAME, SCHEDULER_NAME, TRAINER_STATE_NAME
from transformers.trainer_callback import ExportableState, TrainerCallback

from benchmark.errors import HarnessError
from benchmark.phases import size_of
from benchmark.run.writer import PARTIAL, CheckpointWriter, partial_folder, save_failure

BEST_FILE = "best_model.safetensors"


def copy_state(value, device: str | torch.device = "cpu"):
    """A copy of a state (tensors, in dicts, lists and tuples) that training cannot change under a writer."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(device, copy=True)
    if isinstance(value, dict):
        return {key: copy_state(item, device) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(copy_state(item, device) for item in value)
    return value


def trained_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The tensors training changes, those that require a gradient: never a LoRA run's frozen base."""
    trained = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    return {name: tensor for name, tensor in model.state_dict().items() if name in trained}


def best_weights_device(model: torch.nn.Module) -> torch.device:
    """The GPU the model is on when a second copy of its weights fits with room to spare, else the host."""
    device = next(model.parameters()).device
    if device.type == "cuda":
        size = sum(t.numel() * t.element_size() for t in trained_state(model).values())
        if torch.cuda.mem_get_info(device)[0] > 4 * size:
            return device
    return torch.device("cpu")


class KeepBest(TrainerCallback):
    """Each new best of the selected dev score: its trained weights copied in memory (a new dict each time: a
    checkpoint being written may still hold the previous one). Trainer updates its best metric only after the
    evaluation's callbacks, so `state.best_metric` still holds the previous best here; a new best is what
    Trainer itself will count as one (strictly better; nothing beats a NaN)."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.weights: dict | None = None
        self.step: int | None = None

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        if self.trainer.sharded:  # sharded weights are not copied in memory: the best is a checkpoint (cadence)
            return
        higher = args.greater_is_better
        value = (metrics or {}).get(f"eval_{args.metric_for_best_model}", math.nan)
        best = state.best_metric if state.best_metric is not None else (-math.inf if higher else math.inf)
        if value > best if higher else value < best:
            with self.trainer.timed("best_weights"):
                self.weights = copy_state(trained_state(model), best_weights_device(model))
                self.step = state.global_step
            if self.trainer.phases is not None:
                self.trainer.phases.note("best_weights", count=1)


class BestInMemory:
    """Trainer methods (mixed into BenchmarkTrainer): the best weights kept in memory (KeepBest) and restored at
    the end; full checkpoints written in the background (one process) or in place (several processes, FSDP,
    DeepSpeed). `phases`, when set, times what training spends on them."""

    phases = None  # a run's stopwatch (benchmark.phases), set by the run
    best: KeepBest | None = None
    writer: CheckpointWriter | None = None

    def timed(self, name: str):
        return self.phases(name) if self.phases is not None else contextlib.nullcontext()

    @property
    def sharded(self) -> bool:
        return bool(self.is_fsdp_enabled or self.is_deepspeed_enabled)

    def keep_best(self) -> KeepBest:
        """The callback that keeps this trainer's best weights (added once, by build_trainer)."""
        self.best = KeepBest(self)
        self.add_callback(self.best)
        return self.best

    def train(self, resume_from_checkpoint=None, **kwargs):
        self.writer = CheckpointWriter(keep=self.args.save_total_limit or 2)
        self.best.weights, self.best.step = None, None
        if isinstance(resume_from_checkpoint, str | os.PathLike) and not self.sharded:
            self.restore_best_from(Path(resume_from_checkpoint))
        try:
            output = super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
        except BaseException:
            with contextlib.suppress(BaseException):  # the failure already on its way is the one to report
                self.writer.wait()
            raise
        if self.writer.busy:
            with self.timed("checkpoint_write"):  # what training's end waits for the last write
                self.writer.wait()
        self.writer.wait()
        if self.phases is not None and self.writer.count:
            self.phases.note(
                "checkpoint_write",
                bytes=self.writer.bytes,
                count=self.writer.count,
                background_seconds=self.writer.seconds,
            )
        if self.sharded and self.state.best_model_checkpoint:
            self._load_best_model()
        elif self.best.weights is not None:
            with self.timed("best_weights"):
                self.model.load_state_dict(self.best.weights, strict=False)  # the trained tensors (or all)
            self.best.weights = None
        return output

    def restore_best_from(self, checkpoint: Path) -> None:
        """The best weights a resumed run had: beside its checkpoint, or the checkpoint's own."""
        from safetensors.torch import load_file

        best = json.loads((checkpoint / TRAINER_STATE_NAME).read_text(encoding="utf-8")).get("best_global_step")
        if best is None:
            return
        for path in (checkpoint / BEST_FILE, checkpoint.parent / f"checkpoint-{best}" / "model.safetensors"):
            if path.is_file():
                self.best.weights, self.best.step = load_file(path), best
                return
        raise HarnessError(
            f"{checkpoint} does not hold the best weights of step {best} ({BEST_FILE} is missing); resume from "
            f"another checkpoint with --resume, or start afresh with --no-resume"
        )

    def _save_checkpoint(self, model, trial):
        final = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
        best_apart = self.best.weights is not None and self.best.step != self.state.global_step
        with self.timed("checkpoint_write"):
            if self.args.world_size > 1 or self.sharded:
                self.save_in_place(model, trial, final, best_apart)
            else:
                self.save_in_background(final, best_apart)

    def save_in_background(self, final: Path, best_apart: bool) -> None:
        self.writer.wait()  # the previous checkpoint's write; its failure stops the run here
        try:
            partial = partial_folder(final)
            self.store_flos()
            torch.save(self.lr_scheduler.state_dict(), partial / SCHEDULER_NAME)
            self._save_scaler(str(partial))
            self._save_rng_state(str(partial))
            for callback in [*self.callback_handler.callbacks, self.control]:
                if isinstance(callback, ExportableState):
                    name = callback.__class__.__name__
                    if isinstance(self.state.stateful_callbacks.get(name), list):
                        self.state.stateful_callbacks[name].append(callback.state())
                    else:
                        self.state.stateful_callbacks[name] = callback.state()
            self.state.save_to_json(str(partial / TRAINER_STATE_NAME))
            weights = {"model.safetensors": copy_state(self.model.state_dict())}
            if best_apart:
                weights[BEST_FILE] = copy_state(self.best.weights) if self.best_on_device() else self.best.weights
            objects = {OPTIMIZER_NAME: copy_state(self.optimizer.state_dict())}
        except Exception as error:
            shutil.rmtree(final.with_name(final.name + PARTIAL), ignore_errors=True)
            raise save_failure(final, error) or error from error
        self.writer.submit(partial, final, weights, objects)

    def best_on_device(self) -> bool:
        return next(iter(self.best.weights.values())).device.type != "cpu"

    def save_in_place(self, model, trial, final: Path, best_apart: bool) -> None:
        # Trainer removes older checkpoints only after a save succeeded, so the earlier ones survive a failed
        # one; the partial folder goes. The best weights go in first: trainer_state.json, written last by
        # Trainer, marks the folder complete.
        try:
            if best_apart and self.args.should_save:
                final.mkdir(parents=True, exist_ok=True)
                save_file(copy_state(self.best.weights), final / BEST_FILE, metadata={"format": "pt"})
            super()._save_checkpoint(model, trial)
        except Exception as error:
            failure = save_failure(final, error)
            if failure is None:
                raise
            if self.args.should_save:
                shutil.rmtree(final, ignore_errors=True)
            raise failure from error
        if self.phases is not None and self.args.should_save:
            self.phases.note("checkpoint_write", bytes=size_of(final), count=1)
