"""The machine and software a run used, for its results record."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "transformers", "accelerate", "tokenizers", "safetensors", "scikit-learn", "numpy")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def hub_offline() -> bool:
    """Whether the hub client is offline: HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to 1, true, yes or on,
    as huggingface_hub read it when imported."""
    from huggingface_hub import constants  # a submodule the package loads lazily

    return bool(constants.HF_HUB_OFFLINE)


def device_name(device: str = "cpu") -> str:
    """A person-readable name of a torch device: the GPU's model, or the CPU's."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def torch_loaded():
    """torch, if this process has imported it; else None (a scikit-learn run never needs it, nor its 1 s import)."""
    return sys.modules.get("torch")


def environment(extra_packages: tuple[str, ...] = (), offline: bool = False) -> dict:
    """`offline`: whether --offline was given; the record says offline also when the environment made the hub
    client so without it."""
    torch = torch_loaded()
    on_gpu = torch is not None and torch.cuda.is_available()
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: package_version(name) for name in (*PACKAGES, *extra_packages)},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "device": "cuda" if on_gpu else "cpu",
        "device_name": device_name("cuda:0" if on_gpu else "cpu"),
        "num_processes": int(os.environ.get("WORLD_SIZE", 1)),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "offline": offline or hub_offline(),
    }


def peak_memory_mb() -> float:
    """GPU peak allocated where a GPU ran, else this process's peak resident memory."""
    torch = torch_loaded()
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
