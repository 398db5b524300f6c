"""A backbone declaration: what a module in `models/` registers (benchmark.registry), declared once.

A declaration is plain data (name, hub id, the names of the classes that build it, the reported figure), so
listing the registry imports neither torch nor transformers. Importing `models` imports every module in that
folder, so a new file there is enough for a backbone to appear in `--list` and to run. Baselines that need no
pretrained weights (`tfidf`, `textcnn`) are entries too, of another `kind`, so they run anywhere and land in the
same leaderboard.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

KINDS = ("pretrained", "scratch", "sklearn")
# How an encoder's token states become one vector per text: BERT's trained pooler, the first token's state,
# the mean over real tokens, or the last real token's state (a decoder's summary of the whole text).
POOLINGS = ("pooler", "cls", "mean", "last")
# How a backbone may be trained: every weight, low-rank adapters with the head (--lora-r), or a frozen encoder
# whose embeddings a logistic regression is fitted on (--linear-probe).
MODES = ("finetune", "lora", "probe")
# Attention and feed-forward projections of BERT-like encoders, where LoRA adapters go by default.
BERT_LORA_TARGETS = ("query", "key", "value", "dense")


ClassReference = str | type | None


def resolve(reference: ClassReference):
    """The class a declaration names: the class itself, a transformers class by name ("BertModel"), or
    "package.module:Class" for the project's own modeling code. Declarations name classes as text so that
    listing them (`--list`) imports neither torch nor transformers."""
    if reference is None or isinstance(reference, type):
        return reference
    module, _, name = reference.rpartition(":")
    return getattr(importlib.import_module(module or "transformers"), name)


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
    family: str = ""  # what --list groups by, e.g. "ERNIE 3.0" or "sentence embedding"
    # The encoder's classes (see `resolve`): a PreTrainedModel whose output carries `last_hidden_state` (and
    # `pooler_output` for pooler pooling), like BertModel; its config class; the class the published weights were
    # saved from (a pre-training model: its prefix and heads come with it; default: the model class); the
    # tokenizer class.
    model: ClassReference = None
    config: ClassReference = None
    checkpoint: ClassReference = None
    tokenizer: ClassReference = "BertTokenizerFast"
    # The config's model_type (`bert`, `ernie`, ...): what --list shows and a checkpoint's config is checked
    # against (a test keeps it equal to the config class's). Given a config class itself, it is read from it.
    architecture: str = ""
    # The published config.json's fields that shape the architecture (model_type, sizes, task embeddings...):
    # tiny test and smoke checkpoints keep every field but the sizes, so they load as the real one does.
    published_config: dict = field(default_factory=dict)
    # The published encoder's parameter count, from that config (what --list shows; a test counts it again).
    parameters: int | None = None
    pooling: str = "pooler"  # one of POOLINGS
    # "wordpiece": a vocab.txt, as Chinese BERT-style checkpoints ship; "byte-bpe": a tokenizer.json of byte-level
    # BPE merges, as decoder LLMs ship.
    vocabulary: str = "wordpiece"
    padding_side: str = "right"
    max_length: int | None = None  # the longest input it is meant for; a dataset's longer default is cut to it
    modes: tuple[str, ...] = ("finetune", "lora", "probe")
    lora_targets: tuple[str, ...] = BERT_LORA_TARGETS  # module names that get adapters with --lora-r
    # Whether its model class can recompute activations in the backward pass (--gradient-checkpointing); a
    # test keeps it equal to the class's own `supports_gradient_checkpointing`.
    gradient_checkpointing: bool = True
    note: str = ""
    kind: str = "pretrained"
    # Config fields of the tiny model the smoke preset builds; None: benchmark.loading.sources.TINY_SHAPE (BERT-like).
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
    # kind "sklearn": `estimator(C)` builds the scikit-learn linear classifier fitted over the TF-IDF features
    # (benchmark/baselines/tfidf.py), once per value of `grid`; the C with the lowest dev loss is kept.
    estimator: Callable[[float], Any] | None = None
    grid: tuple[float, ...] = ()
    # What a tuning sweep (--tune) draws for it: run option -> benchmark.space.Dimension. None: its kind's
    # (benchmark.space.default_space: fine-tuning's learning rate, batch, epochs and warm-up for an encoder).
    search_space: dict | None = None
    # How many more embedding rows (config vocab_size) than tokenizer tokens the checkpoint may have: decoders pad
    # the embedding to a round size. 0: one row per token, as every BERT-style checkpoint has.
    spare_embedding_rows: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"backbone {self.name!r}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind != "sklearn" and (self.model is None or self.config is None):
            raise ValueError(f"backbone {self.name!r}: a {self.kind} backbone needs its model and config classes")
        if self.kind == "sklearn" and (self.estimator is None or not self.grid):
            raise ValueError(f"backbone {self.name!r}: a sklearn backbone needs an estimator and a grid of its C")
        if self.kind == "pretrained" and not self.hub_id:
            raise ValueError(f"backbone {self.name!r}: a pretrained backbone needs a hub_id")
        if not self.architecture:
            known = self.kind if self.kind == "sklearn" else getattr(self.config, "model_type", "")
            if not known:
                raise ValueError(f"backbone {self.name!r}: declare its architecture (the config's model_type)")
            object.__setattr__(self, "architecture", known)
        if (
            self.pooling not in POOLINGS
            or not set(self.modes) <= set(MODES)
            or self.padding_side not in ("left", "right")
        ):
            raise ValueError(f"backbone {self.name!r}: pooling, modes or padding_side outside {POOLINGS}, {MODES}")

    @property
    def model_class(self) -> type[PreTrainedModel] | None:
        return resolve(self.model)

    @property
    def config_class(self) -> type[PretrainedConfig] | None:
        return resolve(self.config)

    @property
    def checkpoint_class(self) -> type[PreTrainedModel] | None:
        return resolve(self.checkpoint)

    @property
    def tokenizer_class(self) -> type[PreTrainedTokenizerBase]:
        return resolve(self.tokenizer)


def count_parameters(backbone: Backbone) -> int | None:
    """The published encoder's parameters, counted from its config on the meta device (no memory, no download);
    None where no config is declared. What a declaration's `parameters` must say."""
    if backbone.model is None or not backbone.published_config:
        return None
    import torch

    fields = {k: v for k, v in backbone.published_config.items() if k not in ("model_type", "architectures")}
    with torch.device("meta"):
        return sum(p.numel() for p in backbone.model_class(backbone.config_class(**fields)).parameters())
