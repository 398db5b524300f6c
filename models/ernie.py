from benchmark.backbone import Backbone
from benchmark.registry import register

register(
    Backbone(
        name="ernie",
        hub_id="nghuyong/ernie-1.0-base-zh",
        description="ERNIE 1.0 base: entity and phrase masking (Baidu, 2019)",
        model="ErnieModel",
        config="ErnieConfig",
        architecture="ernie",
        family="BERT-base",
        # nghuyong/ernie-1.0-base-zh's config.json: an 18,000-entry vocabulary and 513 positions.
        published_config={
            "model_type": "ernie",
            "num_hidden_layers": 12,
            "hidden_size": 768,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "vocab_size": 18000,
            "max_position_embeddings": 513,
            "type_vocab_size": 2,
        },
        parameters=99_866_112,
        # Conversions published before transformers had ERNIE classes describe it as a BERT model.
        accepts_configs=("bert",),
    )
)
