"""Low-rank adapters (LoRA, through Hugging Face PEFT) on the encoder's projections, with the head trained fully.

Only the adapters and the head are trained and saved; the base weights stay where they were loaded from (a hub id
or a folder, recorded with the run), so a saved LoRA run is a few megabytes however large its base model is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

ADAPTER_FOLDER = "adapter"


@dataclass(frozen=True)
class LoraSettings:
    r: int
    alpha: float
    dropout: float


def add_adapters(classifier: nn.Module, targets: tuple[str, ...], settings: LoraSettings) -> None:
    """Freeze the encoder and give the named projections trainable rank-`r` adapters; the head stays trainable."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(targets),
        bias="none",
    )
    classifier.encoder = get_peft_model(classifier.encoder, config)


def has_adapters(encoder: nn.Module) -> bool:
    from peft import PeftModel

    return isinstance(encoder, PeftModel)


def save_adapters(encoder: nn.Module, folder: Path) -> None:
    encoder.save_pretrained(folder / ADAPTER_FOLDER, safe_serialization=True)


def merge_adapters(encoder: nn.Module, folder: Path) -> nn.Module:
    """The base encoder with the saved adapters added into its weights: an ordinary encoder to predict or export."""
    from peft import PeftModel

    return PeftModel.from_pretrained(encoder, folder / ADAPTER_FOLDER).merge_and_unload()


def prepare_training(classifier: nn.Module, backbone, config) -> None:
    """Set the classifier up for the run's training mode: adapters for --lora-r, activation recomputation for
    --gradient-checkpointing. (A linear probe trains no torch weight; benchmark.run.probe fits it.)"""
    if config.gradient_checkpointing:
        # The non-reentrant variant needs no gradient on the inputs, so it also works with a frozen base.
        encoder, options = classifier.encoder, {"use_reentrant": False}
        if hasattr(encoder, "activation_checkpointing_enable"):  # its name since transformers 5.x; the old one warns
            encoder.activation_checkpointing_enable(activation_checkpointing_kwargs=options)
        else:
            encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)
    if config.lora_r:
        alpha = config.lora_alpha if config.lora_alpha is not None else 2.0 * config.lora_r
        add_adapters(classifier, backbone.lora_targets, LoraSettings(config.lora_r, alpha, config.lora_dropout))


def merged(classifier: nn.Module) -> nn.Module:
    """The classifier as it is served: any LoRA adapters added into the weights (in place: training is over)."""
    if has_adapters(classifier.encoder):
        classifier.encoder = classifier.encoder.merge_and_unload()
    return classifier


def restore_adapters(encoder: nn.Module, folder: Path) -> None:
    """Put saved adapter weights back into an encoder that has adapters of the same shape (a resumed run)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(encoder, load_file(folder / ADAPTER_FOLDER / "adapter_model.safetensors"))
