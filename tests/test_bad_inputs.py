"""Bad input as a new user gives it: every case ends in one line naming what was wrong, exit status 2, no
traceback, no results folder, and nothing trained or loaded first.

Checkpoint layouts and damaged model files are in test_layouts.py; torchrun failures in test_distributed.py;
resuming past a damaged checkpoint in test_resume.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest
from conftest import SAMPLE_DIR, data_folder, one_error_line
from layouts import TEXTS, build, layout

from benchmark.cli import main

# (flags, words the one error line must hold). Each runs against a valid data folder.
FLAG_PROBES = [
    (["--epochs", "0"], ["--epochs 0", "nothing would be trained", "--max-steps"]),
    (["--epochs", "-1"], ["--epochs -1"]),
    # Out of range even where another flag makes the value moot.
    (["--epochs", "0", "--max-steps", "10"], ["--epochs 0: expected a number above 0"]),
    (["--epochs", "-1", "--max-steps", "10"], ["--epochs -1: expected a number above 0"]),
    # A negative number after a flag is its value, in every form a number is written.
    (["--learning-rate", "-1e-5"], ["--learning-rate -1e-05: expected a number above 0"]),
    (["--batch-size", "-2"], ["--batch-size -2: expected a whole number at least 1"]),
    (["--dropout", "-0.5"], ["--dropout -0.5: expected a number at least 0 and below 1"]),
    (["--warmup", "-5E-2"], ["--warmup -0.05: expected a number at least 0 and below 1"]),
    (["--max-steps", "0"], ["--max-steps 0", "at least 1", "-1 for unset"]),
    (["--learning-rate", "0"], ["--learning-rate 0", "above 0"]),
    (["--learning-rate", "nan"], ["--learning-rate nan", "above 0"]),
    (["--weight-decay", "-0.1"], ["--weight-decay -0.1", "at least 0"]),
    (["--max-length", "1"], ["--max-length 1", "at least 2"]),
    (["--dev-split", "1.5"], ["--dev-split 1.5", "above 0 and below 1"]),
    (["--dev-split", "0"], ["--dev-split 0", "above 0 and below 1"]),
    (["--eval-batch-size", "0"], ["--eval-batch-size 0", "at least 1"]),
    (["--patience-steps", "-5"], ["--patience-steps -5", "at least 1"]),
    (["--batch-size", "0"], ["--batch-size 0", "whole number at least 1"]),
    (["--batch-size", "-3"], ["--batch-size -3", "at least 1"]),
    (["--eval-every", "0"], ["--eval-every 0", "at least 1"]),
    (["--grad-accum", "0"], ["--grad-accum 0", "at least 1"]),
    (["--dropout", "2"], ["--dropout 2", "at least 0 and below 1"]),
    (["--dropout", "1"], ["--dropout 1", "below 1"]),
    (["--warmup", "-1"], ["--warmup -1", "at least 0 and below 1"]),
    (["--seed", "-1"], ["--seed -1", "at least 0"]),
    (["--seeds", "1", "-2"], ["--seed -2", "at least 0"]),
    (["--seeds", "1", "2", "1"], ["--seeds 1 2 1: seed 1 is given twice; expected each seed once"]),
    (["--split-seed", "4294967296"], ["--split-seed 4294967296", "below 4294967296"]),
    (["--save-every", "-1"], ["--save-every -1", "at least 0"]),
    (["--num-workers", "-1"], ["--num-workers -1", "at least 0"]),
    (["--temperature", "0", "--teacher", "results/x"], ["--temperature 0", "above 0"]),
    (["--alpha", "1.5", "--teacher", "results/x"], ["--alpha 1.5", "at most 1"]),
    (["--temperature", "2"], ["--temperature 2", "applies only with --teacher"]),
    (["--alpha", "0.5"], ["--alpha 0.5", "applies only with --teacher"]),
    (["--text-col", "label"], ["--text-col and --label-col both name 'label'"]),
    # The folder's split files are .txt: text<TAB>label, no columns to name.
    (["--text-col", "title"], ["--text-col title applies to .csv, .tsv and .jsonl files", "are .txt", "drop it"]),
    (["--label-col", "category"], ["--label-col category applies to .csv, .tsv and .jsonl files"]),
    (["--dev-split", "0.2"], ["--dev-split 0.2 applies only when there is no dev file", "--protocol mini"]),
    (["--output", "out.csv"], ["--output applies only with --predict RUN --predict-file FILE"]),
    (["--force"], ["--force applies only with --predict RUN --predict-file FILE"]),
]


@pytest.mark.parametrize(
    "flags, words",
    FLAG_PROBES,
    ids=lambda value: " ".join(value) if value and isinstance(value[0], str) and value[0].startswith("--") else None,
)
def test_a_flag_out_of_range_or_out_of_place_is_one_line(flags, words, tmp_path, capsys, no_model_loading):
    folder = data_folder(tmp_path / "data")
    results = tmp_path / "results"
    code = main(["--model", "bert", "--data-dir", str(folder), "--offline", "--results-dir", str(results), *flags])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    for word in words:
        assert word in line, line
    assert not results.exists(), "nothing was started"


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--model", "bert", "--smoke", "--model-path", "x"], ["--model-path cannot apply with --smoke", "drop one"]),
        (["--model", "bert", "--smoke", "--data-dir", "data/x"], ["--data-dir cannot apply with --smoke"]),
        (["--model", "bert", "--smoke", "--protocol", "mini"], ["--protocol cannot apply with --smoke"]),
        (["--list", "--model", "bert"], ["--list and --model cannot be combined"]),
        (["--leaderboard", "--model", "bert"], ["--leaderboard and --model cannot be combined"]),
        (["--leaderboard", "--learning-rate", "1e-4"], ["--leaderboard does not use --learning-rate"]),
        (["--list", "--batch-size", "8"], ["--list does not use --batch-size"]),
        (["--export", "results/x", "--max-length", "64"], ["--export does not use --max-length"]),
    ],
)
def test_flags_that_cannot_combine_are_one_line(flags, words, capsys, no_model_loading):
    assert main(flags) == 2
    line = one_error_line(capsys.readouterr().err)
    assert all(word in line for word in words), line


def test_the_queue_is_checked_before_its_first_run(tmp_path, capsys, monkeypatch, no_model_loading):
    from benchmark.run import driver

    monkeypatch.setattr(driver, "run", lambda *args, **kwargs: pytest.fail("no run may start"))
    folder = data_folder(tmp_path / "data")
    code = main(["--model", "bert", "ernie", "--seeds", "1", "2", "-1", "--data-dir", str(folder), "--offline"])
    assert code == 2 and "--seed -1" in one_error_line(capsys.readouterr().err)


def test_a_repeated_column_name_is_refused(tmp_path, capsys, no_model_loading):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train.csv").write_text(
        "text,label,label\n央行宣布降准,财经,房产\n北京房价回升,房产,房产\n", encoding="utf-8"
    )
    (folder / "test.csv").write_text("text,label\n外汇储备稳定,财经\n", encoding="utf-8")
    code = main(["--model", "bert", "--data-dir", str(folder), "--offline", "--results-dir", str(tmp_path / "r")])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{folder / 'train.csv'}:1: the header names the column 'label' more than once" in line


def test_a_data_dir_naming_one_file_too_small_to_carve_from(tmp_path, capsys, no_model_loading):
    one_file = tmp_path / "train.txt"  # --data-dir may name one labelled file: test and dev are carved from it
    one_file.write_text("央行宣布降准\t0\n", encoding="utf-8")
    code = main(["--model", "bert", "--data-dir", str(one_file), "--offline"])
    assert code == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"error: {one_file}: 1 examples are too few to hold out 10% for test; add examples, change --test-split, "
        f"or provide a test file"
    )


def test_a_leaderboard_that_cannot_be_written(tmp_path, capsys):
    results = tmp_path / "results"
    (results / "leaderboard.md").mkdir(parents=True)  # the rename onto it fails, as on a read-only folder
    assert main(["--leaderboard", "--results-dir", str(results)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "cannot write the leaderboard" in line and "leaderboard.md" in line


# ---------------------------------------------------------------- model files given by the user


def sample_run(tmp_path: Path, *flags: str) -> list[str]:
    """A short run on the sample of a tiny checkpoint in a published layout: a checkpoint of its own (--name)."""
    return [
        "--name",
        "tiny",
        "--data-dir",
        str(SAMPLE_DIR),
        "--results-dir",
        str(tmp_path / "results"),
        "--offline",
        "--batch-size",
        "16",
        "--max-steps",
        "4",
        "--eval-every",
        "2",
        "--no-group-by-length",
        *flags,
    ]


@pytest.mark.usefixtures("one_torch_thread")
def test_max_length_beyond_the_models_positions(tmp_path, capsys):
    source, _, _ = build(layout("bert-course"), tmp_path)
    code = main(["--model", "bert", "--model-path", source, *sample_run(tmp_path, "--max-length", "100000")])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--max-length 100000: expected at most 64" in line and source in line
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("damage", ["truncated safetensors", "pickle that will not unpickle"])
def test_damaged_weights_in_model_path(damage, tmp_path, capsys):
    if damage == "truncated safetensors":
        source, _, _ = build(layout("bert-hub"), tmp_path)
        folder = next(tmp_path.glob("models--*/snapshots/*"))
        path = folder / "model.safetensors"
        path.write_bytes(path.read_bytes()[:1000])
    else:
        source, _, _ = build(layout("bert-course"), tmp_path)
        folder = Path(source)
        path = folder / "pytorch_model.bin"
        path.write_bytes(b"\x80\x04\x95garbage that is not a pickle")
    code = main(["--model", "bert", "--model-path", str(folder), *sample_run(tmp_path)])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(path) in line and "cannot read the weights" in line and "download it again" in line
    assert not (tmp_path / "results").exists()


class RunsCode:
    """Unpickled, it would run a shell command: the marker file it touches shows whether it ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Holder:
    """A class of its own: unpickling it imports this module and builds one."""


