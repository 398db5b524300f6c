from benchmark.backbone import Backbone
from benchmark.registry import register
from models._published import BERT_BASE

register(
    Backbone(
        name="mengzi",
        hub_id="Langboat/mengzi-bert-base",
        description="Mengzi BERT base: linguistically informed pre-training (Langboat, 2021)",
        model="BertModel",
        config="BertConfig",
        architecture="bert",
        family="BERT-base",
        published_config=BERT_BASE,
        parameters=102_267_648,
    )
)
