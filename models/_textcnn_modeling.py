"""TextCNN (Kim 2014, "Convolutional Neural Networks for Sentence Classification"), on characters.

Embeddings of the text's characters, one bank of 1-D convolutions per window width, ReLU, and the maximum of
each filter over time; the concatenated maxima are the sentence vector. It is written as a `PreTrainedModel`
whose output carries `pooler_output` (that sentence vector) so the harness's common head, Trainer path,
safetensors saving and loading apply to it unchanged. It has no pretrained weights: the harness builds a
character vocabulary from the training texts and initialises it at random (registry kind "scratch").

Padding never changes a text's vector: padded positions embed to zero and every window that reaches past the
text's end is left out of the maximum (a text shorter than a window keeps its first, zero-padded window).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPooling


class TextCNNConfig(PretrainedConfig):
    """Defaults: 300-dim embeddings and 256 filters of widths 2, 3, 4 (characters are shorter than words)."""

    model_type = "textcnn"

    vocab_size: int = 5000
    embedding_size: int = 300
    kernel_sizes: list[int] | tuple[int, ...] = (2, 3, 4)
    num_filters: int = 256
    embedding_dropout: float = 0.0
    # Kim initialised unknown words uniformly in [-0.25, 0.25]; the same scale works for characters.
    init_range: float = 0.25
    pad_token_id: int | None = 0

    @property
    def hidden_size(self) -> int:
        """Size of the pooled sentence vector, which the common classification head reads."""
        return self.num_filters * len(self.kernel_sizes)


class TextCNNPreTrainedModel(PreTrainedModel):
    config_class = TextCNNConfig
    base_model_prefix = "textcnn"

    @torch.no_grad()
    def _init_weights(self, module):
        # transformers' `init` functions skip tensors already loaded from a checkpoint.
        if isinstance(module, nn.Embedding):
            init.uniform_(module.weight, -self.config.init_range, self.config.init_range)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.Conv1d):
            init.kaiming_uniform_(module.weight, nonlinearity="relu")
            init.zeros_(module.bias)


class TextCNNModel(TextCNNPreTrainedModel):
    def __init__(self, config: TextCNNConfig):
        super().__init__(config)
        self.embeddings = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        self.dropout = nn.Dropout(config.embedding_dropout)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding_size, config.num_filters, width) for width in config.kernel_sizes
        )
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings

    def set_input_embeddings(self, value):
        self.embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        # token_type_ids and **kwargs: the common head calls every encoder as it calls BertModel.
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = attention_mask.to(self.embeddings.weight.dtype)
        embedded = self.dropout(self.embeddings(input_ids)) * mask[..., None]  # (batch, length, dim)
        lengths = attention_mask.sum(dim=1)
        widest = max(self.config.kernel_sizes)
        sequence = embedded.transpose(1, 2)  # (batch, dim, length), as Conv1d expects
        if sequence.shape[-1] < widest:
            sequence = nn.functional.pad(sequence, (0, widest - sequence.shape[-1]))
        pooled = []
        for conv, width in zip(self.convs, self.config.kernel_sizes, strict=True):
            features = torch.relu(conv(sequence))  # (batch, filters, windows)
            windows = torch.arange(features.shape[-1], device=features.device)
            valid = windows[None, :] < (lengths - width + 1).clamp(min=1)[:, None]
            # ReLU outputs are >= 0, so zeroing the invalid windows leaves the maximum of the valid ones.
            pooled.append((features * valid[:, None, :].to(features.dtype)).amax(dim=-1))
        return BaseModelOutputWithPooling(last_hidden_state=embedded, pooler_output=torch.cat(pooled, dim=-1))
