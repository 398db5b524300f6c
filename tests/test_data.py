"""Reading and validating data folders: every bad input is a HarnessError naming file, line and expectation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.data.load import load_folder
from benchmark.data.read import read_rows
from benchmark.data.splits import summarize
from benchmark.errors import HarnessError

LABELS = ["财经", "房产", "股票"]  # finance, realty, stocks


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def thucnews(rows: list[tuple[str, int]]) -> str:
    return "".join(f"{text}\t{label}\n" for text, label in rows)


def make_folder(folder: Path, train=None, dev=None, test=None, labels=LABELS) -> Path:
    """A THUCNews-style folder; a split given as None gets no file."""
    folder.mkdir(parents=True, exist_ok=True)
    if labels is not None:
        write(folder / "class.txt", "\n".join(labels) + "\n")
    for name, rows in (("train", train), ("dev", dev), ("test", test)):
        if rows is not None:
            write(folder / f"{name}.txt", thucnews(rows))
    return folder


TRAIN = [
    ("央行宣布下调存款准备金率", 0),
    ("北京二手房成交量回升", 1),
    ("沪指收涨券商股领涨", 2),
    ("人民币汇率创新高", 0),
]
DEV = [("房贷利率再次下调", 1), ("创业板指数大跌", 2)]
TEST = [("外汇储备规模稳定", 0), ("新楼盘开盘即售罄", 1), ("港股科技股反弹", 2)]


def error_message(call, *args, **kwargs) -> str:
    with pytest.raises(HarnessError) as info:
        call(*args, **kwargs)
    return str(info.value)


# --- bad inputs ---------------------------------------------------------------------------------------------


def test_an_unknown_label_name_in_a_csv_names_file_line_and_the_known_labels(tmp_path):
    folder = make_folder(tmp_path / "d", test=TEST)
    train = write(folder / "train.csv", "text,label\n央行宣布降准,财经\n国足客场取胜,体育\n")
    message = error_message(load_folder, folder)
    assert f"{train}:3:" in message  # the header is line 1, as an editor counts
    assert "unknown label '体育'" in message
    assert "expected one of: 财经, 房产, 股票" in message


@pytest.mark.parametrize("bad", ["3", "17", "-1"])
def test_a_label_id_out_of_range_names_file_line_and_the_valid_range(tmp_path, bad):
    folder = make_folder(tmp_path / "d", test=TEST)
    train = write(folder / "train.txt", f"央行宣布降准\t0\n\n国足客场取胜\t{bad}\n")
    message = error_message(load_folder, folder)
    assert f"{train}:3:" in message  # the blank line still counts
    assert f"label id {int(bad)} out of range" in message
    assert "expected 0 to 2" in message


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_file_is_named_and_said_to_hold_no_examples(tmp_path, content):
    folder = make_folder(tmp_path / "d", test=TEST)
    train = write(folder / "train.txt", content)
    message = error_message(load_folder, folder)
    assert message == f"{train}: the file holds no examples"


def test_a_csv_with_only_a_header_holds_no_examples(tmp_path):
    folder = make_folder(tmp_path / "d", test=TEST)
    train = write(folder / "train.csv", "text,label\n")
    assert error_message(load_folder, folder) == f"{train}: the file holds no examples"


@pytest.mark.parametrize(("missing", "hint"), [("train", True), ("test", False)])
def test_a_missing_split_file_is_named_and_only_train_suggests_the_mini_protocol(tmp_path, missing, hint):
    files = {"train": TRAIN, "dev": DEV, "test": TEST}
    del files[missing]
    folder = make_folder(tmp_path / "d", **files)
    message = error_message(load_folder, folder)
    assert message.startswith(f"{folder}: no {missing} file")
    assert f"expected {missing}.txt, .tsv, .csv or .jsonl" in message
    assert ("--protocol mini" in message) == hint


def test_the_mini_protocol_needs_a_dev_file(tmp_path):
    folder = make_folder(tmp_path / "d", train=TRAIN, test=TEST)
    message = error_message(load_folder, folder, "mini")
    assert message.startswith(f"{folder}: no dev file")
    assert "expected dev.txt" in message


def test_a_missing_data_folder_is_named(tmp_path):
    missing = tmp_path / "no-such-folder"
    assert error_message(load_folder, missing) == f"{missing}: no such data folder"


def test_two_files_for_one_split_are_refused(tmp_path):
    folder = make_folder(tmp_path / "d", train=TRAIN, test=TEST)
    write(folder / "train.csv", "text,label\n央行宣布降准,0\n")
    message = error_message(load_folder, folder)
    assert f"{folder}: several files for the train split" in message
    assert "train.txt" in message and "train.csv" in message


@pytest.mark.parametrize(
    ("suffix", "header", "missing"),
    [
        (".csv", "title,label", "text"),
        (".csv", "text,category", "label"),
        (".tsv", "title\tcategory", "text"),
    ],
)
def test_a_table_without_the_named_column_names_file_line_the_header_and_the_flags(tmp_path, suffix, header, missing):
    folder = make_folder(tmp_path / "d", test=TEST)
    delimiter = "," if suffix == ".csv" else "\t"
    train = write(folder / f"train{suffix}", f"{header}\n央行宣布降准{delimiter}0\n")
    message = error_message(load_folder, folder)
    assert f"{train}:1:" in message
    assert f"no column {missing!r}" in message
    assert str(header.split(delimiter)) in message  # the columns that are there
    assert "--text-col" in message and "--label-col" in message


@pytest.mark.parametrize(
    ("name", "content", "line", "expected"),
    [
        (
            "train.txt",
            "央行宣布降准\t0\n没有制表符的一行\n北京房价\t1\n",
            2,
            ("expected 'text<TAB>label'", "没有制表符的一行"),
        ),
        ("train.txt", "央行宣布降准\t0\n\t1\n", 2, ("empty text",)),
        ("train.txt", "央行宣布降准\t0\n   \t1\n", 2, ("empty text",)),
        ("train.jsonl", '{"text": "央行宣布降准", "label": 0}\n{"text": "", "label": 1}\n', 2, ("empty text",)),
        ("train.csv", "text,label\n央行宣布降准,0\n人民币,汇率,0\n", 3, ("expected 2 fields",)),
        (
            "train.jsonl",
            '{"text": "央行宣布降准", "label": 0}\n{"text": "北京房价", "label": 1\n',
            2,
            ("not valid JSON",),
        ),
        (
            "train.jsonl",
            '{"text": "央行宣布降准", "label": 0}\n{"title": "北京房价", "label": 1}\n',
            2,
            ("expected an object with keys 'text' and 'label'",),
        ),
    ],
    ids=[
        "txt line without a tab",
        "txt empty text",
        "txt blank text",
        "jsonl empty text",
        "csv row with too many fields",
        "jsonl line that is not JSON",
        "jsonl object without the named keys",
    ],
)
def test_a_malformed_row_names_file_and_line(tmp_path, name, content, line, expected):
    folder = make_folder(tmp_path / "d", test=TEST)
    train = write(folder / name, content)
    message = error_message(load_folder, folder)
    assert f"{train}:{line}:" in message
    assert all(words in message for words in expected), message


def test_a_jsonl_line_that_is_a_list_is_refused(tmp_path):
    train = write(tmp_path / "train.jsonl", '["央行宣布降准", 0]\n')
    message = error_message(read_rows, train)
    assert f"{train}:1:" in message
    assert "expected an object" in message


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".jsonl"])
def test_non_utf8_bytes_are_a_harness_error_naming_the_file(tmp_path, suffix):
    content = {
        ".txt": "央行宣布降准\t0\n北京房价\t1\n",
        ".csv": "text,label\n央行宣布降准,0\n北京房价,1\n",
        ".jsonl": '{"text": "央行宣布降准", "label": 0}\n{"text": "北京房价", "label": 1}\n',
    }[suffix]
    folder = make_folder(tmp_path / "d", test=TEST)
    train = folder / f"train{suffix}"
    train.write_bytes(content.encode("gbk"))  # a GBK file, as Windows tools often write Chinese text
    message = error_message(load_folder, folder)
    assert message.startswith(f"{train}:") and "not UTF-8 text" in message


def test_non_utf8_bytes_name_the_line_and_the_true_byte_offset(tmp_path):
    folder = make_folder(tmp_path / "d", test=TEST)
    good = "".join(f"第{i}条新闻标题\t0\n" for i in range(2000)).encode()
    train = folder / "train.txt"
    train.write_bytes(good + "北京房价\t1\n".encode("gbk"))
    message = error_message(load_folder, folder)
    assert f"{train}:2001:" in message
    if "byte " in message:
        assert f"byte {len(good)}" in message


def test_the_bad_label_is_reported_for_the_test_split_too(tmp_path):
    folder = make_folder(tmp_path / "d", train=TRAIN, dev=DEV)
    test = write(folder / "test.txt", "外汇储备规模稳定\t0\n港股反弹\t9\n")
    message = error_message(load_folder, folder)
    assert f"{test}:2:" in message and "label id 9 out of range" in message


def test_a_label_file_with_a_duplicate_name_is_refused(tmp_path):
    folder = make_folder(tmp_path / "d", train=TRAIN, dev=DEV, test=TEST, labels=["财经", "房产", "财经"])
    message = error_message(load_folder, folder)
    assert message == f"{folder / 'class.txt'}: label names appear twice: 财经"


def test_a_jsonl_null_text_is_refused(tmp_path):
    folder = make_folder(tmp_path / "d", test=TEST)
    train = write(folder / "train.jsonl", '{"text": "央行宣布降准", "label": 0}\n{"text": null, "label": 1}\n')
    message = error_message(load_folder, folder)
    assert f"{train}:2:" in message


@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_a_utf8_byte_order_mark_is_not_part_of_the_data(tmp_path, suffix):
    folder = make_folder(tmp_path / "d", dev=DEV, test=TEST)
    content = "text,label\n央行宣布降准,0\n" if suffix == ".csv" else "央行宣布降准\t0\n"
    (folder / f"train{suffix}").write_bytes(content.encode("utf-8-sig"))
    task = load_folder(folder)
    assert task.train.texts[0] == "央行宣布降准"


@pytest.mark.parametrize("protocol", ["mini", "full"])
def test_a_small_file_to_carve_dev_from_gives_a_split_or_a_harness_error(tmp_path, protocol):
    rows = [(f"第{i}条新闻标题", i % 3) for i in range(20)]
    if protocol == "mini":
        folder = make_folder(tmp_path / "d", dev=rows, test=TEST)
    else:
        folder = make_folder(tmp_path / "d", train=rows, test=TEST)  # no dev file: carved from train
    try:
        task = load_folder(folder, protocol, dev_split=0.1)
    except HarnessError as error:
        assert "--dev-split" in str(error)
    else:
        assert sorted(task.train.texts + task.dev.texts) == sorted(text for text, _ in rows)
        assert len(task.dev.texts) >= 1


# --- good inputs --------------------------------------------------------------------------------------------


def test_thucnews_text_files_with_class_txt(tmp_path):
    folder = make_folder(tmp_path / "thucnews", dev=DEV, test=TEST)
    # A tab inside the text (the label is after the last tab), a blank line and Windows line ends.
    write(folder / "train.txt", "央行宣布\t下调准备金率\t0\r\n\r\n北京二手房成交量回升\t1\r\n沪指收涨 \t 2 \r\n")
    task = load_folder(folder)
    assert task.dataset == "thucnews" and task.protocol == "full"
    assert task.label_names == LABELS
    assert task.train.texts == ["央行宣布\t下调准备金率", "北京二手房成交量回升", "沪指收涨 "]
    assert task.train.labels.tolist() == [0, 1, 2]
    assert task.train.labels.dtype == np.int64
    assert task.dev.texts == [t for t, _ in DEV] and task.dev.labels.tolist() == [1, 2]
    assert task.test.texts == [t for t, _ in TEST] and task.test.labels.tolist() == [0, 1, 2]
    assert set(task.files) == {"train", "dev", "test", "labels"}
    assert task.files["train"]["lines"] == 4
    assert task.files["labels"]["path"] == str(folder / "class.txt")
    assert len(task.files["test"]["sha256"]) == 64


def test_labels_txt_is_read_like_class_txt(tmp_path):
    folder = make_folder(tmp_path / "d", train=TRAIN, dev=DEV, test=TEST, labels=None)
    write(folder / "labels.txt", "\n".join(LABELS) + "\n")
    assert load_folder(folder).label_names == LABELS


def write_table(path: Path, rows: list[tuple[str, str]], text_col: str, label_col: str) -> None:
    """Hand-written files with an extra column, quoting where the format needs it."""
    if path.suffix == ".jsonl":
        lines = []
        for i, (text, label) in enumerate(rows):
            value = int(label) if label.isdigit() else label  # ids as JSON numbers
            lines.append(json.dumps({"id": i, text_col: text, label_col: value}, ensure_ascii=False))
        write(path, "\n".join(lines) + "\n")
    else:
        sep = "," if path.suffix == ".csv" else "\t"
        body = [sep.join(["id", text_col, label_col])]
        for i, (text, label) in enumerate(rows):
            quoted = f'"{text}"' if sep in text else text
            body.append(sep.join([str(i), quoted, label]))
        write(path, "\n".join(body) + "\n")


TABLE_ROWS = [("人民币汇率, 创新高", 0), ("北京二手房成交量回升", 1), ("沪指收涨，券商股领涨", 2), ("央行宣布降准", 0)]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
@pytest.mark.parametrize("style", ["names", "ids"])
def test_tables_with_custom_columns_give_the_same_label_ids(tmp_path, suffix, style):
    folder = tmp_path / "d"
    write(folder / "class.txt", "\n".join(LABELS) + "\n")
    for split, rows in (("train", TABLE_ROWS), ("dev", DEV), ("test", TEST)):
        raw = [(text, LABELS[label] if style == "names" else str(label)) for text, label in rows]
        write_table(folder / f"{split}{suffix}", raw, "title", "category")
    task = load_folder(folder, text_col="title", label_col="category")
    assert task.label_names == LABELS
    assert task.train.texts == [text for text, _ in TABLE_ROWS]
    assert task.train.labels.tolist() == [0, 1, 2, 0]
    assert task.dev.labels.tolist() == [1, 2]
    assert task.test.labels.tolist() == [0, 1, 2]


def test_names_and_ids_may_be_mixed_in_one_file(tmp_path):
    folder = make_folder(tmp_path / "d", dev=DEV, test=TEST)
    write(folder / "train.csv", "text,label\n央行宣布降准,财经\n北京房价,1\n沪指收涨,股票\n")
    assert load_folder(folder).train.labels.tolist() == [0, 1, 2]


def test_label_ids_are_inferred_in_numeric_order_without_a_label_file(tmp_path):
    train = [("央行宣布降准", 0), ("北京房价", 10), ("沪指收涨", 2)]
    folder = make_folder(tmp_path / "d", train=train, dev=[("外汇储备", 1)], test=[("港股反弹", 2)], labels=None)
    task = load_folder(folder)
    assert task.label_names == [str(i) for i in range(11)]  # 0..10, not '0', '1', '10', '2'
    assert task.train.labels.tolist() == [0, 10, 2]
    assert "labels" not in task.files


def test_label_names_are_inferred_sorted_from_every_split_without_a_label_file(tmp_path):
    folder = tmp_path / "d"
    write(folder / "train.csv", "text,label\n央行宣布降准,finance\n沪指收涨,stocks\n")
    write(folder / "dev.csv", "text,label\n北京房价,realty\n")
    write(folder / "test.csv", "text,label\n体育新闻,sports\n")  # a label only the test split has
    task = load_folder(folder)
    assert task.label_names == ["finance", "realty", "sports", "stocks"]
    assert task.train.labels.tolist() == [0, 3]
    assert task.test.labels.tolist() == [2]


def balanced_rows(counts: list[int]) -> list[tuple[str, int]]:
    return [(f"类{label}第{i}条标题", label) for label, count in enumerate(counts) for i in range(count)]


def test_a_folder_without_dev_carves_a_stratified_deterministic_dev(tmp_path):
    train = balanced_rows([40, 30, 30])
    folder = make_folder(tmp_path / "d", train=train, test=TEST)
    task = load_folder(folder, dev_split=0.1, split_seed=1)
    # Class balance preserved: 10% of each class.
    assert np.bincount(task.dev.labels, minlength=3).tolist() == [4, 3, 3]
    assert np.bincount(task.train.labels, minlength=3).tolist() == [36, 27, 27]
    # No overlap, nothing lost, and the pairs (text, label) are the original ones.
    original = set(train)
    kept = set(zip(task.train.texts, task.train.labels.tolist(), strict=True))
    held = set(zip(task.dev.texts, task.dev.labels.tolist(), strict=True))
    assert not kept & held
    assert kept | held == original
    # The kept part keeps file order.
    position = {text: i for i, (text, _) in enumerate(train)}
    assert [position[t] for t in task.train.texts] == sorted(position[t] for t in task.train.texts)
    assert "seed 1" in task.dev.source
    # The same seed gives the same split; another seed another.
    again = load_folder(folder, dev_split=0.1, split_seed=1)
    assert again.dev.texts == task.dev.texts and again.train.texts == task.train.texts
    other = load_folder(folder, dev_split=0.1, split_seed=2)
    assert set(other.dev.texts) != set(task.dev.texts)
    assert np.bincount(other.dev.labels, minlength=3).tolist() == [4, 3, 3]
    assert "dev" not in task.files


def test_the_carved_fraction_follows_dev_split(tmp_path):
    folder = make_folder(tmp_path / "d", train=balanced_rows([40, 30, 30]), test=TEST)
    task = load_folder(folder, dev_split=0.2)
    assert np.bincount(task.dev.labels, minlength=3).tolist() == [8, 6, 6]


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_a_dev_split_outside_0_1_is_refused(tmp_path, fraction):
    folder = make_folder(tmp_path / "d", train=balanced_rows([10, 10, 10]), test=TEST)
    message = error_message(load_folder, folder, dev_split=fraction)
    assert message == f"--dev-split must lie between 0 and 1, got {fraction}"


def test_the_mini_protocol_trains_on_dev_with_a_held_out_part_and_leaves_test_alone(tmp_path):
    dev = balanced_rows([10, 10, 10])
    test = [("外汇储备规模稳定", 0), ("新楼盘开盘即售罄", 1), ("港股科技股反弹", 2), ("创业板指数大跌", 2)]
    folder = make_folder(tmp_path / "d", dev=dev, test=test)  # no train file
    task = load_folder(folder, "mini", dev_split=0.1, split_seed=1)
    assert task.protocol == "mini"
    assert len(task.train.texts) == 27 and len(task.dev.texts) == 3
    assert np.bincount(task.dev.labels, minlength=3).tolist() == [1, 1, 1]
    kept = set(zip(task.train.texts, task.train.labels.tolist(), strict=True))
    held = set(zip(task.dev.texts, task.dev.labels.tolist(), strict=True))
    assert not kept & held and kept | held == set(dev)
    assert task.test.texts == [t for t, _ in test]
    assert task.test.labels.tolist() == [0, 1, 2, 2]
    assert set(task.files) == {"dev", "test", "labels"}
    assert str(folder / "dev.txt") in task.train.source and str(folder / "dev.txt") in task.dev.source


def test_an_unknown_protocol_is_refused(tmp_path):
    folder = make_folder(tmp_path / "d", train=TRAIN, dev=DEV, test=TEST)
    message = error_message(load_folder, folder, "tiny")
    assert "--protocol tiny: d offers full, mini, one-file, smoke" in message


# --- summarize ----------------------------------------------------------------------------------------------


def count_rows(summary: str) -> dict[str, list[int]]:
    """name -> [train, dev, test] from the class table."""
    table = {}
    for line in summary.splitlines()[2:]:
        parts = line.split()
        if len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
            table[parts[0]] = [int(p) for p in parts[1:]]
    return table


def test_summarize_counts_classes_and_reports_texts_shared_between_splits(tmp_path):
    train = [("央行宣布降准", 0), ("北京房价回升", 1), ("沪指收涨", 2), ("重复的标题", 0), ("人民币汇率", 0)]
    dev = [("房贷利率下调", 1), ("沪指收涨", 2)]
    test = [("重复的标题", 0), ("外汇储备稳定", 0), ("港股反弹", 1)]
    folder = make_folder(tmp_path / "news", train=train, dev=dev, test=test)
    summary = summarize(load_folder(folder))
    lines = summary.splitlines()
    assert lines[0] == "news (full protocol), 3 classes"
    assert count_rows(summary) == {"财经": [3, 0, 2], "房产": [1, 1, 1], "股票": [1, 1, 0], "total": [5, 2, 3]}
    assert "  1 texts appear in both train and dev (e.g. '沪指收涨')" in lines
    assert "  1 texts appear in both train and test (e.g. '重复的标题')" in lines
    assert not any("both dev and test" in line for line in lines)
    assert "  warning: no test examples of 股票" in lines
    assert not any("no dev examples" in line for line in lines)  # a small dev may lack a class


def test_summarize_says_nothing_of_duplicates_when_there_are_none(tmp_path):
    folder = make_folder(tmp_path / "news", train=TRAIN, dev=DEV, test=TEST)
    summary = summarize(load_folder(folder))
    assert "appear in both" not in summary and "warning" not in summary
    assert count_rows(summary)["total"] == [4, 2, 3]


def test_the_runs_of_a_queue_share_a_task_read_once_until_a_file_changes(tmp_path):
    from conftest import settings

    from benchmark.data.load import read_splits

    folder = make_folder(
        tmp_path / "data",
        train=[("央行宣布降准", 0), ("北京房价回升", 1), ("股市大涨", 2)] * 4,
        dev=[("外汇储备稳定", 0), ("楼市成交", 1), ("券商走强", 2)],
        test=[("汇率企稳", 0), ("地价上涨", 1), ("个股分化", 2)],
    )
    first = read_splits(settings("bert", data_dir=str(folder), seed=1))
    assert read_splits(settings("ernie", data_dir=str(folder), seed=2)) is first, "another backbone and seed"
    assert read_splits(settings("bert", data_dir=str(folder), dedupe=True)) is not first, "another data setting"
    test_file = folder / "test.txt"
    test_file.write_text(test_file.read_text(encoding="utf-8") + "新增一行\t2\n", encoding="utf-8")
    again = read_splits(settings("bert", data_dir=str(folder), seed=1))
    assert again is not first and len(again.test.texts) == 4, "a changed file is read again"


def test_a_folder_holding_one_labelled_file_carves_test_and_dev_from_it_and_pins_the_carve(tmp_path):
    """Data as it usually comes: one CSV and nothing else. Test, then dev, are carved from it, stratified, from a
    fixed seed; the carve is recorded beside the file and checked on every later load."""
    rows = [(f"第{i}条评论内容", ("好评", "差评", "中评")[i % 3]) for i in range(90)]
    folder = tmp_path / "reviews"
    write(folder / "reviews.csv", "text,label\n" + "".join(f"{text},{label}\n" for text, label in rows))
    task = load_folder(folder)
    assert task.protocol == "one-file" and task.label_names == ["中评", "好评", "差评"]
    assert (len(task.train.texts), len(task.dev.texts), len(task.test.texts)) == (72, 9, 9)
    for split in (task.dev, task.test):  # stratified: every class in each carved part
        assert sorted(np.bincount(split.labels).tolist()) == [3, 3, 3]
    assert not set(task.test.texts) & (set(task.train.texts) | set(task.dev.texts))
    record = folder / "reviews.csv.split.json"
    [(key, recorded)] = json.loads(record.read_text(encoding="utf-8")).items()
    assert key == "--split-seed 1 --test-split 0.1 --dev-split 0.1"
    assert recorded["sizes"] == {"train": 72, "dev": 9, "test": 9}
    assert task.files["split"]["path"] == str(record) and "held out, seed 1" in task.files["test"]["path"]

    again = load_folder(folder / "reviews.csv")  # the file itself as --data-dir: the same carve
    assert again.test.texts == task.test.texts and again.files["test"] == task.files["test"]
    other = load_folder(folder, test_split=0.2, split_seed=2)  # other settings: another carve, recorded beside
    assert len(other.test.texts) == 18 and len(json.loads(record.read_text(encoding="utf-8"))) == 2
    changed = {key: {**recorded, "sha256": {**recorded["sha256"], "test": "0" * 64}}}
    record.write_text(json.dumps(changed), encoding="utf-8")  # as if a library now shuffled otherwise
    assert "differs from the one recorded on the first load" in error_message(load_folder, folder)
    record.unlink()

    message = error_message(load_folder, folder, "full")
    assert "no test file, only reviews.csv; --protocol one-file" in message
