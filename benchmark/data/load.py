"""Which data a run reads: a registered dataset (fetched and verified into data/<name>) or a folder of your own."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from benchmark.config import DATA_ROOT, DEFAULT_DATASET, RunConfig
from benchmark.data.download import ensure_files
from benchmark.data.read import LABEL_FILES, SUPPORTED_SUFFIXES, BadRows, describe_file, read_label_names, read_rows
from benchmark.data.split import RECORD as SPLIT_RECORD
from benchmark.data.task import SPLITS, Task, build_task
from benchmark.dataset_registry import Dataset, Protocol, get_dataset
from benchmark.environment import hub_offline
from benchmark.errors import HarnessError

# A folder of your own: the files named train, dev and test, under these protocols.
FOLDER_PROTOCOLS = {
    "full": Protocol("full", "train, dev and test files (dev held out of train when there is none)"),
    "mini": Protocol("mini", "train on dev with a held-out part, score on test", train="dev", dev=None),
    "smoke": Protocol("smoke", "the bundled sample, as full"),
}


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


def load_task(
    data_dir: Path,
    protocol: str = "full",
    *,
    dev_split: float = 0.1,
    split_seed: int = 1,
    text_col: str = "text",
    label_col: str = "label",
    on_bad_line: str = "error",
    dedupe: bool = False,
) -> Task:
    """Read a folder of your own under a protocol.

    full: train, dev and test files (dev carved from train when absent).
    mini: no train file is needed; train on dev with a held-out part for early stopping, score on test.
    smoke: like full, for the bundled sample.
    """
    if protocol not in FOLDER_PROTOCOLS:
        raise HarnessError(f"--protocol {protocol}: a folder of your own offers {', '.join(FOLDER_PROTOCOLS)}")
    if data_dir.is_file():
        raise HarnessError(f"{data_dir} is a file; --data-dir expects a folder holding the train, dev and test files")
    if not data_dir.is_dir():
        raise HarnessError(f"{data_dir}: no such data folder")
    paths = {split: find_split_file(data_dir, split) for split in SPLITS}
    needed = ("dev", "test") if protocol == "mini" else ("train", "test")
    for split in needed:
        if paths[split] is None:
            hint = " (without a train file, try --protocol mini)" if split == "train" else ""
            raise HarnessError(f"{data_dir}: no {split} file; expected {split}.txt, .tsv, .csv or .jsonl{hint}")
    if protocol == "mini":
        paths["train"] = None
    recipe = FOLDER_PROTOCOLS[protocol]
    if protocol != "mini" and paths["dev"] is None:
        recipe = replace(recipe, dev=None)

    bad = BadRows(on_bad_line)
    rows = {split: read_rows(path, text_col, label_col, bad) for split, path in paths.items() if path}
    label_file = next((data_dir / name for name in LABEL_FILES if (data_dir / name).is_file()), None)
    label_names = (
        read_label_names(label_file) if label_file else _infer_label_names({paths[s]: r for s, r in rows.items()})
    )
    files = {split: describe_file(path) for split, path in paths.items() if path}
    if label_file:
        files["labels"] = describe_file(label_file)
    raw = {split: (split_rows, str(paths[split])) for split, split_rows in rows.items()}
    return build_task(
        data_dir.name,
        recipe,
        label_names,
        raw,
        dev_split=dev_split,
        split_seed=split_seed,
        dedupe=dedupe,
        files=files,
        bad=bad,
    )


def load_registered(
    dataset: Dataset,
    folder: Path,
    protocol: str | None = None,
    *,
    dev_split: float = 0.1,
    split_seed: int = 1,
    on_bad_line: str = "error",
    dedupe: bool = False,
    offline: bool = False,
) -> Task:
    """A registered dataset under one of its protocols, its files fetched and verified first."""
    recipe = dataset.protocol(protocol)
    sources = [dataset.file(name) for name in recipe.files] if recipe.files else list(dataset.files)
    ensure_files(folder, sources, what=dataset.name, offline=offline, mirror_env=dataset.url_env)
    bad = BadRows(on_bad_line)
    raw = dataset.read(folder, recipe, bad)
    # Recorded as a folder of your own records them: each raw split the protocol uses by its name (the test
    # split's record is what the leaderboard groups comparable runs by), then the other files.
    files = {split: describe_split(*raw[split]) for split in (recipe.train, recipe.dev) if split}
    files["test"] = describe_split(*raw[recipe.test])
    used = {entry["path"] for entry in files.values()}
    for source in sources:
        if str(folder / source.name) not in used:
            files[source.role or source.name] = describe_file(folder / source.name)
    if (folder / SPLIT_RECORD).is_file():
        files["split"] = describe_file(folder / SPLIT_RECORD)  # pins a split the harness made
    return build_task(
        dataset.name,
        recipe,
        list(dataset.labels),
        raw,
        codes=dataset.codes,
        dev_split=dev_split,
        split_seed=split_seed,
        dedupe=dedupe,
        files=files,
        bad=bad,
        main_score=dataset.main_score,
        max_length=dataset.max_length,
        truncation=dataset.truncation,
    )


def describe_split(rows: list, where: str) -> dict:
    """A raw split as the results file pins it: its file, or, for a split inside an archive or made by the
    harness, where it came from and a sha256 of its examples."""
    if Path(where).is_file():
        return describe_file(Path(where))
    digest = hashlib.sha256("\n".join(f"{text}\t{label}" for _, text, label in rows).encode("utf-8")).hexdigest()
    return {"path": where, "sha256": digest, "lines": len(rows)}


def check_data_flags(config: RunConfig, given: set[str]) -> None:
    """Flags about the data that would do nothing for the data chosen, refused before any work."""
    own_folder = bool(config.data_dir) and not config.dataset
    if own_folder:
        if config.protocol and config.protocol not in FOLDER_PROTOCOLS:
            raise HarnessError(
                f"--protocol {config.protocol}: a folder of your own offers "
                f"{', '.join(p for p in FOLDER_PROTOCOLS if p != 'smoke')}"
            )
        folder = Path(config.data_dir)
        found = [find_split_file(folder, split) for split in SPLITS] if folder.is_dir() else []
        columns = [name for name in ("text_col", "label_col") if name in given]
        if columns and any(found) and all(path.suffix == ".txt" for path in found if path):
            raise HarnessError(
                f"--{columns[0].replace('_', '-')} {getattr(config, columns[0])} applies to .csv, .tsv and .jsonl "
                f"files, but the split files of {folder} are .txt (text<TAB>label a line, no columns); drop it"
            )
        has_dev = folder.is_dir() and find_split_file(folder, "dev") is not None
        if "dev_split" in given and (config.protocol or "full") == "full" and not config.smoke and has_dev:
            raise HarnessError(
                f"--dev-split {config.dev_split} applies only when there is no dev file, but "
                f"{config.data_dir} has one; drop --dev-split, or use --protocol mini"
            )
        return
    dataset = get_dataset(config.dataset or DEFAULT_DATASET)
    protocol = dataset.protocol(config.protocol)
    for name in ("text_col", "label_col"):
        if name in given:
            raise HarnessError(
                f"--{name.replace('_', '-')} applies to a folder of your own (--data-dir without "
                f"--dataset); {dataset.name} declares its columns"
            )
    if "dev_split" in given and protocol.dev is not None:
        raise HarnessError(
            f"--dev-split {config.dev_split}: {dataset.name}'s {protocol.name} protocol has a dev "
            f"split of its own; drop --dev-split"
        )


def read_task(config: RunConfig) -> Task:
    """The task a run's settings name: a registered dataset (fetched into data/<name> on first use unless
    --data-dir says where its files are), or a folder of your own (--data-dir without --dataset)."""
    common = {
        "dev_split": config.dev_split,
        "split_seed": config.split_seed,
        "on_bad_line": config.on_bad_line,
        "dedupe": config.dedupe,
    }
    if config.data_dir and not config.dataset:
        columns = {"text_col": config.text_col, "label_col": config.label_col}
        return read_once(load_task, Path(config.data_dir), config.protocol or "full", **columns, **common)
    dataset = get_dataset(config.dataset or DEFAULT_DATASET)
    folder = Path(config.data_dir or Path(DATA_ROOT) / dataset.name)
    # HF_HUB_OFFLINE=1 forbids the network as --offline does, and the run records itself offline either way.
    offline = config.offline or hub_offline()
    return read_once(load_registered, dataset, folder, config.protocol, offline=offline, **common)


# The task last read in this process: the runs of a queue read the same files with the same settings.
_last_read: tuple | None = None  # (call, stats of its files, task)


def read_once(read, *args, **kwargs) -> Task:
    """`read(*args, **kwargs)`, or the task an identical call returned earlier in this process while none of its
    files has changed size or modification time since. Runs only read a task, so they can share it."""
    global _last_read
    call = (read.__name__, args, sorted(kwargs.items()))
    if _last_read is not None and _last_read[0] == call and _last_read[1] == file_stats(_last_read[2]):
        return _last_read[2]
    task = read(*args, **kwargs)
    stats = file_stats(task)
    _last_read = (call, stats, task) if stats is not None else None
    return task


def file_stats(task: Task) -> tuple | None:
    """Size and modification time of every file the task was read from; None when one is not a plain file (a
    split inside an archive), which is then read again each time."""
    stats = []
    for entry in task.files.values():
        path = Path(entry["path"])
        if not path.is_file():
            return None
        status = path.stat()
        stats.append((str(path), status.st_size, status.st_mtime_ns))
    return tuple(stats)
