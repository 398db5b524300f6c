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
from benchmark.backbone import Backbone
from benchmark.errors import HarnessError, first_line
from benchmark.loading import checkpoint
from benchmark.loading.tokenizer import load_tokenizer
from benchmark.registry import get_backbone

WEIGHTS_FILE = "model.safetensors"
LABELS_FILE = "labels.json"


def pool(output, attention_mask: torch.Tensor | None, pooling: str) -> torch.Tensor:
    """One vector per text from the encoder's output, as the backbone declares (benchmark.registry.POOLINGS)."""
    if pooling == "pooler":
        return output.pooler_output
    hidden = output.last_hidden_state
    if pooling == "cls":
        return hidden[:, 0]
    if attention_mask is None:
        attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    # "last": the last real token, wherever the padding is (left or right).
    positions = torch.arange(hidden.shape[1], device=hidden.device)
    last = (attention_mask * positions).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class TextClassifier(nn.Module):
    # The loss is the mean over this process's batch. Trainer takes a model that accepts loss keywords (as a
    # `**kwargs` in forward would say) to divide by the items of all processes instead, and so multiplies the loss
    # by the number of processes: doubled dev and test losses, and doubled gradients that clipping then cut,
    # under two processes. Said explicitly, and forward takes only the arguments it names.
    accepts_loss_kwargs = False

    def __init__(self, encoder: PreTrainedModel, num_labels: int, dropout: float = 0.1, pooling: str = "pooler"):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)
        self.num_labels = num_labels
        self.pooling = pooling
        # Per-class weights of the training loss (--class-weights balanced); dev and test losses stay unweighted.
        self.class_weights: torch.Tensor | None = None

    def embed(self, input_ids, attention_mask=None) -> torch.Tensor:
        """The pooled text vectors the head reads (a linear probe fits its classifier on these)."""
        # Only ids and mask: decoders take no token types, and every text here is a single segment.
        output = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return pool(output, attention_mask, self.pooling)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None) -> dict:
        logits = self.head(self.dropout(self.embed(input_ids, attention_mask)))
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
    (benchmark.loading.checkpoint) as `options` say, with its tokenizer. config: instead of a source, a randomly
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
    if backbone.pooling != "pooler" and getattr(encoder, "pooler", None) is not None:
        # A pooler the classifier never reads would be a trainable layer without gradients: multi-GPU training
        # (which expects every parameter to get one) would stop, and LoRA would put adapters on it.
        encoder.pooler = None
    if seed is not None:
        torch.manual_seed(seed)
    return Classifier(TextClassifier(encoder, num_labels, dropout, backbone.pooling), tokenizer, weights)


MODES_SAVED_WHOLE = ("finetune",)


def serving_settings(config) -> dict:
    """What serving a model needs of the settings it was trained with, kept in its labels.json; lower-casing
    is the backbone's declaration, applied to its tokenizer whenever it is loaded."""
    return {"max_length": config.max_length, "truncation": config.truncation}


HEAD_FILE = "head.safetensors"


def save_classifier(
    model: TextClassifier,
    tokenizer: PreTrainedTokenizerBase,
    backbone: Backbone,
    label_names: list[str],
    folder: Path,
    *,
    serving: dict,
    mode: str = "finetune",
    base: str | None = None,
) -> None:
    """A fine-tuned model's folder: encoder config, tokenizer, weights (safetensors), and labels.json, which names
    the backbone and the labels and holds `serving` (`serving_settings`: the input length and truncation the
    model was trained with), so the folder serves alone wherever it is copied.

    mode "finetune" saves every weight. "lora" saves the adapters and the head, "probe" the head alone; both
    name the `base` checkpoint (hub id or folder) the frozen weights are read from again when the model is
    loaded. Written into a temporary folder beside `folder` and renamed into place, so `folder` is never
    half-written.
    """
    from safetensors.torch import save_file

    from benchmark.loading.adapters import has_adapters, save_adapters

    if mode not in MODES_SAVED_WHOLE and base is None:
        raise ValueError(f"a {mode} model is saved with the base checkpoint it was trained on")

    def tensors(module: torch.nn.Module) -> dict:
        return {name: tensor.detach().cpu().contiguous() for name, tensor in module.state_dict().items()}

    def fill(target: Path) -> None:
        encoder = model.encoder.get_base_model() if has_adapters(model.encoder) else model.encoder
        encoder.config.save_pretrained(target)
        tokenizer.save_pretrained(target)
        if mode in MODES_SAVED_WHOLE:
            save_file(tensors(model), target / WEIGHTS_FILE, metadata={"format": "pt"})
        else:
            save_file(tensors(model.head), target / HEAD_FILE, metadata={"format": "pt"})
        if mode == "lora":
            save_adapters(model.encoder, target)
        saved = {"backbone": backbone.name, "labels": label_names, **serving}
        if mode not in MODES_SAVED_WHOLE:
            saved |= {"mode": mode, "base": base}
        (target / LABELS_FILE).write_text(json.dumps(saved, ensure_ascii=False, indent=1), encoding="utf-8")

    replace_folder(folder, fill)


