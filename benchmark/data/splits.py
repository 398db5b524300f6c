"""The loaded splits: train, dev and test of a dataset under a protocol, labels checked, parts carved where the
protocol has none, summarised for the log (the declarations they are read by are benchmark.dataset's)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from benchmark.console import log
from benchmark.data.folder import split_record
from benchmark.data.read import BadRows, describe_file
from benchmark.data.split import check_recorded
from benchmark.dataset import Protocol
from benchmark.errors import HarnessError
from benchmark.record import ABSENT, TaskRecord

SPLITS = ("train", "dev", "test")


@dataclass
class Split:
    texts: list[str]
    labels: np.ndarray  # int64 label ids, indices into Splits.label_names
    source: str  # where the examples came from, for messages and the results file


@dataclass
class Splits:
    """What a run reads: the three splits, the label names, the files they came from (what the record's `task`
    section says)."""

    dataset: str
    protocol: str
    label_names: list[str]
    train: Split
    dev: Split
    test: Split
    files: dict[str, dict] = field(default_factory=dict)  # name -> {path, sha256, lines}
    main_score: str = "accuracy"  # what the leaderboard sorts this dataset by
    dropped: dict[str, int] = field(default_factory=dict)  # malformed or empty rows dropped, per file
    dropped_summary: str = ""  # how many, and the first few with their lines
    deduplicated: int | None = None  # train texts removed for also being in dev or test (--dedupe)
    recorded: TaskRecord | None = None  # splits taken from a finished run (an export) keep that run's record

    def record(self) -> TaskRecord:
        """What the results file says about the task."""
        if self.recorded is not None:
            return self.recorded
        return TaskRecord(
            dataset=self.dataset,
            protocol=self.protocol,
            labels=self.label_names,
            sizes={"train": len(self.train.texts), "dev": len(self.dev.texts), "test": len(self.test.texts)},
            files=self.files,
            main_score=self.main_score,
            dropped_rows=self.dropped or ABSENT,
            removed_duplicates=ABSENT if self.deduplicated is None else self.deduplicated,
        )


def _is_integer(text: str) -> bool:
    return text.isascii() and text.lstrip("-").isdigit() and text.count("-") <= 1 and not text.endswith("-")


def _label_ids(rows, where: str, label_names: list[str], codes: tuple[str, ...] = ()) -> np.ndarray:
    """Labels may be written as names, as the source's codes, or (without codes) as ids; all are checked."""
    index = {name: i for i, name in enumerate(label_names)} | {code: i for i, code in enumerate(codes)}
    ids = np.empty(len(rows), dtype=np.int64)
    for position, (number, _, raw) in enumerate(rows):
        raw = raw.strip()
        if raw in index:
            ids[position] = index[raw]
        elif _is_integer(raw) and not codes:
            value = int(raw)
            if not 0 <= value < len(label_names):
                raise HarnessError(
                    f"{where}:{number}: label id {value} out of range; expected 0 to {len(label_names) - 1}"
                )
            ids[position] = value
        else:
            known = codes or label_names
            shown = ", ".join(known[:12]) + (" …" if len(known) > 12 else "")
            raise HarnessError(f"{where}:{number}: unknown label {raw!r}; expected one of: {shown}")
    return ids


def stratified_split(
    split: Split, fraction: float, seed: int, flag: str = "--dev-split", what: str = "early stopping"
) -> tuple[Split, Split]:
    """Carve a held-out part with the same class balance; the same seed gives the same split."""
    if not 0 < fraction < 1:
        raise HarnessError(f"{flag} must lie between 0 and 1, got {fraction}")
    counts = np.bincount(split.labels)
    n_held = int(np.ceil(fraction * len(split.texts)))
    if n_held < 1 or n_held >= len(split.texts):
        raise HarnessError(
            f"{split.source}: {len(split.texts)} examples are too few to hold out {fraction:.0%} "
            f"for {what}; add examples, change {flag}, or provide a {'dev' if what == 'early stopping' else what} file"
        )
    # Stratify when every class can be on both sides; tiny or skewed data falls back to a plain random split.
    classes = int((counts > 0).sum())
    can_stratify = counts[counts > 0].min() >= 2 and classes <= n_held <= len(split.texts) - classes
    from sklearn.model_selection import train_test_split  # 0.7 s of imports a run with a dev file never needs

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


