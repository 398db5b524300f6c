"""A killed run continues from its last checkpoint to the same result, and a failed save leaves what it had."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from callbacks import with_callback
from conftest import run_flags, sample_copy, sample_lines, tiny_bert, wait_while_running
from safetensors.torch import load_file
from transformers import TrainerCallback

from benchmark.cli import main
from benchmark.errors import HarnessError
from benchmark.run import finetune
from benchmark.run.folder import RUN_CONFIG, lock_run_dir, run_config_of
from benchmark.run.resume import complete_checkpoints, open_run_dir

ROOT = Path(__file__).resolve().parents[1]

# Run in a child process: training slows down from step N on (sys.argv[1]) so the test can kill it there.
SLOW_CHILD = """
import sys
from callbacks import SlowFrom, add_to_runs
from benchmark.cli import main

add_to_runs(SlowFrom(int(sys.argv[1])))
sys.exit(main(sys.argv[2:]))
"""
# Child processes find the callbacks module beside this file.
CHILD_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> dict:
    """The bundled sample with every dev label moved one class on, so dev loss soon stops improving and early
    stopping has a patience counter to carry over; and a tiny random BERT to start from."""
    folder = tmp_path_factory.mktemp("task")
    dev = [f"{text}\t{(int(label) + 1) % 10}" for text, label in (line.rsplit("\t", 1) for line in sample_lines("dev"))]
    data = sample_copy(folder / "data", dev=dev)
    options = "--batch-size 16 --learning-rate 2e-3 --warmup 0 --epochs 6 --eval-every 5 --patience-steps 15"
    flags = run_flags(tiny_bert(folder / "tiny"), data, options + " --save-every 5")
    return {"flags": flags, "folder": folder}


class LastWeights(TrainerCallback):
    """The weights after the last optimiser step (before the best ones are restored)."""

    def __init__(self):
        self.step, self.weights = None, None

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.step = state.global_step
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}


def watch_last_weights(monkeypatch) -> LastWeights:
    watcher = LastWeights()
    add_callback(monkeypatch, watcher)
    return watcher


def metrics_of(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text(encoding="utf-8"))


def first_step_without_improvement(history: list[dict]) -> int | None:
    best = None
    for point in (h for h in history if "dev_loss" in h):
        if best is not None and point["dev_loss"] >= best:
            return point["step"]
        best = point["dev_loss"] if best is None else min(best, point["dev_loss"])
    return None


@pytest.fixture(scope="module")
def uninterrupted(task, tmp_path_factory) -> dict:
    """The run without interruption, for reference: its folder, training record and last weights."""
    results = tmp_path_factory.mktemp("whole")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the killed and resumed runs train: the same sums in the same order
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            whole = watch_last_weights(monkeypatch)
            assert main(task["flags"] + ["--results-dir", str(results)]) == 0
    finally:
        torch.set_num_threads(threads)
    (whole_dir,) = results.iterdir()
    reference = metrics_of(whole_dir)["training"]
    kill_after = first_step_without_improvement(reference["history"])
    assert reference["stopped_early"] and kill_after is not None and kill_after < reference["global_step"], (
        "the crafted task should stop early, after an evaluation without improvement"
    )
    return {"folder": whole_dir, "training": reference, "last": whole, "kill_after": kill_after}


def kill_child(script: str, arguments: list[str], results: Path, wait_for: str) -> Path:
    """Run `script` with `arguments` in a child process, SIGKILL it once `wait_for` exists (a glob under the results
    folder), and return the run folder it left."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *arguments, "--results-dir", str(results)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
    )
    wait_while_running(child, lambda: bool(list(results.glob(wait_for))), wait_for, seconds=120)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    (run_dir,) = results.iterdir()
    assert not (run_dir / "metrics.json").exists()
    return run_dir


