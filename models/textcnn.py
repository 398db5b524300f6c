from benchmark.backbone import Backbone
from benchmark.registry import register
from benchmark.space import log, uniform

register(
    Backbone(
        name="textcnn",
        description="TextCNN (Kim, 2014) on characters: embeddings trained from scratch, convolutions, max-pooling",
        model="models._textcnn_modeling:TextCNNModel",
        config="models._textcnn_modeling:TextCNNConfig",
        architecture="textcnn",
        gradient_checkpointing=False,
        kind="scratch",
        family="baseline",
        modes=("finetune",),
        tiny_shape={"embedding_size": 32, "num_filters": 32},
        # From random embeddings it needs a far higher learning rate than fine-tuning, more epochs, and Kim's dropout
        # of 0.5 before the classifier. Batches are not grouped by length: headline length goes with the class in
        # THUCNews (long ones are mostly realty and sports), so length-grouped batches are lopsided, which a model
        # learning from nothing feels most.
        recommended={
            "learning_rate": 1e-3,
            "dropout": 0.5,
            "epochs": 20.0,
            "eval_every": 50,
            "patience_steps": 500,
            "weight_decay": 0.0,
            "group_by_length": False,
        },
        # From scratch: the learning rate and dropout matter most (Zhang and Wallace, 2015).
        search_space={"learning_rate": log(3e-4, 3e-3), "dropout": uniform(0.2, 0.6)},
    )
)
