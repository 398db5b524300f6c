from transformers import BertConfig, BertModel

from benchmark.registry import Backbone, register

register(
    Backbone(
        name="bert",
        hub_id="google-bert/bert-base-chinese",
        description="BERT-base, Chinese characters (Google, 2018)",
        model_class=BertModel,
        config_class=BertConfig,
    )
)
