from transformers import BertConfig, BertModel

from benchmark.registry import Backbone, register
from models._published import BERT_BASE

# Despite the name, the authors ship it as a BERT model with BERT's tokenizer:
# loading it with RoBERTa classes silently breaks it.
register(
    Backbone(
        name="roberta_wwm",
        hub_id="hfl/chinese-roberta-wwm-ext",
        description="RoBERTa-wwm-ext base: whole-word masking, more data (HFL, 2019)",
        model_class=BertModel,
        config_class=BertConfig,
        family="BERT-base",
        published_config=BERT_BASE,
    )
)
