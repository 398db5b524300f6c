from benchmark.backbone import Backbone
from benchmark.registry import register
from models._published import bert_config

register(
    Backbone(
        name="rbt3_student",
        hub_id="hfl/rbt3",
        description="3-layer BERT: RBT3 (HFL's 3-layer RoBERTa-wwm-ext), or with --teacher the teacher's lower layers",
        model="BertModel",
        config="BertConfig",
        architecture="bert",
        family="distillation student",
        published_config=bert_config(3, 768, 12, 3072),
        parameters=38_476_800,
        student_layers=3,
        note="A distillation student. With --teacher RUN (a fine-tuned BERT-architecture run) its embeddings, three "
        "layers and pooler are copied from the teacher's embeddings, lowest three layers and pooler, and it "
        "uses the teacher's tokenizer; without --teacher it is RBT3 from the hub, fine-tuned like any backbone.",
    )
)
