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


def test_the_gpu_estimate_counts_a_checkpoint_per_new_best_before_and_overlaps_them_after(tmp_path, capsys):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps({"runs": [fake_run(6.0, 3_600_000_000, 3)]}), encoding="utf-8")
    after.write_text(json.dumps({"runs": [fake_run(0.0, 0, 0)]}), encoding="utf-8")
    out = tmp_path / "estimate.json"
    assert gpu_estimate.main([str(before), str(after), "--json", str(out)]) == 0
    assert "a full BERT-base checkpoint 1.20 GB, written at 600 MB/s" in capsys.readouterr().out
    figures = json.loads(out.read_text(encoding="utf-8"))
    old, new = figures["A100, local disk (measured), before"], figures["A100, local disk (measured), after"]
    # 1,407 steps: 14 evaluations, each a new best, and 2 periodic checkpoints, 1.2 GB each at 600 MB/s.
    assert old["overhead"]["checkpoint_write"] == pytest.approx(16 * 2.0)
    assert new["overhead"]["checkpoint_write"] < 1.0 and new["compute_seconds"] == pytest.approx(old["compute_seconds"])
    # Compute: 6 x 102M x 19.6 x 1.03 positions x 180,000 at 30% of 312 TFLOP/s.
    assert old["compute"]["training"] == pytest.approx(6 * 102e6 * 19.6 * 1.03 * 180_000 / (0.3 * 312e12))


def test_the_model_folder_loads_as_a_backbone(tmp_path):
    from benchmark.model.checkpoint import load_pretrained
    from benchmark.registry import get_backbone

    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "央", "行"]) + "\n")
    shape = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}
    folder = wholerun.make_model_folder(tmp_path / "model", vocab, shape)
    pretrained = load_pretrained(get_backbone("bert"), str(folder))
    assert pretrained.weights.complete and pretrained.encoder.config.vocab_size == 7
