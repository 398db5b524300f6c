"""Fine-tuning with early stopping, on Hugging Face Trainer.

Trainer brings mixed precision, gradient accumulation, multi-device runs
(torchrun / accelerate launch), checkpoints and resume. This module only
translates a RunConfig into its arguments and adds two small callbacks. It
never knows which backbone it trains.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch.utils.data import SequentialSampler
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from transformers.trainer_pt_utils import LengthGroupedSampler

from benchmark.config import RunConfig


def resolve_precision(config: RunConfig) -> str:
    if config.precision != "auto":
        return config.precision
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"  # CPU bf16 changes numerics; it is opt-in with --precision bf16


def training_arguments(config: RunConfig, output_dir: str) -> TrainingArguments:
    precision = resolve_precision(config)
    on_gpu = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=output_dir,
        seed=config.seed,
        data_seed=config.seed,
        full_determinism=config.deterministic,
        # Optimisation: AdamW with linear warm-up then linear decay, as in the reference setup.
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup,
        lr_scheduler_type="linear",
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.grad_accum,
        optim="adamw_torch_fused" if on_gpu else "adamw_torch",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        tf32=True if on_gpu and torch.cuda.get_device_capability()[0] >= 8 else None,
        torch_compile=config.compile,
        # Early stopping on dev loss; a checkpoint is written only when dev loss improves, and the best one
        # is restored at the end.
        eval_strategy="steps",
        eval_steps=config.eval_every,
        save_strategy="best",
        metric_for_best_model="loss",
        greater_is_better=False,
        load_best_model_at_end=True,
        save_total_limit=1,
        logging_strategy="steps",
        logging_steps=config.eval_every,
        # Data: lengths grouped (randomly) for training; the collator pads each batch to its longest text.
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        dataloader_num_workers=config.num_workers,
        dataloader_pin_memory=on_gpu,
        report_to="none",
        disable_tqdm=True,  # replaced by LiveProgress below
    )


class LiveProgress(ProgressCallback):
    """The usual progress bar, with the latest dev loss and accuracy beside it."""

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        super().on_evaluate(args, state, control, **kwargs)
        if self.training_bar is not None and metrics:
            self.training_bar.set_postfix(
                dev_loss=f"{metrics.get('eval_loss', math.nan):.4f}",
                dev_acc=f"{metrics.get('eval_accuracy', math.nan):.4f}",
                best=f"{state.best_metric:.4f}" if state.best_metric is not None else "-",
            )

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass  # metrics go to the bar's postfix and the results file, not to interleaved prints

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        pass  # a second bar for every dev evaluation would only flicker


class StopwatchCallback(TrainerCallback):
    """Training time without the time spent evaluating on dev, for an honest throughput."""

    def __init__(self):
        self.started = self.eval_seconds = 0.0
        self.train_seconds = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.eval_seconds += (metrics or {}).get("eval_runtime", 0.0)

    def on_train_end(self, args, state, control, **kwargs):
        self.train_seconds = time.perf_counter() - self.started


class BenchmarkTrainer(Trainer):
    """Trainer with two sampling fixes.

    Training: length grouping reads the lengths the encoder already knows instead of
    indexing every example. Evaluation: always in dataset order, because Trainer
    otherwise applies the (shuffling) length grouping to evaluation too, and
    predictions would no longer line up with the examples.
    """

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "lengths"):
            return LengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=dataset.lengths.tolist(),
            )
        return super()._get_train_sampler(train_dataset)

    def _get_eval_sampler(self, eval_dataset):
        # With several processes, None lets Accelerate shard the dataset in order.
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None


def dev_accuracy(prediction) -> dict:
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    return {"accuracy": float((np.argmax(logits, axis=-1) == prediction.label_ids).mean())}


def build_trainer(model, train_set, dev_set, collator, config: RunConfig, output_dir: str,
                  show_progress: bool = True) -> tuple[BenchmarkTrainer, StopwatchCallback]:
    stopwatch = StopwatchCallback()
    trainer = BenchmarkTrainer(
        model=model,
        args=training_arguments(config, output_dir),
        train_dataset=train_set,
        eval_dataset=dev_set,
        data_collator=collator,
        compute_metrics=dev_accuracy,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=config.patience_evaluations), stopwatch],
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if show_progress:
        trainer.add_callback(LiveProgress())
    return trainer, stopwatch


def training_summary(trainer: Trainer, stopwatch: StopwatchCallback) -> dict:
    """What happened in training, read off the trainer state for the results file."""
    state, args = trainer.state, trainer.args
    history = []
    for entry in state.log_history:
        if "loss" in entry:
            history.append({"step": entry["step"], "train_loss": entry["loss"]})
        elif "eval_loss" in entry:
            history.append({"step": entry["step"], "dev_loss": entry["eval_loss"],
                            "dev_accuracy": entry.get("eval_accuracy")})
    dev_points = [h for h in history if "dev_loss" in h]
    best = min(dev_points, key=lambda h: (h["dev_loss"], h["step"])) if dev_points else None
    examples = state.global_step * args.per_device_train_batch_size * args.gradient_accumulation_steps \
        * args.world_size
    train_only = max(stopwatch.train_seconds - stopwatch.eval_seconds, 1e-9)
    return {
        "global_step": state.global_step,
        "max_steps": state.max_steps,
        "best_step": best["step"] if best else None,
        "best_dev_loss": best["dev_loss"] if best else None,
        "stopped_early": state.global_step < state.max_steps,
        "history": history,
        "train_seconds": stopwatch.train_seconds,
        "train_examples_per_second": examples / train_only,
    }
