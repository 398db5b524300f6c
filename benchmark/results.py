"""Run folders and the files in them, written atomically (see docs/results-format.md)."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import secrets
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path

import torch

from benchmark.errors import HarnessError

SCHEMA_VERSION = 1
PACKAGES = ("torch", "transformers", "accelerate", "tokenizers", "safetensors", "scikit-learn", "numpy")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old file or the new, never half."""
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp_name, path)
    except OSError as error:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)
        raise HarnessError(f"cannot write {path}: {error.strerror or error}") from None


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def new_run_dir(results_dir: Path, model: str, protocol: str, seed: int) -> Path:
    """A fresh folder per run; time plus a random part, created exclusively, so concurrent runs never share."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for _ in range(100):
        folder = results_dir / f"{model}-{protocol}-seed{seed}-{stamp}-{secrets.token_hex(2)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise HarnessError(f"cannot create a new run folder in {results_dir}")


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
