"""The results record: what a run folder's `metrics.json` holds, declared once.

Every kind of run (fine-tune, scikit-learn baseline, export variant, distilled student) fills a `RunRecord`
and `write_results` writes its folder's files; the leaderboard reads them back with `read_record`, which
checks every field against the type declared here. docs/results-format.md documents these declarations and
a test keeps the two in step.

A field whose default is ABSENT belongs to some kinds of run only, and is left out of the file when a run has
none; every other field is always written (a null where the value is unknown).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.atomic import write_json, write_text
from benchmark.errors import HarnessError

SCHEMA_VERSION = 1
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
REPORT_FILE = "report.txt"
MODEL_FOLDER = "model"
PREDICTION_COLUMNS = ["index", "text", "gold", "predicted", "probability"]


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: typing.Any = _Absent()


def _some(default=ABSENT):
    return field(default=default)


@dataclass(kw_only=True)
class BackboneRecord:
    name: str  # the row's name in the leaderboard (an export or distilled run adds to the backbone's)
    hub_id: str | None
    source: str  # what was loaded: hub id, local folder, or how the weights were made
    architecture: str
    parameters: int | None
    weights: dict = _some()  # how a pretrained checkpoint was loaded (benchmark.loading.checkpoint)
    trainable_parameters: int = _some()  # those the run trained: all but a frozen base's (LoRA, linear probe)
    mode: str = _some()  # finetune, lora or probe (benchmark.registry.MODES)


@dataclass(kw_only=True)
class TaskRecord:
    dataset: str
    protocol: str
    labels: list[str]
    sizes: dict
    files: dict  # name -> {path, sha256, lines}
    main_score: str = _some()  # what the leaderboard sorts this dataset by: accuracy (when absent) or macro_f1
    dropped_rows: dict = _some()  # malformed or empty rows dropped per file (--on-bad-line warn|skip)
    removed_duplicates: int = _some()  # train texts removed for also being in dev or test (--dedupe)


@dataclass(kw_only=True)
class TimingRecord:
    wall_seconds: float
    train_seconds: float | None
    train_examples_per_second: float | None
    eval_examples_per_second: float | None
    peak_memory_mb: float | None  # GPU peak where a GPU ran, else the process's peak resident memory
    # Where the wall time went, in run order, summing to wall_seconds: {phase, seconds, and for writes bytes}
    # (benchmark.phases names them).
    phases: list[dict] = _some()
    # An export variant's latency, measured one text at a time and in batches on the exporting machine.
    latency_ms_p50: float = _some()
    latency_ms_p95: float = _some()
    batch64_examples_per_second: float = _some()
    latency_texts: int = _some()
    batch_size: int = _some()
    # Inference cost on the machine that ran it: milliseconds per 1,000 texts at batch 1 and at batch 64, with the
    # device's name and how many test texts were timed (benchmark.serve.cost).
    inference: dict = _some()


@dataclass(kw_only=True)
class TrainingRecord:
    global_step: int  # 0: nothing was trained, and the leaderboard never ranks the run
    max_steps: int
    best_step: int | None  # the checkpoint restored and scored
    best_dev_loss: float | None
    stopped_early: bool
    # What the device-dependent settings became (fine-tuned runs).
    effective_batch: int = _some()
    num_processes: int = _some()
    precision: str = _some()
    eval_batch_size: int = _some()
    num_workers: int = _some()
    resumed_from_step: int | None = _some()
    history: list[dict]  # in step order: {step, train_loss} and {step, dev_loss, dev_accuracy}
    estimator: dict = _some()  # a scikit-learn baseline's fitted settings

    @classmethod
    def of_grid(cls, history: list[dict], best: dict, estimator: dict) -> TrainingRecord:
        """A model fitted once per value of a setting (tfidf's and a probe's C): each "step" is one value tried,
        not an optimiser step, and the one with the lowest dev loss is kept."""
        return cls(
            global_step=len(history),
            max_steps=len(history),
            best_step=best["step"],
            best_dev_loss=best["dev_loss"],
            stopped_early=False,
            history=history,
            estimator=estimator,
        )


@dataclass(kw_only=True)
class MetricsRecord:
    accuracy: float
    loss: float
    macro: dict
    weighted: dict
    per_class: dict  # label -> {precision, recall, f1, support}
    confusion_matrix: list[list[int]]  # rows gold, columns predicted, in label order


@dataclass(kw_only=True)
class RunRecord:
    schema_version: int = SCHEMA_VERSION
    run_id: str
    smoke: bool  # a tiny random model on the bundled sample: never a benchmark
    backbone: BackboneRecord
    task: TaskRecord
    config: dict  # every run option
    seed: int
    environment: dict
    timing: TimingRecord
    tokenization: dict = _some()  # normalisation applied, tokens per text and [UNK] rate per split
    training: TrainingRecord
    metrics: MetricsRecord
    distillation: dict = _some()  # the teacher, temperature and weight of a distilled student
    export: dict = _some()  # an export variant's source run, method and comparison with it
    tuning: dict = _some()  # a tuning trial (--tune): its study, number, sampled settings and dev scores; or a
    # run of the settings a study chose, with the budget it was chosen from (docs/results-format.md)

    def to_dict(self) -> dict:
        return _to_dict(self)


def _to_dict(value):
    if dataclasses.is_dataclass(value):
        return {
            f.name: _to_dict(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not ABSENT
        }
    return value


# ---------------------------------------------------------------- reading, with every field checked


class RecordError(ValueError):
    """Why a results file cannot be used; the message is shown to the user."""


def _check(value, kind, where: str):
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        kind = next(option for option in options if option is not type(None))
        origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        return _from_dict(kind, value, where)
    expected = origin or kind
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise RecordError(f"field {where!r} should be {expected.__name__}, found {str(value)[:40]!r}")
    if expected is list and typing.get_args(kind):
        (item,) = typing.get_args(kind)
        return [_check(element, item, f"{where}[{i}]") for i, element in enumerate(value)]
    return value


def _from_dict(kind, data, where: str = ""):
    if not isinstance(data, dict):
        raise RecordError(f"field {where!r} should be an object" if where else "the file is not a JSON object")
    hints = typing.get_type_hints(kind)
    values = {}
    for spec in dataclasses.fields(kind):
        dotted = f"{where}.{spec.name}" if where else spec.name
        if spec.name not in data:
            if spec.default is ABSENT or spec.default is not dataclasses.MISSING:
                continue
            raise RecordError(f"missing field {dotted!r}")
        values[spec.name] = _check(data[spec.name], hints[spec.name], dotted)
    return kind(**values)


def parse_record(data: object) -> RunRecord:
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise RecordError(f"unsupported schema_version {version!r} (this harness reads {SCHEMA_VERSION})")
    return _from_dict(RunRecord, data)


def read_record(folder: Path) -> RunRecord:
    """A run folder's metrics.json, every field checked; RecordError says what is wrong."""
    try:
        data = json.loads((Path(folder) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RecordError(f"not readable JSON ({error})") from None
    return parse_record(data)


# ---------------------------------------------------------------- writing a run folder's files


def predictions_csv(texts, gold, predicted, confidence, label_names) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PREDICTION_COLUMNS)
    for i, (text, g, p, prob) in enumerate(zip(texts, gold, predicted, confidence, strict=True)):
        writer.writerow([i, text, label_names[g], label_names[p], f"{prob:.6f}"])
    return buffer.getvalue()


def write_results(
    folder: Path,
    record: RunRecord,
    texts: list[str],
    gold: np.ndarray,
    logits: np.ndarray,
    header: str,
    before_metrics: typing.Callable[[RunRecord], None] | None = None,
) -> None:
    """The report, the per-example predictions and metrics.json, each in one step; metrics.json last, since its
    presence marks a finished run for the leaderboard (and against resuming). `before_metrics` may complete the
    record (its timing) once the other files are written."""
    from benchmark.metrics import format_report, probabilities

    labels = record.task.labels
    predicted = logits.argmax(axis=-1)
    confidence = probabilities(logits)[np.arange(len(predicted)), predicted]
    write_text(folder / REPORT_FILE, format_report(gold, predicted, labels, header))
    write_text(folder / PREDICTIONS_FILE, predictions_csv(texts, gold, predicted, confidence, labels))
    if before_metrics is not None:
        before_metrics(record)
    write_json(folder / METRICS_FILE, record.to_dict())


def read_test_examples(folder: Path, labels: list[str]) -> tuple[list[str], np.ndarray]:
    """A finished run's test texts and gold label ids, in file order, from its predictions.csv."""
    path = Path(folder) / PREDICTIONS_FILE
    index = {name: i for i, name in enumerate(labels)}
    texts, gold = [], []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                texts.append(row["text"])
                gold.append(index[row["gold"]])
    except FileNotFoundError:
        raise HarnessError(f"{path}: missing; a finished run lists its test texts in {PREDICTIONS_FILE}") from None
    except (OSError, KeyError, ValueError, csv.Error) as error:
        raise HarnessError(
            f"{path}: unreadable ({error}); expected the columns {','.join(PREDICTION_COLUMNS)} "
            f"with gold labels among {labels}"
        ) from None
    if not texts:
        raise HarnessError(f"{path}: no test examples")
    return texts, np.asarray(gold, dtype=np.int64)


def model_folder(path: Path) -> Path:
    """The model folder of a run folder (or the model folder itself), with a clear error for anything else."""
    path = Path(path)
    if not path.exists():
        raise HarnessError(
            f"{path}: no such run folder; expected a results folder written by run.py "
            f"({METRICS_FILE} and {MODEL_FOLDER}/), e.g. results/<run-id>"
        )
    if not path.is_dir():
        raise HarnessError(f"{path}: not a folder; expected a results folder written by run.py (with {MODEL_FOLDER}/)")
    folder = path / MODEL_FOLDER if (path / MODEL_FOLDER).is_dir() else path
    if not (folder / "labels.json").is_file():
        raise HarnessError(
            f"{path}: no saved model in this folder; expected {MODEL_FOLDER}/labels.json and the "
            f"model's weights, as a finished run writes them"
        )
    return folder
