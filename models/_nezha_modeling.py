"""NeZha (Wei et al. 2019, "NEZHA: Neural Contextualized Representation for Chinese Language Understanding").

transformers 5 no longer ships NeZha, and loading its checkpoints into BertModel silently gives it random
absolute position embeddings and no relative attention. This is the published architecture, written for this
harness:

* embeddings are word + token type only (no absolute positions), then LayerNorm and dropout;
* every self-attention adds fixed sinusoidal encodings a_ij of the clipped relative distance
  clip(j - i, -max_relative_position, max_relative_position), through the keys,
  e_ij = (x_i W^Q)(x_j W^K + a^K_ij)^T / sqrt(d), and through the values,
  z_i = sum_j alpha_ij (x_j W^V + a^V_ij), with a^K = a^V read from one fixed table of shape
  (2 * max_relative_position + 1, head_size) shared by all heads and layers;
* post-LN BERT layers and a BERT pooler (dense + tanh on the first token).

Parameter names follow the former transformers implementation, so Hugging Face NeZha checkpoints load as they
are; the harness's loader (benchmark.loading.checkpoint) also maps the original release's and community conversions'
layouts (`bert_config.json`, `bert.`-prefixed weights, TensorFlow LayerNorm names, stored position tables).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import BaseModelOutputWithPooling


class NezhaConfig(PretrainedConfig):
    """BERT's fields plus the relative-position clip; defaults are those of the published NeZha-base."""

    model_type = "nezha"

    vocab_size: int = 21128
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.1
    attention_probs_dropout_prob: float | int = 0.1
    # Not used by the model (it has no absolute positions); kept because published configs carry it.
    max_position_embeddings: int = 512
    max_relative_position: int = 64
    use_relative_position: bool = True
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    classifier_dropout: float | int | None = 0.1
    pad_token_id: int | None = 0


