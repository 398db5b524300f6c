"""The whole-run benchmark's pieces: a runnable model folder, the phase table and the GPU estimate's arithmetic.
Correctness only; nothing here asserts a timing."""

from __future__ import annotations

import json

import pytest

from benchmark.perf import gpu_estimate, wholerun


def fake_run(checkpoint_seconds: float, checkpoint_bytes: int, count: int) -> dict:
    phases = [
        {"phase": "startup", "seconds": 5.0},
        {"phase": "data", "seconds": 0.1},
        {"phase": "model_load", "seconds": 2.0},
        {"phase": "encode", "seconds": 0.5, "cached": False},
        {"phase": "training", "seconds": 100.0},
        {"phase": "dev_evaluation", "seconds": 30.0},
        {"phase": "checkpoint_write", "seconds": checkpoint_seconds, "bytes": checkpoint_bytes, "count": count},
        {"phase": "model_write", "seconds": 0.5, "bytes": 400_000_000},
        {"phase": "test_scoring", "seconds": 100.0},
        {"phase": "results_write", "seconds": 0.1},
        {"phase": "other", "seconds": 1.0},
    ]
    wall = sum(p["seconds"] for p in phases)
    return {
        "seed": 1,
        "wall_seconds": wall,
        "phases": phases,
        "parameters": 102_000_000,
        "train_mean_tokens": 19.6,
        "peak_memory_mb": 5000.0,
    }


def test_the_phase_table_lists_each_phase_and_the_overhead():
    run = fake_run(6.0, 3_600_000_000, 3)
    text = wholerun.format_runs([run], "before")
    assert "checkpoint_write      6.00 3,600MB" in text
    assert wholerun.overhead(run) == pytest.approx(5.0 + 0.1 + 2.0 + 0.5 + 6.0 + 0.5 + 0.1 + 1.0)


def queued(run: dict) -> dict:
    """A second seed of the same queue: no start-up, the model kept, the encoding read from the cache."""
    seconds = {"startup": 0.0, "model_load": 0.01, "encode": 0.05, "other": 0.5}
    return {
        **run,
        "seed": 2,
        "phases": [{**p, "seconds": seconds.get(p["phase"], p["seconds"])} for p in run["phases"]],
    }


def estimated(tmp_path, *flags: str) -> dict:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps({"runs": [fake_run(6.0, 3_600_000_000, 3)]}), encoding="utf-8")
    measured = fake_run(0.0, 0, 0)
    for entry in measured["phases"]:  # written while the test set was scored: no wait, 0.8 s apart
        if entry["phase"] == "model_write":
            entry.update(seconds=0.0, background_seconds=0.8)
    after.write_text(json.dumps({"runs": [measured, queued(measured)]}), encoding="utf-8")
    out = tmp_path / "estimate.json"
    assert gpu_estimate.main([str(before), str(after), "--json", str(out), *flags]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_gpu_estimate_counts_a_checkpoint_per_new_best_before_and_none_in_a_short_run_after(tmp_path, capsys):
    figures = estimated(tmp_path)
    assert "a full BERT-base checkpoint 1.20 GB, written at 600 MB/s" in capsys.readouterr().out
    old, new = figures["A100, this disk, lone run, before"], figures["A100, this disk, lone run, after"]
    # Three epochs of 1,407 steps, 4,221: 42 evaluations, half of them a new best, and 8 periodic checkpoints, each
    # 1.2 GB at 600 MB/s.
    assert old["overhead"]["checkpoint_write"] == pytest.approx((21 + 8) * 2.0)
    assert new["overhead"]["checkpoint_write"] == 0, "a run shorter than ten minutes writes no checkpoint"
    assert new["compute_seconds"] == pytest.approx(old["compute_seconds"])
    # Compute: 6 x 102M x 19.6 x 1.03 positions x 3 x 180,000 at 30% of 312 TFLOP/s.
    positions = 19.6 * 1.03
    assert old["compute"]["training"] == pytest.approx(6 * 102e6 * positions * 3 * 180_000 / (0.3 * 312e12))
    # The model folder is written while the test set is scored, taking as long as it took here, or its 400 MB at
    # 250 MB/s on network storage; one text at a time is taken at 6 ms.
    scoring = new["compute"]["test_scoring"]
    assert new["overhead"]["model_write"] == pytest.approx(0.8 - scoring)
    network = figures["A100, network storage, lone run, after"]
    assert network["overhead"]["model_write"] == pytest.approx(400e6 / 250e6 - scoring)
    batched = 320 * 2 * 102e6 * positions / (0.3 * 312e12)
    assert new["overhead"]["inference_cost"] == pytest.approx(batched + 69 * 0.006)


def test_a_queued_run_shares_the_start_up_the_model_load_and_the_encoding(tmp_path):
    figures = estimated(tmp_path, "--tokenizers", "4")
    lone, queue = figures["H100 SXM, this disk, lone run, after"], figures["H100 SXM, this disk, queued run, after"]
    assert queue["overhead"]["startup"] == pytest.approx(5.0 / 18)  # six backbones x three seeds
    assert queue["overhead"]["model_load"] == pytest.approx((2.0 + 2 * 0.01) / 3)
    scale = 200_000 / 20_000
    assert queue["overhead"]["encode"] == pytest.approx((4 * 0.5 + 14 * 0.05) / 18 * scale)
    assert lone["overhead"]["encode"] == pytest.approx(0.5 * scale)
    assert queue["compute_share"] > lone["compute_share"]


def test_long_training_writes_periodic_checkpoints_and_hides_the_last_write(tmp_path):
    # At 0.3% utilisation an A100 trains for about 2.5 hours: 15 checkpoints of 1.2 GB, ten minutes apart.
    new = estimated(tmp_path, "--utilisation", "0.003")["A100, this disk, lone run, after"]
    training = new["compute"]["training"] + new["compute"]["dev_evaluation"]
    periodic = int(training // 600)
    assert periodic >= 10
    assert new["overhead"]["checkpoint_write"] == pytest.approx(periodic * 1.2e9 / 10e9), "the last write hidden"


def test_the_model_folder_loads_as_a_backbone(tmp_path):
    from benchmark.loading.checkpoint import load_pretrained
    from benchmark.registry import get_backbone

    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "央", "行"]) + "\n")
    shape = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}
    folder = wholerun.make_model_folder(tmp_path / "model", vocab, shape)
    pretrained = load_pretrained(get_backbone("bert"), str(folder))
    assert pretrained.weights.complete and pretrained.encoder.config.vocab_size == 7
