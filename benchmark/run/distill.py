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

`python -m benchmark.run.distill --demo --data-dir DIR` trains a teacher and, with the same budget, one student on
gold labels alone and one distilled, on the mini protocol, and prints the comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from benchmark.errors import HarnessError
from benchmark.model.classifier import TextClassifier

CACHE_FOLDER = "teacher-logits"


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None,
                      temperature: float, alpha: float) -> torch.Tensor:
    """alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(labels, p_student), batch means."""
    student_logits, teacher_logits = student_logits.float(), teacher_logits.float()
    loss = student_logits.new_zeros(())
    if alpha > 0:
        log_student = F.log_softmax(student_logits / temperature, dim=-1)
        log_teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
        kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
        loss = loss + alpha * temperature**2 * kl
    if alpha < 1:
        loss = loss + (1 - alpha) * F.cross_entropy(student_logits, labels)
    return loss


def check_settings(temperature: float, alpha: float) -> None:
    if not temperature > 0:
        raise HarnessError(f"--temperature must be positive (1 leaves the outputs as they are; 2 to 10 soften "
                           f"them), got {temperature}")
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
        self.num_labels = student.num_labels
        self.temperature, self.alpha = temperature, alpha

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, teacher_logits=None,
                **_) -> dict:
        output = super().forward(input_ids, attention_mask, token_type_ids, labels=labels)
        if labels is not None and teacher_logits is not None:
            output["loss"] = distillation_loss(output["logits"], teacher_logits, labels, self.temperature,
                                               self.alpha)
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
    from benchmark.serve.predict import model_folder

    model_folder(teacher)  # a clear error when the folder is missing or holds no model
    metrics_path = teacher / "metrics.json"
    try:
        data = json.loads(metrics_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{teacher}: no metrics.json; a teacher must be a finished run (results/<run-id>)") \
            from None
    except (OSError, ValueError) as error:
        raise HarnessError(f"{metrics_path}: unreadable ({error}); expected the metrics of a finished run") from None
    metrics, task = data.get("metrics") or {}, data.get("task") or {}
    return {
        "run_id": data.get("run_id", teacher.name),
        "path": str(teacher),
        "backbone": (data.get("backbone") or {}).get("name"),
        "parameters": (data.get("backbone") or {}).get("parameters"),
        "dataset": task.get("dataset"),
        "protocol": task.get("protocol"),
        "test_sha256": ((task.get("files") or {}).get("test") or {}).get("sha256"),
        "metrics": {"accuracy": metrics.get("accuracy"), "macro_f1": (metrics.get("macro") or {}).get("f1")},
    }


def cache_key(texts: list[str], max_length: int | None) -> str:
    digest = hashlib.sha256(f"teacher-logits|{max_length}|{len(texts)}|".encode())
    for text in texts:
        encoded = text.encode()
        digest.update(len(encoded).to_bytes(8, "little"))  # lengths make the boundaries between texts unambiguous
        digest.update(encoded)
    return digest.hexdigest()[:32]


def teacher_logits(teacher: Path, texts: list[str], log=print) -> np.ndarray:
    """The teacher's logits for `texts`, from its run folder's cache or computed once and cached there."""
    from benchmark.serve.predict import load_predictor, model_folder, run_settings

    settings = run_settings(model_folder(teacher))
    max_length = (settings.get("config") or {}).get("max_length")
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


def attach_teacher(config, backbone, model: TextClassifier, task, train_set, collator, log=print):
    """Turn a student and its training split into a distillation run.

    Returns the model (a DistillingClassifier), the training split with teacher logits, the collator that
    batches them, and the record for the results file (teacher, T, alpha, and the name the run is listed under).
    """
    check_settings(config.temperature, config.alpha)
    if backbone.kind == "sklearn":
        raise HarnessError(f"{backbone.name} cannot be a distillation student; choose a torch student such as "
                           f"rbt3_student or textcnn")
    teacher = Path(config.teacher)
    record = teacher_record(teacher)
    from benchmark.serve.predict import model_folder

    labels = json.loads((model_folder(teacher) / "labels.json").read_text(encoding="utf-8"))["labels"]
    if list(labels) != list(task.label_names):
        raise HarnessError(f"{teacher}: the teacher's labels {labels} differ from this task's {task.label_names}; "
                           f"the teacher must be trained on the same labels, in the same order")
    test_sha = (task.files.get("test") or {}).get("sha256")
    if record["test_sha256"] and test_sha and record["test_sha256"] != test_sha:
        log(f"warning: the teacher {record['run_id']} was scored on another test file; make sure it never "
            f"trained on this run's test texts")
    logits = teacher_logits(teacher, task.train.texts, log)
    record["train_accuracy"] = float((logits.argmax(axis=1) == task.train.labels).mean())
    distilled = DistillingClassifier(model, config.temperature, config.alpha)
    return distilled, DistillationSplit(train_set, logits), DistillationCollator(collator), {
        "teacher": record,
        "temperature": config.temperature,
        "alpha": config.alpha,
        "student": backbone.name,
        "backbone_name": f"{backbone.name}-kd-{record['backbone'] or 'teacher'}",
    }


def write_student_from_teacher(backbone, teacher: Path, folder: Path) -> Path:
    """A student checkpoint cut from the teacher: its embeddings, its lowest `student_layers` layers, its pooler,
    and its tokenizer, saved like a pretrained checkpoint so the usual loading code reads it."""
    from safetensors.torch import load_file

    from benchmark.registry import get_backbone
    from benchmark.serve.predict import model_folder

    source = model_folder(teacher)
    if not (source / "model.safetensors").is_file():
        raise HarnessError(f"{teacher}: {backbone.name} starts from the teacher's layers, so the teacher must be "
                           f"a fine-tuned transformer run (model/model.safetensors); this one is not")
    saved = json.loads((source / "labels.json").read_text(encoding="utf-8"))
    teacher_backbone = get_backbone(saved["backbone"])
    if teacher_backbone.architecture != backbone.architecture:
        raise HarnessError(f"{backbone.name} is a {backbone.architecture} model and starts from its teacher's "
                           f"layers, but the teacher {teacher.name} is {teacher_backbone.architecture}; use a "
                           f"{backbone.architecture} teacher, or a student that trains from scratch (textcnn)")
    config = backbone.config_class.from_pretrained(source)
    layers = backbone.student_layers
    if layers > config.num_hidden_layers:
        raise HarnessError(f"the teacher {teacher.name} has {config.num_hidden_layers} layers, fewer than the "
                           f"{layers} of {backbone.name}")
    config.num_hidden_layers = layers
    student = backbone.model_class(config)
    prefix = "encoder."
    weights = {key[len(prefix):]: value for key, value in load_file(source / "model.safetensors").items()
               if key.startswith(prefix) and _layer(key) < layers}
    missing, unexpected = student.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise HarnessError(f"{teacher}: the teacher's weights do not fit {backbone.name} (missing: "
                           f"{', '.join(missing[:4]) or '-'}; unexpected: {', '.join(unexpected[:4]) or '-'})")
    folder.mkdir(parents=True, exist_ok=True)
    student.save_pretrained(folder)
    backbone.tokenizer_class.from_pretrained(source).save_pretrained(folder)
    return folder


def _layer(key: str) -> int:
    """The layer index of an encoder weight name (`...layer.7.attention...`), -1 for embeddings and pooler."""
    parts = key.split(".")
    for name, index in zip(parts, parts[1:], strict=False):
        if name == "layer" and index.isdigit():
            return int(index)
    return -1


# ---------------------------------------------------------------- the demonstration

# Teacher: full-size TextCNN. Students: a TextCNN fifteen times smaller, trained once on gold labels and once
# distilled, with the same initialisation, data order, steps, learning-rate schedule and early stopping. The
# settings suit the small student (a higher learning rate, little dropout) and are the same for both arms.
STUDENT_SHAPE = {"embedding_size": 32, "num_filters": 32}
STUDENT_SETTINGS = {"learning_rate": 2e-3, "dropout": 0.1}


def demo(data_dir: str, results_dir: str, seeds: list[int], student_steps: int, temperature: float,
         alpha: float, teacher: str | None = None) -> dict:
    from benchmark.config import RunConfig
    from benchmark.model.sources import write_tiny_model
    from benchmark.registry import apply_recommended, get_backbone
    from benchmark.report.stats import mcnemar
    from benchmark.run.pipeline import read_task, run

    textcnn = get_backbone("textcnn")
    base = apply_recommended(RunConfig(model="textcnn", data_dir=data_dir, protocol="mini",
                                       results_dir=results_dir), textcnn)
    if teacher:
        teacher = Path(teacher)
        print(f"== teacher: {teacher}", flush=True)
    else:
        print("== teacher: textcnn, full size, recommended settings", flush=True)
        teacher = run(base, show_progress=False)
    task = read_task(base)
    outcome = {"teacher": teacher_record(teacher), "students": []}
    # One initial student per seed, shared by both arms, so only the loss differs. Always the same folder, so
    # the runs' settings (model_path among them) differ only in the seed and the leaderboard pools the seeds.
    folder = Path(results_dir) / "student-init"
    for seed in seeds:
        shutil.rmtree(folder, ignore_errors=True)
        write_tiny_model(textcnn, task.train.texts, folder, seed, shape=STUDENT_SHAPE)
        student = RunConfig(**{**base.to_dict(), **STUDENT_SETTINGS, "model_path": str(folder), "seed": seed,
                               "max_steps": student_steps, "patience_steps": student_steps})
        for arm, extra in (("gold labels", {}),
                           ("distilled", {"teacher": str(teacher), "temperature": temperature, "alpha": alpha})):
            print(f"== student ({STUDENT_SHAPE}), seed {seed}, {arm}", flush=True)
            run_dir = run(RunConfig(**{**student.to_dict(), **extra}), show_progress=False)
            metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
            outcome["students"].append({"seed": seed, "arm": arm, "run_id": metrics["run_id"],
                                        "parameters": metrics["backbone"]["parameters"],
                                        "accuracy": metrics["metrics"]["accuracy"],
                                        "macro_f1": metrics["metrics"]["macro"]["f1"],
                                        "correct": _correct(run_dir)})
        gold, distilled = (r.pop("correct") for r in outcome["students"][-2:])
        test = mcnemar(gold, distilled)
        outcome["students"][-1]["mcnemar_vs_gold"] = {"only_gold": test.only_first,
                                                      "only_distilled": test.only_second,
                                                      "p_value": test.p_value}
    shutil.rmtree(folder, ignore_errors=True)
    return outcome


def _correct(run_dir: Path) -> np.ndarray:
    import csv

    with open(run_dir / "predictions.csv", encoding="utf-8", newline="") as handle:
        return np.array([row["gold"] == row["predicted"] for row in csv.DictReader(handle)])


def print_demo(outcome: dict) -> None:
    teacher = outcome["teacher"]
    print(f"\nteacher {teacher['run_id']}: {teacher['parameters']} parameters, test accuracy "
          f"{teacher['metrics']['accuracy']:.4f}")
    print("arm           seed  parameters  accuracy  macro-F1  McNemar vs gold labels, same seed")
    for row in outcome["students"]:
        test = row.get("mcnemar_vs_gold")
        versus = f"  {test['only_gold']}/{test['only_distilled']}, p = {test['p_value']:.2g}" if test else ""
        print(f"{row['arm']:<13} {row['seed']:>4}  {row['parameters']:>10}  {row['accuracy']:.4f}    "
              f"{row['macro_f1']:.4f}{versus}")
    for arm in ("gold labels", "distilled"):
        values = [r["accuracy"] for r in outcome["students"] if r["arm"] == arm]
        print(f"mean accuracy, {arm}: {np.mean(values):.4f} over {len(values)} seed(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.run.distill",
                                     description="Distillation demonstration on the mini protocol (see the "
                                                 "module docstring); the runs land in --results-dir.")
    parser.add_argument("--demo", action="store_true", help="run the demonstration")
    parser.add_argument("--data-dir", default="data/thucnews", help="THUCNews-10 folder with dev.txt and test.txt")
    parser.add_argument("--results-dir", default="results/distill-demo", help="where the demo's runs are written")
    parser.add_argument("--teacher", help="a finished mini-protocol run to use as the teacher (default: train a "
                                          "full-size textcnn first)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="student seeds")
    parser.add_argument("--student-steps", type=int, default=3000, help="training steps of each student (the "
                                                                          "best dev-loss checkpoint is scored)")
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.7)
    args = parser.parse_args(argv)
    if not args.demo:
        parser.print_help()
        return 0
    try:
        outcome = demo(args.data_dir, args.results_dir, args.seeds, args.student_steps, args.temperature,
                       args.alpha, args.teacher)
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_demo(outcome)
    summary = Path(args.results_dir) / "distill-demo.json"
    summary.write_text(json.dumps(outcome, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"summary in {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
