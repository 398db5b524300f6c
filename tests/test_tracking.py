"""--report-to: nothing is contacted by default, TensorBoard writes into the run folder, and a tracker whose package
is missing stops the command before any work, saying what to install."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
from conftest import SAMPLE_DIR, one_error_line, run_flags, tiny_bert

from benchmark.cli import main
from benchmark.config import RunConfig
from benchmark.errors import HarnessError
from benchmark.report.runs import settings_of
from benchmark.run.folder import identity, run_config_of
from benchmark.run.tracking import TENSORBOARD_DIR_VARIABLE, trackers_for
from benchmark.run.train import training_options


def test_help_lists_every_tracker_and_nothing_is_contacted_by_default(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--report-to {none,tensorboard,wandb,mlflow}" in capsys.readouterr().out
    assert training_options(RunConfig(model="bert"), "out")["report_to"] == "none"


def test_the_tracker_does_not_make_a_run_another_one():
    record = run_config_of(RunConfig(model="bert").to_dict(), {}, 1)
    tracked = run_config_of(RunConfig(model="bert", report_to="wandb").to_dict(), {}, 1)
    assert identity(record) == identity(tracked)  # so a run resumes either way
    assert "report_to" not in settings_of(tracked["config"], "org/bert", 10)  # and is one leaderboard entry


def test_tensorboard_writes_its_curves_in_the_run_folder(tmp_path, monkeypatch, one_torch_thread):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv(TENSORBOARD_DIR_VARIABLE, str(elsewhere))  # a user's own setting, not for this run
    results = tmp_path / "results"
    options = f"--max-steps 4 --eval-every 2 --batch-size 8 --results-dir {results} --report-to tensorboard"
    assert main(run_flags(tiny_bert(tmp_path / "model"), SAMPLE_DIR, options)) == 0

    (run_dir,) = results.iterdir()
    events = list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert events, sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))
    curves = EventAccumulator(str(run_dir / "tensorboard")).Reload().Tags()["scalars"]
    assert {"train/loss", "eval/loss", "eval/accuracy"} <= set(curves)
    assert os.environ[TENSORBOARD_DIR_VARIABLE] == str(elsewhere) and not elsewhere.exists()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["config"]["report_to"] == "tensorboard"
    assert metrics["environment"]["offline"] is True  # --offline was given


def test_the_tensorboard_folder_is_set_only_while_the_trainer_is_built(tmp_path, monkeypatch):
    monkeypatch.delenv(TENSORBOARD_DIR_VARIABLE, raising=False)
    with trackers_for(RunConfig(model="bert", report_to="tensorboard"), tmp_path):
        assert os.environ[TENSORBOARD_DIR_VARIABLE] == str(tmp_path / "tensorboard")
    assert TENSORBOARD_DIR_VARIABLE not in os.environ
    with pytest.raises(RuntimeError), trackers_for(RunConfig(model="bert", report_to="tensorboard"), tmp_path):
        raise RuntimeError("the Trainer could not be built")
    assert TENSORBOARD_DIR_VARIABLE not in os.environ
    with trackers_for(RunConfig(model="bert"), tmp_path):
        assert TENSORBOARD_DIR_VARIABLE not in os.environ


def without_packages(monkeypatch, *missing: str) -> None:
    """importlib.util.find_spec as if `missing` were not installed."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name in missing else find_spec(name, *args)
    )


@pytest.mark.parametrize("tracker", ["tensorboard", "wandb", "mlflow"])
def test_a_missing_tracker_package_is_one_error_line_before_any_work(
    tracker, tmp_path, capsys, monkeypatch, no_model_loading
):
    without_packages(monkeypatch, "tensorboard", "tensorboardX", "wandb", "mlflow")
    options = f"--results-dir {tmp_path / 'results'} --report-to {tracker}"
    assert main(run_flags(tmp_path / "model", SAMPLE_DIR, options)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--report-to {tracker}: the {tracker} package is not installed; pip install {tracker}" in line
    assert not (tmp_path / "results").exists()
    with (
        pytest.raises(HarnessError, match=f"pip install {tracker}"),
        trackers_for(RunConfig(model="bert", report_to=tracker), tmp_path),
    ):
        pass  # a run started from Python, not the command line, is stopped before its Trainer is built


def test_tensorboardx_is_enough_for_tensorboard(tmp_path, monkeypatch):
    # Trainer writes TensorBoard files with tensorboardX when tensorboard itself is missing.
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: object() if name == "tensorboardX" else None)
    with trackers_for(RunConfig(model="bert", report_to="tensorboard"), tmp_path):
        pass
