"""What the speed work relies on: the fast encoder gives the reference's ids, the cache gives the fresh arrays,
and the benchmark's pieces run. Correctness only; nothing here asserts a timing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.data import encode
from benchmark.data.encode import EncodedSplit, encode_split, tokenize
from benchmark.errors import HarnessError
from benchmark.loading.sources import TINY_SHAPE
from benchmark.perf import accuracy, memory, reference, speed, timing, workload
from benchmark.perf import report as speed_report
from benchmark.run.device import cpu_supports_bf16

LABELS = ["finance", "realty", "stocks"]
HEADLINES = [
    "央行宣布降准0.5个百分点",
    "北京二手房成交量环比回升",
    "沪指收涨1.2% 券商股领涨",
    "iPhone 15 国行售价公布",
    "ＮＢＡ常规赛：湖人胜勇士",
    "「独家」某银行理财产品调整",
    "房贷利率下调 [SEP] 首套房",
    "Café新品上市",
    "A股三大指数集体高开，创业板指涨超2%，两市成交额突破一万亿元大关，北向资金净买入超过五十亿元",
    "  前后有空格  ",
    "emoji😀表情",
    "混合English和中文123",
]


def write_data(folder: Path, per_class: int = 12) -> Path:
    """A tiny THUCNews-layout folder: dev.txt and test.txt of headline<TAB>label id, and class.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [f"{HEADLINES[i % len(HEADLINES)]}{i}\t{i % len(LABELS)}" for i in range(per_class * len(LABELS))]
    (folder / "dev.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "test.txt").write_text("\n".join(rows[:15]) + "\n", encoding="utf-8")
    (folder / "class.txt").write_text("\n".join(LABELS), encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def tiny_models(monkeypatch):
    """Every model here is tiny: the benchmark's quick shape and full-size vocabulary cost seconds per step."""
    monkeypatch.setattr(speed, "QUICK_SHAPE", TINY_SHAPE)
    monkeypatch.setattr(speed, "VOCAB_SIZE", 400)
    # One thread: tiny matrices gain nothing from two, and spinning threads crawl when other jobs load the CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tokenizer(tmp_path):
    return workload.build_tokenizer(HEADLINES[:6], tmp_path / "vocab")  # leaves some characters out: [UNK]s too


def flat_reference(examples) -> tuple[np.ndarray, np.ndarray]:
    return timing.reference_ids(examples)


@pytest.mark.parametrize("max_length", [32, 8])
def test_the_batched_encoder_gives_the_reference_encoders_ids(tokenizer, max_length):
    labels = np.arange(len(HEADLINES)) % 3
    examples = reference.encode_lines(tokenizer, HEADLINES, labels, pad_size=max_length)
    ids, lengths = flat_reference(examples)
    batched = encode_split(tokenizer, HEADLINES, labels, max_length, cache_dir=None)
    assert np.array_equal(batched.ids, ids) and batched.ids.dtype == np.int32
    assert np.array_equal(batched.lengths, lengths)
    for (padded, label, length, mask), i in zip(examples, range(len(HEADLINES)), strict=True):
        assert len(padded) == len(mask) == max_length  # the reference pads every line to the fixed length
        assert mask == [1] * length + [0] * (max_length - length)
        assert padded[length:] == [tokenizer.pad_token_id] * (max_length - length)
        assert label == labels[i]
        assert (
            batched[i]["input_ids"].tolist()
            == tokenizer(HEADLINES[i], truncation=True, max_length=max_length)["input_ids"]
        )
    assert lengths.max() == max_length  # the long headline was truncated, keeping [SEP]
    assert tokenizer.unk_token_id in batched.ids  # characters outside the vocabulary


def test_the_encoders_agree_on_real_headlines(shared_thucnews, tmp_path):
    lines = (shared_thucnews / "dev.txt").read_text(encoding="utf-8").splitlines()[:2000]
    texts = [line.rsplit("\t", 1)[0] for line in lines]
    tokenizer = workload.build_tokenizer(texts[:1000], tmp_path / "vocab")
    ids, lengths = flat_reference(reference.encode_lines(tokenizer, texts, np.zeros(len(texts))))
    batched = encode_split(tokenizer, texts, np.zeros(len(texts)), 32, cache_dir=None)
    assert np.array_equal(batched.ids, ids) and np.array_equal(batched.lengths, lengths)


def test_chunk_boundaries_do_not_change_the_ids(tokenizer, monkeypatch):
    whole = tokenize(tokenizer, HEADLINES, 16)
    monkeypatch.setattr(encode, "CHUNK_LINES", 5)  # 12 texts: chunks of 5, 5 and 2
    chunked = tokenize(tokenizer, HEADLINES, 16)
    assert all(np.array_equal(a, b) for a, b in zip(whole[:2], chunked[:2], strict=True)) and whole[2] == chunked[2]
    empty_ids, empty_offsets, _ = tokenize(tokenizer, [], 16)
    assert len(empty_ids) == 0 and empty_offsets.tolist() == [0]


def test_tokenize_leaves_the_tokenizers_settings_as_it_found_them(tokenizer):
    backend = tokenizer.backend_tokenizer
    backend.enable_padding(length=40, pad_id=0, pad_token="[PAD]")  # a caller's own padding must not leak in
    before = (backend.truncation, backend.padding)
    ids, offsets, _ = tokenize(tokenizer, HEADLINES, 16)
    assert (backend.truncation, backend.padding) == before
    assert np.diff(offsets).max() == 16  # truncated, and not padded to 40
    backend.no_padding()


def test_the_cached_encoding_equals_the_fresh_one(tokenizer, tmp_path):
    labels = np.arange(len(HEADLINES)) % 3
    fresh = encode_split(tokenizer, HEADLINES, labels, 32, cache_dir=None)
    written = encode_split(tokenizer, HEADLINES, labels, 32, cache_dir=tmp_path / "cache")
    read = encode_split(tokenizer, HEADLINES, labels, 32, cache_dir=tmp_path / "cache")
    for split in (written, read):
        assert np.array_equal(split.ids, fresh.ids) and split.ids.dtype == fresh.ids.dtype
        assert np.array_equal(split.offsets, fresh.offsets) and split.offsets.dtype == fresh.offsets.dtype
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_subset_gathers_the_same_ids_as_slicing_each_example():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 9, size=50)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    split = EncodedSplit(rng.integers(0, 100, size=offsets[-1]).astype(np.int32), offsets, np.arange(50))
    order = rng.permutation(50)[:30]
    picked = split.subset(order)
    for position, i in enumerate(order):
        assert picked[position]["input_ids"].tolist() == split[i]["input_ids"].tolist()
        assert picked[position]["labels"] == i
    assert picked.ids.dtype == np.int32


def test_the_reference_loop_and_the_harness_trainer_run_on_a_tiny_model(tokenizer, tmp_path):
    labels = np.arange(len(HEADLINES)) % 3
    examples = reference.encode_lines(tokenizer, HEADLINES, labels)
    dataset = encode_split(tokenizer, HEADLINES, labels, 32, cache_dir=None)
    config = workload.harness_config(batch_size=4, eval_batch_size=8, save_every=0, learning_rate=1e-3)

    model = workload.make_model(TINY_SHAPE, 3, seed=1)
    same = workload.make_model(TINY_SHAPE, 3, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), same.state_dict().values(), strict=True))
    assert min(timing.time_reference_train(model, examples, warm=1, steps=2, learning_rate=1e-3)) > 0
    assert min(timing.time_harness_train(same, dataset, dataset, config, warm=1, steps=2)) > 0

    model.eval()
    seconds, predicted_reference = timing.time_reference_eval(model, examples)
    sorted_seconds, in_order_seconds, predicted = timing.time_harness_eval(model, dataset, dataset, config)
    assert min(*seconds, *sorted_seconds, *in_order_seconds) > 0  # (wall, CPU) each
    # The same weights, padded differently and batched in another order, predict the same labels.
    assert predicted.tolist() == predicted_reference.tolist()


