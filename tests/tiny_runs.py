"""Finished runs on the bundled sample, small enough for unit tests: a tiny 4-layer BERT and tfidf.

They are real results folders (metrics.json, predictions.csv, model/), written by the pipeline under the
"full" protocol on the sample, so distillation, export and prediction are tested on what a user would have.
"""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import SAMPLE_DIR, run_config

from benchmark.config import RunConfig
from benchmark.data.load import load_folder
from benchmark.loading.sources import write_tiny_model
from benchmark.registry import get_backbone

# Four layers, so a 3-layer student can be cut from it; narrow and without dropout, so 100 steps take it to
# about 50% test accuracy on the sample in seconds.
TEACHER_SHAPE = {
    "hidden_size": 32,
    "num_hidden_layers": 4,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def one_torch_thread():
    """Tiny models gain nothing from a second thread, and on a busy machine two threads make every small op wait
    for a descheduled peer (runs of a few seconds took a minute); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_bert_run(results: Path, steps: int = 100) -> Path:
    task = load_folder(SAMPLE_DIR, "full")
    init = write_tiny_model(
        get_backbone("bert"), task.train.texts + task.dev.texts, results / "init", seed=1, shape=TEACHER_SHAPE
    )
    config = RunConfig(
        model="bert",
        model_path=str(init),
        name="tiny-bert",  # a checkpoint of its own, not bert-base-chinese
        data_dir=str(SAMPLE_DIR),
        results_dir=str(results),
        batch_size=16,
        learning_rate=5e-3,
        max_steps=steps,
        eval_every=20,
        warmup=0.1,
        dropout=0.0,
        offline=True,
    )
    return run_config(config)


def tfidf_run(results: Path) -> Path:
    return run_config(RunConfig(model="tfidf", data_dir=str(SAMPLE_DIR), results_dir=str(results)))
