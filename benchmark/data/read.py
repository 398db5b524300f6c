"""Read and validate the splits: THUCNews text files, or CSV / TSV / JSONL with named columns.

Every problem is reported as a HarnessError naming the file, the line and what
was expected, so nothing is silently dropped or guessed.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from benchmark.errors import HarnessError

SPLITS = ("train", "dev", "test")
SUPPORTED_SUFFIXES = (".txt", ".tsv", ".csv", ".jsonl")
LABEL_FILES = ("class.txt", "labels.txt")
PROTOCOLS = ("full", "mini", "smoke")


@dataclass
class Split:
    texts: list[str]
    labels: np.ndarray  # int64 label ids, indices into Task.label_names
    source: str  # where the examples came from, for messages and the results file


@dataclass
class Task:
    dataset: str
    protocol: str
    label_names: list[str]
    train: Split
    dev: Split
    test: Split
    files: dict[str, dict] = field(default_factory=dict)  # name -> {path, sha256, lines}


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
            raise HarnessError(f"{path}:1: the header names the column {', '.join(map(repr, repeated))} more than "
                               f"once; every column needs its own name")
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
                raise HarnessError(f"{path}:{number}: expected the {label_col!r} value to be a name or an id, "
                                   f"found {label!r}")
            yield number, text, str(label)


def _describe_bad_utf8(path: Path) -> str:
    """The decoder's offset is within its buffer; find the line and file offset a person can look up."""
    offset = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return (f"{path}:{number}: not UTF-8 text ({error.reason} at byte {offset + error.start} of the "
                        f"file); save the file as UTF-8")
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


def _is_integer(text: str) -> bool:
    return text.isascii() and text.lstrip("-").isdigit() and text.count("-") <= 1 and not text.endswith("-")


def _label_ids(rows, path: Path, label_names: list[str]) -> np.ndarray:
    """Labels may be written as names or as ids; both are checked against the label list."""
    index = {name: i for i, name in enumerate(label_names)}
    ids = np.empty(len(rows), dtype=np.int64)
    for position, (number, text, raw) in enumerate(rows):
        raw = raw.strip()
        if not text.strip():
            raise HarnessError(f"{path}:{number}: empty text; expected a non-empty text before the label")
        if raw in index:
            ids[position] = index[raw]
        elif _is_integer(raw):
            value = int(raw)
            if not 0 <= value < len(label_names):
                raise HarnessError(
                    f"{path}:{number}: label id {value} out of range; expected 0 to {len(label_names) - 1}"
                )
            ids[position] = value
        else:
            shown = ", ".join(label_names[:12]) + (" …" if len(label_names) > 12 else "")
            raise HarnessError(f"{path}:{number}: unknown label {raw!r}; expected one of: {shown}")
    return ids


def find_split_file(data_dir: Path, split: str) -> Path | None:
    candidates = (data_dir / f"{split}{suffix}" for suffix in SUPPORTED_SUFFIXES)
    found = [path for path in candidates if path.is_file()]
    if len(found) > 1:
        raise HarnessError(f"{data_dir}: several files for the {split} split ({', '.join(p.name for p in found)})")
    return found[0] if found else None


