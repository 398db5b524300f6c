"""The backbone registry: each backbone is declared once, in its own module under `models/`.

A declaration is plain data (name, hub id, the classes that build it, the
reported figure). Importing `models` imports every module in that folder, so a
new file there is enough for a backbone to appear in `--list` and to run.
Baselines that need no pretrained weights (`tfidf`, `textcnn`) are entries too,
of another `kind`, so they run anywhere and land in the same leaderboard.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import pkgutil
import re
from dataclasses import dataclass, field

from transformers import BertTokenizerFast, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from benchmark.errors import HarnessError

KINDS = ("pretrained", "scratch", "sklearn")


@dataclass(frozen=True)
class Backbone:
    """How to build one encoder (or a classic classifier) and what is known about it.

    kind "pretrained": weights from `hub_id` or `--model-path`. kind "scratch": a torch encoder initialised at
    random with a character vocabulary built from the training texts; it needs no download. kind "sklearn": a
    scikit-learn classifier fitted outside Trainer (`benchmark/baselines/tfidf.py`); it has no torch classes.
    """

    name: str
    hub_id: str | None = None
    description: str = ""
    # A PreTrainedModel whose output carries `last_hidden_state` and `pooler_output`, like BertModel.
    model_class: type[PreTrainedModel] | None = None
    config_class: type[PretrainedConfig] | None = None
    tokenizer_class: type[PreTrainedTokenizerBase] = BertTokenizerFast
    note: str = ""
    kind: str = "pretrained"
    # Config fields of the tiny model the smoke preset builds; None: benchmark.model.sources.TINY_SHAPE (BERT-like).
    tiny_shape: dict | None = None
    # Run settings this backbone needs instead of the reference defaults (e.g. a from-scratch model's
    # learning rate); a flag given on the command line wins.
    recommended: dict = field(default_factory=dict)
    # With --teacher, the student's encoder is the teacher's embeddings and lower `student_layers` layers.
    student_layers: int | None = None
    # How the vocabulary must be used, applied whatever the tokenizer files say (None: as they say). Chinese BERT
    # vocabularies hold lower-case Latin letters only, and accents stripped, as their authors' tokenizers did.
    lowercase: bool | None = True
    strip_accents: bool | None = None  # None: strip them when lower-casing, as BERT's basic tokenizer does
    # Config `model_type`s besides the architecture's own that describe this same model (older conversions).
    accepts_configs: tuple[str, ...] = ()
    # Absolute position embeddings bound --max-length by the config's max_position_embeddings.
    absolute_positions: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"backbone {self.name!r}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind != "sklearn" and (self.model_class is None or self.config_class is None):
            raise ValueError(f"backbone {self.name!r}: a {self.kind} backbone needs model_class and config_class")
        if self.kind == "pretrained" and not self.hub_id:
            raise ValueError(f"backbone {self.name!r}: a pretrained backbone needs a hub_id")

    @property
    def architecture(self) -> str:
        return self.config_class.model_type if self.config_class is not None else self.kind


_REGISTRY: dict[str, Backbone] = {}


def register(backbone: Backbone) -> Backbone:
    if backbone.name in _REGISTRY and _REGISTRY[backbone.name] != backbone:
        raise ValueError(f"backbone {backbone.name!r} is declared twice")
    _REGISTRY[backbone.name] = backbone
    return backbone


# The package of backbone declarations. It is found by name, as plugins are: the declarations import this
# registry, and the registry never imports them by an import statement.
BACKBONE_PACKAGE = "models"


def _discover() -> None:
    """Import every public module of the backbone package; each registers itself."""
    package = importlib.import_module(BACKBONE_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{BACKBONE_PACKAGE}.{module.name}")


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_backbones(pattern: str = "*", kind: str | None = None) -> list[Backbone]:
    """Registered backbones whose name matches a shell-style pattern (and of one kind, if given), in natural
    order."""
    _discover()
    names = sorted((n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)), key=_natural_key)
    return [_REGISTRY[n] for n in names if kind is None or _REGISTRY[n].kind == kind]


def get_backbone(name: str) -> Backbone:
    _discover()
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    known = ", ".join(sorted(_REGISTRY, key=_natural_key))
    raise HarnessError(f"unknown backbone {name!r}.{hint} Registered: {known}.")
