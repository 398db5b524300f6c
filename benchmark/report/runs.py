"""Reading run folders for the leaderboard: `<run>/metrics.json` and `predictions.csv`, validated.

Format: docs/results-format.md. A file that cannot be used is skipped with a warning naming it,
never fatal; `skip` records why for the "Skipped files" list.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from benchmark.config import OUTPUT_ONLY
from benchmark.record import ABSENT, RecordError, RunRecord, parse_record
from benchmark.report.predictions import read_predictions
from benchmark.report.trials import Tuning, parse_tuning

# The leaderboard's warnings keep one logger name whichever of its modules reports them.
log = logging.getLogger("benchmark.report.leaderboard")

# Config fields that do not make a run a different entry: the seed, whose runs are pooled, and
# fields that only say where things are or how the machine is used, not what is trained and measured.
NOT_SETTINGS = OUTPUT_ONLY | {
    "seed",
    "model",  # the backbone name, already the first half of a row's key
    "model_path",  # what was loaded is recorded as backbone.source, which also covers hub ids
    "data_dir",
    "text_col",
    "label_col",  # where the data lives and its columns; the test file's hash pins the data
}


# Why a results file cannot be used; the message is shown to the user.
Unusable = RecordError


@dataclass(frozen=True, eq=False)
class Run:
    """What the leaderboard needs from one run folder."""

    folder: str
    run_id: str
    smoke: bool
    backbone: str
    parameters: int | None
    dataset: str
    protocol: str
    test_sha256: str
    labels: tuple[str, ...]
    seed: int
    # Everything that makes a run of this backbone a different entry (see `settings_of`).
    settings: dict
    accuracy: float
    macro_f1: float
    per_class_f1: tuple[float, ...]  # in label order
    confusion: np.ndarray  # rows gold, columns predicted
    train_seconds: float | None
    wall_seconds: float  # the whole run, start-up to results (earlier records: from the run's start)
    train_examples_per_second: float | None
    eval_examples_per_second: float | None
    peak_memory_mb: float | None
    device: str
    history: tuple[dict, ...]
    best_step: int | None
    main_score: str = "accuracy"  # what its dataset's leaderboard is sorted by
    trainable_parameters: int | None = None  # fewer than `parameters` for LoRA and linear-probe runs
    # Milliseconds per 1,000 texts on the machine that ran it, one at a time and in batches of 64 (None: not timed).
    ms_per_1000_batch_1: float | None = None
    ms_per_1000_batch_64: float | None = None
    lowercase: bool | None = None  # whether the tokenizer lower-cased; None where not recorded
    # Why the run is listed but never ranked (incomplete pretrained weights, mostly [UNK], nothing trained); None
    # when it is.
    unranked: str | None = None
    # A tuning sweep's trial (never ranked: its dev score feeds the expected validation performance) or a run of the
    # settings a study chose (ranked apart from untuned runs); None for an untuned run.
    tuning: Tuning | None = None
    # Per test example, in test-file order; None for smoke runs, which are not compared.
    texts: tuple[str, ...] | None = None
    gold: np.ndarray | None = None  # label ids
    predicted: np.ndarray | None = None
    probability: np.ndarray | None = None

    @cached_property
    def result_fingerprint(self) -> bytes:
        """Equal exactly when two runs gave the same answer and probability on every test example."""
        return hashlib.sha256(self.predicted.tobytes() + self.probability.tobytes()).digest()

    @property
    def is_trial(self) -> bool:
        return self.tuning is not None and self.tuning.is_trial

    @property
    def settings_key(self) -> str:
        """The settings as compact JSON with sorted keys: equal exactly when the settings are."""
        return json.dumps(self.settings, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @property
    def settings_id(self) -> str:
        return hashlib.sha256(self.settings_key.encode("utf-8")).hexdigest()[:8]


def settings_of(
    config: dict,
    source: str,
    parameters: int | None,
    *,
    processes: int | None = None,
    data: dict[str, str] | None = None,
) -> dict:
    """The run's settings: its config minus NOT_SETTINGS, plus the model actually loaded and its size.

    When recorded, also the number of processes (with the per-device batch it fixes the effective
    batch) and the SHA-256 of each data file other than the test file, which already defines the group:
    the data folder's path is left out of the settings, what it held is not.
    """
    settings = {key: _canonical(value) for key, value in config.items() if key not in NOT_SETTINGS}
    # Dotted keys cannot clash with config fields, which are Python identifiers.
    settings["backbone.source"] = source
    settings["backbone.parameters"] = parameters
    if processes is not None:
        settings["environment.num_processes"] = processes
    for name, sha256 in (data or {}).items():
        settings[f"data.{name}"] = sha256
    return settings


def _data_hashes(files: dict) -> dict[str, str]:
    # Optional, like the environment: runs that do not record a file are compared without it.
    return {
        name: record["sha256"]
        for name, record in sorted(files.items())
        if name != "test" and isinstance(record, dict) and isinstance(record.get("sha256"), str)
    }


def _canonical(value: object) -> object:
    # `--epochs 3` may be saved as 3 or 3.0; JSON would tell them apart.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ---------------------------------------------------------------- metrics.json


def _labels(record: RunRecord) -> tuple[str, ...]:
    labels = record.task.labels
    if not labels or len(set(labels)) != len(labels):
        raise Unusable("field 'task.labels' should be a non-empty list of distinct names")
    return tuple(labels)


def _confusion(record: RunRecord, k: int) -> np.ndarray:
    rows = record.metrics.confusion_matrix
    if len(rows) != k or any(len(row) != k for row in rows) or any(v < 0 for row in rows for v in row):
        raise Unusable(f"field 'metrics.confusion_matrix' should be {k}×{k} counts, one row per label")
    return np.array(rows, dtype=np.int64)


def _per_class_f1(record: RunRecord, labels: tuple[str, ...]) -> tuple[float, ...]:
    values = []
    for label in labels:
        scores = record.metrics.per_class.get(label)
        f1 = scores.get("f1") if isinstance(scores, dict) else None
        if not isinstance(f1, int | float) or isinstance(f1, bool) or not math.isfinite(f1):
            raise Unusable(f"field 'metrics.per_class' has no F1 for label {label!r}")
        values.append(float(f1))
    return tuple(values)


def _test_sha256(record: RunRecord) -> str:
    test = record.task.files.get("test")
    if not isinstance(test, dict) or not isinstance(test.get("sha256"), str):
        raise Unusable("missing field 'task.files.test.sha256'")
    return test["sha256"]


def parse_metrics(data: object, folder: str) -> Run:
    record = parse_record(data)
    labels = _labels(record)
    confusion = _confusion(record, len(labels))
    accuracy = record.metrics.accuracy
    if confusion.sum() == 0 or abs(accuracy - np.trace(confusion) / confusion.sum()) > 1e-3:
        raise Unusable("metrics.accuracy disagrees with metrics.confusion_matrix")
    history = record.training.history
    if not all(isinstance(h.get("step"), int) for h in history):
        raise Unusable("field 'training.history' should be a list of records with an integer 'step'")
    environment, timing = record.environment, record.timing
    processes = environment.get("num_processes")
    if not isinstance(processes, int) or isinstance(processes, bool):
        processes = None  # optional, like the rest of the environment
    settings = settings_of(
        record.config,
        record.backbone.source,
        record.backbone.parameters,
        processes=processes,
        data=_data_hashes(record.task.files),
    )
    return Run(
        folder=folder,
        run_id=record.run_id,
        smoke=record.smoke or record.task.protocol == "smoke",
        backbone=record.backbone.name,
        parameters=record.backbone.parameters,
        dataset=record.task.dataset,
        protocol=record.task.protocol,
        test_sha256=_test_sha256(record),
        labels=labels,
        seed=record.seed,
        settings=settings,
        accuracy=accuracy,
        macro_f1=_macro_f1(record),
        per_class_f1=_per_class_f1(record, labels),
        confusion=confusion,
        train_seconds=timing.train_seconds,
        wall_seconds=timing.wall_seconds,
        train_examples_per_second=timing.train_examples_per_second,
        eval_examples_per_second=timing.eval_examples_per_second,
        peak_memory_mb=timing.peak_memory_mb,
        device=str(environment.get("device_name") or environment.get("device") or "unknown device"),
        history=tuple(history),
        best_step=record.training.best_step,
        unranked=_unranked(record),
        lowercase=_lowercase(record),
        trainable_parameters=_number(record.backbone.trainable_parameters, int),
        ms_per_1000_batch_1=_inference(record, "ms_per_1000_texts_batch_1"),
        ms_per_1000_batch_64=_inference(record, "ms_per_1000_texts_batch_64"),
        main_score=record.task.main_score if record.task.main_score in ("accuracy", "macro_f1") else "accuracy",
        tuning=None if record.tuning is ABSENT else parse_tuning(record.tuning),
    )


def _number(value: object, kind: type) -> float | int | None:
    """A recorded figure, or None where it is absent or not a finite number (optional fields never fail a run)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return kind(value)


