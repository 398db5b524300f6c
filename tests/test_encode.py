"""Batched tokenisation, the on-disk cache and the padding collator, with a tiny BERT tokenizer built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertTokenizerFast

from benchmark.data import encode
from benchmark.data.encode import EncodedSplit, PaddingCollator, cache_key, encode_split

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CHARS = list("央行宣布降准北京房价回升沪指收涨券商股领人民币汇率创新高")
PAD, UNK, CLS, SEP = 0, 1, 2, 3
TEXTS = ["央行宣布降准", "北京房价回升", "沪指收涨 券商股领涨", "人民币汇率创新高", "Stocks 涨"]
LABELS = np.array([0, 1, 2, 0, 2])


def char_id(char: str) -> int:
    return len(SPECIAL) + CHARS.index(char)


def make_tokenizer(folder: Path, extra: tuple[str, ...] = ()) -> BertTokenizerFast:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(SPECIAL + CHARS + list(extra)) + "\n", encoding="utf-8")
    return BertTokenizerFast.from_pretrained(str(folder))


@pytest.fixture
def tokenizer(tmp_path):
    return make_tokenizer(tmp_path / "tokenizer")


def test_the_tokenizer_is_the_expected_character_tokenizer(tokenizer):
    # A literal check, so the comparisons below are not a tokenizer compared with itself only.
    ids = tokenizer("央行宣布降准")["input_ids"]
    assert ids == [CLS] + [char_id(c) for c in "央行宣布降准"] + [SEP]
    assert tokenizer.pad_token_id == PAD


@pytest.mark.parametrize("cached", [False, True])
def test_encode_split_equals_tokenising_each_text(tokenizer, tmp_path, cached):
    dataset = encode_split(tokenizer, TEXTS, LABELS, max_length=32, cache_dir=tmp_path / "cache" if cached else None)
    assert len(dataset) == len(TEXTS)
    for i, text in enumerate(TEXTS):
        expected = tokenizer(text, truncation=True, max_length=32)["input_ids"]
        item = dataset[i]
        assert item["input_ids"].tolist() == expected
        assert item["labels"] == int(LABELS[i])
    assert dataset[0]["input_ids"].tolist() == [CLS] + [char_id(c) for c in "央行宣布降准"] + [SEP]
    assert dataset[4]["input_ids"].tolist() == [CLS, UNK, char_id("涨"), SEP]  # 'stocks' is not in the vocab
    assert dataset.lengths.tolist() == [8, 8, 11, 10, 4]


def test_truncation_at_max_length_keeps_cls_and_sep(tokenizer):
    dataset = encode_split(tokenizer, TEXTS, LABELS, max_length=5, cache_dir=None)
    assert dataset.lengths.tolist() == [5, 5, 5, 5, 4]
    assert dataset[3]["input_ids"].tolist() == [CLS] + [char_id(c) for c in "人民币"] + [SEP]
    for i in range(len(TEXTS)):
        ids = dataset[i]["input_ids"].tolist()
        assert ids[0] == CLS and ids[-1] == SEP


class Spy:
    """Stands in for `encode.tokenize`, counting calls."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