def sinusoidal_table(num_rows: int, depth: int) -> torch.Tensor:
    """Row r: sin(r * w_k) in even columns, cos(r * w_k) in odd ones, w_k = 10000^(-2k / depth).

    Row r encodes the shifted distance r = clip(j - i) + max_relative_position, not the signed distance
    itself: that is how the released checkpoints were trained (and how the former transformers
    implementation did it).
    """
    rows = torch.arange(num_rows, dtype=torch.float32)[:, None]
    freqs = torch.exp(torch.arange(0, depth, 2, dtype=torch.float32) * (-math.log(10000.0) / depth))
    table = torch.zeros(num_rows, depth)
    table[:, 0::2] = torch.sin(rows * freqs)
    table[:, 1::2] = torch.cos(rows * freqs[: depth // 2])
    return table


class NezhaRelativePositions(nn.Module):
    """The fixed table of relative-position encodings a^K = a^V, and the row each (i, j) pair reads."""

    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.max_relative_position = config.max_relative_position
        self.head_size = config.hidden_size // config.num_attention_heads
        # Non-persistent: a function of the config, so checkpoints need not (and do not) carry it.
        self.register_buffer("table", self.compute_table(), persistent=False)

    def compute_table(self) -> torch.Tensor:
        return sinusoidal_table(2 * self.max_relative_position + 1, self.head_size)

    def index(self, length: int, device: torch.device) -> torch.Tensor:
        """(length, length) long tensor: entry [i, j] = clip(j - i, -m, m) + m, the table row of that pair."""
        pos = torch.arange(length, device=device)
        m = self.max_relative_position
        return (pos[None, :] - pos[:, None]).clamp(-m, m) + m


class NezhaEmbeddings(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids=None, token_type_ids=None, inputs_embeds=None) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros(inputs_embeds.shape[:-1], dtype=torch.long, device=inputs_embeds.device)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(embeddings))


class NezhaSelfAttention(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(
                f"hidden_size ({config.hidden_size}) is not a multiple of "
                f"num_attention_heads ({config.num_attention_heads})"
            )
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def forward(self, hidden_states, additive_mask, rel_table, rel_index):
        """The context (batch, length, hidden) and the attention weights (batch, heads, length, length).

        additive_mask broadcasts to (batch, heads, length, length); rel_index is NezhaRelativePositions.index.
        """
        batch, length, _ = hidden_states.shape

        def split_heads(x):
            return x.view(batch, length, self.num_heads, self.head_size).transpose(1, 2)

        q = split_heads(self.query(hidden_states))
        k = split_heads(self.key(hidden_states))
        v = split_heads(self.value(hidden_states))
        rel_table = rel_table.to(q.dtype)
        index = rel_index.expand(batch, self.num_heads, length, length)

        # q_i . a^K_ij: score each query against the 2m+1 table rows once, then pick each pair's row. This
        # costs O(L * m) memory where materialising a^K for every pair would cost O(L^2 * d).
        rel_scores = torch.gather(q @ rel_table.T, -1, index)
        scores = (q @ k.transpose(-1, -2) + rel_scores) / math.sqrt(self.head_size) + additive_mask
        probs = self.dropout(scores.softmax(dim=-1))

        # sum_j alpha_ij a^V_ij: pool each query's weights per distance row, then mix the table rows.
        row_weights = probs.new_zeros(*probs.shape[:-1], rel_table.shape[0]).scatter_add(-1, index, probs)
        context = probs @ v + row_weights @ rel_table
        return context.transpose(1, 2).reshape(batch, length, -1), probs


class NezhaResidualOutput(nn.Module):
    """dense -> dropout -> LayerNorm(x + residual): the post-LN end of attention and of the FFN."""

    def __init__(self, config: NezhaConfig, in_size: int):
        super().__init__()
        self.dense = nn.Linear(in_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class NezhaAttention(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.self = NezhaSelfAttention(config)
        self.output = NezhaResidualOutput(config, config.hidden_size)

    def forward(self, hidden_states, additive_mask, rel_table, rel_index):
        context, probs = self.self(hidden_states, additive_mask, rel_table, rel_index)
        return self.output(context, hidden_states), probs


class NezhaIntermediate(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = ACT2FN[config.hidden_act] if isinstance(config.hidden_act, str) else config.hidden_act

    def forward(self, hidden_states):
        return self.act(self.dense(hidden_states))


class NezhaLayer(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.attention = NezhaAttention(config)
        self.intermediate = NezhaIntermediate(config)
        self.output = NezhaResidualOutput(config, config.intermediate_size)

    def forward(self, hidden_states, additive_mask, rel_table, rel_index):
        attended, probs = self.attention(hidden_states, additive_mask, rel_table, rel_index)
        return self.output(self.intermediate(attended), attended), probs


class NezhaEncoder(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.relative_positions = NezhaRelativePositions(config)
        self.layer = nn.ModuleList(NezhaLayer(config) for _ in range(config.num_hidden_layers))


class NezhaPooler(nn.Module):
    def __init__(self, config: NezhaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class NezhaPreTrainedModel(PreTrainedModel):
    config_class = NezhaConfig
    base_model_prefix = "nezha"

    @torch.no_grad()
    def _init_weights(self, module):
        # transformers' `init` functions skip tensors already loaded from a checkpoint.
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, NezhaRelativePositions):
            # from_pretrained builds the model on the meta device and leaves non-persistent buffers empty.
            init.copy_(module.table, module.compute_table())


class NezhaModel(NezhaPreTrainedModel):
    """The NeZha encoder; its outputs carry `last_hidden_state` and `pooler_output` like BertModel's."""

    def __init__(self, config: NezhaConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        if not config.use_relative_position:
            raise ValueError(
                "NeZha without relative positions has no position information at all; "
                "for absolute positions use a BERT model"
            )
        self.embeddings = NezhaEmbeddings(config)
        self.encoder = NezhaEncoder(config)
        self.pooler = NezhaPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        # **kwargs: callers written for BertModel pass position_ids, return_dict, ...; none apply here.
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        hidden = self.embeddings(input_ids, token_type_ids, inputs_embeds)
        batch, length = hidden.shape[:2]

        if attention_mask is None:
            attention_mask = torch.ones(batch, length, device=hidden.device)
        # (batch, length) or (batch, query, key) -> broadcastable over heads; 0 = masked.
        mask = attention_mask[:, None, None, :] if attention_mask.dim() == 2 else attention_mask[:, None]
        additive_mask = (1.0 - mask.to(hidden.dtype)) * torch.finfo(hidden.dtype).min

        rel = self.encoder.relative_positions
        rel_index = rel.index(length, hidden.device)
        all_hidden, all_attentions = [hidden], []
        for layer in self.encoder.layer:
            hidden, probs = layer(hidden, additive_mask, rel.table, rel_index)
            all_hidden.append(hidden)
            all_attentions.append(probs)

        return BaseModelOutputWithPooling(
            last_hidden_state=hidden,
            pooler_output=self.pooler(hidden) if self.pooler is not None else None,
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )
