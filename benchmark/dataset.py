"""A dataset declaration: what a module in `tasks/` registers (benchmark.registry), declared once.

A declaration is data: where its files come from and how each is verified, the labels and the source's codes
for them, the protocols it offers (which file becomes which split), its default input length and truncation,
the score its leaderboard is sorted by, and the figures published for backbones on it. Only what no common
format covers is code: a reader that turns the dataset's files into rows. Importing `tasks` imports every
module in that folder, so a new file there is enough for a dataset to appear in `--list-datasets`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.errors import HarnessError

SCORES = ("accuracy", "macro_f1")
TRUNCATIONS = ("head", "tail", "head+tail")


@dataclass(frozen=True)
class SourceFile:
    """One file as published, kept under `name` in the dataset's folder once its checksum matches."""

    name: str
    url: str
    git_blob: str | None = None  # the id `git hash-object` gives it, for files published in a git repository
    sha256: str | None = None
    md5: str | None = None  # what some publishers give; checked as the others are
    size: int | None = None
    role: str | None = None  # the name the results file records it under, when not a split's ("labels")

    def __post_init__(self):
        if not (self.git_blob or self.sha256 or self.md5):
            raise ValueError(f"source file {self.name}: a download is only kept when a checksum pins it")


@dataclass(frozen=True)
class Protocol:
    """Which of the dataset's raw splits become train, dev and test. With no `dev`, a stratified part of train is
    held out for early stopping (--dev-split, --split-seed), the same for every run."""

    name: str
    description: str
    train: str = "train"
    dev: str | None = "dev"
    test: str | None = "test"  # None: a stratified part of train is held out as test first (--test-split)
    files: tuple[str, ...] | None = None  # the source files it needs; None: all of them


@dataclass(frozen=True)
class Reported:
    """A published figure, shown beside the measured ones and never ranked with them."""

    backbone: str
    value: float  # percent
    protocol: str
    source: str
    metric: str = "accuracy"
    split: str = "test"  # the split the source scored
    note: str = ""
    # The source's settings where known, so a reproduction check can say which differ from a measured run's.
    setup: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    files: tuple[SourceFile, ...]
    protocols: tuple[Protocol, ...]  # the first is the default
    # Reads the dataset's folder under a protocol: {raw split name: [(line number, text, raw label), ...]},
    # and the file each raw split came from. `bad(path, line, reason)` reports a malformed or empty row.
    read: Callable
    labels: tuple[str, ...]  # names in id order; empty: what the files hold (ids in numeric order, names sorted)
    codes: tuple[str, ...] = ()  # the source's label codes, in the same order, when it writes codes
    homepage: str = ""
    max_length: int = 32
    truncation: str = "head"
    main_score: str = "accuracy"  # what its leaderboard is sorted by: macro_f1 for imbalanced classes
    reported: tuple[Reported, ...] = ()
    url_env: str | None = None  # an environment variable that points the downloads at a mirror
    label_file: Path | None = None  # a folder of your own's class.txt or labels.txt, recorded with the data

    def __post_init__(self):
        if self.main_score not in SCORES:
            raise ValueError(f"dataset {self.name!r}: main_score must be one of {SCORES}")
        if self.truncation not in TRUNCATIONS:
            raise ValueError(f"dataset {self.name!r}: truncation must be one of {TRUNCATIONS}")
        if self.codes and len(self.codes) != len(self.labels):
            raise ValueError(f"dataset {self.name!r}: {len(self.codes)} codes for {len(self.labels)} labels")
        names = [p.name for p in self.protocols]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"dataset {self.name!r}: protocols must be named, each once")

    def protocol(self, name: str | None) -> Protocol:
        if name is None:
            return self.protocols[0]
        for protocol in self.protocols:
            if protocol.name == name:
                return protocol
        known = ", ".join(p.name for p in self.protocols)
        raise HarnessError(f"--protocol {name}: {self.name} offers {known}")

    def file(self, name: str) -> SourceFile:
        return next(f for f in self.files if f.name == name)
