"""Predict a dataset with the trainer, in file order, with little padding (the scores are benchmark.metrics)."""

from __future__ import annotations

import time

import numpy as np

from benchmark.data.encode import EncodedSplit


def length_order(dataset: EncodedSplit) -> np.ndarray:
    """Example indices shortest first: batches cut from this order carry almost no padding."""
    return np.argsort(dataset.lengths, kind="stable")


def predict_logits(trainer, dataset: EncodedSplit) -> tuple[np.ndarray, float, float]:
    """Logits in the dataset's own order, the mean loss, and examples per second.

    Batches are formed from length-sorted examples, so little compute goes to
    padding; the logits are put back in file order afterwards.
    """
    order = length_order(dataset)
    started = time.perf_counter()
    output = trainer.predict(dataset.subset(order), metric_key_prefix="test")
    seconds = time.perf_counter() - started
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    restored = np.empty_like(logits)
    restored[order] = logits
    return restored, float(output.metrics["test_loss"]), len(dataset) / seconds
