"""Tokenise whole splits with the fast tokenizer's batch API, cache the result on disk, and pad batches dynamically.

Token ids are stored flat with offsets (a ragged array) in a `.npz` read with
`allow_pickle=False`, keyed by the tokenizer, the maximum length and the texts,
so a second run over the same data reads ids instead of tokenising again.
Tokenisation calls the Rust backend directly, a chunk of lines at a time, and
moves the ids into numpy without building attention masks, offsets or padded
rows the collator would throw away; docs/performance.md has the figures.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from transformers import PreTrainedTokenizerBase


def cache_root() -> Path:
    """Where the harness caches what it derives from inputs (encodings, generated checkpoints)."""
    return Path(os.environ.get("BENCHMARK_CACHE", ".cache"))


# Bump when the cached arrays or the key change meaning, so stale entries are never read.
CACHE_FORMAT = "3"
# Lines per call to the Rust tokenizer: enough to keep its thread pool busy, few enough that each call's
# encodings stay in cache. In a one-off check of 64 to 4,096, 128 and 256 were fastest and 4,096 slowest (a
# whole 180k-line split in one call slower still); transient memory does not grow with the split.
CHUNK_LINES = 256


class EncodedSplit(Dataset):
    """Token ids of one split as a ragged array; items are unpadded, the collator pads."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, labels: np.ndarray, truncated: int = 0):
        self.ids, self.offsets, self.labels = ids, offsets, labels
        self.truncated = truncated  # texts cut to the maximum length
        self.cached = False  # read from the encoding cache rather than tokenised

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[self.offsets[i] : self.offsets[i + 1]], "labels": int(self.labels[i])}

    def subset(self, order: np.ndarray) -> EncodedSplit:
        """The same examples in another order (e.g. sorted by length for evaluation)."""
        order = np.asarray(order, dtype=np.int64)
        lengths = self.lengths[order]
        offsets = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # One gather instead of a Python loop: token j of new example k comes from old offset + j.
        shift = np.repeat(self.offsets[:-1][order] - offsets[:-1], lengths)
        ids = self.ids[np.arange(offsets[-1], dtype=np.int64) + shift]
        return EncodedSplit(ids, offsets, self.labels[order], self.truncated)


def _tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        description = repr(sorted(tokenizer.get_vocab().items()))
    else:
        state = json.loads(backend.to_str())
        # Truncation and padding are left behind by the last call, not part of what the tokenizer is; keeping
        # them made a fresh tokenizer's key change after its first use.
        state.pop("truncation", None)
        state.pop("padding", None)
        description = json.dumps(state, sort_keys=True, ensure_ascii=False)
    # A wrapper setting that changes the ids tokenize() produces.
    extra = f"|{getattr(tokenizer, 'split_special_tokens', False)}"
    return hashlib.sha256((description + extra).encode()).hexdigest()


