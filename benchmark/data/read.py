"""Read one data file: THUCNews text files, or CSV / TSV / JSONL with named columns, and label files.

Every problem is reported as a HarnessError naming the file, the line and what
was expected, so nothing is silently dropped or guessed.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

from benchmark.errors import HarnessError

SUPPORTED_SUFFIXES = (".txt", ".tsv", ".csv", ".jsonl")
LABEL_FILES = ("class.txt", "labels.txt")


def describe_file(path: Path) -> dict:
    """Path, SHA-256 and line count, read in one pass."""
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    lines += last != b"\n"  # a last line without a newline (class.txt has none) is a line too
    return {"path": str(path), "sha256": digest.hexdigest(), "lines": lines}


def read_label_names(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    if not any(names):
        raise HarnessError(f"{path}: the label file is empty; expected one label name per line")
    for number, name in enumerate(names, 1):
        if not name:
            raise HarnessError(f"{path}:{number}: empty label name; expected one label name per line")
    duplicates = [name for name, count in Counter(names).items() if count > 1]
    if duplicates:
        raise HarnessError(f"{path}: label names appear twice: {', '.join(duplicates)}")
    return names


def _read_text_file(path: Path):
    """THUCNews layout: `text<TAB>label` a line."""
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if "\t" not in line:
                raise HarnessError(f"{path}:{number}: expected 'text<TAB>label', found no tab in {line[:60]!r}")
            text, label = line.rsplit("\t", 1)
            yield number, text, label


def _read_table(path: Path, text_col: str, label_col: str):
    """CSV / TSV with a header row naming the columns."""
    delimiter = "," if path.suffix == ".csv" else "\t"
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        columns = reader.fieldnames or []
        repeated = sorted({name for name in columns if columns.count(name) > 1})
        if repeated:
            raise HarnessError(
                f"{path}:1: the header names the column {', '.join(map(repr, repeated))} more than "
                f"once; every column needs its own name"
            )
        for needed in (text_col, label_col):
            if needed not in columns:
                raise HarnessError(
                    f"{path}:1: no column {needed!r} in the header {columns}; "
                    f"name the columns with --text-col and --label-col"
                )
        for row in reader:
            # Line numbers count the header, as an editor shows them.
            if None in row or any(v is None for v in row.values()):
                raise HarnessError(
                    f"{path}:{reader.line_num}: expected {len(columns)} fields as in the header, "
                    f"found a different number"
                )
            yield reader.line_num, row[text_col], row[label_col]


def _read_jsonl(path: Path, text_col: str, label_col: str):
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise HarnessError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict) or text_col not in record or label_col not in record:
                raise HarnessError(
                    f"{path}:{number}: expected an object with keys {text_col!r} and {label_col!r}; "
                    f"name them with --text-col and --label-col"
                )
            text, label = record[text_col], record[label_col]
            if not isinstance(text, str):
                raise HarnessError(f"{path}:{number}: expected the {text_col!r} value to be a string, found {text!r}")
            if not isinstance(label, str | int) or isinstance(label, bool):
                raise HarnessError(
                    f"{path}:{number}: expected the {label_col!r} value to be a name or an id, found {label!r}"
                )
            yield number, text, str(label)


def _describe_bad_utf8(path: Path) -> str:
    """The decoder's offset is within its buffer; find the line and file offset a person can look up."""
    offset = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return (
                    f"{path}:{number}: not UTF-8 text ({error.reason} at byte {offset + error.start} of the "
                    f"file); save the file as UTF-8"
                )
            offset += len(raw)
    return f"{path}: not UTF-8 text; save the file as UTF-8"


def read_rows(path: Path, text_col: str = "text", label_col: str = "label") -> list[tuple[int, str, str]]:
    """(line number, text, raw label) for every example of a file, in file order."""
    if not path.is_file():
        raise HarnessError(f"{path}: no such file")
    try:
        if path.suffix == ".txt":
            rows = list(_read_text_file(path))
        elif path.suffix in (".csv", ".tsv"):
            rows = list(_read_table(path, text_col, label_col))
        elif path.suffix == ".jsonl":
            rows = list(_read_jsonl(path, text_col, label_col))
        else:
            raise HarnessError(f"{path}: unsupported format; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    except UnicodeDecodeError:
        raise HarnessError(_describe_bad_utf8(path)) from None
    if not rows:
        raise HarnessError(f"{path}: the file holds no examples")
    return rows
