"""Fetch a registered dataset's files and keep each only once its published checksum matches.

A file is checked by what its publisher gives: a git blob id (files in a GitHub repository; it verifies a file
without knowing its sha256), a sha256, or an md5. A download goes to `<name>.part`, continues from where an
interrupted one stopped (an HTTP range request), and is renamed to its name only once verified, so the final
name only ever holds verified data. Offline, or when the server cannot be reached, the error says which files
to fetch by hand and where to put them.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from benchmark.dataset import SourceFile
from benchmark.errors import HarnessError

TIMEOUT_SECONDS = 30  # applies to the connection and to each read, so a stalled server fails, not hangs
CHUNK_BYTES = 1 << 20


def _sha1(header: bytes):
    # Git's object id, not a security check; the flag keeps it usable on FIPS-restricted Pythons.
    return hashlib.sha1(header, usedforsecurity=False)


def git_blob_id(path_or_bytes: str | os.PathLike | bytes | bytearray | memoryview) -> str:
    """The id `git hash-object` gives this content: SHA-1 of b"blob <size>\\0" + content.

    Bytes are hashed as they are; a str or path names a file, which is streamed.
    """
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        data = bytes(path_or_bytes)
        digest = _sha1(b"blob %d\0" % len(data))
        digest.update(data)
        return digest.hexdigest()

    path = Path(path_or_bytes)
    with open(path, "rb") as f:
        # The header carries the size, so it must be known before the first chunk is hashed.
        size = os.fstat(f.fileno()).st_size
        digest = _sha1(b"blob %d\0" % size)
        read = 0
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            read += len(chunk)
    if read != size:
        raise HarnessError(
            f"{path}: the file changed size while being hashed ({size} bytes, then {read}); "
            "try again once nothing is writing to it"
        )
    return digest.hexdigest()


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mismatch(path: Path, source: SourceFile) -> str | None:
    """How `path` differs from the published file (`kind actual, published expected`), or None when it matches."""
    for kind, expected in (("git blob id", source.git_blob), ("sha256", source.sha256), ("md5", source.md5)):
        if expected:
            actual = git_blob_id(path) if kind == "git blob id" else _file_digest(path, kind)
            return None if actual == expected else f"{kind} {actual}, published {expected}"
    return None


def _one_line(reason: object) -> str:
    return " ".join(str(reason).split())


def source_url(source: SourceFile, mirror_env: str | None) -> str:
    """The file's URL, or the same name under the mirror an environment variable names."""
    mirror = os.environ.get(mirror_env) if mirror_env else None
    return f"{mirror.rstrip('/')}/{urllib.parse.quote(source.name)}" if mirror else source.url


def ensure_files(
    folder: Path, files: Sequence[SourceFile], *, what: str, offline: bool = False, mirror_env: str | None = None
) -> Path:
    """Make `folder` hold every file of `files`, each matching its published checksum.

    A present, matching file is kept; a present file that does not match is an error (it may be the user's own,
    so it is never overwritten); an absent one is downloaded, unless `offline`.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise HarnessError(f"{folder}: exists but is not a folder; pass --data-dir pointing at a folder")
    # Check what is already there first, so a bad local file is reported before a long download.
    missing = []
    for source in files:
        path = folder / source.name
        if not path.exists():
            missing.append(source)
            continue
        if not path.is_file():
            raise HarnessError(f"{path}: exists but is not a file; remove it so {what} {source.name} can be downloaded")
        differs = mismatch(path, source)
        if differs:
            raise HarnessError(
                f"{path}: {differs}: not the published {what} {source.name}, so the file was left untouched; "
                "delete it to download a fresh copy, or pass --data-dir pointing at a folder holding the original"
            )
    if not missing:
        return folder
    by_hand = ", ".join(f"{source_url(s, mirror_env)}" for s in missing)
    hint = (
        f"To work offline, download {by_hand} by hand into {folder}, or pass --data-dir pointing at a folder "
        f"holding {'them' if len(missing) > 1 else 'it'}"
        + (f" (or set {mirror_env} to a mirror)" if mirror_env else "")
    )
    if offline:
        raise HarnessError(
            f"{what}: {', '.join(s.name for s in missing)} not in {folder} and the run is offline. {hint}"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise HarnessError(
            f"{folder}: cannot create the data folder ({_one_line(error.strerror or error)}); "
            "pass --data-dir pointing at a writable folder"
        ) from error
    for source in missing:
        _fetch(source_url(source, mirror_env), folder / source.name, source, hint)
    return folder


def _fetch(url: str, path: Path, source: SourceFile, hint: str) -> None:
    """Download into `<name>.part` (continuing a partial one), verify, then rename."""
    part = path.with_name(path.name + ".part")
    try:
        _stream(url, part, hint)
        differs = mismatch(part, source)
        if differs:
            part.unlink(missing_ok=True)
            raise HarnessError(
                f"{url}: the downloaded {path.name} has {differs}; it was discarded. The server may hold "
                f"another version of the file. {hint}"
            )
        os.replace(part, path)
    except OSError as error:
        # Network errors were already turned into messages in _stream; what is left is the local disk.
        raise HarnessError(
            f"{part}: cannot write the download ({_one_line(error.strerror or error)}); free some space or fix "
            "the folder's permissions, or pass --data-dir pointing at a writable folder"
        ) from error
    except KeyboardInterrupt:
        raise  # the partial download stays, and the next attempt continues it


def _open(url: str, start: int):
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    return urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)


def _stream(url: str, part: Path, hint: str) -> None:
    def failure(reason: object) -> HarnessError:
        return HarnessError(f"could not download {url} ({_one_line(reason)}). {hint}")

    start = part.stat().st_size if part.is_file() else 0
    try:
        response = _open(url, start)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code != 416 or not start:  # 416: nothing left to fetch, the part is whole
            raise failure(f"HTTP {error.code} {error.reason}") from error
        return
    except urllib.error.URLError as error:
        raise failure(error.reason) from error
    except (OSError, http.client.HTTPException, ValueError) as error:  # ValueError: a malformed URL
        raise failure(error) from error

    with response:
        resumed = start and response.status == 206  # a server that ignores the range sends it all again
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        received = 0
        with (
            open(part, "ab" if resumed else "wb") as out,
            tqdm(
                total=(total + start if resumed else total) if total is not None else None,
                initial=start if resumed else 0,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
            ) as bar,
        ):
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as error:
                    raise failure(error) from error
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())  # so a crash after the rename cannot leave an empty verified name
    # http.client returns a short body without complaint when the connection drops early.
    if total is not None and received != total:
        raise failure(f"the connection closed after {received} of {total} bytes; run again to continue")