@dataclass(frozen=True)
class Saved:
    """What a model folder's labels.json says: the backbone, the labels, how it was trained and from what base."""

    backbone: Backbone
    labels: list[str]
    mode: str = "finetune"
    base: str | None = None  # the frozen checkpoint a LoRA or probe model is read again from


def _read_saved(folder: Path) -> Saved:
    labels_path = folder / LABELS_FILE
    try:
        fields = json.loads(labels_path.read_text(encoding="utf-8"))
        saved = Saved(
            get_backbone(str(fields["backbone"])),
            list(fields["labels"]),
            fields.get("mode", "finetune"),
            fields.get("base"),
        )
    except FileNotFoundError:
        raise HarnessError(f"{folder}: not a saved model (expected {LABELS_FILE} beside its weights)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise HarnessError(
            f'{labels_path}: unreadable ({error}); expected {{"backbone": NAME, "labels": [...]}}'
        ) from None
    if (folder / (WEIGHTS_FILE if saved.mode in MODES_SAVED_WHOLE else HEAD_FILE)).is_file():
        return saved
    raise HarnessError(f"{folder}: not a saved model (expected {WEIGHTS_FILE} or {HEAD_FILE} with {LABELS_FILE})")


def _fit(module: torch.nn.Module, state: dict, path: Path, what: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise HarnessError(f"{path}: does not fit the {what} its config describes ({first_line(error)})") from None


def load_classifier(
    folder: Path, options: checkpoint.LoadOptions = checkpoint.DEFAULT_LOADING
) -> tuple[TextClassifier, PreTrainedTokenizerBase, list[str]]:
    """Rebuild a fine-tuned classifier from its folder; weights are read from safetensors only.

    A LoRA or probe model reads its frozen base checkpoint again (through `options`), adds the saved adapters
    into its weights, and puts the saved head on top: what comes back is an ordinary classifier.
    """
    saved = _read_saved(folder)
    backbone, labels = saved.backbone, saved.labels
    if saved.mode in MODES_SAVED_WHOLE:
        model = create_classifier(backbone, len(labels), config=checkpoint.read_config(backbone, folder)).model
        _fit(model, checkpoint.read_weights(folder)[0], folder / WEIGHTS_FILE, f"{backbone.name} classifier")
    else:
        model = create_classifier(backbone, len(labels), source=str(saved.base), options=options).model
        if saved.mode == "lora":
            from benchmark.loading.adapters import merge_adapters

            model.encoder = merge_adapters(model.encoder, folder)
        _fit(model.head, checkpoint.read_tensors(folder / HEAD_FILE), folder / HEAD_FILE, f"{backbone.name} head")
    model.eval()
    return model, load_tokenizer(backbone, folder), labels


def restore_saved(model: TextClassifier, folder: Path) -> None:
    """Put the trained weights saved in `folder` back into the model they were trained in (a resumed run)."""
    mode = _read_saved(folder).mode
    if mode in MODES_SAVED_WHOLE:
        model.load_state_dict(checkpoint.read_weights(folder)[0])
        return
    _fit(model.head, checkpoint.read_tensors(folder / HEAD_FILE), folder / HEAD_FILE, "head")
    if mode == "lora":
        from benchmark.loading.adapters import restore_adapters

        restore_adapters(model.encoder, folder)


def trainable_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
