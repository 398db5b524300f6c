"""Resuming a run: which unfinished folder of the same configuration to continue, and from where.

A run folder holds `run_config.json` from its start, checkpoints while it trains, `training.json` once its
training has finished and its best weights are in model/, and `metrics.json` only once it is finished. A
checkpoint cut short or damaged is passed over for the previous good one, so a run is never stuck.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path

from accelerate import PartialState
from accelerate.utils import broadcast_object_list

from benchmark.atomic import write_json
from benchmark.errors import Diverged, HarnessError, Terminated, first_line
from benchmark.record import METRICS_FILE
from benchmark.run.folder import (
    FAILED_FILE,
    LOCK_FILE,
    RUN_CONFIG,
    differences,
    lock_run_dir,
    mark_failed,
    new_run_dir,
    read_run_config,
    run_config_of,
)

# Written once training has finished and the best weights are in model/: a run killed after that point is
# scored from model/ when started again, without training anything a second time.
TRAINED_FILE = "training.json"


def damage(checkpoint: Path) -> str | None:
    """Why a checkpoint's files would not load (cut short, damaged), or None when every one reads whole.

    safetensors files are checked by their header, which covers the file's full length; torch's files are zip
    archives, whose entries are checked against their CRCs.
    """
    from safetensors import SafetensorError, safe_open

    for path in sorted(checkpoint.iterdir()):
        try:
            if path.suffix == ".safetensors":
                with safe_open(str(path), "pt"):
                    pass
            elif path.suffix in (".pt", ".pth", ".bin"):
                with zipfile.ZipFile(path) as archive:
                    bad = archive.testzip()
                if bad is not None:
                    return f"{path.name} is damaged (entry {bad})"
        except (OSError, SafetensorError, zipfile.BadZipFile, ValueError, EOFError) as error:
            return f"{path.name} cannot be read ({first_line(error, 120)})"
    return None


def complete_checkpoints(run_dir: Path, log=None) -> list[Path]:
    """Checkpoints in step order that a run can resume from: trainer_state.json, written last by Trainer, is whole
    and names the folder's step, and every file reads whole. A folder cut short by a kill or a full disk, or
    damaged since, is never resumed from; `log` is told why one is passed over."""
    found = []
    for folder in (run_dir / "checkpoints").glob("checkpoint-*"):
        step = folder.name.removeprefix("checkpoint-")
        try:
            state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not (step.isdigit() and isinstance(state, dict) and state.get("global_step") == int(step)):
            continue
        reason = damage(folder)
        if reason is not None:
            if log is not None:
                log(f"passing over {folder}: {reason}; an earlier checkpoint is used instead")
            continue
        found.append((int(step), folder))
    return [folder for _, folder in sorted(found)]


def remove_incomplete_checkpoints(run_dir: Path, log=None) -> None:
    complete = set(complete_checkpoints(run_dir, log))
    for folder in (run_dir / "checkpoints").glob("checkpoint-*"):
        if folder not in complete:
            shutil.rmtree(folder, ignore_errors=True)


def read_training(run_dir: Path) -> dict | None:
    """The training record of a run whose training finished (its best weights are in model/), else None."""
    try:
        record = json.loads((run_dir / TRAINED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    whole = isinstance(record, dict) and (run_dir / "model" / "labels.json").is_file()
    return record if whole else None


def progress_of(run_dir: Path) -> str | None:
    """What a later run would continue from in a run folder, said for a person; None when nothing."""
    if read_training(run_dir) is not None:
        return "its finished training, scoring the best weights saved in model/"
    checkpoints = complete_checkpoints(run_dir)
    return f"its last checkpoint, {checkpoints[-1]}" if checkpoints else None


def resumable(folder: Path, record: dict, log=None) -> tuple[Path | None, str]:
    """Where to continue `folder` from: its training record when training had finished, else its last good
    checkpoint; or None and the reason it cannot be continued."""
    if (folder / "metrics.json").exists():
        return None, "it is a finished run (it has metrics.json)"
    if (folder / FAILED_FILE).exists():
        return None, f"it failed ({FAILED_FILE}); the same settings would fail again"
    saved = read_run_config(folder)
    if saved is None:
        return None, f"it has no readable {RUN_CONFIG}, so it is not a run folder of this harness"
    changed = differences(saved, record)
    if changed:
        return None, "it was started with other settings: " + "; ".join(changed)
    if read_training(folder) is not None:
        return folder / TRAINED_FILE, ""
    checkpoints = complete_checkpoints(folder, log)
    if not checkpoints:
        return None, "it has no complete checkpoint yet (it stopped before its first saved dev evaluation)"
    return checkpoints[-1], ""


def open_run_dir(results_dir: Path, model: str, protocol: str, seed: int, record: dict, resume: str, log=None):
    """(lock, run folder, where to resume from or None) for the main process.

    `resume` is auto, latest, never, or a folder (see RunConfig.resume). A folder another live process holds
    is never picked, so two runs never write into the same folder.
    """
    if resume not in ("auto", "latest", "never"):
        folder = Path(resume)
        if not folder.is_dir():
            raise HarnessError(f"cannot resume {folder}: no such run folder")
        checkpoint, reason = resumable(folder, record, log)
        if checkpoint is None:
            raise HarnessError(f"cannot resume {folder}: {reason}")
        lock = lock_run_dir(folder)
        if lock is None:
            raise HarnessError(f"cannot resume {folder}: another process is running in it")
        remove_incomplete_checkpoints(folder, log)
        return lock, folder, checkpoint
    if resume != "never" and results_dir.is_dir():
        # Newest first: the names start with the backbone, protocol and seed, then the start time.
        for folder in sorted((p for p in results_dir.iterdir() if (p / RUN_CONFIG).is_file()), reverse=True):
            checkpoint, _ = resumable(folder, record, log)
            lock = lock_run_dir(folder) if checkpoint else None
            if lock is not None:
                remove_incomplete_checkpoints(folder, log)
                return lock, folder, checkpoint
    if resume == "latest":
        raise HarnessError(
            f"nothing to resume: no unfinished run of this configuration with a checkpoint in "
            f"{results_dir} (run without --resume to start one)"
        )
    folder = new_run_dir(results_dir, model, protocol, seed)
    lock = lock_run_dir(folder)
    write_json(folder / RUN_CONFIG, record)
    return lock, folder, None


@contextmanager
def claim_run_dir(settings, backbone_name: str, splits, state: PartialState, log=print):
    """The run folder and where to resume from (or None), the same on every process.

    The main process picks them (see open_run_dir: an unfinished run of this same configuration is
    continued, else a new folder is made) and holds a lock on the folder until the run ends. A run that fails
    before it saved anything to continue from takes its folder with it, so no empty run folder is left behind.
    """
    config = settings.config
    record = run_config_of(config.to_dict(), splits.files, state.num_processes, settings.tuning)
    lock, picked = None, [None, None]
    if state.is_main_process:
        lock, folder, start = open_run_dir(
            Path(config.results_dir), backbone_name, splits.protocol, config.seed, record, config.resume, log
        )
        picked = [str(folder), str(start) if start else None]
    run_dir = Path(picked[0]) if picked[0] else None
    try:
        broadcast_object_list(picked)  # fails when another process has failed: the folder goes too
        run_dir = Path(picked[0])
        if not run_dir.is_dir():
            raise HarnessError(
                f"the run folder {run_dir} is not visible from this process; with several "
                f"machines, --results-dir must be on storage they all share"
            )
        yield run_dir, picked[1]
    except BaseException as error:
        if lock is not None and isinstance(error, Diverged):
            mark_failed(run_dir, error)  # kept, so the leaderboard lists it as failed, and never resumed
        elif lock is not None and not (run_dir / METRICS_FILE).exists():
            progress = progress_of(run_dir)
            if progress is None:
                shutil.rmtree(run_dir, ignore_errors=True)
            if isinstance(error, Terminated):
                error.folder, error.resume_from = run_dir, progress
        raise
    finally:
        if lock is not None:
            if (run_dir / METRICS_FILE).exists():
                (run_dir / LOCK_FILE).unlink(missing_ok=True)  # a finished run is never resumed
            lock.close()
