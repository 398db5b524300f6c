"""Two CPU processes under torchrun: one results folder, every test example predicted exactly once and in order,
and a run killed mid-way resumes to the same weights as an uninterrupted one.

Two processes train a different trajectory than one process would (twice the effective batch), so the
predictions are checked against the saved model's own predictions in a single process: the same weights must
give the same answer for every example, none dropped or repeated by the sharding.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed
from conftest import run_flags, sample_copy, sample_lines, tiny_bert
from safetensors.torch import load_file
from torch.utils.data import BatchSampler
from transformers import TrainerState

from benchmark.data.encode import PaddingCollator, encode_split
from benchmark.loading.classifier import load_classifier
from benchmark.metrics import probabilities
from benchmark.run.sampling import SamplerEpoch, SeededLengthGroupedSampler

ROOT = Path(__file__).resolve().parents[1]

# run.py, except that with a step number as first argument the main process kills itself (SIGKILL) at that step.
LAUNCHED = """
import sys
from callbacks import KillAt, add_to_runs
from benchmark.cli import main

add_to_runs(KillAt(int(sys.argv.pop(1))))
sys.exit(main())
"""

needs_gloo = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch build has no gloo backend for CPU processes",
)


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
RUN_PY = "import sys\nfrom benchmark.cli import main\nsys.exit(main())\n"


def torchrun(folder: Path, script: str, *args: str, logs: Path | None = None) -> subprocess.CompletedProcess:
    """`script` on two CPU processes. With `logs`, each rank's output is kept apart there (torchrun's --log-dir),
    to tell who said what."""
    (folder / "launched.py").write_text(script, encoding="utf-8")
    apart = ["--log-dir", str(logs), "--redirects", "2"] if logs else []
    # The children find the project and the tests' callbacks module.
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
    }
    return subprocess.run(
        [*TORCHRUN, *apart, str(folder / "launched.py"), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def stderr_per_rank(logs: Path) -> dict[int, str]:
    return {int(path.parent.name): path.read_text(encoding="utf-8") for path in logs.rglob("stderr.log")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """An uninterrupted two-process run, and the same run killed at step 12 and started again."""
    folder = tmp_path_factory.mktemp("distributed")
    # 101 test examples: not divisible by two processes, nor by the evaluation batch of 8.
    test_lines = [*sample_lines("test"), sample_lines("dev")[0]]
    data = sample_copy(folder / "data", test=test_lines)
    # 240 examples / (16 x 2) = 8 steps an epoch: step 12 is inside the second epoch, after checkpoint-10.
    options = "--batch-size 16 --eval-batch-size 8 --learning-rate 5e-3 --warmup 0.1 --max-steps 20 --eval-every 5"
    flags = run_flags(tiny_bert(folder / "tiny"), data, options + " --save-every 5")

    def launch(kill_at: int, results: Path) -> subprocess.CompletedProcess:
        return torchrun(folder, LAUNCHED, str(kill_at), *flags, "--results-dir", str(results))

    whole = launch(0, folder / "whole")
    assert whole.returncode == 0, whole.stderr[-4000:]
    killed = launch(12, folder / "resumed")
    assert killed.returncode != 0, "the main process should have been killed"
    resumed = launch(0, folder / "resumed")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    return {
        "whole": whole,
        "resumed": resumed,
        "folder": folder,
        "test_texts": [t.rsplit("\t", 1)[0] for t in test_lines],
    }


def only_folder(results: Path) -> Path:
    (run_dir,) = results.iterdir()  # made once, by the main process, and shared with the other
    return run_dir


@needs_gloo
@pytest.mark.slow
def test_two_processes_write_one_folder_and_gather_every_test_prediction_once(runs):
    run_dir = only_folder(runs["folder"] / "whole")
    out = runs["whole"].stdout
    assert out.count("run folder: ") == 1 and out.count("test accuracy") == 1, "only the main process prints"
    assert "16 per device x 2 process(es) x 1 accumulation = 32 examples per optimiser step" in out
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"]["sizes"]["test"] == 101 and metrics["environment"]["num_processes"] == 2
    assert metrics["training"]["effective_batch"] == 32 and metrics["training"]["global_step"] == 20
    assert json.loads((run_dir / "run_config.json").read_text(encoding="utf-8"))["num_processes"] == 2
    assert not (run_dir / "checkpoints").exists()

    with open(run_dir / "predictions.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(101))
    assert [r["text"] for r in rows] == runs["test_texts"]

    # The saved weights in this one process, all 101 examples in one batch.
    model, tokenizer, labels = load_classifier(run_dir / "model")
    dataset = encode_split(tokenizer, runs["test_texts"], np.zeros(101, dtype=np.int64), 32, cache_dir=None)
    batch = PaddingCollator(tokenizer.pad_token_id)([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])["logits"].numpy()
    expected = probabilities(logits)
    predicted = expected.argmax(axis=-1)
    assert [r["predicted"] for r in rows] == [labels[i] for i in predicted]
    gathered = np.array([float(r["probability"]) for r in rows])
    np.testing.assert_allclose(gathered, expected[np.arange(101), predicted], atol=2e-6)
    # The probabilities differ from example to example, so a shuffled or shifted row could not pass.
    assert len({r["probability"] for r in rows}) > 50


@needs_gloo
@pytest.mark.slow
def test_two_processes_killed_mid_epoch_resume_to_the_same_weights(runs):
    whole, resumed = only_folder(runs["folder"] / "whole"), only_folder(runs["folder"] / "resumed")
    assert "(resuming from checkpoint-10)" in runs["resumed"].stdout
    reference = json.loads((whole / "metrics.json").read_text(encoding="utf-8"))["training"]
    training = json.loads((resumed / "metrics.json").read_text(encoding="utf-8"))["training"]
    assert training["resumed_from_step"] == 10
    assert [h["step"] for h in training["history"]] == [h["step"] for h in reference["history"]]
    for ours, theirs in zip(training["history"], reference["history"], strict=True):
        for key in ours.keys() - {"step"}:
            assert ours[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-6), (ours, theirs)
    expected = load_file(whole / "model" / "model.safetensors")
    for name, tensor in load_file(resumed / "model" / "model.safetensors").items():
        torch.testing.assert_close(tensor, expected[name], rtol=1e-5, atol=1e-6, msg=name)


def test_the_sampler_hears_the_epoch_through_the_wrappers_of_several_processes():
    # The shape of a two-process training loader after resuming: the sampler sits under two batch samplers.
    sampler = SeededLengthGroupedSampler(4, lengths=list(range(1, 41)), seed=7)
    first_epoch = list(sampler)

    class Loader:
        batch_sampler = type("Shard", (), {"batch_sampler": BatchSampler(sampler, 4, drop_last=False)})()

    SamplerEpoch().on_epoch_begin(None, TrainerState(epoch=1.375), None, train_dataloader=Loader())
    assert sampler.epoch == 1
    second_epoch = list(sampler)
    assert second_epoch != first_epoch and sorted(second_epoch) == list(range(40))
    # The order is a function of seed and epoch alone, whatever the global random state.
    torch.manual_seed(123)
    assert list(sampler) == second_epoch


# run.py, except that the process of rank 1 cannot load the model.
RANK_ONE_FAILS = """
import os, sys
from benchmark.loading import checkpoint
from benchmark.cli import main
from benchmark.errors import HarnessError

