"""Tokenise whole splits in one batched call, cache the result on disk, and pad batches dynamically.

Token ids are stored flat with offsets (a ragged array) in a `.npz` read with
`allow_pickle=False`, keyed by the tokenizer, the maximum length and the texts,
so a second run over the same data reads ids instead of tokenising again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from transformers import PreTrainedTokenizerBase

DEFAULT_CACHE_DIR = Path(os.environ.get("BENCHMARK_CACHE", ".cache")) / "encodings"


class EncodedSplit(Dataset):
    """Token ids of one split as a ragged array; items are unpadded, the collator pads."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, labels: np.ndarray):
        self.ids, self.offsets, self.labels = ids, offsets, labels

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[self.offsets[i]: self.offsets[i + 1]], "labels": int(self.labels[i])}

    def subset(self, order: np.ndarray) -> EncodedSplit:
        """The same examples in another order (e.g. sorted by length for evaluation)."""
        lengths = self.lengths[order]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        pieces = [self.ids[self.offsets[i]: self.offsets[i + 1]] for i in order]
        ids = np.concatenate(pieces) if pieces else self.ids[:0]
        return EncodedSplit(ids, offsets, self.labels[order])


def _tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        description = repr(sorted(tokenizer.get_vocab().items()))
    else:
        # Truncation and padding settings change with every call; they are not part of what the tokenizer is.
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        description = json.dumps(state, sort_keys=True)
    return hashlib.sha256(description.encode()).hexdigest()


def cache_key(tokenizer: PreTrainedTokenizerBase, max_length: int, texts: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(_tokenizer_fingerprint(tokenizer).encode())
    digest.update(f"|{max_length}|{len(texts)}|".encode())
    for text in texts:
        encoded = text.encode()
        digest.update(len(encoded).to_bytes(8, "little"))  # lengths make the boundaries between texts unambiguous
        digest.update(encoded)
    return digest.hexdigest()[:32]


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """One batched call to the fast tokenizer; returns flat ids and offsets."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length, padding=False,
                        return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    lengths = np.fromiter((len(row) for row in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter((token for row in encoded for token in row), dtype=np.int32, count=int(offsets[-1]))
    return ids, offsets


def encode_split(tokenizer, texts: list[str], labels: np.ndarray, max_length: int,
                 cache_dir: Path | None = DEFAULT_CACHE_DIR) -> EncodedSplit:
    if cache_dir is None:
        return EncodedSplit(*tokenize(tokenizer, texts, max_length), labels)
    path = Path(cache_dir) / f"{cache_key(tokenizer, max_length, texts)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            return EncodedSplit(cached["ids"], cached["offsets"], labels)
    ids, offsets = tokenize(tokenizer, texts, max_length)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the final name, then rename: a killed run leaves no half-written cache entry.
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        np.savez(tmp, ids=ids, offsets=offsets)
    os.replace(tmp.name, path)
    return EncodedSplit(ids, offsets, labels)


class PaddingCollator:
    """Pads a batch to its longest example (or to a fixed length for static-shape runs)."""

    def __init__(self, pad_token_id: int, fixed_length: int | None = None, multiple_of: int | None = None):
        self.pad_token_id, self.fixed_length, self.multiple_of = pad_token_id, fixed_length, multiple_of

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(f["input_ids"]) for f in features)
        width = self.fixed_length or longest
        if self.multiple_of and not self.fixed_length:
            width = -(-width // self.multiple_of) * self.multiple_of
        input_ids = np.full((len(features), width), self.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(features), width), dtype=np.int64)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = feature["input_ids"]
            attention_mask[row, :n] = 1
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention_mask),
            "labels": torch.tensor([f["labels"] for f in features], dtype=torch.long),
        }
