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
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers.trainer import OPTIMIZER_NAME, SCHEDULER_NAME, TRAINER_STATE_NAME
from transformers.trainer_callback import ExportableState

from benchmark.atomic import write_failure
from benchmark.errors import HarnessError
from benchmark.phases import size_of
from benchmark.run.background import InBackground

BEST_FILE = "best_model.safetensors"

PARTIAL = ".partial"
STEP_FOLDER = re.compile(r"checkpoint-(\d+)")


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


def save_failure(folder: Path, error: BaseException) -> HarnessError | None:
    """The error to stop a run with when a checkpoint could not be written, or None for any other failure."""
    reason = write_failure(error) if isinstance(error, Exception) else None
    if reason is None:
        return None
    free = shutil.disk_usage(folder.parent).free / 2**20 if folder.parent.is_dir() else None
    # What is left to resume from: the complete checkpoints beside it (trainer_state.json is written last).
    steps = sorted(
        int(match[1])
        for path in (folder.parent.iterdir() if folder.parent.is_dir() else ())
        if (match := STEP_FOLDER.fullmatch(path.name)) and path != folder and (path / TRAINER_STATE_NAME).is_file()
    )
    if not steps:
        left = "no checkpoint had been written yet, so the run must start again from the beginning once there is room"
    else:
        kept = (
            f"checkpoints of steps {', '.join(map(str, steps[:-1]))} and {steps[-1]} are"
            if len(steps) > 1
            else f"checkpoint of step {steps[0]} is"
        )
        left = f"the {kept} intact, and the same command resumes from step {steps[-1]} once there is room"
    return HarnessError(
        f"cannot save a checkpoint in {folder}: {reason}"
        + (f" ({free:.0f} MB free there)" if free is not None else "")
        + f"; {left}"
    )


def rotate(folder: Path, keep: int) -> None:
    """Keep the `keep` newest complete checkpoints: the newest to resume from, the one before it in case the
    newest is damaged later."""
    steps = sorted(
        (int(match.group(1)), path)
        for path in folder.iterdir()
        if (match := STEP_FOLDER.fullmatch(path.name)) and path.is_dir()
    )
    for _, path in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(path, ignore_errors=True)


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class CheckpointWriter:
    """One background write at a time of a checkpoint's large files; `wait` joins it and raises its error.

    Small files (schedule, random states, trainer state) are already in the `.partial` folder when `submit` is
    called; the thread adds the weights (safetensors) and the optimiser state (torch.save), syncs every file,
    renames the folder to its final name and removes the checkpoints older than the `keep` newest.
    """

    def __init__(self, keep: int = 2):
        self.keep = keep
        self.writing: tuple[InBackground, Path] | None = None
        self.seconds = 0.0  # spent writing in the background
        self.bytes = 0
        self.count = 0

    @property
    def busy(self) -> bool:
        return self.writing is not None

    def submit(self, partial: Path, final: Path, weights: dict[str, dict], objects: dict[str, object]) -> None:
        self.wait()
        self.writing = InBackground(self._write, partial, final, weights, objects, name="checkpoint-writer"), final

    def _write(self, partial: Path, final: Path, weights: dict, objects: dict) -> None:
        try:
            for name, state in weights.items():
                save_file(state, partial / name, metadata={"format": "pt"})
            for name, value in objects.items():
                torch.save(value, partial / name)
            for path in partial.iterdir():
                _sync(path)
            if final.exists():  # the same step saved again after a resume
                shutil.rmtree(final)
            partial.rename(final)
            _sync(final.parent)
            self.bytes += size_of(final)
            self.count += 1
            rotate(final.parent, self.keep)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    def wait(self) -> None:
        """Until the write in progress has finished; a failed write stops the run here."""
        if self.writing is None:
            return
        task, final = self.writing
        self.writing = None
        try:
            task.wait()
        except BaseException as error:
            raise save_failure(final, error) or error from None
        finally:
            self.seconds += task.seconds


def partial_folder(final: Path) -> Path:
    partial = final.with_name(final.name + PARTIAL)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


