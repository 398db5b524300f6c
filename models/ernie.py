from transformers import ErnieConfig, ErnieModel

from benchmark.registry import Backbone, register

register(
    Backbone(
        name="ernie",
        hub_id="nghuyong/ernie-1.0-base-zh",
        description="ERNIE 1.0 base: entity and phrase masking (Baidu, 2019)",
        model_class=ErnieModel,
        config_class=ErnieConfig,
        # Conversions published before transformers had ERNIE classes describe it as a BERT model.
        accepts_configs=("bert",),
    )
)
