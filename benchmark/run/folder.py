"""A run's folder: made fresh and locked for the run, with run_config.json saying what it trains."""

from __future__ import annotations

import json
import secrets
import shutil
import time
from pathlib import Path

from benchmark.atomic import write_json
from benchmark.config import OUTPUT_ONLY
from benchmark.errors import HarnessError

RUN_CONFIG = "run_config.json"
LOCK_FILE = ".lock"
FAILED_FILE = "failed.json"  # a run that failed for a reason its settings will meet again (a diverged loss)


def mark_failed(folder: Path, error) -> None:
    """Keep a failed run's folder with failed.json saying why: the leaderboard lists it as failed, a tuning sweep
    counts it against the budget, and no resume picks it up. `error` has `record()` and gets `folder`."""
    write_json(folder / FAILED_FILE, error.record())
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)  # nothing in them is worth resuming
    error.folder = folder


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


def run_config_of(config: dict, data_files: dict, num_processes: int, tuning: dict | None = None) -> dict:
    """What run_config.json holds: every flag, the data files' hashes, and the number of processes (with the
    per-device batch it fixes the effective batch, and so the step count and learning-rate schedule); for a run of
    a tuning sweep, its place in its study, so that each trial is a run of its own."""
    return {
        "config": config,
        "data": {name: f["sha256"] for name, f in sorted(data_files.items())},
        "num_processes": num_processes,
    } | ({"tuning": tuning} if tuning else {})


def read_run_config(folder: Path) -> dict | None:
    """A run folder's run_config.json, or None when it has none or it cannot be read."""
    try:
        record = json.loads((folder / RUN_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("config"), dict) else None


def identity(record: dict) -> dict:
    config = {k: v for k, v in record["config"].items() if k not in OUTPUT_ONLY}
    return {
        "config": config,
        "data": record.get("data"),
        "num_processes": record.get("num_processes"),
        "tuning": record.get("tuning"),
    }


def differences(saved: dict, current: dict) -> list[str]:
    """Human-readable differences between two run records, for the message when a folder cannot be resumed."""
    a, b = identity(saved), identity(current)
    found = [
        f"--{key.replace('_', '-')} {a['config'].get(key)!r} there, {b['config'].get(key)!r} here"
        for key in sorted(a["config"].keys() | b["config"].keys())
        if a["config"].get(key) != b["config"].get(key)
    ]
    if a["data"] != b["data"]:
        found.append("the data files differ (sha256)")
    if a["num_processes"] != b["num_processes"]:
        found.append(f"{a['num_processes']} processes there, {b['num_processes']} here")
    if a["tuning"] != b["tuning"]:
        found.append("another tuning trial (or not one)")
    return found


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


def finished_run(results_dir: Path, record: dict) -> Path | None:
    """The newest finished run folder of this same configuration, if any."""
    if not results_dir.is_dir():
        return None
    for folder in sorted((p for p in results_dir.iterdir() if (p / "metrics.json").is_file()), reverse=True):
        saved = read_run_config(folder)
        if saved is not None and not differences(saved, record):
            return folder
    return None
