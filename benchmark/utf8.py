"""Every text file the harness reads is UTF-8 (a byte-order mark allowed); one message for each that is not.

A file saved as GBK or UTF-16 by a spreadsheet or an old editor is the common case: the message names the
line and the byte where decoding failed, so the file can be found and fixed, never a traceback.
"""

from __future__ import annotations

import io
from pathlib import Path

from benchmark.errors import HarnessError

EXPECTED = "expected UTF-8, save the file as UTF-8"


def not_utf8(path: Path | str, data: bytes | None = None) -> HarnessError:
    """The error for a file that does not decode as UTF-8: the file, the line, and the byte offset in the file.

    `data` is the file's content when the caller has read it (or a member of an archive, `path` naming both);
    otherwise the file is read again line by line, as a split file may be large.
    """
    offset = 0
    with io.BytesIO(data) if data is not None else open(path, "rb") as lines:
        # Lines split at b"\n", which is never part of a multi-byte UTF-8 sequence, so each line decodes alone.
        for number, raw in enumerate(lines, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return HarnessError(
                    f"{path}:{number}: not UTF-8 text ({error.reason} at byte {offset + error.start} of the file); "
                    f"{EXPECTED}"
                )
            offset += len(raw)
    return HarnessError(f"{path}: not UTF-8 text; {EXPECTED}")


def read_utf8(path: Path, expected: str) -> str:
    """A text file's content; a file that cannot be read or is not UTF-8 is one line naming it. `expected` says
    what the file should hold, for the message about a missing or unreadable one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such file; expected {expected}") from None
    except IsADirectoryError:
        raise HarnessError(f"{path}: is a folder; expected {expected}") from None
    except OSError as error:
        raise HarnessError(f"{path}: cannot read it ({error.strerror or error}); expected {expected}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise not_utf8(path, data) from None
