"""Knowledge distillation: a student learns a fine-tuned teacher's softened outputs as well as the gold labels.

    loss = alpha * T^2 * KL(softmax(z_teacher / T) || softmax(z_student / T)) + (1 - alpha) * CE(y, softmax(z_student))

(Hinton et al. 2015). T > 1 spreads the teacher's probability over the wrong classes, which is where it says
how similar the classes are; T^2 keeps the gradient of the soft term on the scale of the hard term as T grows.

Any finished run with a `model/` folder can be the teacher (`--teacher results/<run>`), a transformer, TextCNN
or tfidf alike: its logits for the training texts are computed once and cached in the teacher's run folder
(`teacher-logits/<hash>.npy`, read with allow_pickle=False), keyed by the texts and the teacher's maximum
length. The student is any registry entry; one that declares `student_layers` (rbt3_student) starts from the
teacher's embeddings and lower layers. Training goes through the usual Trainer path: the student is a
TextClassifier whose forward also takes the teacher's logits, and dev loss (early stopping) stays the plain
cross-entropy on gold labels, so it is comparable with any other run's.

`python -m benchmark.perf.distill_demo --data-dir DIR` trains a teacher and, with the same budget, one student
on gold labels alone and one distilled, on the mini protocol, and prints the comparison.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from benchmark.errors import HarnessError
from benchmark.loading.classifier import TextClassifier
from benchmark.record import METRICS_FILE, RecordError, model_folder, read_record
from benchmark.serve.predict import load_predictor

CACHE_FOLDER = "teacher-logits"


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None,
    temperature: float,
    alpha: float,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(labels, p_student), batch means; the
    cross-entropy weighted per class when --class-weights asks for it."""
    student_logits, teacher_logits = student_logits.float(), teacher_logits.float()
    loss = student_logits.new_zeros(())
    if alpha > 0:
        log_student = F.log_softmax(student_logits / temperature, dim=-1)
        log_teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
        kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
        loss = loss + alpha * temperature**2 * kl
    if alpha < 1:
        loss = loss + (1 - alpha) * F.cross_entropy(student_logits, labels, weight=class_weights)
    return loss


def check_settings(temperature: float, alpha: float) -> None:
    if not temperature > 0:
        raise HarnessError(
            f"--temperature must be positive (1 leaves the outputs as they are; 2 to 10 soften them), got {temperature}"
        )
    if not 0 <= alpha <= 1:
        raise HarnessError(f"--alpha must lie between 0 (gold labels only) and 1 (teacher only), got {alpha}")


class DistillingClassifier(TextClassifier):
    """The student's TextClassifier (same modules, same saved weights) with the distillation loss.

    Batches with `teacher_logits` (training) get the distillation loss; batches without (dev and test) get the
    plain cross-entropy, so early stopping and test loss mean what they mean for every other run.
    """

    def __init__(self, student: TextClassifier, temperature: float, alpha: float):
        torch.nn.Module.__init__(self)
        self.encoder, self.dropout, self.head = student.encoder, student.dropout, student.head
        self.num_labels, self.class_weights, self.pooling = student.num_labels, student.class_weights, student.pooling
        self.temperature, self.alpha = temperature, alpha

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, teacher_logits=None) -> dict:
        output = super().forward(input_ids, attention_mask, token_type_ids, labels=labels)
        if labels is not None and teacher_logits is not None:
            weights = self.class_weights.to(labels.device) if self.class_weights is not None else None
            output["loss"] = distillation_loss(
                output["logits"], teacher_logits, labels, self.temperature, self.alpha, weights
            )
        return output


class DistillationSplit(torch.utils.data.Dataset):
    """An encoded training split whose items also carry the teacher's logits for that text."""

    def __init__(self, split, teacher_logits: np.ndarray):
        if len(split) != len(teacher_logits):
            raise ValueError(f"{len(split)} examples but {len(teacher_logits)} rows of teacher logits")
        self.split, self.teacher_logits = split, teacher_logits.astype(np.float32)

    def __len__(self) -> int:
        return len(self.split)

    @property
    def lengths(self) -> np.ndarray:  # read by the length-grouped sampler
        return self.split.lengths

    def __getitem__(self, i: int) -> dict:
        return {**self.split[i], "teacher_logits": self.teacher_logits[i]}


class DistillationCollator:
    """The harness's collator, plus the teacher's logits stacked when every item of the batch has them."""

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, features: list[dict]) -> dict:
        batch = self.collator([{k: v for k, v in f.items() if k != "teacher_logits"} for f in features])
        if features and all("teacher_logits" in f for f in features):
            batch["teacher_logits"] = torch.from_numpy(np.stack([f["teacher_logits"] for f in features]))
        return batch


