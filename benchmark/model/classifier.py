"""The common model: any registered encoder, its pooled output, dropout and one linear layer.

This is the "Model" half of the Config/Model interface: a batch of token ids
goes in, logits (and the loss, when labels are given) come out. Training code
only ever sees this class, never which backbone is inside it. `create_classifier`
is the one way one is built; `load_classifier` rebuilds a fine-tuned one from
its run folder through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from benchmark.atomic import replace_folder
from benchmark.errors import HarnessError, first_line
from benchmark.model import checkpoint
from benchmark.model.tokenizer import load_tokenizer
from benchmark.registry import Backbone, get_backbone

WEIGHTS_FILE = "model.safetensors"
LABELS_FILE = "labels.json"


class TextClassifier(nn.Module):
    def __init__(self, encoder: PreTrainedModel, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        self.num_labels = num_labels
        # Per-class weights of the training loss (--class-weights balanced); dev and test losses stay unweighted.
        self.class_weights: torch.Tensor | None = None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **_) -> dict:
        pooled = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).pooler_output
        logits = self.head(self.dropout(pooled))
        output = {"logits": logits}
        if labels is not None:
            weights = self.class_weights.to(logits.device) if self.training and self.class_weights is not None else None
            output["loss"] = F.cross_entropy(logits.float(), labels, weight=weights)
        return output


def balanced_weights(labels, num_labels: int) -> torch.Tensor:
    """n / (classes x count) per class, as scikit-learn's "balanced"; a class absent from train weighs 0."""
    counts = torch.bincount(torch.as_tensor(labels), minlength=num_labels).float()
    return torch.where(counts > 0, counts.sum() / (num_labels * counts.clamp(min=1)), torch.zeros_like(counts))


@dataclass
class Classifier:
    model: TextClassifier
    tokenizer: PreTrainedTokenizerBase | None  # None for a random encoder built from a config alone
    weights: checkpoint.WeightsReport | None = None  # how a pretrained checkpoint was loaded


def create_classifier(
    backbone: Backbone,
    num_labels: int,
    *,
    source: str | Path | None = None,
    config=None,
    dropout: float = 0.1,
    seed: int | None = None,
    options: checkpoint.LoadOptions = checkpoint.DEFAULT_LOADING,
) -> Classifier:
    """The backbone's encoder with a new head of `num_labels` outputs.

    source: a hub id or a folder holding a pretrained checkpoint, loaded completely or refused
    (benchmark.model.checkpoint) as `options` say, with its tokenizer. config: instead of a source, a randomly
    initialised encoder of that shape. seed: set before the head is made, so it starts the same in every
    process and run.
    """
    if (source is None) == (config is None):
        raise ValueError("create_classifier needs a source or a config, not both")
    tokenizer, weights = None, None
    if source is not None:
        pretrained = checkpoint.load_pretrained(backbone, str(source), options)
        encoder, tokenizer, weights = pretrained.encoder, pretrained.tokenizer, pretrained.weights
    else:
        encoder = backbone.model_class(config)
    if seed is not None:
        torch.manual_seed(seed)
    return Classifier(TextClassifier(encoder, num_labels, dropout), tokenizer, weights)


def save_classifier(
    model: TextClassifier, tokenizer: PreTrainedTokenizerBase, backbone: Backbone, label_names: list[str], folder: Path
) -> None:
    """A self-contained fine-tuned model: encoder config, tokenizer, weights (safetensors), labels.

    Written into a temporary folder beside `folder` and renamed into place, so `folder` is never half-written.
    """
    from safetensors.torch import save_file

    def fill(target: Path) -> None:
        model.encoder.config.save_pretrained(target)
        tokenizer.save_pretrained(target)
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
        save_file(state, target / WEIGHTS_FILE, metadata={"format": "pt"})
        (target / LABELS_FILE).write_text(
            json.dumps({"backbone": backbone.name, "labels": label_names}, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )

    replace_folder(folder, fill)


def load_classifier(folder: Path) -> tuple[TextClassifier, PreTrainedTokenizerBase, list[str]]:
    """Rebuild a fine-tuned classifier from its folder; weights are read from safetensors only."""
    labels_path = folder / LABELS_FILE
    if not labels_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise HarnessError(f"{folder}: not a saved model (expected {LABELS_FILE} and {WEIGHTS_FILE})")
    try:
        saved = json.loads(labels_path.read_text(encoding="utf-8"))
        backbone, labels = get_backbone(str(saved["backbone"])), list(saved["labels"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise HarnessError(
            f'{labels_path}: unreadable ({error}); expected {{"backbone": NAME, "labels": [...]}}'
        ) from None
    model = create_classifier(backbone, len(labels), config=checkpoint.read_config(backbone, folder)).model
    state = checkpoint.read_weights(folder)[0]
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise HarnessError(
            f"{folder / WEIGHTS_FILE}: does not fit the {backbone.name} classifier its config "
            f"describes ({first_line(error)})"
        ) from None
    model.eval()
    return model, load_tokenizer(backbone, folder), labels


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
