"""ERNIE 3.0 in six sizes (Baidu, 2021), as converted for transformers by nghuyong: BERT-style encoders with a
40,000-entry vocabulary, 2,048 positions, 4 segment types and a task-type embedding (`use_task_id`), which is
id 0 for every text here, as in PaddleNLP's classification fine-tuning."""

from benchmark.backbone import Backbone
from benchmark.registry import register

# name: (layers, hidden, heads, intermediate, task types), from each checkpoint's config.json, and the parameters
# they make.
SIZES = {
    "xbase": (20, 1024, 16, 4096, 16, 296_053_760),
    "base": (12, 768, 12, 3072, 3, 117_944_832),
    "medium": (6, 768, 12, 3072, 16, 75_427_584),
    "mini": (6, 384, 12, 1536, 16, 26_949_504),
    "micro": (4, 384, 12, 1536, 16, 23_400_576),
    "nano": (4, 312, 12, 1248, 16, 17_912_232),
}

for size, (layers, hidden, heads, intermediate, task_types, parameters) in SIZES.items():
    register(
        Backbone(
            name=f"ernie3_{size}",
            hub_id=f"nghuyong/ernie-3.0-{size}-zh",
            description=f"ERNIE 3.0 {size}: {layers} layers, {hidden} wide (Baidu, 2021)",
            family="ERNIE 3.0",
            model="ErnieModel",
            config="ErnieConfig",
            architecture="ernie",
            checkpoint="ErnieForPreTraining",
            parameters=parameters,
            published_config={
                "model_type": "ernie",
                "num_hidden_layers": layers,
                "hidden_size": hidden,
                "num_attention_heads": heads,
                "intermediate_size": intermediate,
                "vocab_size": 40000,
                "max_position_embeddings": 2048,
                "type_vocab_size": 4,
                "use_task_id": True,
                "task_type_vocab_size": task_types,
                "layer_norm_eps": 1e-5,
            },
            # Some revisions of these conversions describe themselves as BERT models.
            accepts_configs=("bert",),
            max_length=2048,
        )
    )
