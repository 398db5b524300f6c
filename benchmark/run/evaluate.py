"""Score the test set: scikit-learn metrics, a report a person reads, and per-example predictions."""

from __future__ import annotations

import time

import numpy as np
from scipy.special import softmax
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
)

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


def score(gold: np.ndarray, predicted: np.ndarray, label_names: list[str]) -> dict:
    labels = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    averaged = {
        average: dict(zip(("precision", "recall", "f1"),
                          map(float, precision_recall_fscore_support(gold, predicted, labels=labels,
                                                                     average=average, zero_division=0)[:3]),
                          strict=True))
        for average in ("macro", "weighted")
    }
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro": averaged["macro"],
        "weighted": averaged["weighted"],
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(label_names)
        },
        "confusion_matrix": confusion_matrix(gold, predicted, labels=labels).tolist(),
    }


def probabilities(logits: np.ndarray) -> np.ndarray:
    return softmax(logits.astype(np.float64), axis=-1)


def format_report(gold: np.ndarray, predicted: np.ndarray, label_names: list[str], header: str) -> str:
    labels = list(range(len(label_names)))
    report = classification_report(gold, predicted, labels=labels, target_names=label_names, digits=4,
                                   zero_division=0)
    matrix = confusion_matrix(gold, predicted, labels=labels)
    width = max(6, *(len(name) for name in label_names))
    cell = max(5, len(str(matrix.max())) + 1)
    short = [name[:cell - 1] for name in label_names]
    lines = [header, "", report, "Confusion matrix (rows: gold, columns: predicted)", ""]
    lines.append(" " * width + "".join(f"{name:>{cell}}" for name in short))
    for name, row in zip(label_names, matrix, strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{count:>{cell}}" for count in row))
    return "\n".join(lines) + "\n"
