"""Writing files and folders in one step, so a reader (or a killed run) never sees half of one.

Safe when several writers regenerate the same file at once; a failure to write (full disk, no permission) is
said in one line, whatever library met it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from benchmark.errors import HarnessError

# mkstemp creates files readable by the owner only; outputs get the permissions of an ordinary write.
_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to a unique temporary file beside `path`, then rename it over `path`.

    Readers see the old file or the new one, never half of one; concurrent writers never share a
    temporary file, and the last rename wins. The temporary file is removed if anything fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename, so a crash cannot leave an empty file in place
        os.chmod(temporary, 0o666 & ~_UMASK)
        os.replace(temporary, path)
    except BaseException:  # an interrupt too: no temporary file is left behind
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def replace_folder(path: Path, fill) -> Path:
    """Build a folder's contents with `fill(temporary_folder)` beside `path`, then rename it into place.

    A kill while filling leaves only a hidden temporary folder, never a half-written `path`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        fill(temporary)
        os.chmod(temporary, 0o777 & ~_UMASK)
        if path.exists():
            shutil.rmtree(path)
        os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return path


def publish_folder(path: Path, fill) -> Path:
    """A content-addressed folder: kept when it exists, else built by `fill` beside it and renamed into place.

    Several processes may build the same folder at once (each process of a torchrun job, or two runs); the
    first rename wins and the others discard their copy, so a reader never sees a half-built folder.
    """
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        fill(temporary)
        os.chmod(temporary, 0o777 & ~_UMASK)
        os.rename(temporary, path)
    except OSError:
        shutil.rmtree(temporary, ignore_errors=True)
        if not path.is_dir():
            raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return path


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step; a failure to write is the user's to fix, said plainly."""
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as error:
        raise HarnessError(f"cannot write {path}: {error.strerror or error}") from None


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


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
