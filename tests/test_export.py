"""Int8 serving variants: written as ordinary results folders, reloaded safely, predicting close to fp32."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from scipy.special import softmax
from tiny_runs import one_torch_thread, tfidf_run, tiny_bert_run

from benchmark.errors import HarnessError
from benchmark.run.export import export_run
from benchmark.serve.predict import QUANTIZATION_FILE, load_predictor

single_thread = pytest.fixture(autouse=True, scope="module")(one_torch_thread)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return tiny_bert_run(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def int8(source):
    [folder] = export_run(source, int8=True, onnx=False, latency_texts=20, log=lambda _: None)
    return folder


def rows(folder):
    with open(folder / "predictions.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_int8_variant_is_a_results_folder_of_the_same_task(source, int8):
    assert int8.name == f"{source.name}-int8" and int8.parent == source.parent
    original = json.loads((source / "metrics.json").read_text(encoding="utf-8"))
    metrics = json.loads((int8 / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["backbone"]["name"] == "tiny-bert-int8" and metrics["run_id"] == int8.name
    assert metrics["task"] == original["task"] and metrics["seed"] == original["seed"]
    timing = metrics["timing"]
    assert timing["latency_ms_p95"] >= timing["latency_ms_p50"] > 0
    assert timing["batch64_examples_per_second"] == timing["eval_examples_per_second"] > 0
    export = metrics["export"]
    assert export["from_run"] == source.name and export["reference_fp32"]["batch64_examples_per_second"] > 0
    assert export["agreement_with_fp32"] >= 0.9
    assert abs(export["accuracy_change_points"]) <= 10
    assert [r["gold"] for r in rows(int8)] == [r["gold"] for r in rows(source)]


def test_a_variant_of_a_tuning_trial_stays_that_trial(source, tmp_path):
    """Its tuning section goes with it, so the leaderboard never ranks a trial's test score through a variant."""
    trial = tmp_path / source.name
    shutil.copytree(source, trial)
    record = json.loads((trial / "metrics.json").read_text(encoding="utf-8"))
    record["tuning"] = {
        "study": "tiny-bert-mini-0123abcd",
        "trial": 2,
        "budget": 4,
        "sampler": "tpe",
        "seed": 0,
        "space": {"learning_rate": "log:1e-05:0.0001"},
        "sampled": {"learning_rate": 3e-05},
        "dev": {"accuracy": 0.5, "macro_f1": 0.4, "loss": 1.2},
        "main_score": "accuracy",
    }
    (trial / "metrics.json").write_text(json.dumps(record), encoding="utf-8")
    [folder] = export_run(trial, int8=True, onnx=False, latency_texts=5, log=lambda _: None)
    assert json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["tuning"] == record["tuning"]


def test_int8_model_is_stored_without_pickle_and_reloads_to_the_same_predictions(int8):
    model_dir = int8 / "model"
    assert (model_dir / QUANTIZATION_FILE).is_file() and (model_dir / "model.safetensors").is_file()
    assert not [p for p in model_dir.rglob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
    predictor = load_predictor(int8)
    quantized = [m for m in predictor.model.modules() if ".quantized." in type(m).__module__]
    assert quantized, "the reloaded model is quantised again"
    recorded = rows(int8)
    # Batched as the export scored them: dynamic quantisation takes activation ranges per batch.
    probabilities = softmax(predictor.logits([r["text"] for r in recorded], 64, sort=False).astype(float), axis=1)
    assert [predictor.labels[i] for i in probabilities.argmax(1)] == [r["predicted"] for r in recorded]
    assert np.allclose(probabilities.max(1), [float(r["probability"]) for r in recorded], atol=1e-6)


def test_int8_predicts_close_to_fp32(source, int8):
    fp32, quantized = load_predictor(source), load_predictor(int8)
    texts = [r["text"] for r in rows(source)]
    a, b = fp32.probabilities(texts), quantized.probabilities(texts)
    assert np.abs(a - b).max() < 0.05
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.9


def test_exporting_again_or_the_wrong_thing_is_an_error(source, int8, tmp_path):
    with pytest.raises(HarnessError, match="exists already"):
        export_run(source, int8=True, onnx=False, log=lambda _: None)
    with pytest.raises(HarnessError, match="an int8 variant already"):
        export_run(int8, int8=True, onnx=False, log=lambda _: None)
    with pytest.raises(HarnessError, match="no such run folder"):
        export_run(tmp_path / "missing", log=lambda _: None)
    with pytest.raises(HarnessError, match="sparse linear model"):
        export_run(tfidf_run(tmp_path), int8=True, onnx=False, log=lambda _: None)


def test_the_leaderboard_lists_the_variant(source, int8):
    from benchmark.report.leaderboard import write_leaderboard

    write_leaderboard(source.parent)
    board = (source.parent / "leaderboard.md").read_text(encoding="utf-8")
    assert "tiny-bert-int8" in board


def test_onnx_variants_match_the_torch_model(source):
    pytest.importorskip("onnxruntime", reason="ONNX export is the optional [serve] extra")
    pytest.importorskip("onnx", reason="ONNX export is the optional [serve] extra")
    [fp32_onnx] = export_run(source, int8=False, onnx=True, latency_texts=10, log=lambda _: None)
    metrics = json.loads((fp32_onnx / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["backbone"]["name"] == "tiny-bert-onnx" and metrics["export"]["agreement_with_fp32"] == 1.0
    assert metrics["export"]["max_logit_difference_first_64"] < 1e-4
    onnx_predictor, torch_predictor = load_predictor(fp32_onnx), load_predictor(source)
    assert onnx_predictor.kind == "onnx" and (fp32_onnx / "model" / "model.onnx").is_file()
    texts = ["央行宣布下调存款准备金率", "国足", "新款手机发布会定档 iphone"]
    assert np.allclose(onnx_predictor.logits(texts), torch_predictor.logits(texts), atol=1e-4)


def test_export_from_the_command_line_names_a_missing_run(tmp_path, capsys):
    from benchmark.cli import main

    assert main(["--export", str(tmp_path / "no-run"), "--int8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path / 'no-run'}: no such run folder" in err[0]
