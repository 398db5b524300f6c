from benchmark.backbone import Backbone
from benchmark.registry import register
from models._published import BERT_BASE

register(
    Backbone(
        name="nezha",
        hub_id="sijunhe/nezha-cn-base",
        description="NeZha base: functional relative position encoding, whole word masking (Huawei, 2019)",
        # This project's implementation: transformers 5 no longer has NeZha.
        model="models._nezha_modeling:NezhaModel",
        config="models._nezha_modeling:NezhaConfig",
        architecture="nezha",
        family="BERT-base",
        published_config={**BERT_BASE, "model_type": "nezha", "max_relative_position": 64},
        parameters=101_874_432,
        gradient_checkpointing=False,
        absolute_positions=False,  # relative positions only: any --max-length fits
        note=(
            "The reported figure came from loading NeZha as a plain BERT (random absolute position "
            "embeddings, no relative attention), so it is not comparable; this harness loads NeZha with its "
            "relative-position attention."
        ),
    )
)
