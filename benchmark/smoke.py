"""The smoke preset: the whole pipeline, offline, on the bundled sample with a tiny random model.

The tiny model has the chosen backbone's architecture and a character
vocabulary built from the sample, and is saved to a folder so it is loaded by
the same code that loads a user's local checkpoint. Its scores say the
pipeline works, nothing about the backbone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from benchmark.config import RunConfig
from benchmark.registry import Backbone

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_SHAPE = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
              "max_position_embeddings": 64}


def build_vocab(texts: list[str]) -> list[str]:
    """BERT's Chinese tokenizer splits CJK characters apart; a character vocabulary is enough for a sample."""
    pieces = set()
    for text in texts:
        for char in text.lower():
            if not char.isspace():
                pieces.add(char)
    return SPECIAL_TOKENS + sorted(pieces)


def write_tiny_model(backbone: Backbone, texts: list[str], folder: Path, seed: int = 0,
                     shape: dict | None = None) -> Path:
    """A randomly initialised model of the backbone's architecture, saved like a pretrained checkpoint."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    vocab = build_vocab(texts)
    # A vocab.txt is what published Chinese BERT-style checkpoints carry; the tokenizer is built from it on load.
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(seed)
    config = backbone.config_class(vocab_size=len(vocab), pad_token_id=0, **(shape or TINY_SHAPE))
    backbone.model_class(config).save_pretrained(folder)
    return folder


def smoke_config(config: RunConfig) -> RunConfig:
    """Settings sized for a few hundred examples and a tiny model: well under a minute on two CPU cores."""
    return dataclasses.replace(
        config, data_dir=str(SAMPLE_DIR), protocol="smoke", batch_size=16, eval_batch_size=128,
        learning_rate=1e-3, epochs=30, eval_every=15, patience_steps=150, warmup=0.1, smoke=True,
    )
