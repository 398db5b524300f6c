from benchmark.backbone import Backbone
from benchmark.registry import register
from models._published import BERT_BASE

register(
    Backbone(
        name="bert",
        hub_id="google-bert/bert-base-chinese",
        description="BERT-base, Chinese characters (Google, 2018)",
        model="BertModel",
        config="BertConfig",
        architecture="bert",
        family="BERT-base",
        published_config=BERT_BASE,
        parameters=102_267_648,
    )
)
