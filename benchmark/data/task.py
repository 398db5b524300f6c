"""A task: the train, dev and test splits of a data folder under a protocol, validated and summarised."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from benchmark.config import DEFAULT_DATA_DIR, PROTOCOLS, RunConfig
from benchmark.data.download import ensure_thucnews
from benchmark.data.read import LABEL_FILES, SUPPORTED_SUFFIXES, describe_file, read_label_names, read_rows
from benchmark.errors import HarnessError
from benchmark.record import TaskRecord

SPLITS = ("train", "dev", "test")


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

    def record(self) -> TaskRecord:
        """What the results file says about the task."""
        return TaskRecord(
            dataset=self.dataset,
            protocol=self.protocol,
            labels=self.label_names,
            sizes={"train": len(self.train.texts), "dev": len(self.dev.texts), "test": len(self.test.texts)},
            files=self.files,
        )


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
        raise HarnessError(
            f"{split.source}: {len(split.texts)} examples are too few to hold out {fraction:.0%} "
            f"for early stopping; add examples, change --dev-split, or provide a dev file"
        )
    # Stratify when every class can be on both sides; tiny or skewed data falls back to a plain random split.
    classes = int((counts > 0).sum())
    can_stratify = counts[counts > 0].min() >= 2 and classes <= n_held <= len(split.texts) - classes
    keep, held = train_test_split(
        np.arange(len(split.texts)),
        test_size=n_held,
        random_state=seed,
        stratify=split.labels if can_stratify else None,
    )
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
            raise HarnessError(f"{data_dir}: no {split} file; expected {split}.txt, .tsv, .csv or .jsonl{hint}")
    if protocol == "mini":
        paths["train"] = None

    rows = {split: read_rows(path, text_col, label_col) for split, path in paths.items() if path}
    label_file = next((data_dir / name for name in LABEL_FILES if (data_dir / name).is_file()), None)
    label_names = (
        read_label_names(label_file) if label_file else _infer_label_names({paths[s]: r for s, r in rows.items()})
    )
    loaded = {
        split: Split(
            [text for _, text, _ in split_rows], _label_ids(split_rows, paths[split], label_names), str(paths[split])
        )
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


def read_task(config: RunConfig) -> Task:
    """The task a run's settings name; THUCNews-10 is downloaded into the default data folder on first use."""
    data_dir = Path(config.data_dir)
    if config.data_dir == DEFAULT_DATA_DIR and not config.smoke:
        files = ("class.txt", "dev.txt", "test.txt") if config.protocol == "mini" else None
        ensure_thucnews(data_dir, **({"files": files} if files else {}))
    return load_task(
        data_dir,
        config.protocol,
        dev_split=config.dev_split,
        split_seed=config.split_seed,
        text_col=config.text_col,
        label_col=config.label_col,
    )
