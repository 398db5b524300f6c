"""Large Chinese BERT-architecture encoders: 24 layers, 1,024 wide (HFL)."""

from benchmark.backbone import Backbone
from benchmark.registry import register
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
            model="BertModel",
            config="BertConfig",
            architecture="bert",
            checkpoint="BertForPreTraining",
            published_config=BERT_LARGE,
            parameters=325_522_432,
            recommended={"learning_rate": 2e-5},  # large models diverge more easily at 5e-5
        )
    )
