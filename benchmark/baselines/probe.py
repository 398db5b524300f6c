"""A linear probe: a frozen encoder's text vectors, computed once and cached, and a logistic regression on them.

This is how C-MTEB scores classification with sentence-embedding models (there on a few dozen examples per
label; here on the whole training split). The regression's weights are a linear layer, so a probe is saved and
served as an ordinary classifier whose encoder was never trained.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmark.data.encode import PaddingCollator, cache_root

C_GRID = (0.01, 0.1, 1.0, 10.0)  # inverse regularisation strengths tried, the one with the lowest dev loss kept
EMBED_BATCH = 64


def embed(model, dataset, pad_token_id: int, cache_key: str | None = None, padding_side: str = "right") -> np.ndarray:
    """The pooled vector of every text in `dataset` (an EncodedSplit), in its order, computed without gradients.

    With a `cache_key` (what the vectors depend on: weights, tokenizer, texts, length, pooling) they are kept in
    the cache folder and read from there the next time.
    """
    import torch

    path = embedding_path(cache_key) if cache_key else None
    if path is not None and path.is_file():
        return np.load(path, allow_pickle=False)
    collate = PaddingCollator(pad_token_id, padding_side=padding_side)
    device = next(model.parameters()).device
    order = np.argsort(dataset.lengths, kind="stable")  # little padding per batch; restored below
    vectors = None
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(dataset), EMBED_BATCH):
            rows = order[start : start + EMBED_BATCH]
            batch = collate([dataset[int(i)] for i in rows])
            pooled = model.embed(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu()
            if vectors is None:
                vectors = np.zeros((len(dataset), pooled.shape[1]), dtype=np.float32)
            vectors[rows] = pooled.numpy()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial.npy")
        with os.fdopen(handle, "wb") as file:
            np.save(file, vectors)
        os.replace(partial, path)  # whole or absent, whoever writes at the same time
    return vectors


def embedding_path(cache_key: str) -> Path:
    return cache_root() / "embeddings" / f"{cache_key}.npy"


def embedding_key(weights_files: list[Path], pooling: str, encoding_key: str) -> str:
    """What cached vectors depend on: the weight files (by path, size and time), the pooling and the encoding."""
    stamps = [f"{path.resolve()}:{path.stat().st_size}:{path.stat().st_mtime_ns}" for path in weights_files]
    return hashlib.sha256("|".join([*stamps, pooling, encoding_key]).encode()).hexdigest()[:32]


def fit_probe(
    train: np.ndarray, train_labels, dev: np.ndarray, dev_labels, num_labels: int, c_grid=C_GRID, log=print
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """A multinomial logistic regression per C; the weights and bias (one row per label id) of the one with the
    lowest dev cross-entropy, and one history point per C."""
    from sklearn.linear_model import LogisticRegression

    from benchmark.metrics import cross_entropy

    history, best = [], None
    for step, c in enumerate(c_grid, 1):
        regression = LogisticRegression(C=c, max_iter=1000).fit(train, train_labels)
        weight = np.zeros((num_labels, train.shape[1]), dtype=np.float32)
        bias = np.full(num_labels, -100.0, dtype=np.float32)  # a label absent from train is never predicted
        if len(regression.classes_) == 2:  # scikit-learn keeps one row for two classes: split it
            rows = np.stack([-regression.coef_[0] / 2, regression.coef_[0] / 2])
            offsets = np.array([-regression.intercept_[0] / 2, regression.intercept_[0] / 2])
        else:
            rows, offsets = regression.coef_, regression.intercept_
        weight[regression.classes_], bias[regression.classes_] = rows, offsets
        logits = dev @ weight.T + bias
        point = {
            "step": step,
            "C": c,
            "dev_loss": cross_entropy(logits, dev_labels),
            "dev_accuracy": float((logits.argmax(-1) == dev_labels).mean()),
        }
        history.append(point)
        log(f"probe: C={c:g}: dev loss {point['dev_loss']:.4f}, dev accuracy {point['dev_accuracy']:.4f}")
        if best is None or point["dev_loss"] < best[0]["dev_loss"]:
            best = (point, weight, bias)
    return best[1], best[2], history