load = checkpoint.load_pretrained

def failing(*args, **kwargs):
    if os.environ["RANK"] == "1":
        raise HarnessError("simulated: this process cannot read the model folder")
    return load(*args, **kwargs)

checkpoint.load_pretrained = failing
sys.exit(main())
"""


@needs_gloo
@pytest.mark.slow
def test_the_smoke_preset_runs_under_torchrun(tmp_path):
    smoke = ["--model", "bert", "--smoke", "--max-steps", "6", "--eval-every", "3"]
    done = torchrun(tmp_path, RUN_PY, *smoke, "--results-dir", str(tmp_path / "results"))
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = only_folder(tmp_path / "results")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["environment"]["num_processes"] == 2 and metrics["training"]["global_step"] == 6


@needs_gloo
@pytest.mark.slow
def test_a_failing_rank_is_the_one_message_and_leaves_no_folder(tmp_path):
    results = tmp_path / "results"
    smoke = ["--model", "bert", "--smoke", "--max-steps", "6"]
    done = torchrun(tmp_path, RANK_ONE_FAILS, *smoke, "--results-dir", str(results), logs=tmp_path / "logs")
    per_rank = stderr_per_rank(tmp_path / "logs")
    assert done.returncode != 0
    assert set(per_rank) == {0, 1}, per_rank
    failed = [line for line in per_rank[1].splitlines() if line.strip()]
    assert failed == ["[rank 1] error: simulated: this process cannot read the model folder"], per_rank[1]
    assert "Traceback" not in per_rank[0], per_rank[0]
    healthy = [line for line in per_rank[0].splitlines() if "error:" in line]
    assert len(healthy) <= 1 and all(
        "another process of this run failed" in line or "SIGTERM" in line for line in healthy
    ), per_rank[0]
    assert not results.exists() or not any(results.iterdir()), "no folder is left by a run that trained nothing"


@needs_gloo
@pytest.mark.slow
def test_losses_in_the_record_are_those_of_the_saved_weights_scored_in_one_process(runs):
    """Trainer once took the classifier for a model dividing its loss by the items of all processes, and doubled
    the dev and test losses of a two-process run; the record's losses are now what one process computes."""
    from benchmark.metrics import cross_entropy

    run_dir = only_folder(runs["folder"] / "whole")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    model, tokenizer, labels = load_classifier(run_dir / "model")
    data = runs["folder"] / "data"

    def one_process_loss(lines: list[str]) -> float:
        texts = [line.rsplit("\t", 1)[0] for line in lines]
        gold = np.array([int(line.rsplit("\t", 1)[1]) for line in lines])
        dataset = encode_split(tokenizer, texts, gold, 32, cache_dir=None)
        batch = PaddingCollator(tokenizer.pad_token_id)([dataset[i] for i in range(len(dataset))])
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])["logits"].numpy()
        return cross_entropy(logits.astype(np.float64), gold)

    # The files hold ids; the model's labels must be class.txt's names in id order for the ids to index its logits.
    assert list(labels) == (data / "class.txt").read_text(encoding="utf-8").split()
    test_lines = (data / "test.txt").read_text(encoding="utf-8").splitlines()
    assert metrics["metrics"]["loss"] == pytest.approx(one_process_loss(test_lines), rel=1e-4)
    best = metrics["training"]["best_step"]
    dev_loss = next(h["dev_loss"] for h in metrics["training"]["history"] if h["step"] == best and "dev_loss" in h)
    dev_lines = (data / "dev.txt").read_text(encoding="utf-8").splitlines()
    assert dev_loss == pytest.approx(one_process_loss(dev_lines), rel=1e-4)


