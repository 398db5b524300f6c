from transformers import BertConfig, BertModel

from benchmark.registry import Backbone, register

register(
    Backbone(
        name="mengzi",
        hub_id="Langboat/mengzi-bert-base",
        description="Mengzi BERT base: linguistically informed pre-training (Langboat, 2021)",
        model_class=BertModel,
        config_class=BertConfig,
    )
)
