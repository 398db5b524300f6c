"""A queue of runs (several backbones, several seeds) goes on past a failed run and says what happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmark.cli import main
from benchmark.errors import HarnessError
from benchmark.loading import checkpoint
from benchmark.registry import list_backbones
from benchmark.run import driver

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ONE_SMOKE_EPOCH = ["--smoke", "--epochs", "1", "--offline", "--no-group-by-length"]


def summary_of(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("queue summary:"))
    return lines[start:]


@pytest.mark.slow
def test_a_failed_backbone_is_reported_and_the_queue_goes_on(tmp_path, monkeypatch, capsys):
    load_pretrained = checkpoint.load_pretrained

    def fails_for_ernie(backbone, *args, **kwargs):
        if backbone.name == "ernie":
            raise RuntimeError("CUDA out of memory (simulated)")
        return load_pretrained(backbone, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "load_pretrained", fails_for_ernie)
    code = main(["--model", "ernie", "bert", *ONE_SMOKE_EPOCH, "--results-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1, "a queue with a failed run exits non-zero"
    assert "error: ernie seed 1: RuntimeError: CUDA out of memory (simulated)" in captured.err
    assert "Traceback" in captured.err, "an unexpected error keeps its traceback for the bug report"

    (folder,) = tmp_path.iterdir()
    assert json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["backbone"]["name"] == "bert"
    assert summary_of(captured.out) == [
        "queue summary: 1 of 2 runs finished",
        "  FAILED  ernie seed 1: RuntimeError: CUDA out of memory (simulated)",
        f"  ok      bert seed 1: {folder}",
    ]

    # Submitted again (say after pre-emption) with --skip-finished: the finished run is not run twice.
    monkeypatch.setattr(checkpoint, "load_pretrained", lambda *args, **kwargs: pytest.fail("nothing should load"))
    code = main(["--model", "bert", *ONE_SMOKE_EPOCH, "--results-dir", str(tmp_path), "--skip-finished"])
    assert code == 0 and list(tmp_path.iterdir()) == [folder]
    assert f"already finished in {folder}; skipped" in capsys.readouterr().out


def test_all_runs_every_backbone_with_every_seed(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_run(settings, skip_finished=False, keep_model=False):
        config = settings.config
        calls.append((config.model, config.seed, config.smoke))
        return tmp_path / f"{config.model}-{config.seed}"

    monkeypatch.setattr(driver, "run", fake_run)
    assert main(["--model", "all", "--seeds", "1", "2", "--smoke", "--results-dir", str(tmp_path)]) == 0
    names = [b.name for b in list_backbones()]
    assert calls == [(name, seed, True) for name in names for seed in (1, 2)]
    summary = summary_of(capsys.readouterr().out)
    assert summary[0] == f"queue summary: {2 * len(names)} of {2 * len(names)} runs finished"
    assert summary[1] == f"  ok      {names[0]} seed 1: {tmp_path / f'{names[0]}-1'}"


def test_a_harness_error_in_a_queue_is_one_line_and_the_rest_still_runs(tmp_path, monkeypatch, capsys):
    def fake_run(settings, skip_finished=False, keep_model=False):
        config = settings.config
        if config.seed == 2:
            raise HarnessError(f"cannot write {tmp_path}/x: Permission denied")
        return tmp_path / f"{config.model}-{config.seed}"

    monkeypatch.setattr(driver, "run", fake_run)
    assert main(["--model", "bert", "--seeds", "1", "2", "3"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"error: bert seed 2: cannot write {tmp_path}/x: Permission denied"]
    assert summary_of(captured.out)[1:] == [
        f"  ok      bert seed 1: {tmp_path / 'bert-1'}",
        f"  FAILED  bert seed 2: cannot write {tmp_path}/x: Permission denied",
        f"  ok      bert seed 3: {tmp_path / 'bert-3'}",
    ]


def test_with_several_processes_the_queue_stops_at_the_first_failure(tmp_path, monkeypatch, capsys):
    # The processes of a torchrun job may no longer be in step after one failed, so none goes on alone.
    monkeypatch.setenv("WORLD_SIZE", "2")

    def fake_run(settings, skip_finished=False, keep_model=False):
        config = settings.config
        if config.model == "ernie":
            raise HarnessError("something every process saw")
        return Path(f"results/{config.model}")

    monkeypatch.setattr(driver, "run", fake_run)
    assert main(["--model", "bert", "ernie", "macbert"]) == 1
    assert summary_of(capsys.readouterr().out) == [
        "queue summary: 1 of 3 runs finished",
        "  ok      bert seed 1: results/bert",
        "  FAILED  ernie seed 1: something every process saw",
        "  not run macbert seed 1",
    ]


def test_an_unknown_name_stops_the_queue_before_anything_runs(tmp_path, monkeypatch, capsys):
    def refuse(settings, skip_finished=False, keep_model=False):
        raise AssertionError("nothing should run")

    monkeypatch.setattr(driver, "run", refuse)
    assert main(["--model", "bert", "ernei", "--results-dir", str(tmp_path / "results")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: unknown backbone 'ernei'. Did you mean: ernie")
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "flags", [["--model", "bert", "ernie"], ["--model", "tfidf", "--tune", "2"], ["--model", "tfidf", "--workers", "2"]]
)
def test_a_run_folder_to_resume_needs_a_single_run(flags, capsys, tmp_path):
    assert main([*flags, "--resume", "results/some-run", "--results-dir", str(tmp_path / "results")]) == 2
    assert "--resume RUN_FOLDER continues one run" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_the_plan_comes_first_with_the_time_earlier_runs_with_these_settings_took(tmp_path, monkeypatch, capsys):
    def finished(name: str, model: str, seed: int, wall: float, **changed):
        from conftest import settings

        config = {**settings(model, smoke=True, seed=seed, results_dir=str(tmp_path)).to_dict(), **changed}
        (tmp_path / name).mkdir()
        record = {"config": {**config, "max_length": 32}, "timing": {"wall_seconds": wall}}
        (tmp_path / name / "metrics.json").write_text(json.dumps(record), encoding="utf-8")

    finished("a", "bert", 1, 100.0)
    finished("b", "bert", 2, 140.0)
    finished("c", "bert", 3, 900.0, dropout=0.37)  # other settings: not an estimate for these runs
    monkeypatch.setattr(driver, "run", lambda s, **kwargs: tmp_path / f"{s.config.model}-{s.config.seed}")
    assert main(["--model", "bert", "ernie", "--seeds", "1", "2", "--smoke", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    start = out.index("plan: 4 runs, one after another")
    assert (
        out[start + 1].split()
        == "bert seeds 1 2 about 2 min each (median of 2 finished runs with these settings)".split()
    )
    assert out[start + 2].split() == "ernie seeds 1 2 no estimate: no finished run with these settings yet".split()
    assert out[start + 3] == "estimated 4 min for 2 of 4 runs; 2 without an estimate"
    assert out.index("queue summary: 4 of 4 runs finished") > start


def test_the_seeds_of_a_backbone_load_its_weights_once_and_start_as_if_loaded_afresh(tmp_path):
    from conftest import tiny_bert

    from benchmark.loading.checkpoint import LoadOptions
    from benchmark.loading.classifier import create_classifier
    from benchmark.registry import get_backbone
    from benchmark.run import reuse

    bert, folder, options = get_backbone("bert"), str(tiny_bert(tmp_path / "tiny")), LoadOptions(offline=True)
    first, reused = reuse.load_classifier_once(bert, 10, folder, 0.1, seed=1, options=options, keep=True)
    assert not reused
    with torch.no_grad():  # training changes the first run's model; the kept copy stays as loaded
        for parameter in first.model.parameters():
            parameter.add_(1.0)
    calls = []
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(checkpoint, "load_pretrained", lambda *a, **k: calls.append(a) or pytest.fail("loaded again"))
    try:
        second, reused = reuse.load_classifier_once(bert, 10, folder, 0.1, seed=2, options=options)
    finally:
        monkeypatch.undo()
    assert reused and not calls
    fresh = create_classifier(bert, 10, source=folder, dropout=0.1, seed=2, options=options)
    ours, theirs = second.model.state_dict(), fresh.model.state_dict()
    assert ours.keys() == theirs.keys()
    for name in theirs:
        assert torch.equal(ours[name], theirs[name]), name
    # Without keep, nothing stays for a third run: it loads again.
    third, reused = reuse.load_classifier_once(bert, 10, folder, 0.1, seed=3, options=options)
    assert not reused