@pytest.mark.slow
@pytest.mark.parametrize("when", ["after a checkpoint", "before any checkpoint"])
def test_sigterm_ends_a_run_in_one_line_saying_what_it_stopped_and_how_to_resume(when, task, tmp_path):
    results = tmp_path / "results"
    # Training slows down from the step after the first checkpoint, or from the first step.
    slow_from, wait_for = (
        ("6", "*/checkpoints/checkpoint-5/trainer_state.json")
        if when == "after a checkpoint"
        else ("1", "*/run_config.json")
    )
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_CHILD, slow_from, *task["flags"], "--results-dir", str(results)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=CHILD_ENV,
    )
    wait_while_running(child, lambda: bool(list(results.glob(wait_for))), wait_for, seconds=120)
    run_dir = next(results.glob(wait_for)).parents[2 if when == "after a checkpoint" else 0]
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)
    stderr = stderr.decode()
    assert child.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    if when == "after a checkpoint":
        assert line == (
            f"error: stopped by SIGTERM: bert seed 1, in {run_dir}; the same command resumes it from its last "
            f"checkpoint, {run_dir / 'checkpoints' / 'checkpoint-5'}"
        )
        assert complete_checkpoints(run_dir)[-1].name == "checkpoint-5"
    else:
        assert line == (
            f"error: stopped by SIGTERM: bert seed 1, before it saved anything to resume from, so its run folder "
            f"{run_dir} was removed; the same command starts it again from the beginning"
        )
        assert not run_dir.exists()


