"""Small BERT-architecture encoders: what a CPU, a phone or a 10 ms budget can afford.

HFL's RBT series (layers cut from RoBERTa-wwm-ext, or from its large version for RBTL3), UER's RoBERTa series
pre-trained from scratch at each size (Zhao et al., 2019; "Well-Read Students Learn Better" sizes), and
Huawei's 4-layer TinyBERT, distilled from BERT-base (Jiao et al., 2020).
"""

from benchmark.backbone import Backbone
from benchmark.registry import register
from models._published import bert_config

# name: (hub id, layers, hidden, heads, intermediate, the parameters they make, description)
SMALL = {
    "rbt3": ("hfl/rbt3", 3, 768, 12, 3072, 38_476_800, "RBT3: 3 layers of RoBERTa-wwm-ext (HFL)"),
    "rbtl3": ("hfl/rbtl3", 3, 1024, 16, 4096, 61_001_728, "RBTL3: 3 layers of RoBERTa-wwm-ext-large (HFL)"),
    "rbt4": ("hfl/rbt4", 4, 768, 12, 3072, 45_564_672, "RBT4: 4 layers of RoBERTa-wwm-ext (HFL)"),
    "rbt6": ("hfl/rbt6", 6, 768, 12, 3072, 59_740_416, "RBT6: 6 layers of RoBERTa-wwm-ext (HFL)"),
    "uer_tiny": ("uer/chinese_roberta_L-2_H-128", 2, 128, 2, 512, 3_183_488, "UER RoBERTa tiny: 2 x 128"),
    "uer_mini": ("uer/chinese_roberta_L-4_H-256", 4, 256, 4, 1024, 8_765_696, "UER RoBERTa mini: 4 x 256"),
    "uer_small": ("uer/chinese_roberta_L-4_H-512", 4, 512, 8, 2048, 23_953_920, "UER RoBERTa small: 4 x 512"),
    "uer_medium": ("uer/chinese_roberta_L-8_H-512", 8, 512, 8, 2048, 36_563_456, "UER RoBERTa medium: 8 x 512"),
    # The 4-layer shape of the TinyBERT paper (312 wide, 1,200 intermediate), on bert-base-chinese's vocabulary.
    "tinybert_4l": ("huawei-noah/TinyBERT_4L_zh", 4, 312, 12, 1200, 11_419_320, "TinyBERT 4L (Huawei)"),
}

for name, (hub_id, layers, hidden, heads, intermediate, parameters, description) in SMALL.items():
    register(
        Backbone(
            name=name,
            hub_id=hub_id,
            description=description,
            family="small BERT",
            model="BertModel",
            config="BertConfig",
            architecture="bert",
            checkpoint="BertForPreTraining",
            published_config=bert_config(layers, hidden, heads, intermediate),
            parameters=parameters,
        )
    )
