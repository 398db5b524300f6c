"""Newer base-size encoders: HFL's LERT and PERT (BERT architecture, other pre-training tasks), HFL's ELECTRA
discriminator and UER's ALBERT (shared layers, a 128-wide factorised embedding), which ships BERT's vocabulary and
tokenizer. Neither checkpoint holds a trained pooler, so both pool the first token's state."""

from transformers import (
    AlbertConfig,
    AlbertForMaskedLM,
    AlbertModel,
    BertConfig,
    BertForPreTraining,
    BertModel,
    ElectraConfig,
    ElectraForPreTraining,
    ElectraModel,
)

from benchmark.registry import Backbone, register
from models._published import BERT_BASE, TINY

for name, hub_id, description in (
    ("lert_base", "hfl/chinese-lert-base", "LERT base: linguistically motivated pre-training tasks (HFL, 2022)"),
    ("pert_base", "hfl/chinese-pert-base", "PERT base: permuted language model pre-training (HFL, 2022)"),
):
    register(
        Backbone(
            name=name,
            hub_id=hub_id,
            description=description,
            family="newer base encoder",
            model_class=BertModel,
            config_class=BertConfig,
            checkpoint_class=BertForPreTraining,
            published_config=BERT_BASE,
        )
    )

register(
    Backbone(
        name="electra_base",
        hub_id="hfl/chinese-electra-180g-base-discriminator",
        description="ELECTRA base discriminator, 180 GB of text (HFL, 2020)",
        family="newer base encoder",
        model_class=ElectraModel,
        config_class=ElectraConfig,
        checkpoint_class=ElectraForPreTraining,
        published_config={**BERT_BASE, "model_type": "electra", "embedding_size": 768},
        pooling="cls",  # ELECTRA has no pooler; its classification head reads the first token
        tiny_shape={**TINY, "embedding_size": 64},
    )
)

register(
    Backbone(
        name="albert_base",
        hub_id="uer/albert-base-chinese-cluecorpussmall",
        description="ALBERT base: one layer's weights shared by all 12 (UER, CLUECorpusSmall)",
        family="newer base encoder",
        model_class=AlbertModel,
        config_class=AlbertConfig,
        checkpoint_class=AlbertForMaskedLM,
        published_config={**BERT_BASE, "model_type": "albert", "embedding_size": 128, "hidden_act": "relu"},
        # Its config names AlbertForMaskedLM, which has no pooler: the first token's state is pooled instead.
        pooling="cls",
        lora_targets=("query", "key", "value", "dense", "ffn", "ffn_output"),  # ALBERT names its feed-forward so
        tiny_shape={**TINY, "embedding_size": 32},
    )
)