# Run in a child process: the background write of the checkpoint of step N (sys.argv[1]) hangs once the weights
# are in its folder, before the optimiser state, so the test can kill the run in the middle of that write.
HANGING_WRITE_CHILD = """
import sys, time
from pathlib import Path
from benchmark.run import writer as checkpoints
from benchmark.cli import main

real_save_file, folder = checkpoints.save_file, f"checkpoint-{sys.argv[1]}.partial"

def save_file(state, path, *args, **kwargs):
    real_save_file(state, path, *args, **kwargs)
    if Path(path).parent.name == folder and Path(path).name == "model.safetensors":
        (Path(path).parent / "reached").touch()
        time.sleep(600)

checkpoints.save_file = save_file
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("when", ["after a checkpoint", "during a checkpoint's write"])
def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(
    when, task, uninterrupted, tmp_path, monkeypatch
):
    reference, kill_after = uninterrupted["training"], uninterrupted["kill_after"]
    results = tmp_path / "killed"
    if when == "after a checkpoint":
        # Killed with SIGKILL once the checkpoint of the first evaluation without improvement exists.
        complete = f"*/checkpoints/checkpoint-{kill_after}/trainer_state.json"
        run_dir = kill_child(SLOW_CHILD, [str(kill_after), *task["flags"]], results, complete)
        checkpoint = complete_checkpoints(run_dir)[-1]
        assert checkpoint.name == f"checkpoint-{kill_after}"
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        # Early stopping's patience counter travels in the checkpoint; here it has already counted an evaluation.
        patience = state["stateful_callbacks"]["EarlyStoppingCallback"]["attributes"]
        assert patience["early_stopping_patience_counter"] >= 1
        # The best weights are an earlier step's: they travel beside the checkpoint's own.
        assert (checkpoint / "best_model.safetensors").is_file()
    else:
        # Killed while that checkpoint is being written in the background: its folder is still partial, so the
        # run continues from the checkpoint before it.
        partial = f"*/checkpoints/checkpoint-{kill_after}.partial/reached"
        run_dir = kill_child(HANGING_WRITE_CHILD, [str(kill_after), *task["flags"]], results, partial)
        assert not (run_dir / "checkpoints" / f"checkpoint-{kill_after}").exists()
        checkpoint = complete_checkpoints(run_dir)[-1]
        assert int(checkpoint.name.split("-")[1]) < kill_after

    # The same command again finds the unfinished run and continues it in the same folder.
    resumed = watch_last_weights(monkeypatch)
    assert main(task["flags"] + ["--results-dir", str(results)]) == 0
    assert list(results.iterdir()) == [run_dir]
    training = metrics_of(run_dir)["training"]
    assert training["resumed_from_step"] == int(checkpoint.name.split("-")[1])
    # Same stopping step (the counter carried over), same losses after the resume (optimiser, schedule, random
    # states and data order restored), same last and best weights.
    assert training["global_step"] == reference["global_step"] and training["best_step"] == reference["best_step"]
    for ours, theirs in zip(training["history"], reference["history"], strict=True):
        assert ours.keys() == theirs.keys() and ours["step"] == theirs["step"]
        for key in ours.keys() - {"step"}:
            assert ours[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-6), (ours, theirs)
    whole = uninterrupted["last"]
    assert resumed.step == whole.step == reference["global_step"]
    for name, tensor in whole.weights.items():
        torch.testing.assert_close(resumed.weights[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    best_whole = load_file(uninterrupted["folder"] / "model" / "model.safetensors")
    best_resumed = load_file(run_dir / "model" / "model.safetensors")
    for name, tensor in best_whole.items():
        torch.testing.assert_close(best_resumed[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    assert not (run_dir / "checkpoints").exists()


@pytest.mark.slow
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES], ids=["disk full", "permission denied"])
def test_a_failed_save_names_the_folder_and_keeps_the_earlier_checkpoints(code, task, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    saves = []
    real_save = torch.save

    def save(obj, path, *args, **kwargs):
        # The third checkpoint's optimiser state meets a full disk, or a folder it may not write to.
        if str(path).endswith("optimizer.pt"):
            saves.append(path)
            if len(saves) == 3:
                raise OSError(code, os.strerror(code), str(path))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    assert main(task["flags"] + ["--results-dir", str(results)]) == 2
    (run_dir,) = results.iterdir()
    partial = Path(saves[-1]).parent  # written in the background, then renamed to the checkpoint's name
    failed = partial.with_name(partial.name.removesuffix(".partial"))
    assert partial.name.endswith(".partial")
    (message,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert f"error: cannot save a checkpoint in {failed}: {os.strerror(code)} (" in message
    kept = complete_checkpoints(run_dir)
    steps = [int(checkpoint.name.split("-")[1]) for checkpoint in kept]
    assert message.endswith(
        f"MB free there); the checkpoints of steps {steps[0]} and {steps[1]} are intact, and the same command "
        f"resumes from step {steps[1]} once there is room"
    )
    assert not partial.exists() and not failed.exists(), "the partial checkpoint is removed"
    assert kept and all((c / "model.safetensors").is_file() and (c / "optimizer.pt").is_file() for c in kept)
    assert not (run_dir / "metrics.json").exists()

    # Once it can write again, the same command resumes from the last checkpoint that was kept and finishes.
    monkeypatch.setattr(torch, "save", real_save)
    assert main(task["flags"] + ["--results-dir", str(results)]) == 0
    assert list(results.iterdir()) == [run_dir]
    assert metrics_of(run_dir)["training"]["resumed_from_step"] == int(kept[-1].name.split("-")[1])


def test_a_failed_first_save_says_that_nothing_is_left_to_resume_from(task, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    real_save = torch.save

    def save(obj, path, *args, **kwargs):
        if str(path).endswith("optimizer.pt"):  # the first checkpoint's optimiser state meets a full disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    assert main(task["flags"] + ["--results-dir", str(results)]) == 2
    (message,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert (
        message.startswith("error: cannot save a checkpoint in ")
        and "/checkpoint-5: No space left on device (" in message
    )
    assert message.endswith(
        "MB free there); no checkpoint had been written yet, so the run must start again from the beginning once "
        "there is room"
    )
    assert "intact" not in message
    assert not results.exists() or not list(results.iterdir()), "the run folder, holding nothing, is gone"


def test_the_best_weights_are_restored_from_memory_without_a_checkpoint(task, tmp_path, monkeypatch):
    """With --save-every 0 and --save-every-minutes 0 no checkpoint is ever written, and the weights scored are
    exactly the best evaluation's, though training went on past it."""
    from benchmark.run.train import BenchmarkTrainer

    class AtEvaluation(TrainerCallback):
        def __init__(self):
            self.weights = {}

        def on_evaluate(self, args, state, control, model=None, **kwargs):
            self.weights[state.global_step] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    seen, saves = AtEvaluation(), []
    add_callback(monkeypatch, seen)
    real_save = BenchmarkTrainer._save_checkpoint
    monkeypatch.setattr(BenchmarkTrainer, "_save_checkpoint", lambda *a: saves.append(a) or real_save(*a))
    flags = ["--save-every", "0", "--save-every-minutes", "0", "--results-dir", str(tmp_path)]
    assert main(task["flags"] + flags) == 0
    (run_dir,) = tmp_path.iterdir()
    training = metrics_of(run_dir)["training"]
    assert saves == [] and training["best_step"] < training["global_step"]
    best = load_file(run_dir / "model" / "model.safetensors")
    for name, tensor in seen.weights[training["best_step"]].items():
        assert torch.equal(best[name], tensor), name
    phases = {p["phase"]: p for p in metrics_of(run_dir)["timing"]["phases"]}
    assert phases["best_weights"]["count"] >= 1 and "checkpoint_write" not in phases