def test_the_reference_loop_restores_its_best_dev_weights(tokenizer, tmp_path):
    labels = np.arange(len(HEADLINES)) % 3
    examples = reference.encode_lines(tokenizer, HEADLINES, labels)
    model = workload.make_model(TINY_SHAPE, 3, seed=2)
    run = reference.train(
        model,
        examples,
        examples,
        steps=9,
        batch_size=4,
        eval_every=3,
        learning_rate=1e-3,
        checkpoint=tmp_path / "best.pt",
    )
    losses = {h["step"]: h["dev_loss"] for h in run["history"]}
    assert sorted(losses) == [3, 6, 9] and run["steps"] == 9
    assert run["best_step"] == min(losses, key=losses.get)
    assert reference.evaluate(model, examples, batch_size=4)[1] == pytest.approx(losses[run["best_step"]], abs=1e-5)


def test_padding_figures_count_the_positions_each_pipeline_computes(tokenizer, tmp_path):
    labels = np.arange(len(HEADLINES)) % 3
    dataset = encode_split(tokenizer, HEADLINES, labels, 32, cache_dir=None)
    config = workload.harness_config(batch_size=4, eval_batch_size=4, save_every=0)

    def trainer(train, evaluation, cfg):
        return workload.make_harness_trainer(
            workload.make_model(TINY_SHAPE, 3, 0), train, evaluation, cfg, str(tmp_path / "t")
        )

    figures = timing.padding_figures(dataset, dataset, config, trainer)
    real = dataset.lengths.sum()
    assert figures["train_reference"] == pytest.approx(32 * len(HEADLINES) / real)
    ordered = dataset.lengths
    by_hand = sum(ordered[i : i + 4].max() * len(ordered[i : i + 4]) for i in range(0, len(ordered), 4))
    assert figures["eval_file_order"] == pytest.approx(by_hand / real)
    assert 1 <= figures["eval_sorted"] <= figures["eval_file_order"]
    assert 1 <= figures["train_grouped"] <= figures["train_reference"]


