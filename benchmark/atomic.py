"""Replacing a file in one step, safe when several writers regenerate the same file at once."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