# ---------------------------------------------------------------- the teacher


def teacher_record(teacher: Path) -> dict:
    """What the results file says about the teacher: its run id, backbone, protocol and test metrics."""
    model_folder(teacher)  # a clear error when the folder is missing or holds no model
    if not (teacher / METRICS_FILE).is_file():
        raise HarnessError(f"{teacher}: no {METRICS_FILE}; a teacher must be a finished run (results/<run-id>)")
    try:
        record = read_record(teacher)
    except RecordError as error:
        raise HarnessError(f"{teacher / METRICS_FILE}: {error}; expected the metrics of a finished run") from None
    return {
        "run_id": record.run_id,
        "path": str(teacher),
        "backbone": record.backbone.name,
        "parameters": record.backbone.parameters,
        "dataset": record.task.dataset,
        "protocol": record.task.protocol,
        "test_sha256": (record.task.files.get("test") or {}).get("sha256"),
        "metrics": {"accuracy": record.metrics.accuracy, "macro_f1": record.metrics.macro.get("f1")},
        "max_length": record.config.get("max_length"),
    }


def cache_key(texts: list[str], max_length: int | None) -> str:
    digest = hashlib.sha256(f"teacher-logits|{max_length}|{len(texts)}|".encode())
    for text in texts:
        encoded = text.encode()
        digest.update(len(encoded).to_bytes(8, "little"))  # lengths make the boundaries between texts unambiguous
        digest.update(encoded)
    return digest.hexdigest()[:32]


def teacher_logits(teacher: Path, texts: list[str], max_length: int | None = None, log=print) -> np.ndarray:
    """The teacher's logits for `texts`, from its run folder's cache or computed once and cached there."""
    path = Path(teacher) / CACHE_FOLDER / f"{cache_key(texts, max_length)}.npy"
    if path.is_file():
        logits = np.load(path, allow_pickle=False)
        if logits.shape[0] == len(texts):
            log(f"teacher logits for {len(texts)} texts read from {path}")
            return logits
    predictor = load_predictor(teacher)
    log(f"computing the teacher's logits for {len(texts)} training texts ({predictor.backbone})")
    logits = predictor.logits(texts).astype(np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            np.save(tmp, logits, allow_pickle=False)
        os.replace(tmp.name, path)
    except OSError as error:  # a read-only teacher folder costs a recomputation next time, nothing else
        log(f"warning: cannot cache the teacher's logits in {path.parent} ({error.strerror or error})")
    return logits


def attach_teacher(config, backbone, model: TextClassifier, splits, train_set, collator, log=print):
    """Turn a student and its training split into a distillation run.

    Returns the model (a DistillingClassifier), the training split with teacher logits, the collator that
    batches them, and the record for the results file (teacher, T, alpha, and the name the run is listed under).
    """
    check_settings(config.temperature, config.alpha)
    if backbone.kind == "sklearn":
        raise HarnessError(
            f"{backbone.name} cannot be a distillation student; choose a torch student such as rbt3_student or textcnn"
        )
    teacher = Path(config.teacher)
    record = teacher_record(teacher)
    labels = json.loads((model_folder(teacher) / "labels.json").read_text(encoding="utf-8"))["labels"]
    if list(labels) != list(splits.label_names):
        raise HarnessError(
            f"{teacher}: the teacher's labels {labels} differ from this data's {splits.label_names}; "
            f"the teacher must be trained on the same labels, in the same order"
        )
    test_sha = (splits.files.get("test") or {}).get("sha256")
    if record["test_sha256"] and test_sha and record["test_sha256"] != test_sha:
        log(
            f"warning: the teacher {record['run_id']} was scored on another test file; make sure it never "
            f"trained on this run's test texts"
        )
    logits = teacher_logits(teacher, splits.train.texts, record.pop("max_length"), log)
    record["train_accuracy"] = float((logits.argmax(axis=1) == splits.train.labels).mean())
    distilled = DistillingClassifier(model, config.temperature, config.alpha)
    return (
        distilled,
        DistillationSplit(train_set, logits),
        DistillationCollator(collator),
        {
            "teacher": record,
            "temperature": config.temperature,
            "alpha": config.alpha,
            "student": backbone.name,
            "backbone_name": f"{backbone.name}-kd-{record['backbone'] or 'teacher'}",
        },
    )