def record_carved(whole: Split, parts: dict[str, Split], test_split: float, dev_split: float, seed: int) -> dict:
    """What the results record says of splits carved from one file, with the carve written beside the file on
    the first load and checked on every later one: a library that shuffled differently would make another
    benchmark, and that stops the run instead of passing unnoticed."""
    made = {
        "sizes": {name: len(part.texts) for name, part in parts.items()},
        "sha256": {name: examples_sha256(part) for name, part in parts.items()},
    }
    files = {
        "test": {
            "path": f"{whole.source} (test: {test_split:.0%} held out, seed {seed})",
            "sha256": made["sha256"]["test"],
            "lines": len(parts["test"].texts),
        }
    }
    record = split_record(whole.source)
    try:
        check_recorded(record, made, key=f"--split-seed {seed} --test-split {test_split:g} --dev-split {dev_split:g}")
    except HarnessError as error:
        if not str(error).startswith("cannot write"):
            raise
        log(f"warning: {error}; the split is recorded in each run's metrics.json only")
        return files
    return {**files, "split": describe_file(record)}


def examples_sha256(split: Split) -> str:
    return hashlib.sha256(
        "\n".join(f"{text}\t{label}" for text, label in zip(split.texts, split.labels, strict=True)).encode("utf-8")
    ).hexdigest()


def build_splits(
    name: str,
    protocol: Protocol,
    label_names: list[str],
    raw: dict,
    *,
    codes: tuple[str, ...] = (),
    dev_split: float = 0.1,
    test_split: float = 0.1,
    split_seed: int = 1,
    dedupe: bool = False,
    files: dict | None = None,
    bad: BadRows | None = None,
    **defaults,
) -> Splits:
    """The task from raw splits ({name: (rows, where)}) under a protocol, labels checked; test, then dev, held out
    of train where the protocol (or the folder) has none, and train deduplicated against dev and test on request.
    A test split carved from one file is recorded beside it on the first load and checked on every later one."""
    loaded = {
        split: Split([text for _, text, _ in rows], _label_ids(rows, where, label_names, codes), where)
        for split, (rows, where) in raw.items()
    }
    files = dict(files or {})
    train = loaded[protocol.train]
    if protocol.test is None:
        whole = train
        train, test = stratified_split(whole, test_split, split_seed, flag="--test-split", what="test")
    else:
        test = loaded[protocol.test]
    if protocol.dev is None or protocol.dev not in loaded:
        train, dev = stratified_split(train, dev_split, split_seed)
    else:
        dev = loaded[protocol.dev]
    if protocol.test is None:
        files.update(
            record_carved(whole, {"train": train, "dev": dev, "test": test}, test_split, dev_split, split_seed)
        )
    for split_name, split in (("train", train), ("dev", dev), ("test", test)):
        if len(split.texts) == 0:
            raise HarnessError(f"{split.source}: the {split_name} split is empty")
    removed = None
    if dedupe:
        elsewhere = set(dev.texts) | set(test.texts)
        keep = np.array([text not in elsewhere for text in train.texts], dtype=bool)
        removed = int((~keep).sum())
        train = Split(
            [t for t, k in zip(train.texts, keep, strict=True) if k],
            train.labels[keep],
            f"{train.source} (without {removed} texts also in dev or test)",
        )
    dropped, summary = (bad.counts(), bad.summary()) if bad else ({}, "")
    splits = (train, dev, test)
    return Splits(
        name,
        protocol.name,
        label_names,
        *splits,
        files,
        dropped=dropped,
        dropped_summary=summary,
        deduplicated=removed,
        **defaults,
    )


def summarize(task: Splits) -> str:
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
    repeated = len(task.train.texts) - len(set(task.train.texts))
    if repeated:
        lines.append(f"  {repeated} train texts repeat an earlier train text")
    for first, second in (("train", "dev"), ("train", "test"), ("dev", "test")):
        shared = set(splits[first].texts) & set(splits[second].texts)
        if shared:
            example = next(iter(sorted(shared)))
            lines.append(f"  {len(shared)} texts appear in both {first} and {second} (e.g. {example!r})")
    if task.deduplicated is not None:
        lines.append(f"  --dedupe removed {task.deduplicated} train texts that are also in dev or test")
    if task.dropped_summary:
        lines.append(f"  {task.dropped_summary}")
    for split in SPLITS:
        missing = [task.label_names[i] for i in np.flatnonzero(counts[split] == 0)]
        if missing and split != "dev":
            lines.append(f"  warning: no {split} examples of {', '.join(missing)}")
    return "\n".join(lines)