def _inference(record: RunRecord, key: str) -> float | None:
    inference = record.timing.inference
    return _number(inference.get(key), float) if isinstance(inference, dict) else None


def _lowercase(record: RunRecord) -> bool | None:
    tokenization = record.tokenization if isinstance(record.tokenization, dict) else {}
    value = tokenization.get("lowercase")
    return value if isinstance(value, bool) else None


def _macro_f1(record: RunRecord) -> float:
    f1 = record.metrics.macro.get("f1")
    if not isinstance(f1, int | float) or isinstance(f1, bool) or not math.isfinite(f1):
        raise Unusable(f"field 'metrics.macro.f1' should be float, found {str(f1)[:40]!r}")
    return float(f1)


def _percent(share) -> str:
    return f"{100 * share:.3g}%" if isinstance(share, int | float) and not isinstance(share, bool) else "?"


def _unranked(record: RunRecord) -> str | None:
    """Why a run must not be ranked, read from what its results file records."""
    weights = record.backbone.weights
    if isinstance(weights, dict) and weights.get("complete") is False:
        missing, mismatched = len(weights.get("missing") or []), len(weights.get("mismatched") or [])
        return (
            f"incomplete pretrained weights ({missing} missing, {mismatched} of another shape; --allow-missing-weights)"
        )
    tokenization = record.tokenization if isinstance(record.tokenization, dict) else {}
    if tokenization.get("unk_above_limit") is True:
        share = ((tokenization.get("splits") or {}).get("train") or {}).get("unk_share")
        limit = _percent(tokenization.get("unk_limit"))
        return f"{_percent(share)} [UNK] in the training tokens, above the {limit} limit (--allow-high-unk)"
    if record.training.global_step < 1:
        return "nothing was trained (0 optimiser steps)"
    return None


# ---------------------------------------------------------------- folders


def load_runs(results_dir: Path, skipped: list[str]) -> list[Run]:
    """Every usable run under results_dir, in folder-name order; unusable files go to `skipped`."""
    runs = []
    for metrics_path in sorted(results_dir.glob("*/metrics.json")):
        folder = metrics_path.parent.name
        current = metrics_path
        try:
            try:
                data = json.loads(metrics_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as error:
                raise Unusable(f"not readable JSON ({error})") from None
            run = parse_metrics(data, folder)
            if not run.smoke and run.unranked is None and not run.is_trial:
                current = metrics_path.with_name("predictions.csv")
                run = read_predictions(current, run)
        except Unusable as reason:
            skip(skipped, results_dir, current, str(reason))
            continue
        runs.append(run)
    return runs


def skip(skipped: list[str], results_dir: Path, path: Path, reason: str) -> None:
    log.warning("leaderboard: skipped %s: %s", path, reason)
    skipped.append(f"`{path.relative_to(results_dir).as_posix()}`: {reason}")
