"""Which data a run reads, through one door: a registered dataset (fetched and verified into data/<name>) or a
folder of your own declared on the fly (benchmark.data.folder), loaded, validated and split alike."""

from __future__ import annotations

import hashlib
from pathlib import Path

from benchmark.config import DATA_ROOT, DEFAULT_DATASET, RunConfig
from benchmark.data.download import ensure_files
from benchmark.data.folder import ONE_FILE, SPLITS, find_split_file, folder_dataset, the_one_file
from benchmark.data.read import BadRows, describe_file
from benchmark.data.split import RECORD as SPLIT_RECORD
from benchmark.data.splits import Splits, build_splits
from benchmark.dataset import Dataset
from benchmark.environment import hub_offline
from benchmark.errors import HarnessError
from benchmark.registry import get_dataset


def load_dataset(
    dataset: Dataset,
    folder: Path,
    protocol: str | None = None,
    *,
    dev_split: float = 0.1,
    test_split: float = 0.1,
    split_seed: int = 1,
    on_bad_line: str = "error",
    dedupe: bool = False,
    offline: bool = False,
) -> Splits:
    """A dataset under one of its protocols: its declared files fetched and verified first, its reader's rows
    validated, the splits the protocol carves carved. The one door for data, registered or your own."""
    recipe = dataset.protocol(protocol)
    sources = [dataset.file(name) for name in recipe.files] if recipe.files else list(dataset.files)
    ensure_files(folder, sources, what=dataset.name, offline=offline, mirror_env=dataset.url_env)
    bad = BadRows(on_bad_line)
    raw = dataset.read(folder, recipe, bad)
    # Each raw split the protocol uses by its name (the test split's record is what the leaderboard groups
    # comparable runs by; a carved one is recorded as it is carved), then the other files.
    files = {split: describe_split(*raw[split]) for split in (recipe.train, recipe.dev) if split in raw}
    if recipe.test in raw:
        files["test"] = describe_split(*raw[recipe.test])
    used = {entry["path"] for entry in files.values()}
    for source in sources:
        if str(folder / source.name) not in used:
            files[source.role or source.name] = describe_file(folder / source.name)
    if dataset.label_file is not None:
        files["labels"] = describe_file(dataset.label_file)
    if (folder / SPLIT_RECORD).is_file():
        files["split"] = describe_file(folder / SPLIT_RECORD)  # pins a split the harness made
    return build_splits(
        dataset.name,
        recipe,
        list(dataset.labels) or _infer_label_names(raw),
        raw,
        codes=dataset.codes,
        dev_split=dev_split,
        test_split=test_split,
        split_seed=split_seed,
        dedupe=dedupe,
        files=files,
        bad=bad,
        main_score=dataset.main_score,
    )


def load_folder(
    data_dir: Path, protocol: str | None = None, *, text_col="text", label_col="label", **options
) -> Splits:
    """A folder of your own (or one labelled file) under a protocol (default: the one its files make)."""
    data_dir = Path(data_dir)
    folder = data_dir.parent if data_dir.is_file() else data_dir
    return load_dataset(folder_dataset(data_dir, text_col, label_col), folder, protocol, **options)


def _infer_label_names(raw: dict) -> list[str]:
    """Without a label file the labels are what the files hold: ids in numeric order, names sorted."""
    found = sorted({label.strip() for rows, _ in raw.values() for _, _, label in rows})
    if found and all(label.isascii() and label.isdigit() for label in found):
        return [str(i) for i in range(max(int(label) for label in found) + 1)]
    return found


def describe_split(rows: list, where: str) -> dict:
    """A raw split as the results file pins it: its file, or, for a split inside an archive or made by the
    harness, where it came from and a sha256 of its examples."""
    if Path(where).is_file():
        return describe_file(Path(where))
    digest = hashlib.sha256("\n".join(f"{text}\t{label}" for _, text, label in rows).encode("utf-8")).hexdigest()
    return {"path": where, "sha256": digest, "lines": len(rows)}


def dataset_for(config: RunConfig) -> tuple[Dataset, Path]:
    """The dataset a run's settings name and the folder its files are in: a registered dataset (in data/<name>
    unless --data-dir says where), or a folder of your own declared on the fly (--data-dir without --dataset)."""
    if config.data_dir and not config.dataset:
        path = Path(config.data_dir)
        return folder_dataset(path, config.text_col, config.label_col), path.parent if path.is_file() else path
    dataset = get_dataset(config.dataset or DEFAULT_DATASET)
    return dataset, Path(config.data_dir or Path(DATA_ROOT) / dataset.name)


