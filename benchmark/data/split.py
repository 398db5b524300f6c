"""A fixed split for a dataset published without one: stratified 8:1:1 from a seed, checked on every load.

Within each class (in the order of the source's codes), the rows' ids, sorted, are shuffled by a generator
seeded with (seed, class) and cut 8:1:1. The sha256 of each part's sorted ids is written to `split.json` beside
the data on the first load and compared on every later one: a library that shuffled differently would make a
different benchmark, and that stops the run instead of passing unnoticed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from benchmark.atomic import write_json
from benchmark.errors import HarnessError

FRACTIONS = {"train": 0.8, "dev": 0.1}  # the rest is test
RECORD = "split.json"


def ids_sha256(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def fixed_split(rows: list, ids: list[str], folder: Path, *, seed: int, where: str) -> dict:
    """{train, dev, test: (rows, where)} for rows of (line, text, label) with the given ids."""
    if len(set(ids)) != len(ids):
        raise HarnessError(f"{where}: ids appear twice, so no split can be fixed by them")
    labels = [row[2] for row in rows]
    parts = {"train": [], "dev": [], "test": []}
    for index, label in enumerate(sorted(set(labels))):
        members = sorted((i for i, value in enumerate(labels) if value == label), key=lambda i: ids[i])
        order = np.random.default_rng([seed, index]).permutation(len(members))
        cut_train = round(FRACTIONS["train"] * len(members))
        cut_dev = cut_train + round(FRACTIONS["dev"] * len(members))
        shuffled = [members[i] for i in order]
        parts["train"] += shuffled[:cut_train]
        parts["dev"] += shuffled[cut_train:cut_dev]
        parts["test"] += shuffled[cut_dev:]
    hashes = {name: ids_sha256([ids[i] for i in chosen]) for name, chosen in parts.items()}
    sizes = {name: len(chosen) for name, chosen in parts.items()}
    check_recorded(folder / RECORD, {"seed": seed, "sizes": sizes, "ids_sha256": hashes})
    return {
        name: ([rows[i] for i in sorted(chosen)], f"{where} ({name}, seed {seed})") for name, chosen in parts.items()
    }


def check_recorded(path: Path, made: dict, key: str | None = None) -> None:
    """Record the split on its first load; on later loads, stop if it came out differently. With a `key` (the
    settings that made it), the file keeps one split per key: other settings make another split, recorded beside."""
    recorded = {}
    if path.is_file():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise HarnessError(f"{path}: unreadable ({error}); delete it to record the split again") from None
    before = recorded.get(key) if key is not None else recorded or None
    if before is None:
        write_json(path, {**recorded, key: made} if key is not None else made)
    elif before != made:
        raise HarnessError(
            f"{path}: the split made now differs from the one recorded on the first load ({made['sizes']} now, "
            f"{before.get('sizes')} then); a library may shuffle differently. Runs on the two would not be "
            f"comparable: delete the file only to start a new benchmark"
        )
