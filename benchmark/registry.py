"""The backbone registry: each backbone is declared once, in its own module under `models/`.

A declaration is plain data (name, hub id, the classes that build it, the
reported figure). Importing `models` imports every module in that folder, so a
new file there is enough for a backbone to appear in `--list` and to run.
Baselines that need no pretrained weights (`tfidf`, `textcnn`) are entries too,
of another `kind`, so they run anywhere and land in the same leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import BertTokenizerFast, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from benchmark.plugins import Registry

KINDS = ("pretrained", "scratch", "sklearn")
# How an encoder's token states become one vector per text: BERT's trained pooler, the first token's state,
# the mean over real tokens, or the last real token's state (a decoder's summary of the whole text).
POOLINGS = ("pooler", "cls", "mean", "last")
# How a backbone may be trained: every weight, low-rank adapters with the head (--lora-r), or a frozen encoder
# whose embeddings a logistic regression is fitted on (--linear-probe).
MODES = ("finetune", "lora", "probe")
# Attention and feed-forward projections of BERT-like encoders, where LoRA adapters go by default.
BERT_LORA_TARGETS = ("query", "key", "value", "dense")


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
    # The published config.json's fields that shape the architecture (model_type, sizes, task embeddings...):
    # --list counts the parameters from them, and tiny test and smoke checkpoints keep every field but the sizes,
    # so they load as the real one does.
    published_config: dict = field(default_factory=dict)
    # The class the published weights were saved from (a pre-training model: its prefix and heads come with it).
    checkpoint_class: type[PreTrainedModel] | None = None
    pooling: str = "pooler"  # one of POOLINGS
    # "wordpiece": a vocab.txt, as Chinese BERT-style checkpoints ship; "byte-bpe": a tokenizer.json of byte-level
    # BPE merges, as decoder LLMs ship.
    vocabulary: str = "wordpiece"
    padding_side: str = "right"
    max_length: int | None = None  # the longest input it is meant for; a dataset's longer default is cut to it
    modes: tuple[str, ...] = ("finetune", "lora", "probe")
    lora_targets: tuple[str, ...] = BERT_LORA_TARGETS  # module names that get adapters with --lora-r
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
    # How many more embedding rows (config vocab_size) than tokenizer tokens the checkpoint may have: decoders pad
    # the embedding to a round size. 0: one row per token, as every BERT-style checkpoint has.
    spare_embedding_rows: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"backbone {self.name!r}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind != "sklearn" and (self.model_class is None or self.config_class is None):
            raise ValueError(f"backbone {self.name!r}: a {self.kind} backbone needs model_class and config_class")
        if self.kind == "pretrained" and not self.hub_id:
            raise ValueError(f"backbone {self.name!r}: a pretrained backbone needs a hub_id")
        if (
            self.pooling not in POOLINGS
            or not set(self.modes) <= set(MODES)
            or self.padding_side
            not in (
                "left",
                "right",
            )
        ):
            raise ValueError(f"backbone {self.name!r}: pooling, modes or padding_side outside {POOLINGS}, {MODES}")

    @property
    def parameters(self) -> int | None:
        """The published encoder's parameter count, from its config (built on the meta device: no memory, no
        download); None where no config is declared."""
        if self.model_class is None or not self.published_config:
            return None
        import torch

        fields = {k: v for k, v in self.published_config.items() if k not in ("model_type", "architectures")}
        with torch.device("meta"):
            return sum(p.numel() for p in self.model_class(self.config_class(**fields)).parameters())

    @property
    def architecture(self) -> str:
        return self.config_class.model_type if self.config_class is not None else self.kind


# The backbone declarations live in `models/`, one module each, found by name (benchmark.plugins).
BACKBONES = Registry("backbone", "models")
register = BACKBONES.register


def list_backbones(pattern: str = "*", kind: str | None = None) -> list[Backbone]:
    """Registered backbones whose name matches a shell-style pattern (and of one kind, if given), in natural
    order."""
    found = [BACKBONES.get(name) for name in BACKBONES.names(pattern)]
    return [b for b in found if kind is None or b.kind == kind]


def get_backbone(name: str) -> Backbone:
    return BACKBONES.get(name)
