"""Pretrained checkpoints in every published layout: found, read, and loaded completely or refused.

A backbone starts from a folder (a hub id is first fetched into the hub cache) that holds:

- a config: `config.json`, or `bert_config.json` as Google's and Huawei's TensorFlow-era releases and the
  course folders built from them name it (transformers would silently build a default config instead);
- weights: `model.safetensors` (sharded or not), or `pytorch_model.bin` read with `weights_only=True`;
- tokenizer files (`vocab.txt`, `tokenizer.json`, ...).

Weight names are mapped onto the model's own explicitly, not left to a library's guesses: the pre-training
model's prefix (`bert.`, `ernie.`, `nezha.`) is dropped, TensorFlow's `LayerNorm.gamma/beta` become
`weight/bias`, and pre-training heads and recomputed buffers are set aside. Every tensor the encoder has must
then come from the file with the right shape, or the run stops: a randomly initialised encoder under a
pretrained name is the failure this benchmark exists to prevent. `--allow-missing-weights` lets an expert
go on; the report then travels into metrics.json and the leaderboard never ranks the run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from benchmark.backbone import Backbone
from benchmark.console import log
from benchmark.errors import HarnessError, first_line
from benchmark.loading.hub import WEIGHT_FILES, config_file, locate
from benchmark.loading.identity import custom_checkpoint
from benchmark.loading.pickled import corrupt, read_pickled
from benchmark.loading.tokenizer import check_embedding_fits, load_tokenizer
from benchmark.utf8 import read_utf8

SAFETENSORS, SAFETENSORS_INDEX, PICKLED, PICKLED_INDEX = WEIGHT_FILES
# The attribute under which a pre-training model (BertForPreTraining and its kin) holds the encoder.
ENCODER_PREFIXES = ("bert", "ernie", "nezha", "electra", "albert", "model")
# Tensors a published checkpoint may carry that the encoder does not use: pre-training heads (BERT's masked-LM
# and next-sentence `cls`, a decoder's `lm_head`, ALBERT's `predictions` and `sop_classifier`, ELECTRA's
# `discriminator_predictions`, TinyBERT's distillation projection `fit_dense`), and buffers the model recomputes
# (position and token-type ids, NeZha's relative-position tables).
IGNORED = re.compile(
    r"^(cls|lm_head|predictions|sop_classifier|discriminator_predictions|fit_denses?)\."
    r"|(^|\.)(position_ids|token_type_ids)$|(^|\.)relative_positions"
)
# TensorFlow's LayerNorm parameter names, which PyTorch conversions kept.
TF_LAYER_NORM = re.compile(r"(LayerNorm|layer_norm)\.(gamma|beta)$")
SHOWN_KEYS = 5


@dataclass
class WeightsReport:
    """What loading found: the file read and how each of its tensors was used."""

    folder: str
    files: list[str]
    loaded: int = 0
    ignored: int = 0  # pre-training heads and recomputed buffers
    missing: list[str] = field(default_factory=list)  # encoder tensors the file does not hold
    mismatched: list[str] = field(default_factory=list)  # "name: file (a, b), model (c, d)"
    unexpected: list[str] = field(default_factory=list)  # file tensors that match nothing
    custom: str | None = None  # a checkpoint run under a name of its own (--name): how it differs from the backbone

    @property
    def complete(self) -> bool:
        return not self.missing and not self.mismatched and not self.unexpected

    def record(self) -> dict:
        return {
            "folder": self.folder,
            "files": self.files,
            "loaded": self.loaded,
            "ignored": self.ignored,
            "missing": self.missing,
            "mismatched": self.mismatched,
            "unexpected": self.unexpected,
            "complete": self.complete,
        } | ({"custom": self.custom} if self.custom else {})


# ---------------------------------------------------------------- the config


def read_config(backbone: Backbone, folder: Path) -> PretrainedConfig:
    """The backbone's config from `config.json` or `bert_config.json`, refusing another architecture's."""
    path = config_file(folder)
    try:
        fields = json.loads(read_utf8(path, "the model's JSON config"))
    except json.JSONDecodeError as error:
        raise HarnessError(
            f"{path}:{error.lineno}: not valid JSON ({error.msg}); the file may be truncated, download it again"
        ) from None
    if not isinstance(fields, dict):
        raise HarnessError(f"{path}: expected a JSON object of config fields, found {type(fields).__name__}")
    model_type = fields.get("model_type")
    accepted = (backbone.architecture, *backbone.accepts_configs)
    if model_type and model_type not in accepted:
        raise HarnessError(
            f"{path} describes a {model_type!r} model, but {backbone.name} is {backbone.architecture!r}"
            f"; loading one as the other silently loses weights. Choose the backbone that matches "
            f"the checkpoint (see --list)"
        )
    fields.pop("model_type", None)
    try:
        return backbone.config_class(**fields)
    except (TypeError, ValueError) as error:
        raise HarnessError(f"{path}: not a valid {backbone.architecture} config ({first_line(error)})") from None


def position_limit(backbone: Backbone, config: PretrainedConfig) -> int | None:
    """The longest input the model can take, or None when its positions are relative (NeZha) or absent."""
    return getattr(config, "max_position_embeddings", None) if backbone.absolute_positions else None


# ---------------------------------------------------------------- the weights


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError, RuntimeError) as error:
        raise corrupt(path, error) from None


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of one weights file (safetensors, or a pickle read with weights_only); damage is one line."""
    return _read_safetensors(path) if path.suffix == ".safetensors" else read_pickled(path)


