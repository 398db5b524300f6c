"""A queue fanned out over a local Ray instance with two CPU workers: the same results folders as one after
another, failures kept to their run, a killed worker retried and resumed, finished runs skipped, a results folder
a worker cannot see refused, and Ray's absence said in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLE_DIR, one_error_line, run_flags, sample_copy, tiny_bert, wait_while_running

from benchmark.cli import main
from benchmark.run.resume import complete_checkpoints

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    __import__("importlib").util.find_spec("ray") is None,
    reason='Ray is the optional [ray] extra (pip install -e ".[ray]")',
)
# A tiny BERT that learns something in 40 steps on the sample, so two runs' results can tell a difference.
LEARNS = "--batch-size 16 --learning-rate 5e-3 --warmup 0.1 --max-steps 40 --eval-every 10 --no-group-by-length"


def folders(results: Path) -> dict[str, Path]:
    """Run folders by backbone and seed."""
    found = {}
    for path in results.iterdir():
        if (path / "metrics.json").is_file():
            metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
            found[f"{metrics['backbone']['name']} {metrics['seed']}"] = path
    return found


def test_a_fanned_out_queue_writes_what_the_queue_writes_one_after_another(tmp_path, capsys, one_torch_thread):
    model, data = tiny_bert(tmp_path / "tiny"), sample_copy(tmp_path / "data")
    flags = [*run_flags(model, data, LEARNS), "--seeds", "1", "2"]
    assert main([*flags, "--results-dir", str(tmp_path / "one-by-one")]) == 0
    assert main([*flags, "--results-dir", str(tmp_path / "fanned"), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "fan-out: 2 runs at a time on 2 CPU threads, 1 each" in out
    assert out.count("started   tiny-bert seed") == 2 and out.count("finished  tiny-bert seed") == 2
    one_by_one, fanned = folders(tmp_path / "one-by-one"), folders(tmp_path / "fanned")
    assert set(one_by_one) == set(fanned) == {"tiny-bert 1", "tiny-bert 2"}
    for run in one_by_one:
        ours, theirs = (json.loads((f[run] / "metrics.json").read_text(encoding="utf-8")) for f in (fanned, one_by_one))
        assert ours["metrics"] == theirs["metrics"] and ours["training"]["history"] == theirs["training"]["history"]
        assert (fanned[run] / "predictions.csv").read_bytes() == (one_by_one[run] / "predictions.csv").read_bytes()
        assert "test accuracy" in (fanned[run] / "run.log").read_text(encoding="utf-8")
    accuracies = {json.loads((fanned[r] / "metrics.json").read_text())["metrics"]["accuracy"] for r in fanned}
    assert len(accuracies) == 2 and max(accuracies) > 0.2, "two seeds that learn, not two copies of chance"
    assert sorted(p.name for p in (tmp_path / "fanned").iterdir()) == sorted(p.name for p in fanned.values())

    # The same queue again with --skip-finished: nothing new is trained, and every run is reported finished.
    assert main([*flags, "--results-dir", str(tmp_path / "fanned"), "--workers", "2", "--skip-finished"]) == 0
    assert folders(tmp_path / "fanned") == fanned and "queue summary: 2 of 2 runs finished" in capsys.readouterr().out
    assert "already finished in" in (fanned["tiny-bert 1"] / "run.log").read_text(encoding="utf-8")


def test_a_failing_run_is_its_own_line_and_the_others_finish(tmp_path, capsys):
    results = tmp_path / "results"
    flags = ["--model", "bert", "tfidf", "--smoke", "--learning-rate", "1e4", "--eval-every", "2"]
    assert main([*flags, "--results-dir", str(results), "--workers", "2"]) == 1
    captured = capsys.readouterr()
    assert "queue summary: 1 of 2 runs finished" in captured.out
    (failed,) = [line for line in captured.err.splitlines() if line.startswith("error: bert seed 1 on ")]
    assert "the run diverged" in failed and ("1 left" in failed or "0 left" in failed)
    summary = [line for line in captured.out.splitlines() if line.startswith("  FAILED  bert seed 1: ")]
    assert summary and "run.log" in summary[0], "the summary says where the failed run's log is"
    (diverged,) = [p for p in results.iterdir() if (p / "failed.json").is_file()]
    assert "the run diverged" in (diverged / "run.log").read_text(encoding="utf-8")
    assert [p for p in results.iterdir() if (p / "metrics.json").is_file()][0].name.startswith("tfidf-")


@pytest.mark.skipif(__import__("importlib").util.find_spec("optuna") is None, reason="Optuna: the [tune] extra")
def test_a_sweep_fanned_out_sums_up_its_chosen_runs_only(tmp_path, capsys):
    results = tmp_path / "results"
    flags = ["--model", "tfidf", "--data-dir", str(SAMPLE_DIR), "--results-dir", str(results)]
    assert main([*flags, "--tune", "3", "--seeds", "1", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "trial 3/3 of tfidf:" in out
    assert "queue summary: 1 of 1 runs finished" in out, "the trials are not the chosen settings' summary"
    records = [json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*/metrics.json")]
    assert sorted(r["tuning"].get("trial", -1) for r in records) == [-1, 0, 1, 2]


# The command in a child process, so the test can kill the Ray worker that runs it.
KILLED = [sys.executable, str(ROOT / "run.py")]


def fanned_out_child(tmp_path: Path, options: str, workers: int) -> tuple[subprocess.Popen, Path]:
    """A queue of tiny BERT runs on Ray, started in a child process; the child and its results folder."""
    results = tmp_path / "results"
    model, data = tiny_bert(tmp_path / "tiny"), sample_copy(tmp_path / "data")
    child = subprocess.Popen(
        [*KILLED, *run_flags(model, data, options), "--results-dir", str(results), "--workers", str(workers)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return child, results


def test_a_killed_worker_is_retried_and_its_run_resumes_from_its_checkpoint(tmp_path):
    options = "--batch-size 16 --learning-rate 5e-3 --max-steps 400 --eval-every 4 --save-every 4"
    child, results = fanned_out_child(tmp_path, options, workers=1)
    wait_while_running(
        child, lambda: any(complete_checkpoints(folder) for folder in results.glob("*-seed1-*")), "checkpoint"
    )
    (started,) = results.glob(".fanout-*/*.started")
    os.kill(json.loads(started.read_text(encoding="utf-8").splitlines()[0])["pid"], signal.SIGKILL)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-3000:]
    assert "restarted tiny-bert seed 1 on " in out and "it resumes from its last checkpoint" in out
    (run_dir,) = folders(results).values()
    training = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["training"]
    assert training["resumed_from_step"] and training["resumed_from_step"] >= 4 and training["global_step"] == 400
    assert "(resuming from checkpoint-" in (run_dir / "run.log").read_text(encoding="utf-8")


def test_a_results_folder_a_worker_cannot_see_is_refused_naming_the_worker(tmp_path):
    import socket

    from benchmark.errors import HarnessError
    from benchmark.run import fanout

    ray = fanout.start_ray(None)
    try:
        book = tmp_path / "book"
        book.mkdir()
        with pytest.raises(HarnessError, match=f"the Ray worker on {socket.gethostname()} cannot see /nowhere/results"):
            fanout.check_visible(ray, [tmp_path, Path("/nowhere/results")], book)
        fanout.check_visible(ray, [tmp_path], book)  # seen, and the marker read back: no error
    finally:
        ray.shutdown()
    # The same path on another node, on storage of its own: it holds no marker written here.
    missing = fanout.missing_on_this_node([str(tmp_path)], str(tmp_path / "marker"), "x")[1]
    assert missing == f"the {tmp_path} written here (it has a folder of its own there)"


class Cluster:
    """What plan() asks of Ray: the cluster's resources and its nodes'."""

    def __init__(self, cpus: int, gpus_per_node: list[float]):
        self.cpus, self.gpus_per_node = cpus, gpus_per_node

    def cluster_resources(self) -> dict:
        return {"CPU": self.cpus, "GPU": sum(self.gpus_per_node)}

    def nodes(self) -> list[dict]:
        return [{"Alive": True, "Resources": {"GPU": gpus}} for gpus in self.gpus_per_node]


@pytest.mark.parametrize(
    "cpus, gpus, workers, share, expected",
    [
        (64, [8, 8], None, None, (16, {"num_gpus": 1.0, "num_cpus": 4})),  # one run per GPU
        (64, [8, 8], None, 0.5, (32, {"num_gpus": 0.5, "num_cpus": 2})),  # two on each
        (64, [8, 8], 4, None, (4, {"num_gpus": 1.0, "num_cpus": 16})),
        (16, [4], None, 2, (2, {"num_gpus": 2, "num_cpus": 8})),  # a run on two GPUs of one node
        (8, [], 2, None, (2, {"num_gpus": 0, "num_cpus": 4})),  # no GPU: the CPU threads shared
    ],
)
def test_the_plan_follows_the_cluster(cpus, gpus, workers, share, expected):
    from benchmark.run import fanout

    capacity, resources, _ = fanout.plan(Cluster(cpus, gpus), workers, share)
    assert (capacity, resources) == expected


@pytest.mark.parametrize(
    "gpus, workers, share, words",
    [
        ([1, 1], None, 2, "--gpus-per-run 2: no node has that many GPUs (the most on one is 1)"),
        ([], 2, 0.5, "--gpus-per-run 0.5: Ray sees no GPU here"),
        ([], None, None, "the cluster has no GPU; give --workers N"),
    ],
)
def test_a_plan_ray_could_never_place_is_refused(gpus, workers, share, words):
    from benchmark.errors import HarnessError
    from benchmark.run import fanout

    with pytest.raises(HarnessError) as refused:
        fanout.plan(Cluster(8, gpus), workers, share)
    assert words in str(refused.value)


def test_a_local_instance_listens_on_the_loopback_address_only():
    import psutil

    from benchmark.run import fanout

    ray = fanout.start_ray(None)
    try:
        ours = {child.pid for child in psutil.Process().children(recursive=True)} | {os.getpid()}
        listening = [
            c.laddr.ip for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid in ours
        ]
    finally:
        ray.shutdown()
    assert listening, "the instance's servers were not found"
    assert all(ip in ("127.0.0.1", "::ffff:127.0.0.1", "::1") for ip in listening), listening


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--model", "bert", "--workers", "0"], ["--workers 0: expected a whole number at least 1"]),
        (["--model", "bert", "--workers", "2", "--gpus-per-run", "1.5"], ["--gpus-per-run 1.5", "whole GPUs"]),
        (["--model", "bert", "--gpus-per-run", "0.5"], ["--gpus-per-run applies to runs on Ray", "--workers N"]),
        (["--leaderboard", "--workers", "2"], ["--workers applies to runs: give --model"]),
    ],
)
def test_fanout_flags_out_of_place_are_one_line(flags, words, capsys, no_model_loading):
    assert main(flags) == 2
    line = one_error_line(capsys.readouterr().err)
    for word in words:
        assert word in line, line


def test_without_ray_installed_the_fanout_says_what_to_install(monkeypatch, capsys, tmp_path):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    flags = ["--model", "tfidf", "--data-dir", str(SAMPLE_DIR), "--results-dir", str(tmp_path), "--workers", "2"]
    assert main(flags) == 2
    assert one_error_line(capsys.readouterr().err) == (
        'error: --workers and --ray-address run the queue on Ray, which is not installed: pip install -e ".[ray]"'
    )


def test_ctrl_c_stops_every_run_and_leaves_no_worker_and_no_half_written_result(tmp_path):
    import psutil

    options = "--batch-size 16 --learning-rate 5e-3 --max-steps 4000 --eval-every 20 --seeds 1 2"
    child, results = fanned_out_child(tmp_path, options, workers=2)
    wait_while_running(
        child,
        lambda: (
            len(list(results.glob(".fanout-*/*.started"))) == 2
            and bool(list(results.glob("*-seed*-*/run_config.json")))
        ),
        "start of both runs",
    )
    workers = [json.loads(path.read_text().splitlines()[0])["pid"] for path in results.glob(".fanout-*/*.started")]
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err[-3000:]
    assert "error: interrupted: 2 running runs stopped, 0 not started" in err and "Traceback" not in err
    time.sleep(1)
    assert not [pid for pid in workers if psutil.pid_exists(pid)], "a Ray worker outlived the command"
    assert not list(results.glob("*/metrics.json")) and not list(results.rglob("*.tmp"))