# --- which folder a run continues ----------------------------------------------------------------------------


def fake_run(results: Path, name: str, record: dict, steps=(5, 10)) -> Path:
    folder = results / name
    (folder / "checkpoints").mkdir(parents=True)
    (folder / RUN_CONFIG).write_text(json.dumps(record), encoding="utf-8")
    for step in steps:
        checkpoint = folder / "checkpoints" / f"checkpoint-{step}"
        checkpoint.mkdir()
        (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step}), encoding="utf-8")
    return folder


DATA = {"test": {"path": "data/test.txt", "sha256": "abc", "lines": 100}}
RECORD = run_config_of({"model": "bert", "seed": 1, "batch_size": 16, "results_dir": "a", "resume": "auto"}, DATA, 1)


def test_a_checkpoint_cut_short_is_never_resumed_from(tmp_path):
    folder = fake_run(tmp_path, "bert-full-seed1-20260101-000000-0001", RECORD, steps=(5, 10))
    (folder / "checkpoints" / "checkpoint-15").mkdir()  # killed before trainer_state.json was written
    (folder / "checkpoints" / "checkpoint-20").mkdir()
    (folder / "checkpoints" / "checkpoint-20" / "trainer_state.json").write_text('{"global_st', encoding="utf-8")
    assert [c.name for c in complete_checkpoints(folder)] == ["checkpoint-5", "checkpoint-10"]

    lock, picked, checkpoint = open_run_dir(tmp_path, "bert", "full", 1, RECORD, "auto")
    assert picked == folder and checkpoint.name == "checkpoint-10"
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["checkpoint-10", "checkpoint-5"]
    lock.close()


def test_only_an_unfinished_free_run_of_the_same_configuration_is_continued(tmp_path):
    other_flags = run_config_of({**RECORD["config"], "batch_size": 32}, DATA, 1)
    fake_run(tmp_path, "bert-full-seed1-20260101-000000-0001", other_flags)
    other_data = {"test": {**DATA["test"], "sha256": "def"}}
    fake_run(tmp_path, "bert-full-seed1-20260101-000000-0002", run_config_of(RECORD["config"], other_data, 1))
    fake_run(tmp_path, "bert-full-seed1-20260101-000000-0003", run_config_of(RECORD["config"], DATA, 2))
    finished = fake_run(tmp_path, "bert-full-seed1-20260101-000000-0004", RECORD)
    (finished / "metrics.json").write_text("{}", encoding="utf-8")
    older = fake_run(tmp_path, "bert-full-seed1-20260101-000000-0005", RECORD)
    # Where results go and how often checkpoints are kept do not change what is trained.
    newer = fake_run(
        tmp_path,
        "bert-full-seed1-20260101-000000-0006",
        run_config_of({**RECORD["config"], "results_dir": "b"}, DATA, 1),
    )

    lock, picked, _ = open_run_dir(tmp_path, "bert", "full", 1, RECORD, "auto")
    assert picked == newer
    # While that run holds its folder, a second identical run takes the older one, and a third a new folder.
    second, picked_second, _ = open_run_dir(tmp_path, "bert", "full", 1, RECORD, "auto")
    assert picked_second == older
    third, picked_third, checkpoint = open_run_dir(tmp_path, "bert", "full", 1, RECORD, "auto")
    assert checkpoint is None and picked_third.parent == tmp_path
    assert picked_third not in {newer, older, finished} and (picked_third / RUN_CONFIG).is_file()
    for held in (lock, second, third):
        held.close()
    # --no-resume always starts afresh.
    fresh, picked_fresh, checkpoint = open_run_dir(tmp_path, "bert", "full", 1, RECORD, "never")
    assert checkpoint is None and picked_fresh not in {newer, older}
    fresh.close()


