"""The common model: any registered encoder, its pooled output, dropout and one linear layer.

This is the "Model" half of the Config/Model interface: a batch of token ids
goes in, logits (and the loss, when labels are given) come out. Training code
only ever sees this class, never which backbone is inside it.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import huggingface_hub
import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from benchmark.errors import HarnessError
from benchmark.registry import Backbone, get_backbone

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
LABELS_FILE = "labels.json"


class TextClassifier(nn.Module):
    def __init__(self, encoder: PreTrainedModel, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        self.num_labels = num_labels

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **_) -> dict:
        pooled = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).pooler_output
        logits = self.head(self.dropout(pooled))
        output = {"logits": logits}
        if labels is not None:
            output["loss"] = F.cross_entropy(logits.float(), labels)
        return output


def _is_local(source: str) -> bool:
    return Path(source).expanduser().exists() or source.startswith((".", "/", "~"))


def _load_error(backbone: Backbone, source: str, error: Exception) -> HarnessError:
    if _is_local(source):
        folder = Path(source).expanduser()
        if not folder.is_dir():
            return HarnessError(f"model folder {folder} does not exist (given for {backbone.name})")
        return HarnessError(
            f"cannot load {backbone.name} from {folder}: {str(error).splitlines()[0]} "
            f"(expected a folder written by save_pretrained: config.json, weights, vocab.txt)"
        )
    return HarnessError(
        f"cannot load {backbone.name} from the hub id {source!r}: it is not in the local cache and the hub "
        f"cannot be reached. Download it where there is a connection and pass --model-path FOLDER, or set "
        f"HF_HUB_OFFLINE=1 to use only what is cached. ({str(error).splitlines()[0][:160]})"
    )


def _hub_reachable(timeout: float = 5.0) -> bool:
    """One quick connection attempt, so an offline machine gets an answer at once instead of retries."""
    host = urlparse(huggingface_hub.constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _from_pretrained(backbone: Backbone, load, source: str, cache_dir: str | None, offline: bool):
    """Local folder or cached hub files first; the network only when that fails and it is allowed."""
    try:
        return load(source, cache_dir=cache_dir, local_files_only=True)
    except (OSError, ValueError) as error:
        if offline or huggingface_hub.constants.HF_HUB_OFFLINE or _is_local(source):
            raise _load_error(backbone, source, error) from None
    if not _hub_reachable():
        raise _load_error(backbone, source, OSError("no connection to the hub")) from None
    try:
        return load(source, cache_dir=cache_dir)
    except (OSError, ValueError) as error:
        raise _load_error(backbone, source, error) from None


def load_encoder(backbone: Backbone, source: str, *, cache_dir: str | None = None,
                 offline: bool = False) -> PreTrainedModel:
    """The pretrained encoder, from a hub id or a local folder: one code path for both."""
    encoder, info = _from_pretrained(
        backbone, partial(backbone.model_class.from_pretrained, output_loading_info=True), source, cache_dir, offline
    )
    missing = info.get("missing_keys") or []
    mismatched = info.get("mismatched_keys") or []
    if missing or mismatched:
        # A silently random-initialised encoder weight is how NeZha lost four points; never let it pass quietly.
        shown = ", ".join(sorted(map(str, [*missing, *mismatched]))[:8])
        message = (
            f"WARNING: {len(missing) + len(mismatched)} encoder weights of {backbone.name} were not found in "
            f"{source} (or had the wrong shape) and are RANDOMLY INITIALISED: {shown}"
        )
        logger.warning(message)
        print(message, file=sys.stderr)
    return encoder


def load_tokenizer(backbone: Backbone, source: str, *, cache_dir: str | None = None,
                   offline: bool = False) -> PreTrainedTokenizerBase:
    return _from_pretrained(backbone, backbone.tokenizer_class.from_pretrained, source, cache_dir, offline)


def save_classifier(model: TextClassifier, tokenizer: PreTrainedTokenizerBase, backbone: Backbone,
                    label_names: list[str], folder: Path) -> None:
    """A self-contained fine-tuned model: encoder config, tokenizer, weights (safetensors), labels."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    model.encoder.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, folder / WEIGHTS_FILE, metadata={"format": "pt"})
    (folder / LABELS_FILE).write_text(
        json.dumps({"backbone": backbone.name, "labels": label_names}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )


def load_classifier(folder: Path) -> tuple[TextClassifier, PreTrainedTokenizerBase, list[str]]:
    """Rebuild a saved classifier from its folder; weights are read from safetensors only."""
    labels_path = folder / LABELS_FILE
    if not labels_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise HarnessError(f"{folder}: not a saved model (expected {LABELS_FILE} and {WEIGHTS_FILE})")
    saved = json.loads(labels_path.read_text(encoding="utf-8"))
    backbone = get_backbone(saved["backbone"])
    encoder = backbone.model_class(backbone.config_class.from_pretrained(folder))
    model = TextClassifier(encoder, len(saved["labels"]))
    model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    model.eval()
    return model, backbone.tokenizer_class.from_pretrained(folder), saved["labels"]


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
