from benchmark.backbone import Backbone
from benchmark.registry import register
from models._published import BERT_BASE

# Despite the name, the authors ship it as a BERT model with BERT's tokenizer:
# loading it with RoBERTa classes silently breaks it.
register(
    Backbone(
        name="roberta_wwm",
        hub_id="hfl/chinese-roberta-wwm-ext",
        description="RoBERTa-wwm-ext base: whole-word masking, more data (HFL, 2019)",
        model="BertModel",
        config="BertConfig",
        architecture="bert",
        family="BERT-base",
        published_config=BERT_BASE,
        parameters=102_267_648,
    )
)
