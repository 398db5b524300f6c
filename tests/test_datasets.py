"""The registered datasets: declarations, reading each published format, protocols, and a run through the
command line on files placed by hand."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from conftest import one_error_line
from datasets_on_disk import HEADLINES, iflytek, pinned, tnews, toutiao, write_zip

from benchmark.cli import main
from benchmark.data.load import load_dataset, read_splits
from benchmark.data.read import BadRows
from benchmark.errors import HarnessError
from benchmark.registry import get_dataset, list_datasets
from benchmark.settings import resolve_settings


def test_four_datasets_are_declared_with_pinned_files_and_thucnews_is_the_default():
    datasets = {d.name: d for d in list_datasets()}
    assert {"thucnews", "toutiao15", "tnews", "iflytek"} <= set(datasets)
    assert [p.name for p in datasets["thucnews"].protocols] == ["full", "mini"]
    assert [p.name for p in datasets["toutiao15"].protocols] == ["title", "title+keywords"]
    assert datasets["toutiao15"].file("toutiao_cat_data.txt.zip").git_blob == "f7347310f74fc71ec1b709e97b342929e246b37a"
    assert len(datasets["toutiao15"].labels) == 15 and "105" not in datasets["toutiao15"].codes
    assert len(datasets["tnews"].labels) == 15 and len(datasets["iflytek"].labels) == 119
    assert datasets["iflytek"].main_score == "macro_f1" and datasets["iflytek"].truncation == "head+tail"
    assert all(source.git_blob or source.sha256 or source.md5 for d in datasets.values() for source in d.files)
    reported = {(r.backbone, r.value) for r in datasets["tnews"].reported}
    assert {
        ("ernie3_base", 58.26),
        ("ernie3_medium", 57.00),
        ("ernie3_mini", 55.24),
        ("ernie3_micro", 55.05),
        ("ernie3_nano", 54.57),
    } <= reported


def test_the_listing_shows_every_dataset_and_protocol(capsys):
    assert main(["--list-datasets"]) == 0
    out = capsys.readouterr().out
    for words in (
        "toutiao15:",
        "--protocol title+keywords",
        "--protocol clue-dev",
        "tnews_public.zip",
        "git blob f7347310f74fc71ec1b709e97b342929e246b37a",
        "reported ernie3_nano 54.57",
    ):
        assert words in out


# ---------------------------------------------------------------- Toutiao: a split made here, and checked


def test_toutiao_is_split_8_1_1_within_every_class_and_the_split_is_checked(tmp_path):
    toutiao(tmp_path)
    dataset = pinned("toutiao15", tmp_path)
    task = load_dataset(dataset, tmp_path, "title")
    total = {"train": len(task.train.texts), "dev": len(task.dev.texts), "test": len(task.test.texts)}
    assert sum(total.values()) == sum(10 + 3 * i for i in range(15))
    for label in range(15):
        counts = [int((split.labels == label).sum()) for split in (task.train, task.dev, task.test)]
        n = sum(counts)
        assert counts[0] == round(0.8 * n) and counts[1] == round(0.1 * n), (label, counts)
    recorded = json.loads((tmp_path / "split.json").read_text())
    assert recorded["seed"] == 1 and set(recorded["ids_sha256"]) == {"train", "dev", "test"}
    assert task.files["split"]["sha256"] and task.files["test"]["lines"] == total["test"]
    # The other protocol: the same split, the keywords after the headline.
    with_keywords = load_dataset(dataset, tmp_path, "title+keywords")
    assert len(with_keywords.test.texts) == total["test"] and with_keywords.test.texts[0].startswith(task.test.texts[0])
    assert "关键词" in with_keywords.test.texts[0] and "关键词" not in task.test.texts[0]
    # A split that came out differently (another library version, say) stops the run.
    recorded["sizes"]["train"] += 1
    (tmp_path / "split.json").write_text(json.dumps(recorded))
    with pytest.raises(HarnessError, match="differs from the one recorded on the first load"):
        load_dataset(dataset, tmp_path, "title")


def test_toutiao_lines_that_disagree_with_the_source_are_bad_rows(tmp_path):
    toutiao(tmp_path, extra_lines=("1_!_102_!_news_sports_!_名字与代码不符_!_", "2_!_103"))
    dataset = pinned("toutiao15", tmp_path)
    with pytest.raises(HarnessError, match="code 102 is news_entertainment in the source's README, but the line"):
        load_dataset(dataset, tmp_path, "title")
    task = load_dataset(dataset, tmp_path, "title", on_bad_line="skip")
    assert list(task.dropped.values()) == [2]


# ---------------------------------------------------------------- CLUE: scored on dev


@pytest.mark.parametrize("name, write, classes", [("tnews", tnews, 15), ("iflytek", iflytek, 119)])
def test_clue_trains_on_train_with_a_held_out_part_and_scores_on_dev(tmp_path, name, write, classes):
    archive = write(tmp_path, {"train": 10 * classes, "dev": 2 * classes, "test": 7})
    task = load_dataset(pinned(name, tmp_path), tmp_path)
    assert task.protocol == "clue-dev" and len(task.label_names) == classes
    assert len(task.train.texts) + len(task.dev.texts) == 10 * classes  # dev held out of train.json
    assert len(task.test.texts) == 2 * classes and all(t.startswith("dev") for t in task.test.texts)
    assert sorted(np.bincount(task.test.labels, minlength=classes)) == [2] * classes  # codes mapped to ids
    assert task.files["test"]["path"].endswith(f"{archive.name}:{name}_public/dev.json")
    with zipfile.ZipFile(archive) as opened:
        assert f"{name}_public/test.json" in opened.namelist(), "the unlabelled test file is there, and unread"


def test_a_clue_line_in_another_format_names_archive_member_and_line(tmp_path):
    write_zip(
        tmp_path / "tnews_public.zip",
        {
            "tnews_public/train.json": '{"label": "102", "label_desc": "news_entertainment", "sentence": "甲"}\n'
            '{"label": "102", "label_desc": "news_entertainment"}\n',
            "tnews_public/dev.json": '{"label": "999", "sentence": "乙"}\n',
        },
    )
    dataset = pinned("tnews", tmp_path)
    with pytest.raises(HarnessError) as error:
        load_dataset(dataset, tmp_path)
    assert (
        "tnews_public.zip:tnews_public/train.json:2: expected an object with keys 'sentence' and 'label' "
        "(CLUE's format)" in str(error.value)
    )


# ---------------------------------------------------------------- fetching, and choosing the data


def test_a_registered_dataset_missing_offline_says_what_to_fetch_and_where(tmp_path):
    with pytest.raises(HarnessError) as error:
        load_dataset(get_dataset("tnews"), tmp_path / "tnews", offline=True)
    message = str(error.value)
    assert "https://storage.googleapis.com/cluebenchmark/tasks/tnews_public.zip" in message
    assert str(tmp_path / "tnews") in message and "--data-dir" in message


def test_hf_hub_offline_keeps_a_registered_dataset_from_being_downloaded(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from benchmark.data import download

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # without --offline
    monkeypatch.setattr(download, "_fetch", lambda *args: pytest.fail("a download was attempted"))
    config = resolve_settings(get_backbone_stub(), {"dataset": "tnews", "data_dir": str(tmp_path / "tnews")}).config
    with pytest.raises(HarnessError, match="the run is offline"):
        read_splits(config)


def test_a_file_placed_by_hand_that_is_not_the_published_one_is_refused_untouched(tmp_path):
    archive = tnews(tmp_path)
    before = archive.read_bytes()
    with pytest.raises(HarnessError, match="md5 .*, published 38186ed0a751bc33e3ae0c1b59319777"):
        load_dataset(get_dataset("tnews"), tmp_path, offline=True)
    assert archive.read_bytes() == before


def test_settings_choose_the_data(tmp_path):
    def config(**given):
        return resolve_settings(get_backbone_stub(), given).config

    assert config().dataset is None and config().data_dir is None  # thucnews in data/thucnews
    own = tmp_path / "mine"
    own.mkdir()
    (own / "train.txt").write_text("央行宣布降准\t0\n北京房价回升\t1\n" * 5, encoding="utf-8")
    (own / "test.txt").write_text("外汇储备稳定\t0\n", encoding="utf-8")
    task = read_splits(config(data_dir=str(own), dev_split=0.2))
    assert task.dataset == "mine" and task.protocol == "full" and len(task.dev.texts) == 2


def get_backbone_stub():
    from benchmark.registry import get_backbone

    return get_backbone("bert")


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--dataset", "tnewz"], "unknown dataset 'tnewz'. Did you mean: tnews"),
        (["--dataset", "tnews", "--protocol", "full"], "--protocol full: tnews offers clue-dev"),
        (["--dataset", "tnews", "--text-col", "title"], "--text-col applies to a folder of your own"),
        (["--dataset", "thucnews", "--dev-split", "0.2"], "thucnews's full protocol has a dev split of its own"),
        (["--truncation", "middle"], "invalid choice: 'middle'"),
        (["--on-bad-line", "ignore"], "invalid choice: 'ignore'"),
    ],
)
def test_data_flags_that_cannot_apply_are_one_line(flags, words, capsys, no_model_loading):
    if "invalid choice" in words:
        with pytest.raises(SystemExit):
            main(["--model", "bert", *flags])
        assert words in capsys.readouterr().err
        return
    assert main(["--model", "bert", *flags]) == 2
    assert words in one_error_line(capsys.readouterr().err)


# ---------------------------------------------------------------- a run, with the files placed by hand


@pytest.mark.usefixtures("one_torch_thread")
def test_a_run_on_tnews_placed_by_hand_reads_trains_and_scores_through_the_registry(tmp_path, monkeypatch):
    from conftest import run_flags, tiny_bert

    from benchmark import registry

    folder = tmp_path / "tnews"
    tnews(folder, {"train": 150, "dev": 60, "test": 10})
    monkeypatch.setitem(registry.DATASETS.entries, "tnews", pinned("tnews", folder))
    model = tiny_bert(tmp_path / "tiny", [*HEADLINES, "train dev test"])
    results = tmp_path / "results"
    # The tiny model has 64 positions where the dataset asks for 128.
    options = f"--dataset tnews --max-steps 4 --eval-every 2 --batch-size 16 --max-length 48 --results-dir {results}"
    flags = run_flags(model, folder, options)
    assert main(flags) == 0
    (run_dir,) = results.iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"]["dataset"] == "tnews" and metrics["task"]["protocol"] == "clue-dev"
    assert metrics["task"]["sizes"] == {"train": 135, "dev": 15, "test": 60}
    assert metrics["config"]["max_length"] == 48 and metrics["config"]["truncation"] == "head"  # the dataset's
    assert metrics["task"]["main_score"] == "accuracy"
    assert set(metrics["tokenization"]["splits"]["test"]) >= {"truncated", "truncated_share"}


def test_headlines_constant_is_chinese():
    assert all(any("\u4e00" <= c <= "\u9fff" for c in h) for h in HEADLINES)


def test_bad_rows_policy_counts_per_file():
    bad = BadRows("skip")
    bad("a.csv", 3, "empty text")
    bad("a.csv", 9, "empty text")
    bad("b.csv", 1, "not valid JSON")
    assert bad.counts() == {"a.csv": 2, "b.csv": 1}
    assert bad.summary().startswith("dropped 3 malformed or empty rows (--on-bad-line skip): a.csv:3 (empty text)")