@needs_gloo
@pytest.mark.slow
def test_two_processes_train_as_one_process_with_the_same_effective_batch(tmp_path):
    """Batch 16 on each of two processes and batch 32 in one: the same examples in each optimiser step, so the
    same training losses, dev losses and weights over two epochs, to float tolerance (dropout off: its draws
    differ by process). With the loss taken as divided over all processes, the gradients were doubled and
    clipping cut them otherwise."""
    from tiny_runs import TEACHER_SHAPE

    from benchmark.loading.sources import write_tiny_model
    from benchmark.registry import get_backbone

    texts = [line.split("\t")[0] for line in sample_lines("train") + sample_lines("dev")]
    model = write_tiny_model(get_backbone("bert"), texts, tmp_path / "tiny", seed=1, shape=TEACHER_SHAPE)
    # 224 training examples, 7 steps of 32 an epoch: no last batch short of the effective batch, which two
    # processes would each fill up with examples from the start.
    data = sample_copy(tmp_path / "data", train=sample_lines("train")[:224])
    options = "--learning-rate 5e-3 --warmup 0.1 --max-steps 14 --eval-every 4 --dropout 0 --no-group-by-length"
    flags = run_flags(model, data, options)
    two = torchrun(tmp_path, RUN_PY, *flags, "--batch-size", "16", "--results-dir", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *flags, "--batch-size", "32", "--results-dir", str(tmp_path / "one")],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    runs = {name: only_folder(tmp_path / name) for name in ("one", "two")}
    history = {
        name: json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["training"]["history"]
        for name, folder in runs.items()
    }
    assert [h["step"] for h in history["one"]] == [h["step"] for h in history["two"]]
    for ours, theirs in zip(history["two"], history["one"], strict=True):
        for key in ("train_loss", "dev_loss"):
            if key in theirs:
                assert ours[key] == pytest.approx(theirs[key], rel=1e-4), (key, ours, theirs)
    expected = load_file(runs["one"] / "model" / "model.safetensors")
    for name, tensor in load_file(runs["two"] / "model" / "model.safetensors").items():
        torch.testing.assert_close(tensor, expected[name], rtol=1e-4, atol=1e-5, msg=name)


# run.py, except that the process of rank 1 is given another learning rate, or a learning rate out of range.
RANK_ONE_DIFFERS = """
import os, sys
from benchmark.cli import main

if os.environ["RANK"] == "1":
    sys.argv += ["--learning-rate", sys.argv.pop(1)]
else:
    sys.argv.pop(1)
sys.exit(main())
"""


@needs_gloo
@pytest.mark.slow
@pytest.mark.parametrize("rate, expected", [("1e-4", "was started otherwise"), ("-1", "--learning-rate -1")])
def test_a_process_started_otherwise_stops_every_process_in_one_line(rate, expected, tmp_path):
    results = tmp_path / "results"
    smoke = [rate, "--model", "bert", "--smoke", "--max-steps", "4", "--results-dir", str(results)]
    done = torchrun(tmp_path, RANK_ONE_DIFFERS, *smoke, logs=tmp_path / "logs")  # no process left waiting: it ends
    assert done.returncode != 0
    said = "".join(stderr_per_rank(tmp_path / "logs").values())
    assert "Traceback" not in said, said
    lines = [line for line in said.splitlines() if "error:" in line]
    assert any(expected in line for line in lines), said
    if rate == "1e-4":
        assert any("--learning-rate 0.0001 there, 0.001 here" in line for line in lines), lines
    assert not results.exists() or not any(results.iterdir())
