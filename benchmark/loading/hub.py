"""Where a backbone's checkpoint is: a local folder as it is, or a hub id's files in the hub cache.

The cache is used without contacting the hub; the network is tried only when the cache lacks the files and
the run is not offline, and an unreachable hub is one line saying what to do.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

from benchmark.backbone import Backbone
from benchmark.errors import HarnessError, first_line

CONFIG_FILES = ("config.json", "bert_config.json")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
HUB_FILES = ["*.json", "*.txt", "*.model", "model.safetensors", "model-*.safetensors"]
HUB_PICKLED_FILES = ["pytorch_model.bin", "pytorch_model-*.bin"]
HUB_TIMEOUT_SECONDS = 5.0


def config_file(folder: Path) -> Path:
    """The folder's config file: `config.json`, or `bert_config.json` as the TensorFlow-era releases name it."""
    path = next((folder / name for name in CONFIG_FILES if (folder / name).is_file()), None)
    if path is None:
        raise HarnessError(f"{folder}: no model config; expected {' or '.join(CONFIG_FILES)} beside the weights")
    return path


def is_local(source: str) -> bool:
    return Path(source).expanduser().exists() or source.startswith((".", "/", "~"))


def _hub_reachable() -> bool:
    """One quick connection attempt, so an offline machine gets an answer at once instead of retries."""
    import huggingface_hub

    host = urlparse(huggingface_hub.constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=HUB_TIMEOUT_SECONDS).close()
        return True
    except OSError:
        return False


def _weights_present(folder: Path) -> bool:
    return any((folder / name).is_file() for name in WEIGHT_FILES)


def _snapshot(hub_id: str, cache_dir: str | None, local_only: bool) -> Path:
    """The hub repository's files in the cache: safetensors when the repository has them, else the pickle."""
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(hub_id, cache_dir=cache_dir, local_files_only=local_only, allow_patterns=HUB_FILES))
    if not _weights_present(folder) and not local_only:
        folder = Path(snapshot_download(hub_id, cache_dir=cache_dir, allow_patterns=HUB_FILES + HUB_PICKLED_FILES))
    return folder


def locate(backbone: Backbone, source: str, *, cache_dir: str | None = None, offline: bool = False) -> Path:
    """The folder holding `source`: a local folder as it is, a hub id from the cache or, when allowed, the hub."""
    import huggingface_hub

    if is_local(source):
        folder = Path(source).expanduser()
        if not folder.exists():
            raise HarnessError(f"model folder {folder} does not exist (given for {backbone.name})")
        if not folder.is_dir():
            raise HarnessError(
                f"{folder} is a file; --model-path expects the folder holding the checkpoint "
                f"({' or '.join(CONFIG_FILES)}, weights, tokenizer files)"
            )
        return folder
    hint = (
        "Download it where there is a connection and pass --model-path FOLDER, or set HF_HUB_OFFLINE=1 to "
        "use only what is cached"
    )
    try:
        folder = _snapshot(source, cache_dir, local_only=True)
        if _weights_present(folder) or offline or huggingface_hub.constants.HF_HUB_OFFLINE:
            return folder
    except (OSError, ValueError) as error:
        if offline or huggingface_hub.constants.HF_HUB_OFFLINE:
            raise HarnessError(
                f"cannot load {backbone.name} from the hub id {source!r}: it is not in the local "
                f"cache and the run is offline. {hint}. ({first_line(error)})"
            ) from None
    if not _hub_reachable():
        raise HarnessError(
            f"cannot load {backbone.name} from the hub id {source!r}: it is not in the local cache "
            f"and the hub cannot be reached. {hint}."
        )
    try:
        return _snapshot(source, cache_dir, local_only=False)
    except Exception as error:  # the hub client's errors are many (not found, gated, HTTP, timeouts)
        raise HarnessError(
            f"cannot download {backbone.name} from the hub id {source!r}: "
            f"{type(error).__name__}: {first_line(error)}. {hint}."
        ) from None
