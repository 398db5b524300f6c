"""Newer base-size encoders: HFL's LERT and PERT (BERT architecture, other pre-training tasks), HFL's ELECTRA
discriminator and UER's ALBERT (shared layers, a 128-wide factorised embedding), which ships BERT's vocabulary and
tokenizer. Neither checkpoint holds a trained pooler, so both pool the first token's state."""

from benchmark.backbone import Backbone
from benchmark.registry import register
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
            model="BertModel",
            config="BertConfig",
            architecture="bert",
            checkpoint="BertForPreTraining",
            published_config=BERT_BASE,
            parameters=102_267_648,
        )
    )

register(
    Backbone(
        name="electra_base",
        hub_id="hfl/chinese-electra-180g-base-discriminator",
        description="ELECTRA base discriminator, 180 GB of text (HFL, 2020)",
        family="newer base encoder",
        model="ElectraModel",
        config="ElectraConfig",
        architecture="electra",
        checkpoint="ElectraForPreTraining",
        published_config={**BERT_BASE, "model_type": "electra", "embedding_size": 768},
        parameters=101_677_056,
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
        model="AlbertModel",
        config="AlbertConfig",
        architecture="albert",
        checkpoint="AlbertForMaskedLM",
        published_config={**BERT_BASE, "model_type": "albert", "embedding_size": 128, "hidden_act": "relu"},
        parameters=10_547_968,
        gradient_checkpointing=False,
        # Its config names AlbertForMaskedLM, which has no pooler: the first token's state is pooled instead.
        pooling="cls",
        lora_targets=("query", "key", "value", "dense", "ffn", "ffn_output"),  # ALBERT names its feed-forward so
        tiny_shape={**TINY, "embedding_size": 32},
    )
)
