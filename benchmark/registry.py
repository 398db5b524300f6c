"""The registry: backbones declared in `models/`, datasets declared in `tasks/`, one module each.

As timm's models are: a module calls `register(declaration)` once, and the registry finds the modules by
importing every public module of their package by name, never by an import statement, so declarations and
registry import each other in one direction only. `get_backbone`, `list_backbones`, `get_dataset` and
`list_datasets` are the doors in; an unknown name fails with the names that come close.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import pkgutil
import re

from benchmark.backbone import Backbone
from benchmark.dataset import Dataset
from benchmark.errors import HarnessError


def natural_key(name: str) -> list:
    """Names in the order a person expects: rbt3 before rbt12."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class Registry:
    def __init__(self, kind: str, package: str):
        self.kind, self.package, self.entries = kind, package, {}

    def register(self, entry):
        if entry.name in self.entries and self.entries[entry.name] != entry:
            raise ValueError(f"{self.kind} {entry.name!r} is declared twice")
        self.entries[entry.name] = entry
        return entry

    def _discover(self) -> None:
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{self.package}.{module.name}")

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style pattern, in natural order."""
        self._discover()
        return sorted((n for n in self.entries if fnmatch.fnmatch(n, pattern)), key=natural_key)

    def get(self, name: str):
        self._discover()
        if name in self.entries:
            return self.entries[name]
        close = difflib.get_close_matches(name, self.entries, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(self.entries, key=natural_key))
        raise HarnessError(f"unknown {self.kind} {name!r}.{hint} Registered: {known}.")


BACKBONES = Registry("backbone", "models")
DATASETS = Registry("dataset", "tasks")


def register(declaration: Backbone | Dataset):
    """Add a backbone or a dataset declaration to its registry (called once by its module)."""
    return (BACKBONES if isinstance(declaration, Backbone) else DATASETS).register(declaration)


def list_backbones(pattern: str = "*", kind: str | None = None) -> list[Backbone]:
    """Registered backbones whose name matches a shell-style pattern (and of one kind, if given), in natural
    order."""
    found = [BACKBONES.get(name) for name in BACKBONES.names(pattern)]
    return [b for b in found if kind is None or b.kind == kind]


def get_backbone(name: str) -> Backbone:
    return BACKBONES.get(name)


def list_datasets() -> list[Dataset]:
    return [DATASETS.get(name) for name in DATASETS.names()]


def get_dataset(name: str) -> Dataset:
    return DATASETS.get(name)