def _infer_label_names(rows_by_file: dict[Path, list]) -> list[str]:
    """Without a label file the labels are what the files hold: ids in numeric order, names sorted."""
    raw = sorted({label.strip() for rows in rows_by_file.values() for _, _, label in rows})
    if all(label.isascii() and label.isdigit() for label in raw):
        return [str(i) for i in range(max(int(label) for label in raw) + 1)]
    return raw


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Carve a held-out part with the same class balance; the same seed gives the same split."""
    if not 0 < fraction < 1:
        raise HarnessError(f"--dev-split must lie between 0 and 1, got {fraction}")
    counts = np.bincount(split.labels)
    n_held = int(np.ceil(fraction * len(split.texts)))
    if n_held < 1 or n_held >= len(split.texts):
        raise HarnessError(f"{split.source}: {len(split.texts)} examples are too few to hold out {fraction:.0%} "
                           f"for early stopping; add examples, change --dev-split, or provide a dev file")
    # Stratify when every class can be on both sides; tiny or skewed data falls back to a plain random split.
    classes = int((counts > 0).sum())
    can_stratify = counts[counts > 0].min() >= 2 and classes <= n_held <= len(split.texts) - classes
    keep, held = train_test_split(np.arange(len(split.texts)), test_size=n_held, random_state=seed,
                                  stratify=split.labels if can_stratify else None)
    keep, held = np.sort(keep), np.sort(held)

    def subset(indices, what):
        return Split([split.texts[i] for i in indices], split.labels[indices], f"{split.source} ({what})")

    return subset(keep, f"{1 - fraction:.0%} kept"), subset(held, f"{fraction:.0%} held out, seed {seed}")


def load_task(
    data_dir: Path,
    protocol: str = "full",
    *,
    dev_split: float = 0.1,
    split_seed: int = 1,
    text_col: str = "text",
    label_col: str = "label",
) -> Task:
    """Read a data folder under a protocol.

    full: train, dev and test files (dev carved from train when absent).
    mini: no train file is needed; train on dev with a held-out part for early stopping, score on test.
    smoke: like full, for the bundled sample.
    """
    if protocol not in PROTOCOLS:
        raise HarnessError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    if data_dir.is_file():
        raise HarnessError(f"{data_dir} is a file; --data-dir expects a folder holding the train, dev and test files")
    if not data_dir.is_dir():
        raise HarnessError(f"{data_dir}: no such data folder")
    paths = {split: find_split_file(data_dir, split) for split in SPLITS}
    needed = ("dev", "test") if protocol == "mini" else ("train", "test")
    for split in needed:
        if paths[split] is None:
            hint = " (without a train file, try --protocol mini)" if split == "train" else ""
            raise HarnessError(
                f"{data_dir}: no {split} file; expected {split}.txt, .tsv, .csv or .jsonl{hint}"
            )
    if protocol == "mini":
        paths["train"] = None

    rows = {split: read_rows(path, text_col, label_col) for split, path in paths.items() if path}
    label_file = next((data_dir / name for name in LABEL_FILES if (data_dir / name).is_file()), None)
    label_names = (
        read_label_names(label_file) if label_file else _infer_label_names({paths[s]: r for s, r in rows.items()})
    )
    loaded = {
        split: Split([text for _, text, _ in split_rows], _label_ids(split_rows, paths[split], label_names),
                     str(paths[split]))
        for split, split_rows in rows.items()
    }
    if protocol == "mini":
        train, dev = stratified_split(loaded["dev"], dev_split, split_seed)
    elif "dev" in loaded:
        train, dev = loaded["train"], loaded["dev"]
    else:
        train, dev = stratified_split(loaded["train"], dev_split, split_seed)

    for name, split in (("train", train), ("dev", dev), ("test", loaded["test"])):
        if len(split.texts) == 0:
            raise HarnessError(f"{split.source}: the {name} split is empty")
    files = {split: describe_file(path) for split, path in paths.items() if path}
    if label_file:
        files["labels"] = describe_file(label_file)
    return Task(data_dir.name, protocol, label_names, train, dev, loaded["test"], files)


def summarize(task: Task) -> str:
    """Class balance per split and texts shared between splits, as a person reads them."""
    width = max(len(name) for name in task.label_names)
    lines = [f"{task.dataset} ({task.protocol} protocol), {len(task.label_names)} classes"]
    header = f"  {'class':<{width}} " + " ".join(f"{split:>7}" for split in SPLITS)
    lines.append(header)
    splits = {"train": task.train, "dev": task.dev, "test": task.test}
    counts = {s: np.bincount(split.labels, minlength=len(task.label_names)) for s, split in splits.items()}
    for i, name in enumerate(task.label_names):
        lines.append(f"  {name:<{width}} " + " ".join(f"{counts[s][i]:>7}" for s in SPLITS))
    lines.append(f"  {'total':<{width}} " + " ".join(f"{len(splits[s].texts):>7}" for s in SPLITS))
    for first, second in (("train", "dev"), ("train", "test"), ("dev", "test")):
        shared = set(splits[first].texts) & set(splits[second].texts)
        if shared:
            example = next(iter(sorted(shared)))
            lines.append(f"  {len(shared)} texts appear in both {first} and {second} (e.g. {example!r})")
    for split in SPLITS:
        missing = [task.label_names[i] for i in np.flatnonzero(counts[split] == 0)]
        if missing and split != "dev":
            lines.append(f"  warning: no {split} examples of {', '.join(missing)}")
    return "\n".join(lines)