def read_weights(folder: Path) -> tuple[dict[str, torch.Tensor], list[Path]]:
    """Every tensor of the folder's checkpoint (safetensors first), and the files read."""
    for single, index in ((SAFETENSORS, SAFETENSORS_INDEX), (PICKLED, PICKLED_INDEX)):
        if (folder / single).is_file():
            return read_tensors(folder / single), [folder / single]
        if (folder / index).is_file():
            try:
                shards = sorted(set(json.loads(read_utf8(folder / index, "a shard index"))["weight_map"].values()))
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise HarnessError(f"{folder / index}: not a readable shard index ({first_line(error)})") from None
            state = {}
            for shard in shards:
                if not (folder / shard).is_file():
                    raise HarnessError(
                        f"{folder / index} lists {shard}, which is not in {folder}; the download is incomplete"
                    )
                state.update(read_tensors(folder / shard))
            return state, [folder / index, *(folder / shard for shard in shards)]
    raise HarnessError(f"{folder}: no weights; expected {' or '.join(WEIGHT_FILES[::2])}")


def map_names(state: dict[str, torch.Tensor], model: PreTrainedModel) -> tuple[dict, int, list[str]]:
    """The file's tensors under the model's names; how many were set aside; those that match nothing."""
    own = model.state_dict()
    prefixes = tuple(f"{p}." for p in dict.fromkeys([model.base_model_prefix, *ENCODER_PREFIXES]) if p)
    mapped, ignored, unexpected = {}, 0, []
    for key, tensor in state.items():
        name = key.removeprefix("module.")  # saved from DataParallel
        name = TF_LAYER_NORM.sub(lambda m: f"{m[1]}.{'weight' if m[2] == 'gamma' else 'bias'}", name)
        if name not in own and name.startswith(prefixes):
            name = name.split(".", 1)[1]
        if name in own:
            mapped[name] = tensor
        elif IGNORED.search(name):
            ignored += 1
        else:
            unexpected.append(key)
    return mapped, ignored, sorted(unexpected)


def _shown(keys: list[str]) -> str:
    return ", ".join(keys[:SHOWN_KEYS]) + (f", … ({len(keys) - SHOWN_KEYS} more)" if len(keys) > SHOWN_KEYS else "")


