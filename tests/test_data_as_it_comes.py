"""Data as it really comes: long texts (truncation), rows that are empty or malformed, duplicates, imbalanced
classes (selection by macro-F1, class weights), and the leaderboard reading across datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import SAMPLE_DIR, run_flags, tiny_bert

from benchmark.cli import main
from benchmark.data.encode import encode_split, special_tokens_around, tokenize
from benchmark.data.load import load_folder
from benchmark.loading.classifier import balanced_weights
from benchmark.run.cadence import CheckpointCadence

LONG = "央行宣布下调存款准备金率释放长期资金约五千亿元支持实体经济发展"  # 31 characters, one token each


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import BertTokenizer

    from benchmark.loading.sources import build_vocab

    folder = tmp_path_factory.mktemp("vocab")
    (folder / "vocab.txt").write_text("\n".join(build_vocab([LONG, "短标题"])) + "\n", encoding="utf-8")
    return BertTokenizer.from_pretrained(str(folder))


def pieces(tokenizer, ids) -> str:
    return "".join(tokenizer.convert_ids_to_tokens(ids))


@pytest.mark.parametrize(
    "mode, kept",
    [
        ("head", "[CLS]" + LONG[:10] + "[SEP]"),
        ("tail", "[CLS]" + LONG[-10:] + "[SEP]"),
        ("head+tail", "[CLS]" + LONG[:2] + LONG[-8:] + "[SEP]"),  # a quarter of the budget from the start
    ],
)
def test_truncation_keeps_the_head_the_tail_or_both(tokenizer, mode, kept):
    ids, offsets, truncated = tokenize(tokenizer, [LONG, "短标题"], 12, mode)
    assert pieces(tokenizer, ids[offsets[0] : offsets[1]]) == kept
    assert pieces(tokenizer, ids[offsets[1] : offsets[2]]) == "[CLS]短标题[SEP]", "short texts stay whole"
    assert truncated == 1 and special_tokens_around(tokenizer) == (1, 1)


def test_head_truncation_gives_the_tokenizers_own_ids(tokenizer):
    ids, offsets, _ = tokenize(tokenizer, [LONG], 12, "head")
    assert ids[offsets[0] : offsets[1]].tolist() == tokenizer(LONG, truncation=True, max_length=12)["input_ids"]


def test_the_share_cut_is_counted_and_the_cache_tells_modes_apart(tokenizer, tmp_path):
    texts, labels = [LONG, LONG[:5], LONG[3:]], np.zeros(3, dtype=np.int64)
    head = encode_split(tokenizer, texts, labels, 16, cache_dir=tmp_path, truncation="head")
    tail = encode_split(tokenizer, texts, labels, 16, cache_dir=tmp_path, truncation="tail")
    assert head.truncated == tail.truncated == 2 and len(list(tmp_path.iterdir())) == 2
    assert not np.array_equal(head.ids, tail.ids)
    again = encode_split(tokenizer, texts, labels, 16, cache_dir=tmp_path, truncation="tail")
    assert again.truncated == 2 and np.array_equal(again.ids, tail.ids)


# ---------------------------------------------------------------- rows as they come


def reviews(folder, empty_row: bool = True):
    """A review set as users bring it: CSV with a header, one review empty, one duplicated into test."""
    folder.mkdir(parents=True)
    rows = [("这家餐厅的菜很好吃服务也热情", "好评"), ("等了一个小时才上菜太慢了", "差评")] * 12
    train = ["text,label"] + [f"{text}{i},{label}" for i, (text, label) in enumerate(rows)]
    if empty_row:
        train.insert(5, ",差评")
    train.append("环境不错下次还来,好评")
    (folder / "train.csv").write_text("\n".join(train) + "\n", encoding="utf-8")
    (folder / "dev.csv").write_text("text,label\n味道一般,差评\n很满意,好评\n", encoding="utf-8")
    (folder / "test.csv").write_text("text,label\n环境不错下次还来,好评\n上菜很慢,差评\n", encoding="utf-8")
    return folder


def test_an_empty_review_stops_the_run_by_default_and_is_dropped_and_counted_with_skip(tmp_path):
    folder = reviews(tmp_path / "reviews")
    with pytest.raises(Exception, match=r"train.csv:6: empty text"):
        load_folder(folder)
    task = load_folder(folder, on_bad_line="skip")
    assert task.dropped == {str(folder / "train.csv"): 1} and len(task.train.texts) == 25
    assert task.record().dropped_rows == {str(folder / "train.csv"): 1}


def test_dedupe_removes_train_texts_also_in_test(tmp_path):
    folder = reviews(tmp_path / "reviews", empty_row=False)
    task = load_folder(folder, dedupe=True)
    assert task.deduplicated == 1 and "环境不错下次还来" not in task.train.texts
    assert load_folder(folder).deduplicated is None


@pytest.mark.usefixtures("one_torch_thread")
def test_reviews_with_an_empty_row_run_with_skip_and_record_what_was_dropped(tmp_path, capsys):
    folder = reviews(tmp_path / "reviews")
    results = tmp_path / "results"
    model = tiny_bert(tmp_path / "tiny", (folder / "train.csv").read_text(encoding="utf-8").splitlines())
    options = f"--max-steps 4 --eval-every 2 --batch-size 8 --results-dir {results}"
    assert main(run_flags(model, folder, options)) == 2
    assert "train.csv:6: empty text" in capsys.readouterr().err
    flags = f"{options} --on-bad-line skip --dedupe --select-by macro_f1 --class-weights balanced --truncation tail"
    assert main(run_flags(model, folder, flags)) == 0
    out = capsys.readouterr().out
    assert "dropped 1 malformed or empty rows (--on-bad-line skip): " in out and "train.csv:6 (empty text)" in out
    (run_dir,) = results.iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"]["dropped_rows"] == {str(folder / "train.csv"): 1}
    assert metrics["task"]["removed_duplicates"] == 1
    config = metrics["config"]
    assert (config["select_by"], config["class_weights"], config["truncation"]) == ("macro_f1", "balanced", "tail")
    dev = [h for h in metrics["training"]["history"] if "dev_loss" in h]
    assert dev and all("dev_macro_f1" in h for h in dev)
    best = max(dev, key=lambda h: (h["dev_macro_f1"], -h["step"]))
    assert metrics["training"]["best_step"] == best["step"]


# ---------------------------------------------------------------- imbalance


def test_balanced_weights_are_scikit_learns():
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    assert torch.allclose(balanced_weights(labels, 3), torch.tensor(expected, dtype=torch.float32))
    assert balanced_weights(labels, 4)[3] == 0, "a class absent from train weighs nothing"


@pytest.mark.parametrize(
    "select_by, values, saved",
    [("loss", [0.9, 0.7, 0.8], [True, True, False]), ("macro_f1", [0.4, 0.3, 0.6], [True, False, True])],
)
def test_a_checkpoint_is_kept_at_each_new_best_of_the_selected_score_where_weights_are_sharded(
    select_by, values, saved
):
    """FSDP and DeepSpeed keep Trainer's way: a checkpoint at each new best, restored at the end. Elsewhere the
    best weights are kept in memory and a new best writes nothing."""
    from types import SimpleNamespace

    for save_best in (True, False):
        cadence = CheckpointCadence(save_every=0, select_by=select_by, save_best=save_best)
        state, decisions = SimpleNamespace(best_metric=None, global_step=0), []
        for step, value in enumerate(values, 1):
            control = SimpleNamespace(should_save=False)
            state.global_step = step
            cadence.on_evaluate(None, state, control, metrics={f"eval_{select_by}": value})
            decisions.append(control.should_save)
            if value == max(values[:step]) if select_by != "loss" else value == min(values[:step]):
                state.best_metric = value
        assert decisions == (saved if save_best else [False] * len(values))


def test_one_labelled_csv_and_nothing_else_runs_as_it_is(tmp_path, capsys):
    """A new user's first try: a folder holding one CSV of reviews. It runs; --test-split applies to it only."""
    from benchmark.cli import main

    lines = ["text,label"] + [
        f"第{i}条{'很好' if i % 2 else '很差'}的评论,{'好评' if i % 2 else '差评'}" for i in range(60)
    ]
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "reviews.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = tmp_path / "results"
    assert main(["--model", "tfidf", "--data-dir", str(folder), "--results-dir", str(results)]) == 0
    (run,) = results.iterdir()
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"]["protocol"] == "one-file" and metrics["task"]["sizes"] == {"train": 48, "dev": 6, "test": 6}
    assert metrics["config"]["test_split"] == 0.1 and "split" in metrics["task"]["files"]
    capsys.readouterr()
    assert main(["--model", "tfidf", "--data-dir", str(SAMPLE_DIR), "--test-split", "0.2"]) == 2
    assert "--test-split 0.2 applies only when test is carved from one labelled file" in capsys.readouterr().err