def check_data_flags(config: RunConfig, given: set[str]) -> None:
    """Flags about the data that would do nothing for the data chosen, refused before any work."""
    own_folder = bool(config.data_dir) and not config.dataset
    if own_folder and not Path(config.data_dir).exists():
        return  # reading says so, naming the folder
    dataset, folder = dataset_for(config)
    if own_folder and config.protocol and config.protocol not in {p.name for p in dataset.protocols}:
        offered = ", ".join(p.name for p in dataset.protocols if p.name != "smoke")
        raise HarnessError(f"--protocol {config.protocol}: a folder of your own offers {offered}")
    if own_folder:
        one_file = the_one_file(Path(config.data_dir))
        found = [one_file] if one_file else [find_split_file(folder, split) for split in SPLITS]
        columns = [name for name in ("text_col", "label_col") if name in given]
        if columns and any(found) and all(path.suffix == ".txt" for path in found if path):
            raise HarnessError(
                f"--{columns[0].replace('_', '-')} {getattr(config, columns[0])} applies to .csv, .tsv and .jsonl "
                f"files, but the data files of {config.data_dir} are .txt (text<TAB>label a line, no columns); "
                f"drop it"
            )
    protocol = dataset.protocol(config.protocol)
    for name in ("text_col", "label_col"):
        if name in given and not own_folder:
            raise HarnessError(
                f"--{name.replace('_', '-')} applies to a folder of your own (--data-dir without "
                f"--dataset); {dataset.name} declares its columns"
            )
    carves_dev = protocol.dev is None or (own_folder and find_split_file(folder, protocol.dev) is None)
    if "dev_split" in given and not carves_dev and not config.smoke:
        raise HarnessError(
            f"--dev-split {config.dev_split} applies only when there is no dev file, but {config.data_dir} has one; "
            f"drop --dev-split, or use --protocol mini"
            if own_folder
            else f"--dev-split {config.dev_split}: {dataset.name}'s {protocol.name} protocol has a dev split of its "
            f"own; drop --dev-split"
        )
    if "test_split" in given and protocol.test is not None:
        raise HarnessError(
            f"--test-split {config.test_split} applies only when test is carved from one labelled file "
            f"(--protocol {ONE_FILE}); {dataset.name} has a test split of its own"
        )


# The run options that say which data a run reads and how it is split and cleaned.
DATA_OPTIONS = (
    "dataset", "data_dir", "protocol", "text_col", "label_col", "dev_split", "test_split", "split_seed",
    "on_bad_line", "dedupe", "offline",
)  # fmt: skip


def read_splits(config: RunConfig) -> Splits:
    """The splits a run's settings name (see `dataset_for`), read once per process while its files are unchanged."""

    def read() -> Splits:
        dataset, folder = dataset_for(config)
        return load_dataset(
            dataset,
            folder,
            config.protocol,
            dev_split=config.dev_split,
            test_split=config.test_split,
            split_seed=config.split_seed,
            on_bad_line=config.on_bad_line,
            dedupe=config.dedupe,
            # HF_HUB_OFFLINE=1 forbids the network as --offline does, and the run records itself offline either way.
            offline=config.offline or hub_offline(),
        )

    return read_once(tuple(getattr(config, name) for name in DATA_OPTIONS) + (hub_offline(),), read)


# The splits last read in this process: the runs of a queue read the same files with the same settings.
_last_read: tuple | None = None  # (data options, stats of their files, splits)


def read_once(key: tuple, read) -> Splits:
    """`read()`, or the splits it returned earlier in this process for the same data options while none of their
    files has changed size or modification time since. Runs only read splits, so they can share them."""
    global _last_read
    if _last_read is not None and _last_read[0] == key and _last_read[1] == file_stats(_last_read[2]):
        return _last_read[2]
    splits = read()
    stats = file_stats(splits)
    _last_read = (key, stats, splits) if stats is not None else None
    return splits


def file_stats(splits: Splits) -> tuple | None:
    """Size and modification time of every file the splits were read from; None when one is not a plain file (a
    split inside an archive), which is then read again each time."""
    stats = []
    for entry in splits.files.values():
        path = Path(entry["path"])
        if not path.is_file():
            return None
        status = path.stat()
        stats.append((str(path), status.st_size, status.st_mtime_ns))
    return tuple(stats)
