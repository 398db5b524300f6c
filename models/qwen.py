"""Small decoder LLMs, fine-tuned for classification with LoRA: adapters on every attention and MLP projection,
the head trained fully, the last real token's state pooled. Any decoder with the same interface is one more
entry here. Their byte-level BPE needs no lower-casing and knows every character."""

from benchmark.backbone import Backbone
from benchmark.registry import register
from benchmark.space import choice, integers, log, uniform
from models._published import TINY_DECODER

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# LoRA by default (a flag given on the command line wins): rank 16, alpha 32, and the higher learning rate
# adapters train with.
LORA = {"lora_r": 16, "lora_alpha": 32.0, "learning_rate": 2e-4}
COMMON = dict(
    family="decoder LLM",
    tokenizer="Qwen2Tokenizer",
    vocabulary="byte-bpe",
    lowercase=None,
    pooling="last",
    absolute_positions=False,  # rotary positions: no table bounds the length
    # The published embedding is padded: 151,936 rows for 151,665 tokens (Qwen2.5) and 151,669 (Qwen3).
    spare_embedding_rows=512,
    lora_targets=PROJECTIONS,
    recommended=LORA,
    # Adapters train with a higher learning rate than full fine-tuning, and their rank is a setting of their own.
    search_space={
        "learning_rate": log(5e-5, 5e-4),
        "lora_r": choice(8, 16, 32),
        "batch_size": choice(16, 32),
        "epochs": integers(1, 3),
        "warmup": uniform(0.0, 0.1),
    },
)

register(
    Backbone(
        name="qwen2_5_0_5b",
        hub_id="Qwen/Qwen2.5-0.5B",
        description="Qwen2.5 0.5B base (Alibaba, 2024)",
        model="Qwen2Model",
        config="Qwen2Config",
        checkpoint="Qwen2ForCausalLM",
        architecture="qwen2",
        parameters=494_032_768,
        published_config={
            "model_type": "qwen2",
            "hidden_size": 896,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "intermediate_size": 4864,
            "vocab_size": 151936,
            "max_position_embeddings": 32768,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": True,
        },
        tiny_shape=TINY_DECODER,
        **COMMON,
    )
)

register(
    Backbone(
        name="qwen3_0_6b",
        hub_id="Qwen/Qwen3-0.6B",
        description="Qwen3 0.6B (Alibaba, 2025)",
        model="Qwen3Model",
        config="Qwen3Config",
        checkpoint="Qwen3ForCausalLM",
        architecture="qwen3",
        parameters=596_049_920,
        published_config={
            "model_type": "qwen3",
            "hidden_size": 1024,
            "num_hidden_layers": 28,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "intermediate_size": 3072,
            "vocab_size": 151936,
            "max_position_embeddings": 40960,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": True,
        },
        tiny_shape={**TINY_DECODER, "head_dim": 16},
        **COMMON,
    )
)
