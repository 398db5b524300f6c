from benchmark.backbone import Backbone
from benchmark.registry import register
from models._published import BERT_BASE

# Like RoBERTa-wwm, MacBERT is published as a BERT model with BERT's tokenizer.
register(
    Backbone(
        name="macbert",
        hub_id="hfl/chinese-macbert-base",
        description="MacBERT base: masking with similar words as correction (HFL, 2020)",
        model="BertModel",
        config="BertConfig",
        architecture="bert",
        family="BERT-base",
        published_config=BERT_BASE,
        parameters=102_267_648,
    )
)