def test_resume_errors_say_why(tmp_path):
    with pytest.raises(HarnessError, match=r"nothing to resume: no unfinished run of this configuration"):
        open_run_dir(tmp_path, "bert", "full", 1, RECORD, "latest")
    other = fake_run(tmp_path, "other", run_config_of({**RECORD["config"], "batch_size": 32}, DATA, 1))
    with pytest.raises(
        HarnessError,
        match=r"cannot resume .*other: it was started with other settings: "
        r"--batch-size 32 there, 16 here",
    ):
        open_run_dir(tmp_path, "bert", "full", 1, RECORD, str(other))
    same = fake_run(tmp_path, "same", RECORD)
    held = lock_run_dir(same)
    with pytest.raises(HarnessError, match=r"another process is running in it"):
        open_run_dir(tmp_path, "bert", "full", 1, RECORD, str(same))
    held.close()
    (same / "metrics.json").write_text("{}", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"it is a finished run"):
        open_run_dir(tmp_path, "bert", "full", 1, RECORD, str(same))


def test_a_full_disk_is_recognised_in_each_library_s_own_words():
    from safetensors import SafetensorError

    from benchmark.atomic import write_failure

    # As torch.save and safetensors reported a full disk when this harness wrote to a full filesystem.
    assert write_failure(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) == "No space left on device"
    full = SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert write_failure(full) == "No space left on device"
    assert "could not be written" in write_failure(
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 9664 vs 9556")
    )
    assert write_failure(RuntimeError("CUDA out of memory")) is None
    assert write_failure(ValueError("a bug")) is None


# --- nothing lost, nothing stuck ------------------------------------------------------------------------------

# Run in a child process: the process kills itself (SIGKILL) while it scores the test set, once the model/ being
# written in the background meanwhile is whole.
KILLED_BEFORE_SCORING = """
import os, signal, sys, threading
from benchmark.run import finetune
from benchmark.cli import main

def killed(*args, **kwargs):
    for thread in threading.enumerate():
        if thread.name == "model-writer":
            thread.join()
    os.kill(os.getpid(), signal.SIGKILL)

finetune.predict_logits = killed
sys.exit(main(sys.argv[1:]))
"""


class StopAt(TrainerCallback):
    """Raises `error` once a checkpoint of `step` has been saved (or at `step` itself, before any save)."""

    def __init__(self, step: int, error: BaseException, after_save: bool = True):
        self.step, self.error, self.after_save = step, error, after_save

    def on_save(self, args, state, control, **kwargs):
        if self.after_save and state.global_step == self.step:
            raise self.error

    def on_step_end(self, args, state, control, **kwargs):
        if not self.after_save and state.global_step == self.step:
            raise self.error


def add_callback(monkeypatch, callback) -> None:
    monkeypatch.setattr(finetune, "build_trainer", with_callback(finetune.build_trainer, callback))