def test_the_disk_cache_returns_identical_arrays_without_tokenising_again(tokenizer, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    spy = Spy(encode.tokenize)
    monkeypatch.setattr(encode, "tokenize", spy)
    first = encode_split(tokenizer, TEXTS, LABELS, max_length=16, cache_dir=cache)
    assert spy.calls == 1
    assert [p.suffix for p in cache.iterdir()] == [".npz"]  # one entry, no temporary file left behind
    other_labels = np.array([2, 2, 1, 1, 0])
    second = encode_split(tokenizer, TEXTS, other_labels, max_length=16, cache_dir=cache)
    assert spy.calls == 1  # read from disk
    assert np.array_equal(second.ids, first.ids) and second.ids.dtype == first.ids.dtype
    assert np.array_equal(second.offsets, first.offsets) and second.offsets.dtype == first.offsets.dtype
    assert second.labels.tolist() == [2, 2, 1, 1, 0]  # labels are the caller's, not cached
    assert len(list(cache.iterdir())) == 1


def test_a_new_tokenizer_object_reads_the_cache_of_an_earlier_run(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    encode_split(make_tokenizer(tmp_path / "tok"), TEXTS, LABELS, max_length=16, cache_dir=cache)
    spy = Spy(encode.tokenize)
    monkeypatch.setattr(encode, "tokenize", spy)
    again = encode_split(make_tokenizer(tmp_path / "tok"), TEXTS, LABELS, max_length=16, cache_dir=cache)
    assert spy.calls == 0
    assert again[2]["input_ids"][0] == CLS


def test_a_second_call_with_a_fresh_tokenizer_does_not_tokenise_again(tokenizer, tmp_path, monkeypatch):
    spy = Spy(encode.tokenize)
    monkeypatch.setattr(encode, "tokenize", spy)
    encode_split(tokenizer, TEXTS, LABELS, max_length=16, cache_dir=tmp_path / "cache")
    encode_split(tokenizer, TEXTS, LABELS, max_length=16, cache_dir=tmp_path / "cache")
    assert spy.calls == 1


def test_the_cache_key_depends_on_max_length_tokenizer_and_texts(tmp_path):
    base = make_tokenizer(tmp_path / "a")
    same = make_tokenizer(tmp_path / "b")
    bigger = make_tokenizer(tmp_path / "c", extra=("体",))
    key = cache_key(base, 32, TEXTS)
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
    assert cache_key(same, 32, TEXTS) == key  # the same vocabulary from another folder
    assert cache_key(base, 64, TEXTS) != key
    assert cache_key(bigger, 32, TEXTS) != key
    assert cache_key(base, 32, TEXTS[:-1]) != key
    assert cache_key(base, 32, TEXTS[::-1]) != key


def test_a_different_max_length_is_a_different_cache_entry(tokenizer, tmp_path):
    cache = tmp_path / "cache"
    long = encode_split(tokenizer, TEXTS, LABELS, max_length=32, cache_dir=cache)
    short = encode_split(tokenizer, TEXTS, LABELS, max_length=5, cache_dir=cache)
    assert short.lengths.tolist() == [5, 5, 5, 5, 4] and long.lengths.tolist() == [8, 8, 11, 10, 4]


def test_texts_that_differ_only_in_where_a_newline_falls_have_different_keys(tokenizer):
    assert cache_key(tokenizer, 32, ["央行\n", "降准"]) != cache_key(tokenizer, 32, ["央行", "\n降准"])


def test_subset_reorders_ids_offsets_and_labels(tokenizer):
    dataset = encode_split(tokenizer, TEXTS, LABELS, max_length=32, cache_dir=None)
    order = np.array([2, 0, 4, 3, 1])
    reordered = dataset.subset(order)
    assert isinstance(reordered, EncodedSplit) and len(reordered) == 5
    for position, i in enumerate(order):
        assert reordered[position]["input_ids"].tolist() == dataset[i]["input_ids"].tolist()
        assert reordered[position]["labels"] == int(LABELS[i])
    assert reordered.lengths.tolist() == [11, 8, 4, 10, 8]
    assert reordered.offsets.tolist() == [0, 11, 19, 23, 33, 41]
    sorted_by_length = dataset.subset(np.argsort(dataset.lengths, kind="stable"))
    assert sorted_by_length.lengths.tolist() == [4, 8, 8, 10, 11]
    assert sorted_by_length.labels.tolist() == [2, 0, 1, 0, 2]
    assert len(dataset.subset(np.array([], dtype=np.int64))) == 0


def features(*rows: list[int]) -> list[dict]:
    return [{"input_ids": np.array(row, dtype=np.int32), "labels": label} for label, row in enumerate(rows)]


def test_padding_collator_pads_to_the_longest_and_masks_the_pads():
    batch = PaddingCollator(pad_token_id=9)(features([2, 5, 3], [2, 5, 6, 7, 3], [2, 3]))
    assert batch["input_ids"].tolist() == [[2, 5, 3, 9, 9], [2, 5, 6, 7, 3], [2, 3, 9, 9, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert batch["labels"].tolist() == [0, 1, 2]
    assert all(t.dtype == torch.long for t in batch.values())


def test_padding_collator_pads_to_a_fixed_length():
    batch = PaddingCollator(pad_token_id=0, fixed_length=8)(features([2, 5, 3], [2, 3]))
    assert batch["input_ids"].tolist() == [[2, 5, 3, 0, 0, 0, 0, 0], [2, 3, 0, 0, 0, 0, 0, 0]]
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 2]


def test_padding_collator_rounds_up_to_a_multiple():
    batch = PaddingCollator(pad_token_id=0, multiple_of=4)(features([2, 5, 6, 7, 3], [2, 3]))
    assert tuple(batch["input_ids"].shape) == (2, 8)
    assert batch["attention_mask"].tolist()[0] == [1, 1, 1, 1, 1, 0, 0, 0]


def test_padding_collator_on_encoded_items(tokenizer):
    dataset = encode_split(tokenizer, TEXTS, LABELS, max_length=32, cache_dir=None)
    batch = PaddingCollator(tokenizer.pad_token_id)([dataset[i] for i in range(len(dataset))])
    assert tuple(batch["input_ids"].shape) == (5, 11)
    assert batch["attention_mask"].sum(dim=1).tolist() == dataset.lengths.tolist()
    assert batch["input_ids"][4].tolist() == [CLS, UNK, char_id("涨"), SEP] + [PAD] * 7
