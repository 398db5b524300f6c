"""A tiny model fine-tuned on real THUCNews headlines (mini protocol) must beat chance by a wide margin."""

from __future__ import annotations

import json

from conftest import run_flags

from benchmark.cli import main
from benchmark.data.load import load_folder
from benchmark.loading.sources import write_tiny_model
from benchmark.registry import get_backbone

CHANCE = 0.10  # ten balanced classes
# One wide layer without dropout learns fastest from random weights in a few hundred steps.
SHAPE = {
    "hidden_size": 128,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 256,
    "max_position_embeddings": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def test_tiny_bert_learns_thucnews_mini(shared_thucnews, tmp_path):
    task = load_folder(shared_thucnews, "mini")
    model_dir = write_tiny_model(get_backbone("bert"), task.train.texts, tmp_path / "tiny-bert", shape=SHAPE)
    options = "--protocol mini --batch-size 64 --learning-rate 1e-3 --max-steps 400 --eval-every 50 --warmup 0.1"
    results = tmp_path / "results"
    assert main(run_flags(model_dir, shared_thucnews, f"{options} --dropout 0 --results-dir {results}")) == 0
    (run_dir,) = results.iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"]["protocol"] == "mini" and metrics["task"]["sizes"] == {
        "train": 9000,
        "dev": 1000,
        "test": 10000,
    }
    accuracy = metrics["metrics"]["accuracy"]
    print(f"tiny BERT, mini protocol, 400 steps: test accuracy {accuracy:.4f}")
    assert accuracy > 3 * CHANCE, f"test accuracy {accuracy:.3f} is not far above chance"