class BestInMemory:
    """Trainer methods (mixed into BenchmarkTrainer): the best weights kept in memory and restored at the end;
    full checkpoints written in the background (one process) or in place (several processes, FSDP, DeepSpeed).
    `phases`, when set, times what training spends on them."""

    phases = None  # a run's stopwatch (benchmark.phases), set by the pipeline
    best_weights: dict | None = None
    best_step: int | None = None
    writer: CheckpointWriter | None = None

    def _timed(self, name: str):
        return self.phases(name) if self.phases is not None else contextlib.nullcontext()

    @property
    def sharded(self) -> bool:
        return bool(self.is_fsdp_enabled or self.is_deepspeed_enabled)

    def train(self, resume_from_checkpoint=None, **kwargs):
        self.writer = CheckpointWriter(keep=self.args.save_total_limit or 2)
        self.best_weights, self.best_step = None, None
        if isinstance(resume_from_checkpoint, str | os.PathLike) and not self.sharded:
            self._best_from(Path(resume_from_checkpoint))
        try:
            output = super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
        except BaseException:
            with contextlib.suppress(BaseException):  # the failure already on its way is the one to report
                self.writer.wait()
            raise
        if self.writer.busy:
            with self._timed("checkpoint_write"):  # what training's end waits for the last write
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
        elif self.best_weights is not None:
            with self._timed("best_weights"):
                self.model.load_state_dict(self.best_weights, strict=False)  # the trained tensors (or all)
            self.best_weights = None
        return output

    def _determine_best_metric(self, metrics, trial) -> bool:
        new_best = super()._determine_best_metric(metrics, trial)
        if new_best and not self.sharded:
            with self._timed("best_weights"):
                # A new dict each time: a checkpoint being written may still hold the previous one.
                self.best_weights = copy_state(trained_state(self.model), best_weights_device(self.model))
                self.best_step = self.state.global_step
            if self.phases is not None:
                self.phases.note("best_weights", count=1)
        return new_best

    def _best_from(self, checkpoint: Path) -> None:
        """The best weights a resumed run had: beside its checkpoint, or the checkpoint's own."""
        from safetensors.torch import load_file

        best = json.loads((checkpoint / TRAINER_STATE_NAME).read_text(encoding="utf-8")).get("best_global_step")
        if best is None:
            return
        for path in (checkpoint / BEST_FILE, checkpoint.parent / f"checkpoint-{best}" / "model.safetensors"):
            if path.is_file():
                self.best_weights, self.best_step = load_file(path), best
                return
        raise HarnessError(
            f"{checkpoint} does not hold the best weights of step {best} ({BEST_FILE} is missing); resume from "
            f"another checkpoint with --resume, or start afresh with --no-resume"
        )

    def _save_checkpoint(self, model, trial):
        final = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
        best_apart = self.best_weights is not None and self.best_step != self.state.global_step
        with self._timed("checkpoint_write"):
            if self.args.world_size > 1 or self.sharded:
                self._save_in_place(model, trial, final, best_apart)
            else:
                self._save_in_background(final, best_apart)

    def _save_in_background(self, final: Path, best_apart: bool) -> None:
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
                weights[BEST_FILE] = copy_state(self.best_weights) if self._best_on_device() else self.best_weights
            objects = {OPTIMIZER_NAME: copy_state(self.optimizer.state_dict())}
        except Exception as error:
            shutil.rmtree(final.with_name(final.name + PARTIAL), ignore_errors=True)
            raise save_failure(final, error) or error from error
        self.writer.submit(partial, final, weights, objects)

    def _best_on_device(self) -> bool:
        return next(iter(self.best_weights.values())).device.type != "cpu"

    def _save_in_place(self, model, trial, final: Path, best_apart: bool) -> None:
        # Trainer removes older checkpoints only after a save succeeded, so the earlier ones survive a failed
        # one; the partial folder goes. The best weights go in first: trainer_state.json, written last by
        # Trainer, marks the folder complete.
        try:
            if best_apart and self.args.should_save:
                final.mkdir(parents=True, exist_ok=True)
                save_file(copy_state(self.best_weights), final / BEST_FILE, metadata={"format": "pt"})
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
