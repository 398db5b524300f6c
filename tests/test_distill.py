"""Distillation: the loss by hand, the teacher-logit cache, the student cut from its teacher, and a whole run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import SAMPLE_DIR, load_backbone, settings
from safetensors.torch import load_file
from tiny_runs import one_torch_thread, tfidf_run, tiny_bert_run

from benchmark.config import RunConfig
from benchmark.data.encode import PaddingCollator, encode_split
from benchmark.data.load import load_folder
from benchmark.errors import HarnessError
from benchmark.loading.classifier import TextClassifier
from benchmark.loading.sources import write_student_from_teacher
from benchmark.registry import get_backbone
from benchmark.run import distill
from benchmark.run.distill import (
    DistillationCollator,
    DistillationSplit,
    DistillingClassifier,
    distillation_loss,
    teacher_logits,
)
from benchmark.serve import predict

single_thread = pytest.fixture(autouse=True, scope="module")(one_torch_thread)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return tiny_bert_run(tmp_path_factory.mktemp("teacher"))


# ---------------------------------------------------------------- the loss


def by_hand(student, teacher, labels, t, alpha):
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p_teacher, p_student = softmax(teacher / t), softmax(student / t)
    kl = np.mean(np.sum(p_teacher * (np.log(p_teacher) - np.log(p_student)), axis=1))
    ce = np.mean(-np.log(softmax(student)[np.arange(len(labels)), labels]))
    return alpha * t * t * kl + (1 - alpha) * ce, kl, ce


@pytest.mark.parametrize("t", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
def test_loss_matches_a_hand_computation(t, alpha):
    rng = np.random.default_rng(0)
    student, teacher_z = rng.normal(size=(5, 4)) * 3, rng.normal(size=(5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    expected, kl, ce = by_hand(student, teacher_z, labels, t, alpha)
    got = distillation_loss(torch.tensor(student), torch.tensor(teacher_z), torch.tensor(labels), t, alpha)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    if alpha == 0.0:
        assert got.item() == pytest.approx(ce, rel=1e-5)  # pure cross-entropy on gold labels
    if alpha == 1.0:
        assert got.item() == pytest.approx(t * t * kl, rel=1e-5)  # pure KL, scaled by T^2


def test_the_t_squared_factor_is_there():
    student, teacher_z = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[0.0, 3.0, 1.0]])
    at_1 = distillation_loss(student, teacher_z, None, 4.0, 1.0)
    _, kl, _ = by_hand(student.numpy(), teacher_z.numpy(), np.array([0]), 4.0, 1.0)
    assert at_1.item() == pytest.approx(16 * kl, rel=1e-5)
    assert distillation_loss(teacher_z, teacher_z, None, 4.0, 1.0).item() == pytest.approx(0.0, abs=1e-7)


def test_settings_are_checked():
    with pytest.raises(HarnessError, match="--temperature must be positive"):
        distill.check_settings(0.0, 0.5)
    with pytest.raises(HarnessError, match="--alpha must lie between 0"):
        distill.check_settings(4.0, 1.5)


def test_student_module_saves_like_a_classifier_and_uses_plain_loss_without_teacher():
    torch.manual_seed(0)
    backbone = get_backbone("textcnn")
    from models._textcnn_modeling import TextCNNConfig

    student = TextClassifier(backbone.model_class(TextCNNConfig(vocab_size=30, embedding_size=8, num_filters=4)), 3)
    wrapped = DistillingClassifier(student, temperature=2.0, alpha=0.5).eval()
    assert list(wrapped.state_dict()) == list(student.state_dict())
    ids, labels = torch.randint(1, 30, (4, 7)), torch.tensor([0, 1, 2, 0])
    plain = wrapped(input_ids=ids, labels=labels)
    assert plain["loss"].item() == pytest.approx(student(input_ids=ids, labels=labels)["loss"].item())
    soft = torch.randn(4, 3)
    mixed = wrapped(input_ids=ids, labels=labels, teacher_logits=soft)
    expected = distillation_loss(plain["logits"], soft, labels, 2.0, 0.5)
    assert mixed["loss"].item() == pytest.approx(expected.item())


def test_collator_adds_teacher_logits_only_to_training_batches():
    task = load_folder(SAMPLE_DIR, "full")
    from transformers import BertTokenizerFast

    from benchmark.loading.sources import build_vocab

    vocab = build_vocab(task.train.texts[:8])
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)})
    split = encode_split(tokenizer, task.train.texts[:8], task.train.labels[:8], 32, cache_dir=None)
    logits = np.arange(80, dtype=np.float32).reshape(8, 10)
    collator = DistillationCollator(PaddingCollator(0))
    batch = collator([DistillationSplit(split, logits)[i] for i in (2, 5)])
    assert torch.equal(batch["teacher_logits"], torch.from_numpy(logits[[2, 5]]))
    assert "teacher_logits" not in collator([split[0], split[1]])


# ---------------------------------------------------------------- the teacher


def test_teacher_logits_are_computed_once_and_cached(teacher, monkeypatch):
    texts = ["央行宣布下调存款准备金率", "国足热身赛两球取胜", "新款手机发布会定档"]
    calls = []
    real = distill.load_predictor
    monkeypatch.setattr(distill, "load_predictor", lambda path: calls.append(path) or real(path))
    before = set((teacher / distill.CACHE_FOLDER).glob("*.npy"))
    first = teacher_logits(teacher, texts, log=lambda _: None)
    assert len(calls) == 1 and first.shape == (3, 10)
    cached = set((teacher / distill.CACHE_FOLDER).glob("*.npy")) - before
    assert len(cached) == 1 and np.array_equal(np.load(cached.pop(), allow_pickle=False), first)

    second = teacher_logits(teacher, texts, log=lambda _: None)
    assert len(calls) == 1, "the second call must read the cache, not run the teacher"
    assert np.array_equal(first, second)
    teacher_logits(teacher, texts[:2], log=lambda _: None)  # other texts: another key, the teacher runs
    assert len(calls) == 2 and len(set((teacher / distill.CACHE_FOLDER).glob("*.npy")) - before) == 2


def test_rbt3_student_starts_from_the_teachers_lower_layers(teacher, tmp_path):
    backbone = get_backbone("rbt3_student")
    folder = write_student_from_teacher(backbone, teacher, tmp_path / "student")
    student, _ = load_backbone(backbone, folder)
    assert student.config.num_hidden_layers == 3
    weights = {
        k[len("encoder.") :]: v
        for k, v in load_file(teacher / "model" / "model.safetensors").items()
        if k.startswith("encoder.")
    }
    state = student.state_dict()
    for name, tensor in state.items():
        assert torch.equal(tensor, weights[name]), name
    assert any(".layer.2." in name for name in state) and not any(".layer.3." in name for name in state)
    assert any(name.startswith("pooler.") for name in state) and any("embeddings" in name for name in state)


def test_a_teacher_of_another_architecture_or_kind_is_refused(tmp_path):
    tfidf = tfidf_run(tmp_path)
    with pytest.raises(HarnessError, match="must be a fine-tuned transformer run"):
        write_student_from_teacher(get_backbone("rbt3_student"), tfidf, tmp_path / "student")
    with pytest.raises(HarnessError, match="no such run folder"):
        write_student_from_teacher(get_backbone("rbt3_student"), tmp_path / "missing", tmp_path / "student")


# ---------------------------------------------------------------- whole runs


def test_rbt3_student_distilled_end_to_end(teacher, tmp_path):
    from conftest import run_config

    config = RunConfig(
        model="rbt3_student",
        teacher=str(teacher),
        temperature=3.0,
        alpha=0.6,
        data_dir=str(SAMPLE_DIR),
        results_dir=str(tmp_path),
        batch_size=16,
        learning_rate=2e-3,
        max_steps=10,
        eval_every=5,
        offline=True,
    )
    run_dir = run_config(config)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    record = metrics["distillation"]
    teacher_metrics = json.loads((teacher / "metrics.json").read_text(encoding="utf-8"))
    assert record["teacher"]["run_id"] == teacher.name
    assert record["teacher"]["metrics"]["accuracy"] == teacher_metrics["metrics"]["accuracy"]
    assert record["temperature"] == 3.0 and record["alpha"] == 0.6 and 0 <= record["teacher"]["train_accuracy"] <= 1
    assert metrics["backbone"]["name"] == "rbt3_student-kd-tiny-bert" and run_dir.name.startswith(
        "rbt3_student-kd-tiny-bert"
    )
    assert "lower 3 layers of the teacher" in metrics["backbone"]["source"]
    assert metrics["config"]["teacher"] == str(teacher)
    predictor = predict.load_predictor(run_dir)  # saved as an ordinary rbt3_student classifier
    assert predictor.backbone == "rbt3_student" and predictor.logits(["国足两球取胜"]).shape == (1, 10)


def test_textcnn_distilled_from_tfidf_on_the_sample(tmp_path):
    from conftest import run_config

    teacher_run = tfidf_run(tmp_path / "teacher")
    config = settings("textcnn", smoke=True, results_dir=str(tmp_path / "student"), teacher=str(teacher_run), epochs=1)
    run_dir = run_config(config)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["backbone"]["name"] == "textcnn-kd-tfidf"
    assert metrics["distillation"]["teacher"]["backbone"] == "tfidf"
    assert len(list((teacher_run / distill.CACHE_FOLDER).glob("*.npy"))) == 1


def test_a_distillation_run_with_a_missing_teacher_stops_before_training(tmp_path):
    from conftest import run_config

    config = settings("textcnn", smoke=True, results_dir=str(tmp_path), teacher=str(tmp_path / "nope"))
    with pytest.raises(HarnessError, match="no such run folder"):
        run_config(config)
