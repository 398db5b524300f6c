"""Every run says where its wall time went: phases that add up to it, start-up included from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import phases as phase_module
from benchmark.phases import NAMES, Phases, describe

ROOT = Path(__file__).resolve().parents[1]


def test_a_phase_inside_another_is_counted_once(monkeypatch):
    clock = iter([0.0, 1.0, 3.0, 3.5, 10.0, 12.0]).__next__
    monkeypatch.setattr(phase_module.time, "perf_counter", clock)
    phases = Phases()  # 0.0: started
    with phases("training"):  # 1.0 .. 10.0
        with phases("dev_evaluation"):  # 3.0 .. 3.5
            pass
        phases.add("checkpoint_write", 2.0, bytes=100)  # reported by the trainer, inside training
        phases.note("checkpoint_write", bytes=50, count=1)
        monkeypatch.setattr(phase_module.time, "perf_counter", lambda: 4.0)
        open_now = {e["phase"]: e["seconds"] for e in phases.record(4.0)}
        monkeypatch.setattr(phase_module.time, "perf_counter", clock)
    record = {e["phase"]: e for e in phases.record(12.0)}
    assert record["dev_evaluation"]["seconds"] == 0.5 and record["checkpoint_write"]["seconds"] == 2.0
    assert record["checkpoint_write"]["bytes"] == 150 and record["checkpoint_write"]["count"] == 1
    assert record["training"]["seconds"] == 9.0 - 0.5 - 2.0
    assert record["other"]["seconds"] == 12.0 - 9.0  # before training began, and after it ended
    assert sum(e["seconds"] for e in record.values()) == 12.0
    # A record taken while a phase is still open counts that phase's time so far.
    assert open_now["training"] == 4.0 - 1.0 - 0.5 - 2.0 and sum(open_now.values()) == 4.0


def test_phases_are_named_once_and_unknown_ones_refused():
    phases = Phases()
    with pytest.raises(ValueError, match="unknown phase 'loading'"):
        phases.add("loading", 1.0)
    assert [e["phase"] for e in phases.record()] == ["startup", "other"]
    assert NAMES[0] == "startup" and NAMES[-1] == "other"
    text = describe([{"phase": "training", "seconds": 3.0}, {"phase": "model_write", "seconds": 1.0, "bytes": 4e8}], 4)
    assert "training" in text and "400 MB" in text and "compute (training, dev evaluation, test scoring) 3.0 s" in text


def test_a_fine_tuning_run_records_every_phase_summing_to_its_wall_time(tmp_path):
    import dataclasses

    from conftest import run_config, settings

    config = dataclasses.replace(settings("bert", smoke=True, results_dir=str(tmp_path)), epochs=2)
    metrics = json.loads((run_config(config) / "metrics.json").read_text(encoding="utf-8"))
    timing = metrics["timing"]
    found = {e["phase"]: e for e in timing["phases"]}
    assert list(found) == [name for name in NAMES if name in found], "in run order"
    for name in ("data", "model_load", "encode", "training", "dev_evaluation", "test_scoring", "model_write"):
        assert found[name]["seconds"] > 0, name
    assert found["model_write"]["bytes"] > 0 and isinstance(found["encode"]["cached"], bool)
    # The model folder is written while the test set is scored: the phase is the wait, the writing is apart.
    assert found["model_write"]["background_seconds"] >= found["model_write"]["seconds"]
    assert "checkpoint_write" not in found, "a run shorter than --save-every-minutes writes no checkpoint"
    assert sum(e["seconds"] for e in timing["phases"]) == pytest.approx(timing["wall_seconds"], abs=1e-6)


def test_a_run_from_the_command_line_counts_its_start_up(tmp_path):
    """The process's start-up and imports, and jieba's dictionary, are in a tfidf run's wall time."""
    child = subprocess.run(
        [sys.executable, "run.py", "--model", "tfidf", "--smoke", "--offline", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert child.returncode == 0, child.stderr[-2000:]
    (folder,) = tmp_path.iterdir()
    timing = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["timing"]
    found = {e["phase"]: e["seconds"] for e in timing["phases"]}
    assert found["startup"] > 0 and found["model_load"] > 0, "imports and jieba's dictionary are measured"
    assert sum(found.values()) == pytest.approx(timing["wall_seconds"], abs=1e-6)
    assert "where the" in child.stdout and "startup" in child.stdout, "the split is printed at the end"
