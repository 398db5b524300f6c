"""Scores of a set of predictions: scikit-learn's metrics, the test loss, and the report a person reads."""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, softmax


def score(gold: np.ndarray, predicted: np.ndarray, label_names: list[str]) -> dict:
    # Imported here: scikit-learn's 0.7 s of imports belong to scoring, not to every run's start-up.
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    averaged = {
        average: dict(
            zip(
                ("precision", "recall", "f1"),
                map(
                    float,
                    precision_recall_fscore_support(gold, predicted, labels=labels, average=average, zero_division=0)[
                        :3
                    ],
                ),
                strict=True,
            )
        )
        for average in ("macro", "weighted")
    }
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro": averaged["macro"],
        "weighted": averaged["weighted"],
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(label_names)
        },
        "confusion_matrix": confusion_matrix(gold, predicted, labels=labels).tolist(),
    }


def probabilities(logits: np.ndarray) -> np.ndarray:
    return softmax(logits.astype(np.float64), axis=-1)


def format_report(gold: np.ndarray, predicted: np.ndarray, label_names: list[str], header: str) -> str:
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(range(len(label_names)))
    report = classification_report(gold, predicted, labels=labels, target_names=label_names, digits=4, zero_division=0)
    matrix = confusion_matrix(gold, predicted, labels=labels)
    width = max(6, *(len(name) for name in label_names))
    cell = max(5, len(str(matrix.max())) + 1)
    short = [name[: cell - 1] for name in label_names]
    lines = [header, "", report, "Confusion matrix (rows: gold, columns: predicted)", ""]
    lines.append(" " * width + "".join(f"{name:>{cell}}" for name in short))
    for name, row in zip(label_names, matrix, strict=True):
        lines.append(f"{name:<{width}}" + "".join(f"{count:>{cell}}" for count in row))
    return "\n".join(lines) + "\n"


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the gold labels under softmax(logits)."""
    return float(-log_softmax(logits, axis=-1)[np.arange(len(labels)), labels].mean())


def macro_f1(gold: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over all `n_classes`; a class never seen nor predicted scores 0.

    This matches sklearn's `f1_score(..., labels=range(n_classes), average="macro", zero_division=0)`.
    """
    tp = np.bincount(gold[gold == predicted], minlength=n_classes)
    denominator = np.bincount(gold, minlength=n_classes) + np.bincount(predicted, minlength=n_classes)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(n_classes), where=denominator > 0)
    return float(f1.mean())
