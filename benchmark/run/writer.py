"""A resumable checkpoint's files, written in the background: into `checkpoint-N.partial/`, synced, renamed into
place once whole, the older ones rotated out; a write that fails says what is left to resume from."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers.trainer import TRAINER_STATE_NAME

from benchmark.atomic import write_failure
from benchmark.errors import HarnessError
from benchmark.phases import size_of
from benchmark.run.background import InBackground

PARTIAL = ".partial"
STEP_FOLDER = re.compile(r"checkpoint-(\d+)")


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