def test_the_quick_benchmark_runs_end_to_end_on_a_few_lines(tmp_path, capsys):
    data_dir = write_data(tmp_path / "data")
    code = speed.main(
        [
            "--data-dir",
            str(data_dir),
            "--quick",
            "--lines",
            "300",
            "--repeats",
            "1",
            "--skip",
            "memory",
            "--train-steps",
            "1",
            "--reference-steps",
            "1",
            "--eval-examples",
            "10",
            "--json",
            str(tmp_path / "figures.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for row in ("encode, first", "encode, cached re-run", "train (examples/s)", "eval, test scoring"):
        assert row in out
    assert "cannot be downloaded here" in out and "repeated" in out
    assert "ids identical between the two encoders: True" in out
    assert (tmp_path / "figures.json").is_file()


def test_the_memory_probe_measures_an_encoding(tmp_path):
    data_dir = write_data(tmp_path / "data")
    for kind in ("encode-reference", "encode-harness"):
        found = memory.probe(kind, data_dir, "quick", lines=200, steps=1)
        assert found["lines"] == 200 and found["peak_mib"] >= found["before_mib"] > 0


def test_the_accuracy_check_trains_both_pipelines(tmp_path):
    data_dir = write_data(tmp_path / "data")
    task = workload.load_folder(data_dir)
    tokenizer = workload.build_tokenizer(task.train.texts + task.dev.texts, tmp_path / "vocab")

    class Args:
        accuracy_steps, learning_rate, seeds = 2, 1e-3, [1, 2]
        accuracy_arms = [arm for arm in accuracy.ARMS if arm != "harness-bf16" or cpu_supports_bf16()]

    result = accuracy.accuracy_check(task, tokenizer, Args)
    assert set(result["accuracy"]) == set(Args.accuracy_arms)
    assert all(len(values) == 2 and all(0 <= a <= 1 for a in values) for values in result["accuracy"].values())
    report = speed_report.format_accuracy(result)
    assert "harness - reference" in report and "harness-ungrouped - reference" in report


def test_a_missing_data_folder_is_a_clear_error(tmp_path, capsys):
    assert speed.main(["--data-dir", str(tmp_path / "nowhere"), "--quick"]) == 2
    message = capsys.readouterr().err
    assert "no THUCNews data" in message and "--data-dir" in message


def test_a_variant_changes_one_run_option_as_written_on_the_command_line():
    config = workload.harness_config()
    assert workload.variant_config(config, "precision=bf16").precision == "bf16"
    assert workload.variant_config(config, "eval_batch_size=256").eval_batch_size == 256
    assert workload.variant_config(config, "group-by-length=false").group_by_length is False
    assert workload.variant_config(config, None) is config
    with pytest.raises(HarnessError, match="FIELD=VALUE"):
        workload.variant_config(config, "no_such_option=1")
    with pytest.raises(HarnessError, match="expects a value of type int"):
        workload.variant_config(config, "eval_batch_size=many")


def test_a_mistyped_variant_fails_before_anything_is_measured(tmp_path, capsys):
    data_dir = write_data(tmp_path / "data")
    assert speed.main(["--data-dir", str(data_dir), "--quick", "--variants", "precison=bf16"]) == 2
    assert "FIELD=VALUE" in capsys.readouterr().err
