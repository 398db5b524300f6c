"""One run, top to bottom: read → validate → encode → train → evaluate → results folder."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark import data
from benchmark.config import RunConfig
from benchmark.download import ensure_thucnews
from benchmark.encode import PaddingCollator, encode_split
from benchmark.errors import HarnessError
from benchmark.evaluate import format_report, predict_logits, probabilities, score
from benchmark.modeling import TextClassifier, count_parameters, load_encoder, load_tokenizer, save_classifier
from benchmark.registry import get_backbone
from benchmark.results import (
    SCHEMA_VERSION,
    environment,
    new_run_dir,
    peak_memory_mb,
    predictions_csv,
    write_atomic,
    write_json,
)
from benchmark.smoke import write_tiny_model
from benchmark.train import build_trainer, training_summary

DEFAULT_DATA_DIR = "data/thucnews"
SMOKE_BANNER = "SMOKE RUN: a tiny randomly initialised model on the bundled sample. These numbers are NOT a benchmark."


def log(message: str) -> None:
    print(message, flush=True)


def read_task(config: RunConfig) -> data.Task:
    data_dir = Path(config.data_dir)
    if config.data_dir == DEFAULT_DATA_DIR and not config.smoke:
        files = ("class.txt", "dev.txt", "test.txt") if config.protocol == "mini" else None
        ensure_thucnews(data_dir, **({"files": files} if files else {}))
    return data.load_task(data_dir, config.protocol, dev_split=config.dev_split, split_seed=config.split_seed,
                          text_col=config.text_col, label_col=config.label_col)


def run(config: RunConfig, show_progress: bool = True) -> Path:
    """Fine-tune one backbone, score the test set, and return the results folder."""
    started = time.perf_counter()
    backbone = get_backbone(config.model)
    if config.smoke:
        log(SMOKE_BANNER)

    # Read and validate: every file problem stops here, before any model is loaded.
    task = read_task(config)
    log(data.summarize(task))

    # The pretrained encoder and its tokenizer: a hub id, a local folder, or the smoke preset's tiny model.
    with tempfile.TemporaryDirectory(prefix="tiny-model-") as tiny_dir:
        if config.smoke:
            source = str(write_tiny_model(backbone, task.train.texts + task.dev.texts, Path(tiny_dir), config.seed))
        else:
            source = config.model_path or backbone.hub_id
        log(f"loading {backbone.name} ({backbone.architecture}) from {source}")
        tokenizer = load_tokenizer(backbone, source, cache_dir=config.cache_dir, offline=config.offline)
        encoder = load_encoder(backbone, source, cache_dir=config.cache_dir, offline=config.offline)
    model = TextClassifier(encoder, len(task.label_names), config.dropout)

    # Encode each split in one batched call (cached on disk).
    train_set, dev_set, test_set = (
        encode_split(tokenizer, split.texts, split.labels, config.max_length)
        for split in (task.train, task.dev, task.test)
    )
    collator = PaddingCollator(tokenizer.pad_token_id, config.max_length if config.pad_to_max_length else None)

    run_dir = new_run_dir(Path(config.results_dir), backbone.name, task.protocol, config.seed)
    log(f"run folder: {run_dir}")

    # Train with early stopping on dev loss; the best checkpoint is restored when training ends.
    trainer, stopwatch = build_trainer(model, train_set, dev_set, collator, config,
                                       str(run_dir / "checkpoints"), show_progress)
    trainer.train()
    training = training_summary(trainer, stopwatch)

    # Score the test set with the restored best weights.
    logits, test_loss, eval_speed = predict_logits(trainer, test_set)
    predicted = logits.argmax(axis=-1)
    confidence = probabilities(logits)[np.arange(len(predicted)), predicted]
    metrics = {**score(task.test.labels, predicted, task.label_names), "loss": test_loss}

    results = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_dir.name,
        "smoke": config.smoke,
        "backbone": {"name": backbone.name, "hub_id": backbone.hub_id,
                     "source": "tiny random model (smoke)" if config.smoke else source,
                     "architecture": backbone.architecture, "parameters": count_parameters(model)},
        "task": {"dataset": task.dataset, "protocol": task.protocol, "labels": task.label_names,
                 "sizes": {"train": len(train_set), "dev": len(dev_set), "test": len(test_set)},
                 "files": task.files},
        "config": config.to_dict(),
        "seed": config.seed,
        "environment": environment(),
        "timing": {"wall_seconds": time.perf_counter() - started,
                   "train_seconds": training.pop("train_seconds"),
                   "train_examples_per_second": training.pop("train_examples_per_second"),
                   "eval_examples_per_second": eval_speed,
                   "peak_memory_mb": peak_memory_mb()},
        "training": training,
        "metrics": metrics,
    }
    if trainer.is_world_process_zero():
        header = f"{backbone.name} on {task.dataset} ({task.protocol}), seed {config.seed}, run {run_dir.name}"
        if config.smoke:
            header = f"{SMOKE_BANNER}\n{header}"
        save_classifier(trainer.model, tokenizer, backbone, task.label_names, run_dir / "model")
        write_atomic(run_dir / "report.txt", format_report(task.test.labels, predicted, task.label_names, header))
        write_atomic(run_dir / "predictions.csv",
                     predictions_csv(task.test.texts, task.test.labels, predicted, confidence, task.label_names))
        # metrics.json last: its presence marks a complete run for the leaderboard.
        write_json(run_dir / "metrics.json", results)
        if not config.keep_checkpoints:
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    log(f"test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro']['f1']:.4f}, "
        f"best step {training['best_step']} of {training['global_step']}; results in {run_dir}")
    if config.smoke:
        log(SMOKE_BANNER)
    return run_dir


__all__ = ["run", "read_task", "HarnessError"]
