"""A tiny model fine-tuned on real THUCNews headlines (mini protocol) must beat chance by a wide margin."""

from __future__ import annotations

import json

from benchmark.config import RunConfig
from benchmark.data.task import load_task
from benchmark.model.sources import write_tiny_model
from benchmark.registry import get_backbone
from benchmark.run.pipeline import run

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
    task = load_task(shared_thucnews, "mini")
    model_dir = write_tiny_model(get_backbone("bert"), task.train.texts, tmp_path / "tiny-bert", shape=SHAPE)
    config = RunConfig(
        model="bert",
        model_path=str(model_dir),
        data_dir=str(shared_thucnews),
        protocol="mini",
        results_dir=str(tmp_path / "results"),
        batch_size=64,
        learning_rate=1e-3,
        max_steps=400,
        eval_every=50,
        warmup=0.1,
        dropout=0.0,
        offline=True,
    )
    run_dir = run(config, show_progress=False)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"]["protocol"] == "mini" and metrics["task"]["sizes"] == {
        "train": 9000,
        "dev": 1000,
        "test": 10000,
    }
    accuracy = metrics["metrics"]["accuracy"]
    print(f"tiny BERT, mini protocol, 400 steps: test accuracy {accuracy:.4f}")
    assert accuracy > 3 * CHANCE, f"test accuracy {accuracy:.3f} is not far above chance"
