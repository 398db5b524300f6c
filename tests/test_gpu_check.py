"""The GPU check runs end to end (its --cpu mode, at a tiny shape), and the leaderboard estimate's arithmetic
holds. Correctness only; nothing here asserts a timing."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED_THUCNEWS

from benchmark.perf import gpu_check, leaderboard_estimate

SHARED_VOCAB = SHARED_THUCNEWS.parents[1] / "vocab" / "bert-base-chinese"


@pytest.mark.slow
def test_the_gpu_check_writes_throughput_phases_and_sharing_in_one_file(tmp_path, shared_thucnews):
    if not (SHARED_VOCAB / "vocab.txt").is_file():
        pytest.skip("the real bert-base-chinese vocab.txt is not beside the repository")
    out = tmp_path / "check.json"
    argv = ["--cpu", "--steps", "6", "--data-dir", str(shared_thucnews), "--vocab-dir", str(SHARED_VOCAB)]
    assert gpu_check.main([*argv, "--json", str(out)]) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["device"] == "cpu" and figures["shape"] == "tiny"
    speed = figures["throughput"]
    assert speed["train_examples_per_second"] > 0 and speed["eval_tokens_per_second"] > 0
    assert speed["share_of_h100_bf16_peak"] is None  # no GPU, no share of one
    assert figures["phases"]["global_step"] == 6 and {p["phase"] for p in figures["phases"]["phases"]} >= {
        "startup",
        "training",
        "test_scoring",
    }
    two = figures["two_runs"]
    assert two["ratio"] == pytest.approx(two["one_after_another_seconds"] / two["side_by_side_seconds"])


def test_runs_taken_by_whichever_gpu_frees_first():
    assert leaderboard_estimate.makespan([3, 3, 3, 3], 2) == 6
    assert leaderboard_estimate.makespan([5, 1, 1, 1, 1, 1], 2) == 5
    assert leaderboard_estimate.makespan([2] * 18, 8) == 6  # 18 runs on 8 GPUs: three rounds
    assert leaderboard_estimate.makespan([2] * 18, 64) == 2


def test_two_runs_on_a_gpu_hide_each_others_cpu_work_but_not_their_arithmetic():
    # Compute 10, CPU-side work 4: the pair takes 20 (the arithmetic), less than 2 x 14 one after another.
    assert leaderboard_estimate.pairs([(10.0, 4.0), (10.0, 4.0)]) == [20.0]
    # Mostly CPU-side work: the pair takes as long as its longer run.
    assert leaderboard_estimate.pairs([(1.0, 9.0), (1.0, 3.0), (2.0, 2.0)]) == [10.0, 4.0]
