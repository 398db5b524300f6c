"""The results record: declared once, written and read back the same, and documented as declared."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path

import numpy as np
import pytest

from benchmark.record import (
    ABSENT,
    BackboneRecord,
    MetricsRecord,
    RecordError,
    RunRecord,
    TaskRecord,
    TimingRecord,
    TrainingRecord,
    parse_record,
    read_record,
    write_results,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "results-format.md"


def declared_paths(kind=RunRecord, prefix: str = "") -> set[str]:
    hints = typing.get_type_hints(kind)
    paths = set()
    for spec in dataclasses.fields(kind):
        path = prefix + spec.name
        paths.add(path)
        inner = hints[spec.name]
        if dataclasses.is_dataclass(inner):
            paths |= declared_paths(inner, path + ".")
    return paths


def documented_paths() -> set[str]:
    """Key paths of the JSONC examples in the doc, down to where the declarations stop (sections typed dict)."""
    containers = {p for p in declared_paths() if dataclasses.is_dataclass(_type_at(p))}
    found = set()

    def walk(value, prefix):
        for key, inner in value.items():
            path = prefix + key
            found.add(path)
            if isinstance(inner, dict) and path in containers:
                walk(inner, path + ".")

    for block in re.findall(r"```jsonc\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S):
        walk(json.loads(re.sub(r"//[^\n]*", "", block)), "")
    return found


def _type_at(path: str):
    kind = RunRecord
    for name in path.split("."):
        kind = typing.get_type_hints(kind)[name]
    return kind


def test_the_doc_lists_every_declared_field_and_no_other():
    assert documented_paths() == declared_paths()


def record(**changes) -> RunRecord:
    labels = ["finance", "sports"]
    return dataclasses.replace(
        RunRecord(
            run_id="bert-full-seed1",
            smoke=False,
            backbone=BackboneRecord(
                name="bert", hub_id="org/bert", source="org/bert", architecture="bert", parameters=10
            ),
            task=TaskRecord(
                dataset="d", protocol="full", labels=labels, sizes={"test": 3}, files={"test": {"sha256": "a" * 64}}
            ),
            config={"max_length": 32},
            seed=1,
            environment={"device": "cpu"},
            timing=TimingRecord(
                wall_seconds=1.0,
                train_seconds=None,
                train_examples_per_second=None,
                eval_examples_per_second=10.0,
                peak_memory_mb=None,
            ),
            training=TrainingRecord(
                global_step=3,
                max_steps=3,
                best_step=2,
                best_dev_loss=0.5,
                stopped_early=False,
                history=[{"step": 2, "dev_loss": 0.5}],
            ),
            metrics=MetricsRecord(
                accuracy=2 / 3,
                loss=0.4,
                macro={"f1": 0.6},
                weighted={"f1": 0.6},
                per_class={"finance": {"f1": 0.5}, "sports": {"f1": 0.7}},
                confusion_matrix=[[1, 1], [0, 1]],
            ),
        ),
        **changes,
    )


def test_a_record_is_written_and_read_back_the_same(tmp_path):
    written = record(export={"variant": "int8"})
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    write_results(tmp_path, written, ["甲", "乙", "丙"], np.array([0, 0, 1]), logits, "header")
    data = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert "distillation" not in data and "tokenization" not in data, "absent sections are left out"
    assert "weights" not in data["backbone"] and data["timing"]["train_seconds"] is None, "unknown is null"
    assert read_record(tmp_path) == written
    assert (tmp_path / "predictions.csv").read_text(encoding="utf-8").splitlines()[1] == "0,甲,finance,finance,0.880797"
    assert (tmp_path / "report.txt").read_text(encoding="utf-8").startswith("header\n")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("metrics"), "missing field 'metrics'"),
        (lambda d: d["metrics"].update(accuracy="high"), "field 'metrics.accuracy' should be float, found 'high'"),
        (lambda d: d["metrics"].update(accuracy=float("nan")), "field 'metrics.accuracy' should be float"),
        (lambda d: d["training"].update(global_step=True), "field 'training.global_step' should be int"),
        (lambda d: d["task"].update(labels=["a", 3]), "field 'task.labels[1]' should be str"),
        (lambda d: d["backbone"].update(weights=[1]), "field 'backbone.weights' should be dict"),
        (lambda d: d.update(schema_version=2), "unsupported schema_version 2"),
    ],
)
def test_reading_names_the_field_that_is_wrong(change, message):
    data = json.loads(json.dumps(record().to_dict()))
    change(data)
    with pytest.raises(RecordError, match=re.escape(message)):
        parse_record(data)


def test_a_field_that_only_some_runs_have_may_be_absent_but_not_null():
    data = record().to_dict()
    assert parse_record(data).tokenization is ABSENT
    data["tokenization"] = None
    with pytest.raises(RecordError, match="field 'tokenization' should be dict"):
        parse_record(data)


# ---------------------------------------------------------------- the environment a run records


def test_the_environment_is_offline_when_the_flag_or_the_hub_client_says_so(monkeypatch):
    from huggingface_hub import constants

    from benchmark.environment import environment

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert environment()["offline"] is False
    assert environment(offline=True)["offline"] is True  # --offline
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert environment()["offline"] is True  # HF_HUB_OFFLINE=1 without --offline


@pytest.mark.parametrize("value, offline", [("yes", True), ("0", False)])
def test_hf_hub_offline_counts_as_the_hub_client_reads_it(value, offline):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    shown = subprocess.run(
        [sys.executable, "-c", "from benchmark.environment import hub_offline; print(hub_offline())"],
        env={**env, "HF_HUB_OFFLINE": value},
        cwd=DOC.parents[1],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == str(offline)
