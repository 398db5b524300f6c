"""`--predict`: any saved run classifies new texts; every bad input is one clear error."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from tiny_runs import one_torch_thread, tfidf_run, tiny_bert_run

from benchmark.cli import main
from benchmark.errors import HarnessError
from benchmark.serve.predict import load_predictor, predict_command, read_texts

TEXTS = ["央行宣布下调存款准备金率", "国足热身赛两球取胜"]


single_thread = pytest.fixture(autouse=True, scope="module")(one_torch_thread)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    return {"tfidf": tfidf_run(results), "bert": tiny_bert_run(results, steps=10)}


@pytest.mark.parametrize("kind", ["tfidf", "bert"])
def test_texts_on_the_command_line_print_label_and_probability(runs, kind, capsys):
    assert main(["--predict", str(runs[kind]), *TEXTS]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    predictor = load_predictor(runs[kind])
    assert len(lines) == 2
    for line, text in zip(lines, TEXTS, strict=True):
        label, probability, shown = line.split("\t")
        assert label in predictor.labels and 0 < float(probability) <= 1 and shown == text


def test_a_file_gives_a_csv_beside_it_or_where_asked(runs, tmp_path, capsys):
    texts = tmp_path / "texts.txt"
    texts.write_text("央行宣布下调存款准备金率\n新款手机发布会定档\t8\n楼市成交量环比上涨\n", encoding="utf-8")
    assert main(["--predict", str(runs["tfidf"]), "--predict-file", str(texts)]) == 0
    assert "3 texts classified with tfidf" in capsys.readouterr().out
    with open(tmp_path / "texts.predictions.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["text"] for r in rows] == ["央行宣布下调存款准备金率", "新款手机发布会定档", "楼市成交量环比上涨"]
    assert all(0 < float(r["probability"]) <= 1 for r in rows) and [r["index"] for r in rows] == ["0", "1", "2"]

    out = io.StringIO()
    assert predict_command(str(runs["bert"]), [], str(texts), "-", out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "index,text,predicted,probability" and len(lines) == 4


def test_a_model_folder_copied_alone_predicts_as_its_run_did(runs, tmp_path, capsys):
    """labels.json carries what serving needs (labels, input length, truncation): no metrics.json beside it."""
    import json
    import shutil

    alone = shutil.copytree(runs["bert"] / "model", tmp_path / "somewhere" / "my-model")
    saved = json.loads((alone / "labels.json").read_text(encoding="utf-8"))
    trained = json.loads((runs["bert"] / "metrics.json").read_text(encoding="utf-8"))["config"]
    assert (saved["max_length"], saved["truncation"]) == (trained["max_length"], trained["truncation"])
    assert main(["--predict", str(alone), *TEXTS]) == 0
    copied = capsys.readouterr().out
    assert main(["--predict", str(runs["bert"]), *TEXTS]) == 0
    assert copied == capsys.readouterr().out

    del saved["max_length"], saved["truncation"]  # as an older harness wrote it, and no run beside it
    (alone / "labels.json").write_text(json.dumps(saved), encoding="utf-8")
    assert main(["--predict", str(alone), *TEXTS]) == 2
    assert "does not say the input length" in one_error(capsys)


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_a_missing_run_is_named(tmp_path, capsys):
    assert main(["--predict", str(tmp_path / "no-run"), "一条新闻"]) == 2
    assert f"{tmp_path / 'no-run'}: no such run folder" in one_error(capsys)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="no saved model in this folder"):
        load_predictor(tmp_path / "empty")


def test_an_empty_text_is_refused(runs, capsys):
    assert main(["--predict", str(runs["tfidf"]), "好新闻", "  "]) == 2
    assert "text 2 on the command line is empty" in one_error(capsys)


def test_unreadable_files_are_explained(tmp_path):
    with pytest.raises(HarnessError, match="no such file"):
        read_texts(tmp_path / "missing.txt")
    with pytest.raises(HarnessError, match="is a folder"):
        read_texts(tmp_path)
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("第一行\n".encode() + "央行".encode("gbk") + b"\n")
    with pytest.raises(HarnessError, match=r"gbk.txt:2: not UTF-8 text"):
        read_texts(bad)
    blank = tmp_path / "blank.txt"
    blank.write_text("第一行\n\n第三行\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"blank.txt:2: empty text"):
        read_texts(blank)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(HarnessError, match="holds no texts"):
        read_texts(empty)


def test_usage_mistakes_are_one_line(runs, tmp_path, capsys):
    assert main(["--predict", str(runs["tfidf"])]) == 2
    assert "nothing to classify" in one_error(capsys)
    assert main(["--predict-file", str(tmp_path / "x.txt")]) == 2
    assert "--predict RUN --predict-file FILE" in one_error(capsys)
    assert main(["央行宣布下调存款准备金率"]) == 2
    assert "are classified with --predict RUN" in one_error(capsys)


def test_prediction_cuts_long_texts_the_way_the_run_cut_them():
    """A run trained and scored with --truncation tail or head+tail must be served with the same tokens."""
    import numpy as np

    from benchmark.data.encode import encode_split
    from benchmark.loading.sources import write_tiny_model
    from benchmark.loading.tokenizer import load_tokenizer
    from benchmark.registry import get_backbone
    from benchmark.serve.predict import TorchPredictor

    texts = ["央行宣布降准" * 6, "国足两球取胜", "楼市成交上涨" * 3]
    with tempfile.TemporaryDirectory() as folder:
        backbone = get_backbone("bert")
        tokenizer = load_tokenizer(backbone, write_tiny_model(backbone, texts, Path(folder)))
        for mode in ("head", "tail", "head+tail"):
            served = TorchPredictor(None, tokenizer, ["a"], "bert", 12, mode).encode(texts)
            scored = encode_split(tokenizer, texts, np.zeros(3, dtype=int), 12, truncation=mode, cache_dir=None)
            for row in range(3):
                kept = served["input_ids"][row][served["attention_mask"][row].bool()].tolist()
                assert kept == list(scored[row]["input_ids"]), (mode, row)


@pytest.mark.parametrize(
    "seconds_per_call, batched, single",
    [(0.001, 256, 64), (1.5, 128, 16)],  # a fast device times every text; a slow one stops at the budget
)
def test_inference_cost_times_every_text_or_stops_at_its_budget(seconds_per_call, batched, single):
    from benchmark.serve import cost

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock = Clock()

    class Predictor:
        def logits(self, texts, batch_size, sort=True):
            clock.now += seconds_per_call

    figures = cost.inference_cost(Predictor(), [f"新闻{i}" for i in range(300)], clock=clock)
    assert (figures["texts_batch_64"], figures["texts_batch_1"]) == (batched, single)
    assert figures["ms_per_1000_texts_batch_64"] == pytest.approx(1e6 * seconds_per_call / 64)
    assert figures["ms_per_1000_texts_batch_1"] == pytest.approx(1e6 * seconds_per_call)
