"""Fetch the THUCNews-10 headline files and check each against its published git blob id.

The public source is a GitHub repository, whose only published checksums are git
blob ids; checking those lets us verify train.txt without knowing its sha256.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from benchmark.errors import HarnessError

DEFAULT_URL = (
    "https://raw.githubusercontent.com/649453932/Bert-Chinese-Text-Classification-Pytorch/master/THUCNews/data"
)
URL_ENV = "THUCNEWS_URL"  # points the download at a mirror without touching code or command lines

# File name -> git blob id in the public source, as `git hash-object` prints it.
THUCNEWS_FILES = {
    "class.txt": "4c20bac1a8a6be2c207f0e97be4c279651d76d21",
    "train.txt": "ffe8979a12879da0747847aca49e9a6c1d29898f",
    "dev.txt": "cf7f8de6fc3e3c72284ab59e7ed850f49b7185c0",
    "test.txt": "9c216ace7d0cf2c89fec1b4c9d49a92dc1791d0a",
}
DEFAULT_FILES = ("class.txt", "train.txt", "dev.txt", "test.txt")

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


def _resolve_base_url(base_url: str) -> str:
    # An explicit argument wins; the environment only replaces the built-in default.
    if base_url == DEFAULT_URL:
        base_url = os.environ.get(URL_ENV) or DEFAULT_URL
    return base_url.rstrip("/")


def _one_line(reason: object) -> str:
    return " ".join(str(reason).split())


def ensure_thucnews(data_dir: Path, base_url: str = DEFAULT_URL, files: Iterable[str] = DEFAULT_FILES) -> Path:
    """Make `data_dir` hold the THUCNews files, each matching its published git blob id.

    A present, matching file is kept; a present file that does not match is an error (it
    may be the user's own, so it is never overwritten); an absent one is downloaded from
    `base_url` (or the THUCNEWS_URL environment variable when `base_url` is the default).
    Returns `data_dir`.
    """
    data_dir = Path(data_dir)
    files = tuple(files)
    unknown = [name for name in files if name not in THUCNEWS_FILES]
    if unknown:
        raise HarnessError(
            f"unknown THUCNews file(s): {', '.join(unknown)}; expected some of {', '.join(THUCNEWS_FILES)}"
        )
    if data_dir.exists() and not data_dir.is_dir():
        raise HarnessError(f"{data_dir}: exists but is not a folder; pass --data-dir pointing at a folder")

    # Check what is already there first, so a bad local file is reported before a long download.
    missing = []
    for name in files:
        path = data_dir / name
        if not path.exists():
            missing.append(name)
            continue
        if not path.is_file():
            raise HarnessError(f"{path}: exists but is not a file; remove it so THUCNews {name} can be downloaded")
        expected, actual = THUCNEWS_FILES[name], git_blob_id(path)
        if actual != expected:
            raise HarnessError(
                f"{path}: git blob id {actual} does not match the published THUCNews {name} ({expected}), "
                "so the file was left untouched; delete it to download a fresh copy, "
                "or pass --data-dir pointing at a folder holding the original files"
            )
    if not missing:
        return data_dir

    base = _resolve_base_url(base_url)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise HarnessError(
            f"{data_dir}: cannot create the data folder ({_one_line(error.strerror or error)}); "
            "pass --data-dir pointing at a writable folder"
        ) from error
    offline_hint = (
        f"To work offline, download {', '.join(files)} by hand from {base}/ into {data_dir}, "
        f"or pass --data-dir pointing at a folder holding them (or set {URL_ENV} to a mirror)"
    )
    for name in missing:
        url = f"{base}/{urllib.parse.quote(name)}"
        _fetch(url, data_dir / name, THUCNEWS_FILES[name], offline_hint)
    return data_dir


def _fetch(url: str, path: Path, expected: str, offline_hint: str) -> None:
    """Download into `<name>.part`, verify, then rename, so the final name only ever holds verified data."""
    part = path.with_name(path.name + ".part")
    try:
        try:
            # "wb" truncates a stale .part from a killed run: nothing half-written is resumed.
            with open(part, "wb") as out:
                _stream(url, out, path.name, offline_hint)
                out.flush()
                os.fsync(out.fileno())  # so a crash after the rename cannot leave an empty verified name
            actual = git_blob_id(part)
            if actual != expected:
                raise HarnessError(
                    f"{url}: the downloaded {path.name} has git blob id {actual}, expected {expected}; "
                    f"it was discarded. The server may hold another version of the file. {offline_hint}"
                )
            os.replace(part, path)
        except OSError as error:
            # Network errors were already turned into messages in _stream; what is left is the local disk.
            raise HarnessError(
                f"{part}: cannot write the download ({_one_line(error.strerror or error)}); "
                "free some space or fix the folder's permissions, "
                "or pass --data-dir pointing at a writable folder"
            ) from error
    except BaseException:
        # Covers Ctrl-C too; a failure here must not hide the original error.
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        raise


def _stream(url: str, out: BinaryIO, label: str, offline_hint: str) -> None:
    def failure(reason: object) -> HarnessError:
        return HarnessError(f"could not download {url} ({_one_line(reason)}). {offline_hint}")

    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        error.close()
        raise failure(f"HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise failure(error.reason) from error
    except (OSError, http.client.HTTPException, ValueError) as error:  # ValueError: a malformed URL
        raise failure(error) from error

    with response:
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        received = 0
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label) as bar:
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
    # http.client returns a short body without complaint when the connection drops early.
    if total is not None and received != total:
        raise failure(f"the connection closed after {received} of {total} bytes")