def cache_key(tokenizer: PreTrainedTokenizerBase, max_length: int, texts: list[str], truncation: str = "head") -> str:
    digest = hashlib.sha256()
    fingerprint = _tokenizer_fingerprint(tokenizer)
    digest.update(f"{CACHE_FORMAT}|{fingerprint}|{max_length}|{truncation}|{len(texts)}|".encode())
    # The lengths make the joined texts unambiguous: ["a\n", "b"] and ["a", "\nb"] join to the same bytes.
    digest.update(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)).tobytes())
    digest.update("\n".join(texts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


@contextlib.contextmanager
def _batch_settings(tokenizer: PreTrainedTokenizerBase, backend):
    """The backend set as `tokenizer(texts)` sets it without truncation or padding; restored afterwards."""
    truncation, padding = backend.truncation, backend.padding
    special = backend.encode_special_tokens
    backend.no_truncation()
    backend.no_padding()
    backend.encode_special_tokens = bool(getattr(tokenizer, "split_special_tokens", False))
    try:
        yield
    finally:
        backend.no_truncation() if truncation is None else backend.enable_truncation(**truncation)
        backend.no_padding() if padding is None else backend.enable_padding(**padding)
        backend.encode_special_tokens = special


def _ragged(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    ids = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32, count=int(lengths.sum()))
    return ids, lengths


def special_tokens_around(tokenizer: PreTrainedTokenizerBase, backend=None) -> tuple[int, int]:
    """How many special tokens the tokenizer puts before and after a text ([CLS] ... [SEP]: 1 and 1). With the
    Rust backend it asks the backend directly: the wrapper's own call would change the backend's settings."""
    if backend is not None:
        whole, bare = (backend.encode("中", add_special_tokens=flag).ids for flag in (True, False))
    else:
        whole, bare = (tokenizer("中", add_special_tokens=flag)["input_ids"] for flag in (True, False))
    start = next((i for i in range(len(whole) - len(bare) + 1) if whole[i : i + len(bare)] == bare), 0)
    return start, len(whole) - start - len(bare)


def truncate(ids: np.ndarray, offsets: np.ndarray, max_length: int, mode: str, around: tuple[int, int]):
    """Cut every text longer than `max_length` to it, keeping its special tokens: its head, its tail, or its
    head and tail (a quarter of the budget from the start, the rest from the end). Returns the ids, the
    offsets and how many texts were cut."""
    lengths = np.diff(offsets)
    long = lengths > max_length
    if not long.any():
        return ids, offsets, 0
    before, after = around
    budget = max_length - before - after
    head = {"head": budget, "tail": 0, "head+tail": budget // 4}[mode]
    kept_start = np.where(long, before + head, lengths)  # positions kept from the start of each text
    kept_end = np.where(long, max_length - before - head, 0)  # and from its end
    position = np.arange(len(ids)) - np.repeat(offsets[:-1], lengths)
    size = np.repeat(lengths, lengths)
    keep = (position < np.repeat(kept_start, lengths)) | (position >= size - np.repeat(kept_end, lengths))
    new_offsets = np.zeros_like(offsets)
    np.cumsum(np.minimum(lengths, max_length), out=new_offsets[1:])
    return ids[keep], new_offsets, int(long.sum())


def tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int, truncation: str = "head"
) -> tuple[np.ndarray, np.ndarray, int]:
    """Batched fast tokenisation, then truncation as `truncation` says; returns flat ids, offsets and the number
    of texts cut. With head truncation the ids are those `tokenizer(text, truncation=True, max_length=...)`
    gives."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pieces = []
    if backend is None:  # a tokenizer without a Rust backend: its own batched call
        for start in range(0, len(texts), CHUNK_LINES):
            rows = tokenizer(
                texts[start : start + CHUNK_LINES],
                padding=False,
                return_attention_mask=False,
                return_token_type_ids=False,
            )["input_ids"]
            pieces.append(_ragged(rows))
        around = special_tokens_around(tokenizer)
    else:
        # encode_batch_fast skips the character offsets nothing here reads (faster than encode_batch in a one-off
        # check with tokenizers 0.23).
        with _batch_settings(tokenizer, backend):
            around = special_tokens_around(tokenizer, backend)
            for start in range(0, len(texts), CHUNK_LINES):
                pieces.append(_ragged([e.ids for e in backend.encode_batch_fast(texts[start : start + CHUNK_LINES])]))
    ids = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, dtype=np.int32)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    if pieces:
        np.cumsum(np.concatenate([p[1] for p in pieces]), out=offsets[1:])
    return truncate(ids, offsets, max_length, truncation, around)


def encode_split(
    tokenizer,
    texts: list[str],
    labels: np.ndarray,
    max_length: int,
    cache_dir: Path | None | str = "default",
    truncation: str = "head",
) -> EncodedSplit:
    """The split's token ids, read from the cache (`cache_root()/encodings` by default; None: no cache)."""
    if cache_dir == "default":
        cache_dir = cache_root() / "encodings"
    if cache_dir is None:
        ids, offsets, truncated = tokenize(tokenizer, texts, max_length, truncation)
        return EncodedSplit(ids, offsets, labels, truncated=truncated)
    path = Path(cache_dir) / f"{cache_key(tokenizer, max_length, texts, truncation)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            split = EncodedSplit(cached["ids"], cached["offsets"], labels, truncated=int(cached["truncated"]))
        split.cached = True
        return split
    ids, offsets, truncated = tokenize(tokenizer, texts, max_length, truncation)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the final name, then rename: a killed run leaves no half-written cache entry.
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        np.savez(tmp, ids=ids, offsets=offsets, truncated=np.array(truncated))
    os.replace(tmp.name, path)
    return EncodedSplit(ids, offsets, labels, truncated=truncated)


class PaddingCollator:
    """Pads a batch to its longest example (or to a fixed length for static-shape runs), on the side the backbone
    declares (right unless it says left)."""

    def __init__(
        self,
        pad_token_id: int,
        fixed_length: int | None = None,
        multiple_of: int | None = None,
        padding_side: str = "right",
    ):
        self.pad_token_id, self.fixed_length, self.multiple_of = pad_token_id, fixed_length, multiple_of
        self.left = padding_side == "left"

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(f["input_ids"]) for f in features)
        width = self.fixed_length or longest
        if self.multiple_of and not self.fixed_length:
            width = -(-width // self.multiple_of) * self.multiple_of
        input_ids = np.full((len(features), width), self.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(features), width), dtype=np.int64)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            where = slice(width - n, width) if self.left else slice(0, n)
            input_ids[row, where] = feature["input_ids"]
            attention_mask[row, where] = 1
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention_mask),
            "labels": torch.tensor([f["labels"] for f in features], dtype=torch.long),
        }
