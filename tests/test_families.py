"""Every family on one board: each registered backbone runs end to end from a tiny checkpoint in its published
layout, loaded by its hub id; LoRA and linear-probe runs save, reload and predict; costs are measured."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SAMPLE_DIR, save_in_hub_cache, settings

from benchmark.cli import main
from benchmark.errors import HarnessError
from benchmark.loading.classifier import load_classifier, pool
from benchmark.registry import get_backbone, list_backbones
from benchmark.serve.predict import TorchPredictor

PRETRAINED = [b.name for b in list_backbones(kind="pretrained")]
# A few optimiser steps on the bundled sample: enough to change every trained weight, in seconds.
QUICK = dict(max_steps=3, eval_every=3, batch_size=16, warmup=0.0, offline=True)


def quick_run(name: str, results: Path, cache: Path | None = None, **given) -> Path:
    from conftest import run_config

    where = {"data_dir": str(SAMPLE_DIR), "results_dir": str(results), **({"cache_dir": str(cache)} if cache else {})}
    # A tiny checkpoint in the published layout, loaded by the hub id: a checkpoint of its own, run under a name.
    own = {"name": f"tiny-{name}"} if cache else {}
    return run_config(settings(name, **{**QUICK, **where, **own, **given}))


def predictions(run_dir: Path) -> list[str]:
    with (run_dir / "predictions.csv").open(encoding="utf-8") as handle:
        return [row["predicted"] for row in csv.DictReader(handle)]


@pytest.mark.slow
@pytest.mark.parametrize("name", PRETRAINED)
def test_every_backbone_runs_end_to_end_from_its_published_layout(name, tmp_path, one_torch_thread):
    backbone = get_backbone(name)
    cache = save_in_hub_cache(backbone, tmp_path / "hub", texts=[line.split("\t")[0] for line in _sample_texts()])
    snapshot = next((tmp_path / "hub").glob("models--*/snapshots/*"))
    published = json.loads((snapshot / "config.json").read_text(encoding="utf-8"))
    assert published["model_type"] == backbone.published_config.get("model_type", backbone.architecture)

    run_dir = quick_run(name, tmp_path / "results", cache)
    record = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert record["backbone"]["weights"]["complete"] is True, "every encoder tensor came from the checkpoint"
    assert record["backbone"]["mode"] == ("lora" if backbone.recommended.get("lora_r") else "finetune")
    assert 0 < record["backbone"]["trainable_parameters"] <= record["backbone"]["parameters"]
    cost = record["timing"]["inference"]
    assert cost["ms_per_1000_texts_batch_1"] > 0 and cost["ms_per_1000_texts_batch_64"] > 0 and cost["device"]

    # The saved model, loaded as --predict loads it, gives the predictions the run scored.
    model, tokenizer, labels = load_classifier(run_dir / "model", _offline(cache))
    texts = [row["text"] for row in csv.DictReader((run_dir / "predictions.csv").open(encoding="utf-8"))][:24]
    predictor = TorchPredictor(model, tokenizer, labels, name, record["config"]["max_length"])
    again = [labels[i] for i in predictor.logits(texts).argmax(axis=1)]
    assert again == predictions(run_dir)[:24]


def _sample_texts() -> list[str]:
    return (SAMPLE_DIR / "train.txt").read_text(encoding="utf-8").splitlines() + (
        (SAMPLE_DIR / "dev.txt").read_text(encoding="utf-8").splitlines()
    )


FAMILY_SAMPLES = sorted({b.family: b.name for b in reversed(list_backbones(kind="pretrained"))}.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_SAMPLES)
def test_smoke_works_for_one_backbone_of_every_family(name, tmp_path, capsys, one_torch_thread):
    assert main(["--model", name, "--smoke", "--results-dir", str(tmp_path), "--max-steps", "5"]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_lora_saves_adapters_and_head_and_reloads_to_the_same_predictions(tmp_path, one_torch_thread):
    backbone = get_backbone("qwen2_5_0_5b")
    cache = save_in_hub_cache(backbone, tmp_path / "hub", texts=_sample_texts())
    run_dir = quick_run("qwen2_5_0_5b", tmp_path / "results", cache, lora_r=4, max_steps=6)
    saved = sorted(p.relative_to(run_dir / "model").as_posix() for p in (run_dir / "model").rglob("*.safetensors"))
    assert saved == ["adapter/adapter_model.safetensors", "head.safetensors"], "no copy of the frozen base"
    record = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    trained, total = record["backbone"]["trainable_parameters"], record["backbone"]["parameters"]
    assert record["backbone"]["mode"] == "lora" and trained < total / 2
    # A rank given alone takes alpha = 2 x rank, not the alpha Qwen's recommendation pairs with its own rank.
    assert record["config"]["lora_r"] == 4 and record["config"]["lora_alpha"] is None
    assert record["config"]["learning_rate"] == 2e-4  # the rest of the recommendation stands

    model, tokenizer, labels = load_classifier(run_dir / "model", _offline(cache))
    rows = list(csv.DictReader((run_dir / "predictions.csv").open(encoding="utf-8")))
    probabilities = TorchPredictor(model, tokenizer, labels, "qwen", 32).probabilities([r["text"] for r in rows])
    assert [labels[i] for i in probabilities.argmax(axis=1)] == [r["predicted"] for r in rows]
    assert probabilities.max(axis=1) == pytest.approx([float(r["probability"]) for r in rows], abs=1e-4)


def _offline(cache: Path):
    from benchmark.loading.checkpoint import LoadOptions

    return LoadOptions(cache_dir=str(cache), offline=True)


def test_adapters_go_where_the_backbone_declares(tmp_path):
    from benchmark.loading.adapters import LoraSettings, add_adapters
    from benchmark.loading.classifier import create_classifier
    from benchmark.loading.sources import write_tiny_model

    for name in ("qwen3_0_6b", "bert"):
        backbone = get_backbone(name)
        folder = write_tiny_model(backbone, _sample_texts(), tmp_path / name)
        model = create_classifier(backbone, 3, source=str(folder)).model
        add_adapters(model, backbone.lora_targets, LoraSettings(2, 4.0, 0.0))
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert {"head.weight", "head.bias"} <= trainable
        adapted = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable if "lora_" in n}
        assert adapted == set(backbone.lora_targets) and not any("embed" in n for n in trainable)


def test_a_linear_probe_freezes_the_encoder_and_caches_its_vectors(tmp_path, one_torch_thread):
    from benchmark.data.encode import cache_root

    backbone = get_backbone("bge_small")
    cache = save_in_hub_cache(backbone, tmp_path / "hub", texts=_sample_texts())
    first = quick_run("bge_small", tmp_path / "results", cache, linear_probe=True)
    record = json.loads((first / "metrics.json").read_text(encoding="utf-8"))
    assert record["backbone"]["mode"] == "probe"
    assert record["training"]["estimator"]["encoder_frozen"] == backbone.hub_id
    assert record["training"]["estimator"]["pooling"] == "cls"
    hidden = record["training"]["estimator"]["dimensions"]
    assert record["backbone"]["trainable_parameters"] == (hidden + 1) * 10  # the regression's weights only
    cached = sorted((cache_root() / "embeddings").glob("*.npy"))
    assert len(cached) == 3  # train, dev and test vectors

    # The second probe reads the vectors back: made all zero in the cache, they leave the regression nothing to
    # tell the texts apart by, and every answer is the same.
    for path in cached:
        np.save(path, np.zeros_like(np.load(path)))
    assert len(set(predictions(first))) > 1
    second = quick_run("bge_small", tmp_path / "results", cache, linear_probe=True, seed=2)
    assert sorted((cache_root() / "embeddings").glob("*.npy")) == cached
    assert len(set(predictions(second))) == 1

    # Saved as a head over the frozen base, the probe predicts through the same code as any other model.
    model, tokenizer, labels = load_classifier(first / "model", _offline(cache))
    texts = [row["text"] for row in csv.DictReader((first / "predictions.csv").open(encoding="utf-8"))]
    again = TorchPredictor(model, tokenizer, labels, "bge_small", 32).logits(texts).argmax(axis=1)
    assert [labels[i] for i in again] == predictions(first)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model", "tfidf", "--lora-r", "8"], "--lora-r: tfidf cannot be trained that way"),
        (["--model", "textcnn", "--linear-probe"], "--linear-probe: textcnn cannot be trained that way"),
        (["--model", "bert", "--lora-r", "8", "--linear-probe"], "cannot apply together"),
        (["--model", "bert", "--lora-alpha", "16"], "--lora-alpha 16.0 applies only with --lora-r"),
    ],
)
def test_training_modes_a_backbone_does_not_have_are_refused(flags, message, tmp_path, capsys):
    assert main([*flags, "--results-dir", str(tmp_path), "--data-dir", str(SAMPLE_DIR)]) == 2
    assert message in capsys.readouterr().err


def test_pooling_reads_the_token_each_backbone_declares():
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float).reshape(2, 4, 1)  # token states 0..3 and 4..7
    right = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    left = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1]])
    output = type("Output", (), {"last_hidden_state": hidden, "pooler_output": hidden[:, 0] * 10})()
    assert pool(output, right, "pooler").flatten().tolist() == [0.0, 40.0]
    assert pool(output, right, "cls").flatten().tolist() == [0.0, 4.0]
    assert pool(output, right, "mean").flatten().tolist() == [1.0, 4.5]
    assert pool(output, right, "last").flatten().tolist() == [2.0, 5.0]
    assert pool(output, left, "last").flatten().tolist() == [3.0, 7.0]


def test_published_parameter_counts_follow_from_the_declared_configs():
    # PaddleNLP's ERNIE 3.0 table, HFL's RBT table, PaddleNLP's CLUE table for UER's series, Qwen's model card.
    published = {
        "ernie3_base": 117.95e6,
        "ernie3_medium": 75.43e6,
        "ernie3_mini": 26.95e6,
        "ernie3_micro": 23.40e6,
        "ernie3_nano": 17.91e6,
        "rbt3": 38.43e6,
        "rbtl3": 61.00e6,
        "rbt6": 59.74e6,
        "uer_tiny": 3.18e6,
        "uer_mini": 8.77e6,
        "uer_small": 23.95e6,
        "uer_medium": 36.56e6,
        "macbert_large": 324e6,
        "qwen2_5_0_5b": 0.494e9,
    }
    for name, expected in published.items():
        assert get_backbone(name).parameters == pytest.approx(expected, rel=0.005), name


def test_what_a_declaration_states_about_its_classes_is_what_the_classes_say():
    """A declaration names its classes as text (so --list imports no torch) and states what --list shows and the
    usage checks need; each statement is checked against the classes themselves."""
    from benchmark.backbone import count_parameters
    from benchmark.registry import list_backbones

    for backbone in list_backbones():
        if backbone.model is None:
            continue
        assert backbone.architecture == backbone.config_class.model_type, backbone.name
        assert backbone.parameters == count_parameters(backbone), (
            f"{backbone.name}: declare parameters={count_parameters(backbone):_}, the count of its published config"
        )
        assert backbone.gradient_checkpointing == bool(
            getattr(backbone.model_class, "supports_gradient_checkpointing", False)
        ), backbone.name


def test_list_groups_families_by_size_and_a_pattern_picks_one(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert len(list_backbones()) >= 20 and f"{len(list_backbones())} backbones" in out
    for family in ("ERNIE 3.0 (6)", "small BERT", "large encoder", "sentence embedding", "decoder LLM", "baseline"):
        assert family in out
    ernie = out.split("ERNIE 3.0 (6)")[1].split("\n\n")[0]
    order = [line.split()[0] for line in ernie.splitlines()[2:] if line.startswith("  ernie3")]
    assert order == ["ernie3_nano", "ernie3_micro", "ernie3_mini", "ernie3_medium", "ernie3_base", "ernie3_xbase"]
    assert main(["--list", "qwen*"]) == 0
    listed = capsys.readouterr().out
    assert "qwen2_5_0_5b" in listed and "qwen3_0_6b" in listed and "bert " not in listed


def test_published_figures_stand_with_their_dataset_only():
    from benchmark.registry import get_dataset

    assert {f.backbone for f in get_dataset("tnews").reported} >= {"rbt3", "ernie3_nano", "lert_base"}
    assert "rbt3" not in {f.backbone for f in get_dataset("thucnews").reported}
    assert np.isclose(next(f.value for f in get_dataset("tnews").reported if f.backbone == "ernie3_base"), 58.26)


def test_a_lora_llm_a_probe_and_a_bert_share_one_leaderboard_with_their_costs(tmp_path, one_torch_thread):
    from benchmark.report.leaderboard import write_leaderboard

    results = tmp_path / "results"
    for name, given in (("qwen2_5_0_5b", {"lora_r": 4}), ("bge_small", {"linear_probe": True}), ("bert", {})):
        cache = save_in_hub_cache(get_backbone(name), tmp_path / f"hub-{name}", texts=_sample_texts())
        quick_run(name, results, cache, **given)
    quick_run("tfidf", results)
    write_leaderboard(results, reported=[])
    rows = {row["backbone"]: row for row in csv.DictReader((results / "leaderboard.csv").open(encoding="utf-8"))}
    rows = {name.removeprefix("tiny-"): row for name, row in rows.items()}  # tiny checkpoints, under names of their own
    assert set(rows) == {"qwen2_5_0_5b", "bge_small", "bert", "tfidf"}
    for name, row in rows.items():
        for column in ("parameters", "trainable_parameters", "train_seconds", "eval_ms_per_example"):
            assert float(row[column]) > 0, (name, column)
        assert float(row["ms_per_1000_texts_batch_64"]) > 0 and float(row["ms_per_1000_texts_batch_1"]) > 0, name
    assert int(rows["qwen2_5_0_5b"]["trainable_parameters"]) < int(rows["qwen2_5_0_5b"]["parameters"])
    assert int(rows["bge_small"]["trainable_parameters"]) < int(rows["bge_small"]["parameters"]) / 10
    assert int(rows["bert"]["trainable_parameters"]) == int(rows["bert"]["parameters"])
    cost_plot = next((results / "plots").glob("*/accuracy-vs-cost.png"))
    assert cost_plot.stat().st_size > 0
    page = (results / "leaderboard.html").read_text(encoding="utf-8")
    assert all(name in page for name in rows)


def test_gradient_checkpointing_recomputes_activations_and_still_trains(tmp_path, one_torch_thread):
    from benchmark.loading.adapters import prepare_training
    from benchmark.loading.classifier import create_classifier
    from benchmark.loading.sources import write_tiny_model

    backbone = get_backbone("bert")
    folder = write_tiny_model(backbone, _sample_texts(), tmp_path / "bert")
    model = create_classifier(backbone, 3, source=str(folder)).model
    prepare_training(model, backbone, settings("bert", gradient_checkpointing=True, lora_r=2))
    assert any(getattr(module, "gradient_checkpointing", False) for module in model.modules())
    cache = save_in_hub_cache(backbone, tmp_path / "hub", texts=_sample_texts())
    run_dir = quick_run("bert", tmp_path / "results", cache, gradient_checkpointing=True)
    record = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert record["config"]["gradient_checkpointing"] is True and record["training"]["global_step"] == 3


def test_a_pattern_queues_a_family_and_a_pattern_matching_nothing_is_refused():
    from benchmark.cli import backbone_names

    assert backbone_names(["ernie3*"]) == [f"ernie3_{s}" for s in ("base", "medium", "micro", "mini", "nano", "xbase")]
    assert backbone_names(["bert", "rbt*"]) == ["bert", "rbt3", "rbt3_student", "rbt4", "rbt6", "rbtl3"]
    with pytest.raises(HarnessError, match="no registered backbone matches"):
        backbone_names(["gpt*"])


def test_a_backbone_that_pads_on_the_left_is_padded_there_and_pooled_at_its_last_token():
    from benchmark.data.encode import PaddingCollator

    batch = PaddingCollator(0, padding_side="left")(
        [{"input_ids": [5, 6, 7], "labels": 0}, {"input_ids": [8], "labels": 1}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    hidden = batch["input_ids"].float().unsqueeze(-1)
    output = type("Output", (), {"last_hidden_state": hidden})()
    assert pool(output, batch["attention_mask"], "last").flatten().tolist() == [7.0, 8.0]


@pytest.mark.parametrize("name", PRETRAINED)
def test_every_trainable_parameter_gets_a_gradient(name, tmp_path):
    """Multi-GPU training expects it of every parameter; an unused pooler, say, would stop it at the second step."""
    from benchmark.data.encode import PaddingCollator, encode_split
    from benchmark.loading.classifier import create_classifier
    from benchmark.loading.sources import write_tiny_model

    backbone = get_backbone(name)
    classifier = create_classifier(backbone, 3, source=str(write_tiny_model(backbone, _sample_texts(), tmp_path)))
    split = encode_split(classifier.tokenizer, ["央行宣布降准", "国足两球取胜"], np.array([0, 1]), 16, cache_dir=None)
    batch = PaddingCollator(classifier.tokenizer.pad_token_id)([split[0], split[1]])
    classifier.model(**batch)["loss"].backward()
    idle = [n for n, p in classifier.model.named_parameters() if p.requires_grad and p.grad is None]
    assert not idle


def test_a_mode_given_on_the_command_line_overrides_a_recommended_one():
    assert settings("qwen3_0_6b").lora_r == 16
    probe = settings("qwen3_0_6b", linear_probe=True)
    assert (probe.lora_r, probe.lora_alpha, probe.learning_rate) == (0, None, 5e-5), "no LoRA leftovers"
    full = settings("qwen3_0_6b", lora_r=0)
    assert full.learning_rate == 5e-5, "the adapters' learning rate would be far too high for every weight"
    assert settings("qwen3_0_6b", lora_r=8).lora_alpha is None


def test_gradient_checkpointing_is_refused_up_front_where_the_model_cannot_do_it():
    with pytest.raises(HarnessError, match="nezha's model cannot recompute its activations"):
        settings("nezha", gradient_checkpointing=True)


def test_a_probe_records_only_the_options_it_reads(tmp_path):
    from benchmark.config import PROBE_OPTIONS

    cache = save_in_hub_cache(get_backbone("text2vec"), tmp_path / "hub", texts=_sample_texts())
    run_dir = quick_run("text2vec", tmp_path / "results", cache, linear_probe=True)
    record = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(record["config"]) <= PROBE_OPTIONS and "learning_rate" not in record["config"]
    assert (
        record["training"]["estimator"]["pooling"] == "mean"
        and record["training"]["estimator"]["vectors_cached"] is False
    )


def test_the_best_weights_kept_in_memory_are_the_trained_tensors_only(tmp_path):
    """A LoRA run's frozen base is never copied at a new best; restoring the copy restores every trained tensor."""
    from benchmark.loading.adapters import LoraSettings, add_adapters
    from benchmark.loading.classifier import create_classifier
    from benchmark.loading.sources import write_tiny_model
    from benchmark.run.checkpoints import copy_state, trained_state

    backbone = get_backbone("qwen2_5_0_5b")
    model = create_classifier(backbone, 3, source=str(write_tiny_model(backbone, _sample_texts(), tmp_path))).model
    add_adapters(model, backbone.lora_targets, LoraSettings(2, 4.0, 0.0))
    kept = copy_state(trained_state(model))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert set(kept) == trainable and "head.weight" in kept
    assert not any("embed_tokens" in name for name in kept), "the frozen base stays out"
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    with torch.no_grad():
        for parameter in (p for p in model.parameters() if p.requires_grad):
            parameter.add_(1.0)  # training moves on past the best step
    model.load_state_dict(kept, strict=False)
    now = dict(model.named_parameters())
    assert all(torch.equal(now[name], tensor) for name, tensor in kept.items())
    assert all(torch.equal(now[name], tensor) for name, tensor in frozen.items())
