"""Sentence-embedding models: BERT encoders trained for retrieval and similarity, pooled as their authors pool
them (bge: the [CLS] state; text2vec: the mean over tokens). Fine-tuned like any encoder, or as a linear probe
(--linear-probe), which is how C-MTEB scores classification."""

from benchmark.backbone import Backbone
from benchmark.registry import register
from models._published import BERT_BASE, BERT_LARGE, bert_config

NOTE = "bge's sentence vector is the normalised [CLS] state; the classifier reads it before normalisation."

for name, hub_id, shape, parameters, description in (
    ("bge_small", "BAAI/bge-small-zh-v1.5", bert_config(4, 512, 8, 2048), 23_953_920, "bge small zh v1.5 (BAAI, 2023)"),
    ("bge_base", "BAAI/bge-base-zh-v1.5", BERT_BASE, 102_267_648, "bge base zh v1.5 (BAAI, 2023)"),
    ("bge_large", "BAAI/bge-large-zh-v1.5", BERT_LARGE, 325_522_432, "bge large zh v1.5 (BAAI, 2023)"),
):
    register(
        Backbone(
            name=name,
            hub_id=hub_id,
            description=description,
            family="sentence embedding",
            model="BertModel",
            config="BertConfig",
            architecture="bert",
            published_config=shape,
            parameters=parameters,
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
        model="BertModel",
        config="BertConfig",
        architecture="bert",
        published_config=BERT_BASE,
        parameters=102_267_648,
        pooling="mean",
    )
)
