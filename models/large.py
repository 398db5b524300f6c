"""Large Chinese BERT-architecture encoders: 24 layers, 1,024 wide (HFL)."""

from transformers import BertConfig, BertForPreTraining, BertModel

from benchmark.registry import Backbone, register
from models._published import BERT_LARGE

for name, hub_id, description in (
    ("roberta_wwm_large", "hfl/chinese-roberta-wwm-ext-large", "RoBERTa-wwm-ext-large: whole word masking (HFL)"),
    ("macbert_large", "hfl/chinese-macbert-large", "MacBERT large: MLM as correction (HFL, 2020)"),
):
    register(
        Backbone(
            name=name,
            hub_id=hub_id,
            description=description,
            family="large encoder",
            model_class=BertModel,
            config_class=BertConfig,
            checkpoint_class=BertForPreTraining,
            published_config=BERT_LARGE,
            recommended={"learning_rate": 2e-5},  # large models diverge more easily at 5e-5
        )
    )
