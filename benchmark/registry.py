"""The backbone registry: each backbone is declared once, in its own module under `models/`.

A declaration is plain data (name, hub id, the classes that build it, the
reported figure). Importing `models` imports every module in that folder, so a
new file there is enough for a backbone to appear in `--list` and to run.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import pkgutil
import re
from dataclasses import dataclass

from transformers import BertTokenizerFast, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from benchmark.errors import HarnessError


@dataclass(frozen=True)
class Backbone:
    """How to build one pretrained encoder and what is known about it."""

    name: str
    hub_id: str
    description: str
    # A PreTrainedModel whose output carries `last_hidden_state` and `pooler_output`, like BertModel.
    model_class: type[PreTrainedModel]
    config_class: type[PretrainedConfig]
    tokenizer_class: type[PreTrainedTokenizerBase] = BertTokenizerFast
    # Test accuracy (%) on THUCNews-10 reported by the reference course, full protocol; not measured here.
    reported_accuracy: float | None = None
    note: str = ""

    @property
    def architecture(self) -> str:
        return self.config_class.model_type


_REGISTRY: dict[str, Backbone] = {}


def register(backbone: Backbone) -> Backbone:
    if backbone.name in _REGISTRY and _REGISTRY[backbone.name] != backbone:
        raise ValueError(f"backbone {backbone.name!r} is declared twice")
    _REGISTRY[backbone.name] = backbone
    return backbone


def _discover() -> None:
    """Import every public module of the `models` package; each registers itself."""
    import models

    for module in pkgutil.iter_modules(models.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"models.{module.name}")


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_backbones(pattern: str = "*") -> list[Backbone]:
    """Registered backbones whose name matches a shell-style pattern, in natural order."""
    _discover()
    names = sorted((n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)), key=_natural_key)
    return [_REGISTRY[n] for n in names]


def get_backbone(name: str) -> Backbone:
    _discover()
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    known = ", ".join(sorted(_REGISTRY, key=_natural_key))
    raise HarnessError(f"unknown backbone {name!r}.{hint} Registered: {known}.")
