"""Read one data file: THUCNews text files, or CSV / TSV / JSONL with named columns, and label files.

Every problem is reported as a HarnessError naming the file, the line and what
was expected, so nothing is silently dropped or guessed; with --on-bad-line
warn|skip, malformed and empty rows are dropped instead, counted and listed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from collections import Counter
from pathlib import Path

from benchmark.errors import HarnessError
from benchmark.utf8 import not_utf8, read_utf8

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
    names = [line.strip() for line in read_utf8(path, "one label name per line").splitlines()]
    if not any(names):
        raise HarnessError(f"{path}: the label file is empty; expected one label name per line")
    for number, name in enumerate(names, 1):
        if not name:
            raise HarnessError(f"{path}:{number}: empty label name; expected one label name per line")
    duplicates = [name for name, count in Counter(names).items() if count > 1]
    if duplicates:
        raise HarnessError(f"{path}: label names appear twice: {', '.join(duplicates)}")
    return names


ON_BAD_LINE = ("error", "warn", "skip")  # pandas' names
SHOWN_BAD_ROWS = 5


class BadRows:
    """What becomes of a malformed or empty row: an error naming file and line (the default), or, with
    --on-bad-line warn|skip, the row is dropped and counted (warn also prints each one)."""

    def __init__(self, policy: str = "error"):
        if policy not in ON_BAD_LINE:
            raise HarnessError(f"--on-bad-line {policy}: expected one of {', '.join(ON_BAD_LINE)}")
        self.policy, self.dropped = policy, []

    def __call__(self, where: str, number: int, reason: str) -> None:
        if self.policy == "error":
            raise HarnessError(f"{where}:{number}: {reason}")
        self.dropped.append((where, number, reason))
        if self.policy == "warn":
            print(f"warning: {where}:{number}: {reason}; the row is dropped (--on-bad-line warn)", flush=True)

    def counts(self) -> dict[str, int]:
        return dict(Counter(where for where, _, _ in self.dropped))

    def summary(self) -> str:
        if not self.dropped:
            return ""
        shown = "; ".join(
            f"{where}:{number} ({reason.split(';')[0]})" for where, number, reason in self.dropped[:SHOWN_BAD_ROWS]
        )
        more = f"; and {len(self.dropped) - SHOWN_BAD_ROWS} more" if len(self.dropped) > SHOWN_BAD_ROWS else ""
        return f"dropped {len(self.dropped)} malformed or empty rows (--on-bad-line {self.policy}): {shown}{more}"


def _row(where, number, text, label, bad):
    """The row, or None when its text is empty (reported as a bad row)."""
    if not text.strip():
        bad(where, number, "empty text; expected a non-empty text before the label")
        return None
    return number, text, label


def read_text_lines(lines, where: str, bad):
    """THUCNews layout: `text<TAB>label` a line."""
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if "\t" not in line:
            bad(where, number, f"expected 'text<TAB>label', found no tab in {line[:60]!r}")
            continue
        row = _row(where, number, *line.rsplit("\t", 1), bad)
        if row:
            yield row


def read_table_lines(lines, where: str, delimiter: str, text_col: str, label_col: str, bad):
    """CSV / TSV with a header row naming the columns."""
    reader = csv.DictReader(lines, delimiter=delimiter)
    columns = reader.fieldnames or []
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise HarnessError(
            f"{where}:1: the header names the column {', '.join(map(repr, repeated))} more than "
            f"once; every column needs its own name"
        )
    for needed in (text_col, label_col):
        if needed not in columns:
            raise HarnessError(
                f"{where}:1: no column {needed!r} in the header {columns}; "
                f"name the columns with --text-col and --label-col"
            )
    for row in reader:
        # Line numbers count the header, as an editor shows them.
        if None in row or any(v is None for v in row.values()):
            bad(where, reader.line_num, f"expected {len(columns)} fields as in the header, found a different number")
            continue
        found = _row(where, reader.line_num, row[text_col], row[label_col], bad)
        if found:
            yield found


def read_json_lines(lines, where: str, text_col: str, label_col: str, bad, hint: str = ""):
    """One JSON object a line; the text and the label are named fields."""
    hint = hint or "; name them with --text-col and --label-col"
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            bad(where, number, f"not valid JSON ({error.msg})")
            continue
        if not isinstance(record, dict) or text_col not in record or label_col not in record:
            bad(where, number, f"expected an object with keys {text_col!r} and {label_col!r}{hint}")
            continue
        text, label = record[text_col], record[label_col]
        if not isinstance(text, str):
            bad(where, number, f"expected the {text_col!r} value to be a string, found {text!r}")
        elif not isinstance(label, str | int) or isinstance(label, bool):
            bad(where, number, f"expected the {label_col!r} value to be a name or an id, found {label!r}")
        elif found := _row(where, number, text, str(label), bad):
            yield found


def member_lines(archive: Path, member: str) -> list[str]:
    """The lines of a text member of a zip archive."""
    try:
        with zipfile.ZipFile(archive) as opened, opened.open(member) as handle:
            data = handle.read()
    except KeyError:
        raise HarnessError(f"{archive}: has no {member}; expected the archive as published") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise HarnessError(f"{archive}: not a readable zip archive ({error}); delete it to download again") from None
    try:
        return data.decode("utf-8-sig").splitlines(keepends=True)
    except UnicodeDecodeError:
        raise not_utf8(f"{archive}:{member}", data) from None


def read_rows(
    path: Path, text_col: str = "text", label_col: str = "label", bad: BadRows | None = None
) -> list[tuple[int, str, str]]:
    """(line number, text, raw label) for every example of a file, in file order."""
    bad = bad or BadRows()
    if not path.is_file():
        raise HarnessError(f"{path}: no such file")
    if path.suffix not in SUPPORTED_SUFFIXES:
        raise HarnessError(f"{path}: unsupported format; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        with open(path, encoding="utf-8-sig", newline="") as lines:
            if path.suffix == ".txt":
                rows = list(read_text_lines(lines, str(path), bad))
            elif path.suffix in (".csv", ".tsv"):
                rows = list(
                    read_table_lines(lines, str(path), "," if path.suffix == ".csv" else "\t", text_col, label_col, bad)
                )
            else:
                rows = list(read_json_lines(lines, str(path), text_col, label_col, bad))
    except UnicodeDecodeError:
        # The decoder's offset is within its buffer; not_utf8 finds the line and the offset in the file.
        raise not_utf8(path) from None
    if not rows:
        raise HarnessError(f"{path}: the file holds no examples")
    return rows
