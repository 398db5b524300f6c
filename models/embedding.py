"""Sentence-embedding models: BERT encoders trained for retrieval and similarity, pooled as their authors pool
them (bge: the [CLS] state; text2vec: the mean over tokens). Fine-tuned like any encoder, or as a linear probe
(--linear-probe), which is how C-MTEB scores classification."""

from transformers import BertConfig, BertModel

from benchmark.registry import Backbone, register
from models._published import BERT_BASE, BERT_LARGE, bert_config

NOTE = "bge's sentence vector is the normalised [CLS] state; the classifier reads it before normalisation."

for name, hub_id, shape, description in (
    ("bge_small", "BAAI/bge-small-zh-v1.5", bert_config(4, 512, 8, 2048), "bge small zh v1.5 (BAAI, 2023)"),
    ("bge_base", "BAAI/bge-base-zh-v1.5", BERT_BASE, "bge base zh v1.5 (BAAI, 2023)"),
    ("bge_large", "BAAI/bge-large-zh-v1.5", BERT_LARGE, "bge large zh v1.5 (BAAI, 2023)"),
):
    register(
        Backbone(
            name=name,
            hub_id=hub_id,
            description=description,
            family="sentence embedding",
            model_class=BertModel,
            config_class=BertConfig,
            published_config=shape,
            pooling="cls",
            note=NOTE,
        )
    )

register(
    Backbone(
        name="text2vec",
        hub_id="shibing624/text2vec-base-chinese",
        description="text2vec base Chinese: CoSENT on MacBERT (shibing624, 2022)",
        family="sentence embedding",
        model_class=BertModel,
        config_class=BertConfig,
        published_config=BERT_BASE,
        pooling="mean",
    )
)
