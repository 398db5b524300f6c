"""The baselines that need no pretrained weights: tfidf (scikit-learn) and textcnn (trained from scratch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import SAMPLE_DIR, load_backbone, run_config, settings
from tiny_runs import one_torch_thread

from benchmark.backbone import Backbone
from benchmark.baselines.tfidf import TfidfModel, TfidfSettings, analyze, fit_tfidf, transform
from benchmark.config import SKLEARN_OPTIONS, RunConfig
from benchmark.data.load import load_folder
from benchmark.errors import HarnessError
from benchmark.loading.classifier import TextClassifier, load_classifier
from benchmark.loading.sources import encoder_source, write_tiny_model
from benchmark.registry import get_backbone, list_backbones
from models._textcnn_modeling import TextCNNConfig, TextCNNModel

single_thread = pytest.fixture(autouse=True, scope="module")(one_torch_thread)


@pytest.fixture(scope="module")
def sample():
    return load_folder(SAMPLE_DIR, "full")


def test_baselines_are_registry_entries_that_need_no_download():
    tfidf, textcnn = get_backbone("tfidf"), get_backbone("textcnn")
    assert tfidf.kind == "sklearn" and tfidf.hub_id is None and tfidf.architecture == "sklearn"
    assert textcnn.kind == "scratch" and textcnn.hub_id is None and textcnn.architecture == "textcnn"
    assert {"tfidf", "textcnn"} <= {b.name for b in list_backbones()}
    assert "tfidf" not in {b.name for b in list_backbones(kind="pretrained")}
    with pytest.raises(ValueError, match="needs a hub_id"):
        Backbone(name="x", model=TextCNNModel, config=TextCNNConfig)
    with pytest.raises(ValueError, match="kind must be one of"):
        Backbone(name="x", kind="magic")


def test_settings_come_in_layers_and_each_says_where_it_came_from():
    from benchmark.settings import resolve_settings

    textcnn = get_backbone("textcnn")
    layered = resolve_settings(textcnn, {"epochs": 3.0})
    config = layered.config
    assert config.learning_rate == textcnn.recommended["learning_rate"] and config.dropout == 0.5
    assert config.epochs == 3.0  # given on the command line: it wins
    assert layered.origins["learning_rate"] == "textcnn recommends" and layered.origins["epochs"] == "command line"
    assert layered.given == {"epochs"}
    # The dataset's input length and truncation are a layer too, resolved here and nowhere later.
    assert (config.max_length, config.truncation) == (32, "head")
    assert layered.origins["max_length"] == layered.origins["truncation"] == "thucnews declares"
    assert resolve_settings(get_backbone("bert"), {}).config == RunConfig(
        model="bert", max_length=32, truncation="head"
    )
    smoke = resolve_settings(textcnn, {"smoke": True, "epochs": 4.0})
    assert smoke.config.learning_rate == 1e-3 and smoke.origins["learning_rate"] == "smoke preset"  # over textcnn's
    assert smoke.config.dropout == 0.5 and smoke.config.epochs == 4.0
    assert "--learning-rate 0.001 (smoke preset)" in smoke.describe()
    with pytest.raises(ValueError, match="unknown settings lr"):
        resolve_settings(
            Backbone(name="x", kind="scratch", model=TextCNNModel, config=TextCNNConfig, recommended={"lr": 1}),
            {},
        )


# ---------------------------------------------------------------- tfidf


def test_tfidf_features_are_those_of_scikit_learn(sample):
    from sklearn.feature_extraction.text import TfidfVectorizer

    settings = TfidfSettings()
    texts = sample.train.texts
    reference = TfidfVectorizer(analyzer=lambda t: analyze(t, settings), min_df=2, sublinear_tf=True).fit(texts)
    terms = list(reference.get_feature_names_out())
    ours = transform(sample.test.texts, {t: i for i, t in enumerate(terms)}, reference.idf_, settings)
    assert np.allclose(ours.toarray(), reference.transform(sample.test.texts).toarray(), atol=1e-12)
    assert any(t.startswith("w:") and " " in t for t in terms), "word bigrams"
    assert any(t.startswith("c:") and len(t) == 5 for t in terms), "character trigrams"


def test_tfidf_fits_predicts_and_round_trips_without_pickle(sample, tmp_path):
    model, history = fit_tfidf(
        sample.train.texts,
        sample.train.labels,
        sample.dev.texts,
        sample.dev.labels,
        len(sample.label_names),
        estimator=get_backbone("tfidf").estimator,
        grid=get_backbone("tfidf").grid,
        log=lambda _: None,
    )
    assert [h["step"] for h in history] == [1, 2, 3, 4] and all(h["dev_loss"] > 0 for h in history)
    logits = model.logits(sample.test.texts)
    accuracy = (logits.argmax(1) == sample.test.labels).mean()
    assert accuracy > 0.5, f"tfidf should beat chance (0.1) by far on the sample, got {accuracy:.2f}"

    model.save(tmp_path / "model", "tfidf", sample.label_names)
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["labels.json", "tfidf.json", "tfidf.safetensors"]
    loaded, labels = TfidfModel.load(tmp_path / "model")
    assert labels == sample.label_names
    assert np.array_equal(loaded.logits(sample.test.texts), logits)

    (tmp_path / "model" / "tfidf.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(HarnessError, match="cannot read the saved tfidf model"):
        TfidfModel.load(tmp_path / "model")


def test_tfidf_run_writes_the_usual_results_folder(sample, tmp_path):
    config = RunConfig(model="tfidf", data_dir=str(SAMPLE_DIR), results_dir=str(tmp_path))
    run_dir = run_config(config)
    assert {p.name for p in run_dir.iterdir()} == {
        "metrics.json",
        "report.txt",
        "predictions.csv",
        "model",
        "run_config.json",
    }
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["backbone"]["name"] == "tfidf" and metrics["backbone"]["parameters"] > 1000
    assert metrics["training"]["best_step"] in {h["step"] for h in metrics["training"]["history"]}
    matrix = np.array(metrics["metrics"]["confusion_matrix"])
    assert matrix.sum() == 100 and np.trace(matrix) / 100 == pytest.approx(metrics["metrics"]["accuracy"])
    assert metrics["timing"]["eval_examples_per_second"] > 0 and metrics["environment"]["packages"]["jieba"]

    from benchmark.report.leaderboard import write_leaderboard

    write_leaderboard(tmp_path)
    assert "tfidf" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")


def test_a_tfidf_record_lists_only_the_options_a_tfidf_run_reads(sample, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # HF_HUB_OFFLINE=1, without --offline
    config = RunConfig(
        model="tfidf", data_dir=str(SAMPLE_DIR), results_dir=str(tmp_path), seed=3, report_to="tensorboard"
    )
    run_dir = run_config(config)
    assert "--report-to tensorboard ignored: tfidf is fitted outside Trainer" in capsys.readouterr().out
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    recorded = metrics["config"]
    assert recorded["seed"] == 3 and recorded["model"] == "tfidf" and recorded["data_dir"] == str(SAMPLE_DIR)
    assert set(recorded) == SKLEARN_OPTIONS
    assert not {"learning_rate", "dropout", "warmup", "batch_size", "epochs", "patience_steps", "max_length"} & set(
        recorded
    )
    assert metrics["environment"]["offline"] is True


def test_tfidf_through_the_command_line(tmp_path, capsys):
    from benchmark.cli import main

    assert main(["--model", "tfidf", "--smoke", "--results-dir", str(tmp_path), "--offline"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert len(list(tmp_path.glob("tfidf-smoke-*/metrics.json"))) == 1


def test_tfidf_repeated_with_other_seeds_is_one_result_on_the_leaderboard(tmp_path, capsys):
    from benchmark.cli import main
    from benchmark.report.leaderboard import write_leaderboard

    given = ["--model", "tfidf", "--data-dir", str(SAMPLE_DIR), "--results-dir", str(tmp_path), "--offline"]
    assert main([*given, "--seeds", "1", "2"]) == 0
    first, second = sorted(tmp_path.glob("tfidf-*/predictions.csv"))
    assert first.read_bytes() == second.read_bytes(), "the fit depends on the data alone, not on the seed"
    write_leaderboard(tmp_path, reported=[])
    assert "| tfidf | 2 (1 distinct) |" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "(deterministic)" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- textcnn


def tiny_textcnn(**shape) -> TextCNNModel:
    torch.manual_seed(0)
    return TextCNNModel(
        TextCNNConfig(vocab_size=50, embedding_size=8, num_filters=4, kernel_sizes=(2, 3, 4), **shape)
    ).eval()


def test_textcnn_shapes_and_gradients():
    model = tiny_textcnn()
    assert model.config.hidden_size == 12
    ids = torch.randint(1, 50, (3, 9))
    ids[0, -2:] = 0  # padding
    out = model(input_ids=ids, attention_mask=(ids != 0).long(), token_type_ids=torch.zeros_like(ids))
    assert out.pooler_output.shape == (3, 12) and out.last_hidden_state.shape == (3, 9, 8)
    classifier = TextClassifier(model, num_labels=5).train()
    output = classifier(input_ids=ids, attention_mask=(ids != 0).long(), labels=torch.tensor([0, 3, 4]))
    assert output["logits"].shape == (3, 5)
    output["loss"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.convs.parameters())
    assert model.embeddings.weight.grad[0].abs().sum() == 0, "the padding row never learns"


def test_textcnn_ignores_padding_and_takes_texts_shorter_than_a_window():
    model = tiny_textcnn()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    alone = model(input_ids=ids).pooler_output
    padded = torch.tensor([[5, 6, 7, 8, 9, 0, 0, 0], [5, 6, 0, 0, 0, 0, 0, 0]])
    mask = (padded != 0).long()
    batch = model(input_ids=padded, attention_mask=mask).pooler_output
    assert torch.allclose(batch[0], alone[0], atol=1e-6)
    short = model(input_ids=torch.tensor([[5, 6]])).pooler_output  # shorter than the widths 3 and 4
    assert torch.allclose(batch[1], short[0], atol=1e-6) and torch.isfinite(short).all()


def test_textcnn_saves_and_loads_like_any_checkpoint(sample, tmp_path):
    backbone = get_backbone("textcnn")
    config = RunConfig(model="textcnn", seed=3)
    source, described = encoder_source(config, backbone, sample)
    assert "random initialisation" in described
    assert encoder_source(config, backbone, sample)[0] == source, "the same seed and texts: the same folder"
    encoder, _ = load_backbone(backbone, source)
    assert encoder.config.hidden_size == 768 and encoder.config.vocab_size > 300  # full size from the defaults
    small = write_tiny_model(backbone, sample.train.texts, tmp_path / "tiny")
    encoder, tokenizer = load_backbone(backbone, small)
    assert tokenizer.tokenize("iphone 2011") == ["i", "##p", "##h", "##o", "##n", "##e", "2", "##0", "##1", "##1"]
    assert encoder.config.num_filters == backbone.tiny_shape["num_filters"]


def test_textcnn_smoke_run_end_to_end(tmp_path):

    run_dir = run_config(settings("textcnn", smoke=True, results_dir=str(tmp_path), epochs=4))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["backbone"]["name"] == "textcnn" and metrics["backbone"]["architecture"] == "textcnn"
    assert metrics["config"]["dropout"] == 0.5
    model, _, labels = load_classifier(run_dir / "model")
    assert isinstance(model.encoder, TextCNNModel) and len(labels) == 10


def test_the_command_line_applies_recommended_settings_except_those_given(tmp_path):
    from benchmark.cli import main

    assert (
        main(
            [
                "--model",
                "textcnn",
                "--smoke",
                "--epochs",
                "1",
                "--weight-decay",
                "0.02",
                "--results-dir",
                str(tmp_path),
                "--offline",
            ]
        )
        == 0
    )
    [metrics_path] = tmp_path.glob("textcnn-smoke-*/metrics.json")
    config = json.loads(metrics_path.read_text(encoding="utf-8"))["config"]
    assert config["dropout"] == 0.5 and config["group_by_length"] is False  # recommended
    assert config["weight_decay"] == 0.02 and config["epochs"] == 1  # given on the command line


@pytest.mark.parametrize("name", [b.name for b in list_backbones(kind="sklearn")])
def test_every_classic_baseline_declared_runs_predicts_and_ranks(name, tmp_path, capsys):
    """A classic baseline is one module in models/ naming its estimator: each runs through the same code."""
    from benchmark.cli import main

    run_dir = run_config(RunConfig(model=name, data_dir=str(SAMPLE_DIR), results_dir=str(tmp_path)))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["backbone"]["name"] == name and metrics["metrics"]["accuracy"] > 0.3
    assert metrics["training"]["estimator"]["C"] in get_backbone(name).grid
    capsys.readouterr()
    assert main(["--predict", str(run_dir), "央行宣布下调存款准备金率"]) == 0
    assert capsys.readouterr().out.split("\t")[0] in metrics["task"]["labels"]
