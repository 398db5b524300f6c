"""Small BERT-architecture encoders: what a CPU, a phone or a 10 ms budget can afford.

HFL's RBT series (layers cut from RoBERTa-wwm-ext, or from its large version for RBTL3), UER's RoBERTa series
pre-trained from scratch at each size (Zhao et al., 2019; "Well-Read Students Learn Better" sizes), and
Huawei's 4-layer TinyBERT, distilled from BERT-base (Jiao et al., 2020).
"""

from transformers import BertConfig, BertForPreTraining, BertModel

from benchmark.registry import Backbone, register
from models._published import bert_config

# name: (hub id, family, layers, hidden, heads, intermediate, description)
SMALL = {
    "rbt3": ("hfl/rbt3", "small BERT", 3, 768, 12, 3072, "RBT3: 3 layers of RoBERTa-wwm-ext (HFL)"),
    "rbtl3": ("hfl/rbtl3", "small BERT", 3, 1024, 16, 4096, "RBTL3: 3 layers of RoBERTa-wwm-ext-large (HFL)"),
    "rbt4": ("hfl/rbt4", "small BERT", 4, 768, 12, 3072, "RBT4: 4 layers of RoBERTa-wwm-ext (HFL)"),
    "rbt6": ("hfl/rbt6", "small BERT", 6, 768, 12, 3072, "RBT6: 6 layers of RoBERTa-wwm-ext (HFL)"),
    "uer_tiny": ("uer/chinese_roberta_L-2_H-128", "small BERT", 2, 128, 2, 512, "UER RoBERTa tiny: 2 x 128"),
    "uer_mini": ("uer/chinese_roberta_L-4_H-256", "small BERT", 4, 256, 4, 1024, "UER RoBERTa mini: 4 x 256"),
    "uer_small": ("uer/chinese_roberta_L-4_H-512", "small BERT", 4, 512, 8, 2048, "UER RoBERTa small: 4 x 512"),
    "uer_medium": ("uer/chinese_roberta_L-8_H-512", "small BERT", 8, 512, 8, 2048, "UER RoBERTa medium: 8 x 512"),
    # The 4-layer shape of the TinyBERT paper (312 wide, 1,200 intermediate), on bert-base-chinese's vocabulary.
    "tinybert_4l": ("huawei-noah/TinyBERT_4L_zh", "small BERT", 4, 312, 12, 1200, "TinyBERT 4L (Huawei)"),
}

for name, (hub_id, family, layers, hidden, heads, intermediate, description) in SMALL.items():
    register(
        Backbone(
            name=name,
            hub_id=hub_id,
            description=description,
            family=family,
            model_class=BertModel,
            config_class=BertConfig,
            checkpoint_class=BertForPreTraining,
            published_config=bert_config(layers, hidden, heads, intermediate),
        )
    )
