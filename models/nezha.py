from benchmark.registry import Backbone, register
from models._nezha_modeling import NezhaConfig, NezhaModel
from models._published import BERT_BASE

__all__ = ["NezhaConfig", "NezhaModel"]

register(
    Backbone(
        name="nezha",
        hub_id="sijunhe/nezha-cn-base",
        description="NeZha base: functional relative position encoding, whole word masking (Huawei, 2019)",
        model_class=NezhaModel,
        config_class=NezhaConfig,
        family="BERT-base",
        published_config={**BERT_BASE, "model_type": "nezha", "max_relative_position": 64},
        absolute_positions=False,  # relative positions only: any --max-length fits
        note=(
            "The reported figure came from loading NeZha as a plain BERT (random absolute position "
            "embeddings, no relative attention), so it is not comparable; this harness loads NeZha with its "
            "relative-position attention."
        ),
    )
)
