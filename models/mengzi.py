from transformers import BertConfig, BertModel

from benchmark.registry import Backbone, register
from models._published import BERT_BASE

register(
    Backbone(
        name="mengzi",
        hub_id="Langboat/mengzi-bert-base",
        description="Mengzi BERT base: linguistically informed pre-training (Langboat, 2021)",
        model_class=BertModel,
        config_class=BertConfig,
        family="BERT-base",
        published_config=BERT_BASE,
    )
)
