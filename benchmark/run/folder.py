"""Run folders and the files in them, written atomically (see docs/results-format.md)."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import secrets
import shutil
import subprocess
import time
import zipfile
from importlib import metadata
from pathlib import Path

import torch

from benchmark import atomic
from benchmark.config import OUTPUT_ONLY
from benchmark.errors import HarnessError, first_line

SCHEMA_VERSION = 1
PACKAGES = ("torch", "transformers", "accelerate", "tokenizers", "safetensors", "scikit-learn", "numpy")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` in one step (see benchmark.atomic); a failure to write is the user's to fix, said plainly."""
    try:
        atomic.write_atomic(path, text.encode("utf-8"))
    except OSError as error:
        raise HarnessError(f"cannot write {path}: {error.strerror or error}") from None


def write_failure(error: Exception) -> str | None:
    """Why a file could not be written (full disk, no permission), or None when `error` is something else.

    torch.save and safetensors report a full disk as their own exception types, not as OSError.
    """
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, OSError):
        return error.strerror or text
    if type(error).__name__ == "SafetensorError" and "I/O error" in text:
        return text.split("I/O error: ", 1)[-1].split(" (os error")[0]
    if isinstance(error, RuntimeError) and any(s in text for s in ("PytorchStreamWriter", "inline_container")):
        return f"the file could not be written ({text})"
    return None


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def new_run_dir(results_dir: Path, model: str, protocol: str, seed: int) -> Path:
    """A fresh folder per run; time plus a random part, created exclusively, so concurrent runs never share."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            folder = results_dir / f"{model}-{protocol}-seed{seed}-{stamp}-{secrets.token_hex(2)}"
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
    except OSError as error:
        raise HarnessError(f"cannot create a run folder in {results_dir}: {error.strerror or error}") from None
    raise HarnessError(f"cannot create a new run folder in {results_dir}")


# --- resuming ------------------------------------------------------------------------------------------------
# A run folder holds `run_config.json` from its start and `metrics.json` only once finished. An unfinished folder
# whose configuration, data and number of processes match can be continued from its last complete checkpoint.

RUN_CONFIG = "run_config.json"
LOCK_FILE = ".lock"
# Written once training has finished and the best weights are in model/: a run killed after that point is
# scored from model/ when started again, without training anything a second time.
TRAINED_FILE = "training.json"


def run_record(config: dict, data_files: dict, num_processes: int) -> dict:
    """What run_config.json holds: every flag, the data files' hashes, and the number of processes (with the
    per-device batch it fixes the effective batch, and so the step count and learning-rate schedule)."""
    return {"config": config, "data": {name: f["sha256"] for name, f in sorted(data_files.items())},
            "num_processes": num_processes}


def read_record(folder: Path) -> dict | None:
    """A run folder's run_config.json, or None when it has none or it cannot be read."""
    try:
        record = json.loads((folder / RUN_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("config"), dict) else None


def identity(record: dict) -> dict:
    config = {k: v for k, v in record["config"].items() if k not in OUTPUT_ONLY}
    return {"config": config, "data": record.get("data"), "num_processes": record.get("num_processes")}


def differences(saved: dict, current: dict) -> list[str]:
    """Human-readable differences between two run records, for the message when a folder cannot be resumed."""
    a, b = identity(saved), identity(current)
    found = [f"--{key.replace('_', '-')} {a['config'].get(key)!r} there, {b['config'].get(key)!r} here"
             for key in sorted(a["config"].keys() | b["config"].keys()) if a["config"].get(key) != b["config"].get(key)]
    if a["data"] != b["data"]:
        found.append("the data files differ (sha256)")
    if a["num_processes"] != b["num_processes"]:
        found.append(f"{a['num_processes']} processes there, {b['num_processes']} here")
    return found


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


def has_progress(run_dir: Path) -> bool:
    """Whether a run folder holds anything a later run could continue from."""
    return read_training(run_dir) is not None or bool(complete_checkpoints(run_dir))


def lock_run_dir(folder: Path):
    """An exclusive lock on the folder for as long as the returned file stays open, or None if another process
    holds it. The kernel drops the lock when its process dies, so a killed run never leaves a stale lock."""
    handle = open(folder / LOCK_FILE, "a")  # noqa: SIM115 - held open for the whole run, closed by the caller
    try:
        import fcntl  # POSIX only

        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    except (ImportError, OSError):
        pass  # no flock here (another OS, some Lustre mounts): carry on unlocked rather than refuse to run
    return handle


def resumable(folder: Path, record: dict, log=None) -> tuple[Path | None, str]:
    """Where to continue `folder` from: its training record when training had finished, else its last good
    checkpoint; or None and the reason it cannot be continued."""
    if (folder / "metrics.json").exists():
        return None, "it is a finished run (it has metrics.json)"
    saved = read_record(folder)
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


def finished_run(results_dir: Path, record: dict) -> Path | None:
    """The newest finished run folder of this same configuration, if any."""
    if not results_dir.is_dir():
        return None
    for folder in sorted((p for p in results_dir.iterdir() if (p / "metrics.json").is_file()), reverse=True):
        saved = read_record(folder)
        if saved is not None and not differences(saved, record):
            return folder
    return None


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
        raise HarnessError(f"nothing to resume: no unfinished run of this configuration with a checkpoint in "
                           f"{results_dir} (run without --resume to start one)")
    folder = new_run_dir(results_dir, model, protocol, seed)
    lock = lock_run_dir(folder)
    write_json(folder / RUN_CONFIG, record)
    return lock, folder, None


def predictions_csv(texts, gold, predicted, confidence, label_names) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "text", "gold", "predicted", "probability"])
    for i, (text, g, p, prob) in enumerate(zip(texts, gold, predicted, confidence, strict=True)):
        writer.writerow([i, text, label_names[g], label_names[p], f"{prob:.6f}"])
    return buffer.getvalue()


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    on_gpu = torch.cuda.is_available()
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "device": "cuda" if on_gpu else "cpu",
        "device_name": torch.cuda.get_device_name(0) if on_gpu else platform.processor() or platform.machine(),
        "num_processes": int(os.environ.get("WORLD_SIZE", 1)),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def peak_memory_mb() -> float:
    """GPU peak allocated where a GPU ran, else this process's peak resident memory."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