@pytest.mark.slow
def test_a_kill_after_training_scores_the_saved_weights_without_training_again(task, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    child = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_SCORING, *task["flags"], "--results-dir", str(results)],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        env=CHILD_ENV,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    (run_dir,) = results.iterdir()
    assert (run_dir / "training.json").is_file() and (run_dir / "model" / "model.safetensors").is_file()
    assert complete_checkpoints(run_dir), "the checkpoints stay until the results are written"
    saved = json.loads((run_dir / "training.json").read_text(encoding="utf-8"))
    best = load_file(run_dir / "model" / "model.safetensors")

    from benchmark.run.train import BenchmarkTrainer

    monkeypatch.setattr(BenchmarkTrainer, "train", lambda *a, **k: pytest.fail("nothing is trained again"))
    assert main(task["flags"] + ["--results-dir", str(results)]) == 0
    assert "training had finished; scoring the best weights saved in model/" in capsys.readouterr().out
    assert list(results.iterdir()) == [run_dir]
    metrics = metrics_of(run_dir)
    assert metrics["training"]["global_step"] == saved["global_step"]
    assert metrics["training"]["best_step"] == saved["best_step"]
    for name, tensor in load_file(run_dir / "model" / "model.safetensors").items():
        assert torch.equal(tensor, best[name]), name
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "training.json").exists()


@pytest.mark.slow
def test_a_damaged_checkpoint_is_passed_over_for_the_previous_one(task, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    add_callback(monkeypatch, StopAt(10, KeyboardInterrupt()))
    assert main(task["flags"] + ["--results-dir", str(results)]) == 130
    (run_dir,) = results.iterdir()
    newest = complete_checkpoints(run_dir)[-1]
    assert newest.name == "checkpoint-10"
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])  # cut short, as a full disk or a dying node leaves it

    monkeypatch.undo()
    assert main(task["flags"] + ["--results-dir", str(results)]) == 0
    out = capsys.readouterr().out
    assert f"passing over {newest}: model.safetensors cannot be read" in out
    assert "resuming from checkpoint-5" in out
    assert metrics_of(run_dir)["training"]["resumed_from_step"] == 5


def test_a_run_that_fails_before_saving_anything_leaves_no_folder(task, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    add_callback(monkeypatch, StopAt(2, HarnessError("simulated failure at step 2"), after_save=False))
    assert main(task["flags"] + ["--results-dir", str(results)]) == 2
    assert "error: simulated failure at step 2" in capsys.readouterr().err
    assert not results.exists() or not any(results.iterdir())


def test_damage_is_found_in_every_kind_of_checkpoint_file(tmp_path):
    from safetensors.torch import save_file

    from benchmark.run.resume import damage

    save_file({"x": torch.zeros(4)}, tmp_path / "model.safetensors")
    torch.save({"state": torch.zeros(4)}, tmp_path / "optimizer.pt")
    assert damage(tmp_path) is None
    data = (tmp_path / "optimizer.pt").read_bytes()
    (tmp_path / "optimizer.pt").write_bytes(data[: len(data) - 30])
    assert "optimizer.pt cannot be read" in damage(tmp_path)
    (tmp_path / "optimizer.pt").write_bytes(data)
    (tmp_path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    assert "model.safetensors cannot be read" in damage(tmp_path)


@pytest.mark.slow
def test_a_run_whose_scoring_fails_keeps_its_model_and_is_only_scored_again(task, tmp_path, monkeypatch, capsys):
    """model/ is written while the test set is scored; when scoring fails, the write is finished all the same,
    so the same command scores model/ without training again."""
    results = tmp_path / "results"

    def failing(*args, **kwargs):
        time.sleep(0.2)  # while model/ is being written
        raise RuntimeError("simulated failure while scoring")

    monkeypatch.setattr(finetune, "predict_logits", failing)
    with pytest.raises(RuntimeError, match="simulated failure while scoring"):
        main(task["flags"] + ["--results-dir", str(results)])
    (run_dir,) = results.iterdir()
    assert (run_dir / "training.json").is_file() and (run_dir / "model" / "model.safetensors").is_file()
    best = load_file(run_dir / "model" / "model.safetensors")

    monkeypatch.undo()
    from benchmark.run.train import BenchmarkTrainer

    monkeypatch.setattr(BenchmarkTrainer, "train", lambda *a, **k: pytest.fail("nothing is trained again"))
    assert main(task["flags"] + ["--results-dir", str(results)]) == 0
    assert "training had finished; scoring the best weights saved in model/" in capsys.readouterr().out
    for name, tensor in load_file(run_dir / "model" / "model.safetensors").items():
        assert torch.equal(tensor, best[name]), name
