"""A folder of your own, declared on the fly as a dataset like those in `tasks/`: same loading, same protocols.

The folder holds the split files (`train`, `dev`, `test`, each `.txt`, `.tsv`, `.csv` or `.jsonl`) and,
optionally, `class.txt` or `labels.txt`. Or it holds one labelled file and nothing else, as data usually comes
(a CSV of reviews, say): then test and dev are carved from it, stratified by a fixed seed, and the split is
recorded beside the file and checked on every later load. `--data-dir` may also name that file itself.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from benchmark.data.read import LABEL_FILES, SUPPORTED_SUFFIXES, read_label_names, read_rows
from benchmark.dataset import Dataset, Protocol
from benchmark.errors import HarnessError

SPLITS = ("train", "dev", "test")
ONE_FILE = "one-file"
PROTOCOLS = {
    "full": Protocol("full", "train, dev and test files (dev held out of train when there is none)"),
    "mini": Protocol("mini", "train on dev with a held-out part, score on test", train="dev", dev=None),
    ONE_FILE: Protocol(
        ONE_FILE,
        "one labelled file: a test part (--test-split), then a dev part (--dev-split), carved from it, "
        "stratified by --split-seed",
        train=ONE_FILE,
        dev=None,
        test=None,
    ),
    "smoke": Protocol("smoke", "the bundled sample, as full"),
}
SPLIT_RECORD_SUFFIX = ".split.json"  # beside a file carved into splits: what the split was, checked on every load


def find_split_file(folder: Path, split: str) -> Path | None:
    found = [path for path in (folder / f"{split}{suffix}" for suffix in SUPPORTED_SUFFIXES) if path.is_file()]
    if len(found) > 1:
        raise HarnessError(f"{folder}: several files for the {split} split ({', '.join(p.name for p in found)})")
    return found[0] if found else None


def data_files(folder: Path) -> list[Path]:
    """The files of a folder that may hold examples (not a label file, not a split record)."""
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix in SUPPORTED_SUFFIXES and path.name not in LABEL_FILES
    )


def the_one_file(path: Path) -> Path | None:
    """The labelled file to carve splits from: `path` itself, or the only data file of a folder without splits."""
    if path.is_file():
        return path
    if any(find_split_file(path, split) for split in SPLITS):
        return None
    files = data_files(path)
    return files[0] if len(files) == 1 else None


def folder_dataset(path: Path, text_col: str = "text", label_col: str = "label") -> Dataset:
    """The declaration of a folder of your own (or of one labelled file): its protocols, the one its files make
    the default, its label names where a label file gives them, and the reader of its files."""
    if not path.exists():
        raise HarnessError(f"{path}: no such data folder")
    if path.is_file() and path.suffix not in SUPPORTED_SUFFIXES:
        raise HarnessError(f"{path}: unsupported format; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    folder = path.parent if path.is_file() else path
    one_file = the_one_file(path)
    first = PROTOCOLS[ONE_FILE] if one_file else PROTOCOLS["full"]
    label_file = next((folder / name for name in LABEL_FILES if (folder / name).is_file()), None)
    return Dataset(
        name=path.stem if path.is_file() else path.name,
        description=f"a folder of your own ({path})",
        files=(),
        protocols=(first, *(p for p in PROTOCOLS.values() if p is not first)),
        read=partial(read_folder, one_file=one_file, text_col=text_col, label_col=label_col),
        labels=tuple(read_label_names(label_file)) if label_file else (),
        label_file=label_file,
    )


def read_folder(folder: Path, protocol: Protocol, bad, *, one_file: Path | None, text_col: str, label_col: str):
    """{raw split name: (rows, the file they came from)} for the splits `protocol` uses."""
    if protocol.name == ONE_FILE:
        if one_file is None:
            raise HarnessError(
                f"{folder}: --protocol {ONE_FILE} carves the splits from one labelled file, but this folder holds "
                f"{', '.join(p.name for p in data_files(folder)) or 'none'}; give that file as --data-dir"
            )
        return {ONE_FILE: (read_rows(one_file, text_col, label_col, bad), str(one_file))}
    if one_file is not None and one_file.parent == folder and not find_split_file(folder, "test"):
        raise HarnessError(
            f"{folder}: no test file, only {one_file.name}; --protocol {ONE_FILE} (the default for such a folder) "
            f"carves test and dev from it"
        )
    paths = {split: find_split_file(folder, split) for split in SPLITS}
    for split in ("dev", "test") if protocol.name == "mini" else ("train", "test"):
        if paths[split] is None:
            hint = " (without a train file, try --protocol mini)" if split == "train" else ""
            raise HarnessError(f"{folder}: no {split} file; expected {split}.txt, .tsv, .csv or .jsonl{hint}")
    used = {protocol.train, protocol.dev, protocol.test} - {None}
    return {
        split: (read_rows(path, text_col, label_col, bad), str(path))
        for split, path in paths.items()
        if path is not None and split in used
    }


def split_record(where: str) -> Path | None:
    """Where a carved file's split is recorded: beside the file."""
    path = Path(where)
    return path.with_name(path.name + SPLIT_RECORD_SUFFIX) if path.is_file() else None
