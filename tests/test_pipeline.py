"""The whole run, end to end, on the bundled sample: files written, numbers consistent with each other."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import run_config, settings

from benchmark.cli import main
from benchmark.data.encode import PaddingCollator, encode_split
from benchmark.loading.classifier import load_classifier
from benchmark.run.device import cpu_supports_bf16

EXPECTED_KEYS = {
    "schema_version",
    "run_id",
    "smoke",
    "backbone",
    "task",
    "config",
    "seed",
    "environment",
    "timing",
    "training",
    "metrics",
}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    config = settings("bert", smoke=True, results_dir=str(results))
    return run_config(dataclasses.replace(config, epochs=4))


def test_run_folder_holds_every_file(smoke_run):
    names = {p.name for p in smoke_run.iterdir()}
    assert {"metrics.json", "report.txt", "predictions.csv", "model"} <= names
    assert "checkpoints" not in names, "optimiser checkpoints are removed after a finished run"
    assert not [p for p in smoke_run.rglob("*.tmp")], "no temporary files are left behind"
    assert (smoke_run / "model" / "model.safetensors").is_file()


def test_metrics_file_describes_the_run(smoke_run):
    metrics = json.loads((smoke_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics.keys() >= EXPECTED_KEYS
    assert metrics["smoke"] is True and metrics["task"]["protocol"] == "smoke"
    assert metrics["backbone"]["name"] == "bert" and metrics["backbone"]["parameters"] > 0
    assert metrics["task"]["files"]["test"]["sha256"] and metrics["task"]["sizes"]["test"] == 100
    assert metrics["config"]["max_length"] == 32 and metrics["environment"]["packages"]["torch"]
    for key in ("train_examples_per_second", "eval_examples_per_second", "peak_memory_mb", "train_seconds"):
        assert metrics["timing"][key] > 0
    assert metrics["training"]["best_step"] in {h["step"] for h in metrics["training"]["history"]}
    # What the device-dependent defaults became, beside the config that left them to the device.
    assert metrics["config"]["precision"] == "auto" and metrics["config"]["num_workers"] is None
    assert metrics["training"]["precision"] == "fp32" and metrics["training"]["num_workers"] == 0
    assert metrics["training"]["eval_batch_size"] == metrics["config"]["eval_batch_size"] == 128  # the smoke preset


def test_predictions_agree_with_metrics_and_with_the_saved_model(smoke_run):
    metrics = json.loads((smoke_run / "metrics.json").read_text(encoding="utf-8"))
    with open(smoke_run / "predictions.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(100))
    accuracy = np.mean([r["gold"] == r["predicted"] for r in rows])
    assert accuracy == pytest.approx(metrics["metrics"]["accuracy"])
    matrix = np.array(metrics["metrics"]["confusion_matrix"])
    assert matrix.sum() == 100 and np.trace(matrix) == round(accuracy * 100)

    # The saved model, reloaded from safetensors, predicts exactly what the run recorded, in file order.
    model, tokenizer, labels = load_classifier(smoke_run / "model")
    texts = [r["text"] for r in rows]
    dataset = encode_split(tokenizer, texts, np.zeros(len(texts), dtype=np.int64), 32, cache_dir=None)
    batch = PaddingCollator(tokenizer.pad_token_id)([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        predicted = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])["logits"].argmax(-1)
    assert [labels[i] for i in predicted] == [r["predicted"] for r in rows]


def test_report_is_readable(smoke_run):
    report = (smoke_run / "report.txt").read_text(encoding="utf-8")
    assert "NOT a benchmark" in report and "macro avg" in report and "Confusion matrix" in report


def test_smoke_command_runs_offline_for_another_architecture(tmp_path, capsys):
    code = main(
        [
            "--model",
            "ernie",
            "--smoke",
            "--epochs",
            "2",
            "--offline",
            "--results-dir",
            str(tmp_path),
            "--no-group-by-length",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("NOT a benchmark") >= 2
    (folder,) = tmp_path.iterdir()
    assert json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["backbone"]["architecture"] == "ernie"


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no bf16 instructions")
def test_bf16_runs_on_a_cpu_that_has_it(tmp_path):
    assert (
        main(["--model", "bert", "--smoke", "--epochs", "1", "--precision", "bf16", "--results-dir", str(tmp_path)])
        == 0
    )
    (folder,) = tmp_path.iterdir()
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["training"]["precision"] == "bf16" and 0 <= metrics["metrics"]["accuracy"] <= 1