@pytest.mark.parametrize("holds", ["a shell command", "a class of its own"])
def test_weights_that_would_run_code_are_refused_as_such(holds, tmp_path, capsys):
    import torch

    source, _, _ = build(layout("bert-course"), tmp_path)
    path, marker = Path(source) / "pytorch_model.bin", tmp_path / "ran"
    weights = torch.load(path, weights_only=True)
    weights["bert.extra"] = RunsCode(marker) if holds == "a shell command" else Holder()
    torch.save(weights, path)  # a whole torch archive: only its pickle is refused
    assert main(["--model", "bert", "--model-path", source, *sample_run(tmp_path)]) == 2
    line = one_error_line(capsys.readouterr().err)
    named = "posix.system" if holds == "a shell command" else "test_bad_inputs.Holder"
    assert line == (
        f"error: {path}: holds more than tensors ({named}); refused, since loading it would run code. Where you "
        f"trust its source, convert it to safetensors"
    )
    assert not marker.exists(), "nothing was run"
    assert not (tmp_path / "results").exists()


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize(
    "name, backbone", [("ernie-course", "ernie"), ("bert-course", "bert"), ("nezha-lonepatient", "nezha")]
)
def test_a_course_or_community_folder_trains_from_its_own_weights(name, backbone, tmp_path, capsys):
    source, _, expected = build(layout(name), tmp_path)
    assert main(["--model", backbone, "--model-path", source, *sample_run(tmp_path)]) == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    weights = metrics["backbone"]["weights"]
    assert weights["complete"] and weights["loaded"] == len(expected) and weights["missing"] == []
    assert metrics["tokenization"]["lowercase"] is True
    assert set(metrics["tokenization"]["splits"]) == {"train", "dev", "test"}
    assert "[UNK]" in capsys.readouterr().out