def load_encoder(
    backbone: Backbone, folder: Path, config: PretrainedConfig | None = None, *, allow_missing: bool = False, log=log
) -> tuple[PreTrainedModel, WeightsReport]:
    """The encoder with every tensor from the folder's checkpoint, or a HarnessError saying what is missing."""
    config = config if config is not None else read_config(backbone, folder)
    state, files = read_weights(folder)
    model = backbone.model_class(config)
    mapped, ignored, unexpected = map_names(state, model)
    own = model.state_dict()
    # The classifier never reads a pooler it does not pool with: absent from the file, it is not missing.
    unused = {name for name in own if name.startswith("pooler.")} if backbone.pooling != "pooler" else set()
    mismatched = [
        f"{name}: file {tuple(tensor.shape)}, model {tuple(own[name].shape)}"
        for name, tensor in sorted(mapped.items())
        if tensor.shape != own[name].shape
    ]
    for entry in mismatched:
        del mapped[entry.split(":", 1)[0]]
    report = WeightsReport(
        str(folder),
        [path.name for path in files],
        loaded=len(mapped),
        ignored=ignored,
        missing=sorted(set(own) - set(mapped) - unused - {m.split(":", 1)[0] for m in mismatched}),
        mismatched=mismatched,
        unexpected=unexpected,
    )
    model.load_state_dict(mapped, strict=False)
    if not report.complete:
        problems = []
        if report.missing:
            problems.append(f"{len(report.missing)} of its {len(own)} tensors are missing ({_shown(report.missing)})")
        if report.mismatched:
            problems.append(f"{len(report.mismatched)} have another shape ({_shown(report.mismatched)})")
        if report.unexpected:
            # Tensors with no place in the model: most likely another architecture's checkpoint (a BERT one
            # loaded as NeZha would leave its position embeddings unused).
            problems.append(
                f"{len(report.unexpected)} tensors of the file have no place in it ({_shown(report.unexpected)})"
            )
        message = (
            f"{folder} does not hold a complete {backbone.name} encoder: {'; '.join(problems)}. Training "
            f"would start those from random values under a pretrained name. Check that the folder is a "
            f"{backbone.architecture} checkpoint and the backbone is the right one (see --list)"
        )
        if not allow_missing:
            raise HarnessError(message + "; --allow-missing-weights goes on anyway, and the run is then never ranked")
        log(
            f"WARNING: {message}. Going on (--allow-missing-weights): the run is recorded as incomplete and the "
            f"leaderboard lists it apart."
        )
    return model, report


@dataclass
class Pretrained:
    """A backbone's starting point, loaded: the folder it came from, its encoder and tokenizer, the load report."""

    folder: Path
    encoder: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    weights: WeightsReport


@dataclass(frozen=True)
class LoadOptions:
    """How to load a pretrained checkpoint: where the hub cache is, whether the network may be used, whether an
    incomplete checkpoint may be used anyway, and the input length the model must accept."""

    cache_dir: str | None = None
    offline: bool = False
    allow_missing: bool = False
    max_length: int | None = None
    # Check that the checkpoint is the backbone it is run as (a run's own source; not a checkpoint the harness
    # generated, nor a saved model's base), unless it runs under a name of its own (--name).
    check_identity: bool = False
    name: str | None = None


DEFAULT_LOADING = LoadOptions()


def load_pretrained(backbone: Backbone, source: str, options: LoadOptions = DEFAULT_LOADING, log=log) -> Pretrained:
    """Find `source` (hub id or folder), read its config, check the input length against the model's positions
    before anything heavy, and load the encoder completely (or refuse) and the tokenizer as declared."""
    folder = locate(backbone, source, cache_dir=options.cache_dir, offline=options.offline)
    config = read_config(backbone, folder)
    limit, max_length = position_limit(backbone, config), options.max_length
    if max_length is not None and limit is not None and max_length > limit:
        raise HarnessError(
            f"--max-length {max_length}: expected at most {limit}, the position limit of "
            f"{backbone.name} (max_position_embeddings in the config in {folder})"
        )
    custom = custom_checkpoint(backbone, config, folder, options.name) if options.check_identity else None
    # The tokenizer first: it is cheap, and ids it would produce past the embedding stop the run before the weights.
    tokenizer = load_tokenizer(backbone, folder)
    if getattr(config, "vocab_size", None):
        check_embedding_fits(backbone, tokenizer, folder, config.vocab_size, config_file(folder))
    encoder, weights = load_encoder(backbone, folder, config, allow_missing=options.allow_missing, log=log)
    weights.custom = custom
    return Pretrained(folder, encoder, tokenizer, weights)
