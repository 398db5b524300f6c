"""`score` and `format_report` against values worked out by hand, and against scikit-learn."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from benchmark.metrics import format_report, score

NAMES = ["财经", "房产", "股票"]
GOLD = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
PRED = np.array([0, 0, 0, 1, 1, 1, 1, 2, 0, 2])
# Confusion matrix, rows gold, columns predicted:
#   gold 0: [3, 1, 0]   gold 1: [0, 3, 0]   gold 2: [1, 0, 2]
#   predicted column totals 4, 4, 2; gold supports 4, 3, 3.
HAND = {
    "accuracy": 8 / 10,
    "per_class": {
        "财经": {"precision": 3 / 4, "recall": 3 / 4, "f1": 3 / 4, "support": 4},
        "房产": {"precision": 3 / 4, "recall": 3 / 3, "f1": 6 / 7, "support": 3},  # 2·(3/4)·1 / (7/4)
        "股票": {"precision": 2 / 2, "recall": 2 / 3, "f1": 4 / 5, "support": 3},  # 2·1·(2/3) / (5/3)
    },
    "macro": {"precision": 5 / 6, "recall": 29 / 36, "f1": 337 / 420},  # means of the three per-class values
    "weighted": {"precision": 33 / 40, "recall": 8 / 10, "f1": 279 / 350},  # weights 4, 3, 3 over 10
    "confusion_matrix": [[3, 1, 0], [0, 3, 0], [1, 0, 2]],
}


def test_score_matches_the_hand_computed_values():
    result = score(GOLD, PRED, NAMES)
    assert result["accuracy"] == pytest.approx(HAND["accuracy"], abs=1e-12)
    assert list(result["per_class"]) == NAMES
    for name, expected in HAND["per_class"].items():
        got = result["per_class"][name]
        assert got["support"] == expected["support"]
        for key in ("precision", "recall", "f1"):
            assert got[key] == pytest.approx(expected[key], abs=1e-12), (name, key)
    for average in ("macro", "weighted"):
        assert set(result[average]) == {"precision", "recall", "f1"}
        for key in ("precision", "recall", "f1"):
            assert result[average][key] == pytest.approx(HAND[average][key], abs=1e-12), (average, key)
    assert result["confusion_matrix"] == HAND["confusion_matrix"]


def test_score_equals_scikit_learns_functions():
    result = score(GOLD, PRED, NAMES)
    assert result["accuracy"] == accuracy_score(GOLD, PRED)
    for average in ("macro", "weighted"):
        assert result[average]["precision"] == pytest.approx(precision_score(GOLD, PRED, average=average))
        assert result[average]["recall"] == pytest.approx(recall_score(GOLD, PRED, average=average))
        assert result[average]["f1"] == pytest.approx(f1_score(GOLD, PRED, average=average))
    per_class_f1 = f1_score(GOLD, PRED, average=None)
    assert [result["per_class"][n]["f1"] for n in NAMES] == pytest.approx(per_class_f1.tolist())
    assert result["confusion_matrix"] == confusion_matrix(GOLD, PRED).tolist()


def test_score_is_plain_json():
    result = score(GOLD, PRED, NAMES)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert type(result["per_class"]["财经"]["support"]) is int
    assert type(result["macro"]["f1"]) is float


def test_a_class_never_predicted_scores_zero_not_nan_and_warns_nothing():
    gold = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 1, 1, 0])  # class 2 is never predicted
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an UndefinedMetricWarning would fail the test
        result = score(gold, pred, NAMES)
    assert result["per_class"]["股票"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    # 财经: P 2/3, R 1, F1 4/5; 房产: P 2/3, R 1, F1 4/5; 股票: 0.
    assert result["macro"]["precision"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert result["macro"]["f1"] == pytest.approx((4 / 5 + 4 / 5 + 0) / 3)
    flat = [v for block in ("macro", "weighted") for v in result[block].values()]
    flat += [v for per in result["per_class"].values() for v in per.values()]
    assert not any(math.isnan(v) for v in flat)


def test_a_class_absent_from_gold_and_predictions_still_has_a_row_and_a_column():
    names = NAMES + ["体育"]
    result = score(GOLD, PRED, names)
    assert result["per_class"]["体育"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert result["confusion_matrix"] == [row + [0] for row in HAND["confusion_matrix"]] + [[0, 0, 0, 0]]


def test_confusion_matrix_rows_are_gold_and_columns_predicted():
    gold = np.array([0, 0, 0, 1])
    pred = np.array([1, 1, 2, 1])
    matrix = score(gold, pred, NAMES)["confusion_matrix"]
    assert matrix == [[0, 2, 1], [0, 1, 0], [0, 0, 0]]  # the transpose would be [[0,0,0],[2,1,0],[1,0,0]]


def matrix_rows(report: str, names: list[str]) -> dict[str, list[int]]:
    lines = report.splitlines()
    start = lines.index("Confusion matrix (rows: gold, columns: predicted)")
    rows = {}
    for line in lines[start + 3 : start + 3 + len(names)]:
        name, *counts = line.split()
        rows[name] = [int(c) for c in counts]
    return rows


def test_format_report_holds_the_header_every_label_and_the_matrix_counts():
    report = format_report(GOLD, PRED, NAMES, "bert on thucnews (full), seed 1")
    assert report.startswith("bert on thucnews (full), seed 1\n")
    for name in NAMES:
        assert name in report
    assert matrix_rows(report, NAMES) == dict(zip(NAMES, HAND["confusion_matrix"], strict=True))
    # The classification report with four digits: 股票 has precision 1, recall 2/3, F1 0.8, support 3.
    assert any(line.split() == ["股票", "1.0000", "0.6667", "0.8000", "3"] for line in report.splitlines())
    assert any(line.split()[:2] == ["accuracy", "0.8000"] for line in report.splitlines())


def test_format_report_with_long_names_and_large_counts():
    names = ["finance_and_economy", "realty", "stocks"]
    gold = np.repeat([0, 1, 2], [1200, 30, 5])
    pred = gold.copy()
    pred[:7] = 2  # seven finance texts predicted as stocks
    report = format_report(gold, pred, names, "header")
    assert matrix_rows(report, names) == {
        "finance_and_economy": [1193, 0, 7],
        "realty": [0, 30, 0],
        "stocks": [0, 0, 5],
    }