@pytest.mark.usefixtures("one_torch_thread")
def test_a_bert_folder_is_refused_as_nezha(tmp_path, capsys):
    source, _, _ = build(layout("bert-course"), tmp_path)
    assert main(["--model", "nezha", "--model-path", source, *sample_run(tmp_path)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{source} does not hold a complete nezha encoder" in line and "position_embeddings" in line
    assert not (tmp_path / "results").exists()


@pytest.mark.usefixtures("one_torch_thread")
def test_missing_weights_run_only_when_allowed_and_are_never_ranked(tmp_path, capsys):
    import torch

    source, _, _ = build(layout("ernie-course"), tmp_path)
    weights = torch.load(Path(source) / "pytorch_model.bin", weights_only=True)
    del weights["bert.encoder.layer.1.output.dense.weight"]
    torch.save(weights, Path(source) / "pytorch_model.bin")
    assert main(["--model", "ernie", "--model-path", source, *sample_run(tmp_path)]) == 2
    assert "encoder.layer.1.output.dense.weight" in one_error_line(capsys.readouterr().err)
    assert main(["--model", "ernie", "--model-path", source, *sample_run(tmp_path, "--allow-missing-weights")]) == 0
    assert "WARNING" in capsys.readouterr().out
    (run_dir,) = (tmp_path / "results").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["backbone"]["weights"]["missing"] == ["encoder.layer.1.output.dense.weight"]
    assert main(["--leaderboard", "--results-dir", str(tmp_path / "results")]) == 0
    board = (tmp_path / "results" / "leaderboard.md").read_text(encoding="utf-8")
    assert "## Not ranked" in board and "incomplete pretrained weights (1 missing" in board
    assert "| ernie |" not in board.split("## Not ranked")[0], "never in a ranked table"
    assert not (tmp_path / "results" / "plots").exists()


# ---------------------------------------------------------------- the tokenizer and the embedding


@pytest.fixture
def no_weights_read(monkeypatch):
    """The tokenizer is checked before the encoder's weights are read."""
    from benchmark.loading import checkpoint

    monkeypatch.setattr(checkpoint, "load_encoder", lambda *a, **k: pytest.fail("the weights were read"))


@pytest.mark.parametrize("change", ["more tokens", "fewer tokens"])
def test_a_tokenizer_that_does_not_fit_the_embedding_stops_before_the_weights(
    change, tmp_path, capsys, no_weights_read
):
    source, _, _ = build(layout("bert-course"), tmp_path)
    vocab, config = Path(source) / "vocab.txt", Path(source) / "bert_config.json"
    tokens = vocab.read_text(encoding="utf-8").split()
    rows = json.loads(config.read_text(encoding="utf-8"))["vocab_size"]
    assert rows == len(tokens)
    tokens = tokens + [f"[unused{i}]" for i in range(3)] if change == "more tokens" else tokens[:-3]
    vocab.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    assert main(["--model", "bert", "--model-path", source, *sample_run(tmp_path)]) == 2
    past = f"; its ids reach {len(tokens) - 1}, past the last row" if change == "more tokens" else ""
    assert one_error_line(capsys.readouterr().err) == (
        f"error: {vocab} holds {len(tokens)} tokens but the embedding has {rows} rows (vocab_size in {config})"
        f"{past}; bert expects exactly one row per token. The tokenizer files and the weights come from different "
        f"checkpoints: use the tokenizer files published with these weights"
    )
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("damage", ["empty", "missing", "without [UNK]"])
def test_an_empty_or_missing_vocabulary_is_one_line_naming_it(damage, tmp_path, capsys, no_weights_read):
    source, _, _ = build(layout("bert-course"), tmp_path)
    vocab = Path(source) / "vocab.txt"
    if damage == "empty":  # the tokenizers library failed on the first text, with a traceback
        vocab.write_text("", encoding="utf-8")
    elif damage == "missing":  # every text became [UNK]
        vocab.unlink()
    else:
        vocab.write_text(vocab.read_text(encoding="utf-8").replace("[UNK]\n", ""), encoding="utf-8")
    assert main(["--model", "bert", "--model-path", source, *sample_run(tmp_path)]) == 2
    line = one_error_line(capsys.readouterr().err)
    expected = {
        "empty": f"error: {vocab}: the file is empty; expected the vocabulary, one token a line",
        "missing": f"error: {source}: no tokenizer files; expected tokenizer.json or vocab.txt",
        "without [UNK]": f"error: {vocab}: cannot make a tokenizer of it (Exception: WordPiece error: Missing [UNK]",
    }[damage]
    assert line.startswith(expected), line
    assert not (tmp_path / "results").exists()


@pytest.mark.usefixtures("one_torch_thread")
def test_mostly_unk_training_texts_run_only_when_allowed_and_are_never_ranked(tmp_path, capsys):
    from benchmark.loading.sources import build_vocab

    # A vocabulary of four headlines' characters: the sample's training texts are mostly beyond it.
    source, _, _ = build(layout("bert-course"), tmp_path, vocab=build_vocab(TEXTS, word_pieces=True))
    assert main(["--model", "bert", "--model-path", source, *sample_run(tmp_path)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert re.match(r"error: \d+\.\d% of the train tokens are \[UNK\], above the 10% limit", line), line
    assert "--allow-high-unk to train anyway; the run is then never ranked" in line
    assert not (tmp_path / "results").exists()

    assert main(["--model", "bert", "--model-path", source, *sample_run(tmp_path, "--allow-high-unk")]) == 0
    assert "above the 10% limit; going on (--allow-high-unk)" in capsys.readouterr().out
    (run_dir,) = (tmp_path / "results").iterdir()
    tokenization = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["tokenization"]
    assert tokenization["unk_above_limit"] is True and tokenization["unk_limit"] == 0.1
    share = tokenization["splits"]["train"]["unk_share"]
    assert main(["--leaderboard", "--results-dir", str(tmp_path / "results")]) == 0
    board = (tmp_path / "results" / "leaderboard.md").read_text(encoding="utf-8")
    why = f"{100 * share:.3g}% \\[UNK\\] in the training tokens, above the 10% limit (--allow-high-unk)"  # as Markdown
    assert "## Not ranked" in board and why in board
    assert "| bert |" not in board.split("## Not ranked")[0], "never in a ranked table"


def test_predict_with_a_damaged_model(tmp_path, capsys):
    from tiny_runs import tiny_bert_run

    run_dir = tiny_bert_run(tmp_path / "results", steps=2)
    path = run_dir / "model" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:2000])
    capsys.readouterr()
    assert main(["--predict", str(run_dir), "央行宣布下调存款准备金率"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(path) in line and "cannot read the weights" in line


# ---------------------------------------------------------------- text files that are not UTF-8

GBK = "财经新闻".encode("gbk")  # its first byte cannot start a UTF-8 character


def not_utf8(path: Path, line: int, offset: int) -> str:
    """The one line every text file the harness reads gives when it is not UTF-8."""
    return (
        f"error: {path}:{line}: not UTF-8 text (invalid start byte at byte {offset} of the file); expected UTF-8, "
        f"save the file as UTF-8"
    )


@pytest.mark.parametrize("name", ["class.txt", "labels.txt", "train.txt", "dev.txt"])
def test_a_data_file_that_is_not_utf8_names_its_line_and_byte(name, tmp_path, capsys, no_model_loading):
    folder = data_folder(tmp_path / "data")
    if name == "labels.txt":
        (folder / "class.txt").rename(folder / "labels.txt")
    path = folder / name
    good = path.read_bytes()
    path.write_bytes(good + GBK + (b"\t1\n" if name.endswith(("train.txt", "dev.txt")) else b"\n"))
    code = main(["--model", "bert", "--data-dir", str(folder), "--offline", "--results-dir", str(tmp_path / "r")])
    assert code == 2
    lines = good.count(b"\n") + 1
    assert one_error_line(capsys.readouterr().err) == not_utf8(path, lines, len(good))
    assert not (tmp_path / "r").exists()


def test_a_predict_file_that_is_not_utf8_names_its_line_and_byte(tmp_path, capsys):
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "model" / "labels.json").write_text('{"backbone": "tfidf", "labels": ["a"]}', encoding="utf-8")
    texts = tmp_path / "texts.txt"
    texts.write_bytes("第一行\n".encode() + GBK + b"\n")
    assert main(["--predict", str(run_dir), "--predict-file", str(texts)]) == 2
    assert one_error_line(capsys.readouterr().err) == not_utf8(texts, 2, 10)
    assert not (tmp_path / "texts.predictions.csv").exists()


@pytest.mark.parametrize("name", ["bert_config.json", "vocab.txt"])
def test_a_model_file_that_is_not_utf8_names_its_line_and_byte(name, tmp_path, capsys):
    source, _, _ = build(layout("bert-course"), tmp_path)
    path = Path(source) / name
    if name == "vocab.txt":  # one more token
        before, after = path.read_bytes().rstrip(b"\n") + b"\n", b"\n"
    else:  # one more field
        before, after = path.read_bytes().rstrip(b"}\n") + b',\n "note": "', b'"\n}\n'
    path.write_bytes(before + GBK + after)
    code = main(["--model", "bert", "--model-path", source, *sample_run(tmp_path)])
    assert code == 2
    assert one_error_line(capsys.readouterr().err) == not_utf8(path, before.count(b"\n") + 1, len(before))
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------- --predict-file never overwrites what the user owns


@pytest.fixture(scope="module")
def tfidf(tmp_path_factory) -> Path:
    from tiny_runs import tfidf_run

    return tfidf_run(tmp_path_factory.mktemp("results"))


def predict_into(run_dir: Path, texts: Path, output: Path | None, *flags: str) -> int:
    output_flags = ["--output", str(output)] if output else []
    return main(["--predict", str(run_dir), "--predict-file", str(texts), *output_flags, *flags])


@pytest.mark.parametrize("output", ["the input", "a symlink to the input", "a hard link to the input"])
def test_the_output_never_names_the_input_file(output, tfidf, tmp_path, capsys):
    texts = tmp_path / "in.txt"
    texts.write_text("央行宣布下调存款准备金率\n国足热身赛两球取胜\n", encoding="utf-8")
    target = {
        "the input": texts,
        "a symlink to the input": tmp_path / "link.txt",
        "a hard link to the input": tmp_path / "hard.txt",
    }[output]
    if output == "a symlink to the input":
        target.symlink_to(texts)
    elif output == "a hard link to the input":
        target.hardlink_to(texts)
    before = texts.read_bytes()
    assert predict_into(tfidf, texts, target, "--force") == 2, "not even with --force"
    assert one_error_line(capsys.readouterr().err) == (
        f"error: --output {target} is the input file {texts}: its texts would be replaced; choose another --output"
    )
    assert texts.read_bytes() == before


@pytest.mark.parametrize("name", ["predictions.csv", "metrics.json", "model/labels.json", "new.csv"])
def test_the_output_never_lands_in_the_run_folder(name, tfidf, tmp_path, capsys):
    texts = tmp_path / "in.txt"
    texts.write_text("央行宣布下调存款准备金率\n", encoding="utf-8")
    target = tfidf / name
    before = target.read_bytes() if target.exists() else None
    assert predict_into(tfidf, texts, target, "--force") == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"error: --output {target} is inside the run folder {tfidf}, whose files are never replaced; choose "
        f"another --output"
    )
    assert (target.read_bytes() if target.exists() else None) == before


def test_an_existing_file_is_replaced_only_when_it_is_ours_or_with_force(tfidf, tmp_path, capsys):
    texts, target = tmp_path / "in.txt", tmp_path / "out.csv"
    texts.write_text("央行宣布下调存款准备金率\n国足热身赛两球取胜\n", encoding="utf-8")
    target.write_text("my notes, not predictions\n", encoding="utf-8")
    assert predict_into(tfidf, texts, target) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"error: {target} exists and is not a predictions file written by --predict-file; --force replaces it"
    )
    assert target.read_text(encoding="utf-8") == "my notes, not predictions\n"
    assert predict_into(tfidf, texts, target, "--force") == 0
    assert target.read_text(encoding="utf-8").startswith("index,text,predicted,probability\n")
    # A predictions file written here is replaced without asking, by the default name beside the input as well.
    texts.write_text("楼市成交量环比上涨\n", encoding="utf-8")
    assert predict_into(tfidf, texts, target) == 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2
    beside = tmp_path / "in.predictions.csv"
    beside.write_text("index,text,predicted,probability,mine\n", encoding="utf-8")
    capsys.readouterr()
    assert predict_into(tfidf, texts, None) == 2
    assert one_error_line(capsys.readouterr().err).startswith(f"error: {beside} exists and is not a predictions file")
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left beside it"


def test_a_loss_that_becomes_nan_stops_the_run_in_one_line_and_marks_its_folder_failed(tmp_path, capsys):
    """A learning rate far too high: the run stops where the loss stops being finite, says the step and the
    learning rate, exits non-zero, keeps its folder marked failed for the leaderboard and never resumes it."""
    from benchmark.run.resume import resumable

    results = tmp_path / "results"
    flags = ["--model", "bert", "--smoke", "--learning-rate", "1e4", "--eval-every", "2", "--results-dir", str(results)]
    assert main(flags) == 1
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    what = "training loss" if "training loss" in line else "dev loss"  # whichever shows it first
    assert line.startswith(f"error: the {what} became") and "at step" in line and "at learning rate" in line
    assert "lower --learning-rate" in line and "is marked failed" in line
    (folder,) = results.iterdir()
    failed = json.loads((folder / "failed.json").read_text(encoding="utf-8"))
    assert failed["reason"] == "diverged" and failed["what"] == what and failed["step"] >= 1
    assert not (folder / "metrics.json").exists() and not (folder / "checkpoints").exists()
    assert "it failed" in resumable(folder, {})[1]

    assert main(["--leaderboard", "--results-dir", str(results)]) == 0
    board = (results / "leaderboard.md").read_text(encoding="utf-8")
    assert "## Failed runs" in board and f"`{folder.name}`: bert seed 1: the {what} became" in board


def test_a_dev_loss_that_is_not_finite_stops_training_with_the_step_and_learning_rate():
    from transformers import TrainerState

    from benchmark.errors import Diverged
    from benchmark.run.callbacks import StopOnNonFinite

    state = TrainerState(global_step=30, log_history=[{"learning_rate": 0.25, "step": 30}])
    StopOnNonFinite().on_evaluate(None, state, None, metrics={"eval_loss": 0.7})
    with pytest.raises(Diverged, match="the dev loss became inf at step 30 at learning rate 0.25"):
        StopOnNonFinite().on_evaluate(None, state, None, metrics={"eval_loss": float("inf")})


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize(
    "name, backbone", [("ernie-course", "bert"), ("bert-course", "ernie"), ("bert-course", "bert")]
)
def test_a_checkpoint_run_as_a_backbone_it_is_not_stops_naming_both_shapes(name, backbone, tmp_path, capsys):
    """A course ERNIE folder run as bert trained ERNIE under bert's name, and back; a tiny BERT ranked as
    bert-base-chinese. The shape is compared with the declaration's published config before any weight is read."""
    source, _, _ = build(layout(name), tmp_path)
    flags = [flag for flag in sample_run(tmp_path) if flag not in ("--name", "tiny")]
    assert main(["--model", backbone, "--model-path", source, *flags]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"{source} is not {backbone}: its config has layers 2, hidden 16, vocabulary 1,120" in line, line
    assert f"where {backbone}'s published config has layers 12, hidden 768" in line
    assert "declare a backbone for this checkpoint in models/, or give --name NAME" in line
    assert not (tmp_path / "results").exists()


@pytest.mark.usefixtures("one_torch_thread")
def test_a_checkpoint_of_its_own_runs_under_its_name_with_its_shape_and_never_pools(tmp_path, capsys):
    source, _, _ = build(layout("bert-course"), tmp_path)
    flags = [flag for flag in sample_run(tmp_path) if flag not in ("--name", "tiny")]
    assert main(["--model", "bert", "--model-path", source, "--name", "my-tiny-bert", *flags]) == 0
    (run_dir,) = (tmp_path / "results").iterdir()
    assert run_dir.name.startswith("my-tiny-bert-")
    backbone = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["backbone"]
    assert backbone["name"] == "my-tiny-bert" and backbone["source"] == source
    assert backbone["weights"]["custom"].startswith("local checkpoint: layers 2, hidden 16, vocabulary 1,120")
    assert "(bert publishes layers 12, hidden 768, vocabulary 21,128)" in backbone["weights"]["custom"]
    assert main(["--leaderboard", "--results-dir", str(tmp_path / "results")]) == 0
    with open(tmp_path / "results" / "leaderboard.csv", encoding="utf-8") as handle:
        assert {row["backbone"] for row in csv.DictReader(handle)} == {"my-tiny-bert"}


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--model", "bert", "--name", "bert"], ["--name bert: that is a registered backbone's name"]),
        (["--model", "bert", "--name", "ernie"], ["registered backbone's name", "would pool"]),
        (["--model", "bert", "--name", "my/model"], ["--name 'my/model': expected letters, digits"]),
        (["--model", "bert", "--name", "x", "--smoke"], ["--name x", "--smoke and --teacher make their own"]),
        (["--model", "tfidf", "--name", "x"], ["--name x", "tfidf has none"]),
    ],
)
def test_a_name_of_its_own_is_refused_where_it_could_pool_or_names_nothing(flags, words, capsys, no_model_loading):
    assert main(flags) == 2
    line = one_error_line(capsys.readouterr().err)
    for word in words:
        assert word in line, line


def test_the_shape_check_passes_a_checkpoint_further_trained_in_the_published_shape_and_names_its_twin():
    """A domain-adapted bert-base-chinese keeps the published shape: it loads under the name. A checkpoint with
    another registered backbone's shape is pointed at that backbone."""
    from transformers import BertConfig

    from benchmark.errors import HarnessError
    from benchmark.loading.identity import custom_checkpoint
    from benchmark.registry import get_backbone

    bert = get_backbone("bert")
    published = BertConfig(num_hidden_layers=12, hidden_size=768, vocab_size=21128)
    assert custom_checkpoint(bert, published, Path("adapted"), None) is None
    assert "of bert's shape" in custom_checkpoint(bert, published, Path("adapted"), "my-bert")
    ernie_shaped = BertConfig(num_hidden_layers=12, hidden_size=768, vocab_size=18000)
    with pytest.raises(HarnessError, match=r"vocabulary 18,000.*vocabulary 21,128; it has the shape of ernie: --model"):
        custom_checkpoint(bert, ernie_shaped, Path("course-ernie"), None)
