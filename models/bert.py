from transformers import BertConfig, BertModel

from benchmark.registry import Backbone, register
from models._published import BERT_BASE

register(
    Backbone(
        name="bert",
        hub_id="google-bert/bert-base-chinese",
        description="BERT-base, Chinese characters (Google, 2018)",
        model_class=BertModel,
        config_class=BertConfig,
        family="BERT-base",
        published_config=BERT_BASE,
    )
)
