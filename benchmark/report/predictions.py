"""Reading a run's `predictions.csv` for the leaderboard: every test example's gold and predicted label, validated
against the confusion matrix of the `metrics.json` beside it."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np

from benchmark.record import PREDICTION_COLUMNS
from benchmark.record import RecordError as Unusable


def read_predictions(path: Path, run):
    """The run (a `benchmark.report.runs.Run`) with its per-example answers, checked against its confusion matrix."""
    ids = {label: i for i, label in enumerate(run.labels)}
    texts, gold, predicted, probability = [], [], [], []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            if next(reader, None) != PREDICTION_COLUMNS:
                raise Unusable(f"header should be {','.join(PREDICTION_COLUMNS)}")
            for row in reader:
                if len(row) != 5 or row[0] != str(len(texts)):
                    raise Unusable(f"row {len(texts) + 1} is malformed or out of order")
                if row[2] not in ids or row[3] not in ids:
                    raise Unusable(f"row {len(texts) + 1} names a label not in task.labels")
                if not 0 <= float(row[4]) <= 1:
                    raise Unusable(f"row {len(texts) + 1} has a probability outside [0, 1]")
                texts.append(row[1])
                gold.append(ids[row[2]])
                predicted.append(ids[row[3]])
                probability.append(float(row[4]))
    except FileNotFoundError:
        raise Unusable("missing") from None
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as error:
        raise Unusable(f"unreadable ({error})") from None
    gold_ids, predicted_ids = np.array(gold, dtype=np.int64), np.array(predicted, dtype=np.int64)
    k = len(run.labels)
    rebuilt = np.bincount(gold_ids * k + predicted_ids, minlength=k * k).reshape(k, k)
    if not np.array_equal(rebuilt, run.confusion):
        raise Unusable("disagrees with the confusion matrix in metrics.json (from another run?)")
    return dataclasses.replace(
        run, texts=tuple(texts), gold=gold_ids, predicted=predicted_ids, probability=np.array(probability)
    )
