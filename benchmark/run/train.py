"""Fine-tuning with early stopping, on Hugging Face Trainer.

Trainer brings mixed precision, gradient accumulation, multi-device runs
(torchrun / accelerate launch: DDP, FSDP through an accelerate config),
checkpoints and resume. This module only translates a RunConfig into its
arguments and adds a few small callbacks. It never knows which backbone it
trains.

Batches: `--batch-size` is per device, so one optimiser step sees
batch_size x processes x grad_accum examples (the effective batch); the
number of steps, and with it the warm-up and decay of the learning rate, is
counted in those steps.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from transformers import EarlyStoppingCallback, Trainer, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from benchmark.config import RunConfig
from benchmark.data.encode import PaddingCollator
from benchmark.metrics import cross_entropy, macro_f1
from benchmark.run.cadence import CheckpointCadence
from benchmark.run.callbacks import StopOnNonFinite, StopOnSigterm, StopwatchCallback
from benchmark.run.checkpoints import BestInMemory
from benchmark.run.device import cpu_processes, eval_batch_size, num_workers, on_gpu, pad_multiple, resolve_precision
from benchmark.run.progress import progress_for_output
from benchmark.run.sampling import SamplerEpoch, SeededLengthGroupedSampler
from benchmark.run.tracking import trackers_for


def training_arguments(config: RunConfig, output_dir: str, run_name: str | None = None) -> TrainingArguments:
    return TrainingArguments(**training_options(config, output_dir, run_name))


def training_options(config: RunConfig, output_dir: str, run_name: str | None = None) -> dict:
    """Trainer's arguments for a run, as keywords (TrainingArguments checks them against the device it is on)."""
    precision = resolve_precision(config)
    gpu = on_gpu()
    workers = num_workers(config)
    return dict(
        output_dir=output_dir,
        seed=config.seed,
        data_seed=config.seed,
        full_determinism=config.deterministic,
        # Optimisation: AdamW with linear warm-up then linear decay, as in the reference setup. The fused
        # kernel (CUDA and CPU) does the same update as the per-tensor loop in one pass over the parameters.
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        # transformers 5 reads a value below 1 as a fraction of all steps (what warmup_ratio was before).
        warmup_steps=config.warmup,
        lr_scheduler_type="linear",
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=eval_batch_size(config),
        gradient_accumulation_steps=config.grad_accum,
        optim="adamw_torch_fused",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        tf32=True if gpu and torch.cuda.get_device_capability()[0] >= 8 else None,
        torch_compile=config.compile,
        # Trainer refuses bf16 on a machine without an accelerator unless told it runs on the CPU.
        use_cpu=cpu_processes() or (not gpu and precision == "bf16"),
        # Every parameter of encoder, pooler and head gets a gradient, so DDP need not search for unused ones.
        ddp_find_unused_parameters=False,
        # Early stopping on --select-by (dev loss by default). Each new best's weights are copied in memory and
        # restored when training ends (BestInMemory); CheckpointCadence writes a resumable checkpoint every
        # --save-every-minutes (or --save-every steps), keeping the two newest (the one before the newest in case
        # it is damaged later); the driver removes them once the results are written.
        eval_strategy="steps",
        eval_steps=config.eval_every,
        save_strategy="steps",
        save_steps=config.eval_every,
        metric_for_best_model=config.select_by,
        greater_is_better=config.select_by != "loss",
        load_best_model_at_end=False,
        save_total_limit=2,
        # On resume, the early-stopping patience counter continues from the checkpoint instead of restarting.
        restore_callback_states_from_checkpoint=True,
        logging_strategy="steps",
        logging_steps=config.eval_every,
        # The NaN/inf filter reads every step's loss back to the host, a synchronisation per step on a GPU;
        # the loss is read only when logged.
        logging_nan_inf_filter=False,
        # Data: the collator pads each batch to its longest text. Length grouping is the harness's own sampler
        # (BenchmarkTrainer._get_train_sampler); Trainer's "group_by_length" would shuffle evaluation too.
        train_sampling_strategy="random",
        dataloader_num_workers=workers,
        dataloader_persistent_workers=workers > 0,
        dataloader_pin_memory=gpu,
        # From pinned memory, copies to the GPU need not wait: the host prepares the next batch meanwhile.
        accelerator_config={"non_blocking": gpu},
        report_to=config.report_to,
        run_name=run_name,  # what wandb and mlflow call the run: its folder's name
        disable_tqdm=True,  # replaced by benchmark.run.progress
    )


# Trainer's private methods the harness relies on, with the parameters it uses and why no public API does the
# job; a test fails naming any that an installed transformers no longer has (transformers is pinned to 5.x).
PRIVATE_TRAINER_API = {
    "_get_train_sampler": (
        ("train_dataset",),
        "overridden: length-grouped batches in an order fixed by seed and epoch, read from the lengths the encoded "
        "split knows; Trainer's own sampler indexes every example and groups evaluation batches too",
    ),
    "_save_checkpoint": (
        ("model", "trial"),
        "overridden: a resumable checkpoint copied to host memory and written in the background "
        "(benchmark.run.checkpoints); Trainer writes it inside the training loop",
    ),
    "_save_rng_state": (("output_dir",), "called by that checkpoint, so a resume restores the random states"),
    "_save_scaler": (("output_dir",), "called by that checkpoint, for the fp16 gradient scaler's state"),
    "_load_best_model": ((), "called for FSDP and DeepSpeed runs, whose sharded best weights only Trainer loads"),
}


class _BestRestoredHere(logging.Filter):
    """EarlyStoppingCallback warns that without load_best_model_at_end the best model is not restored; here
    it is (benchmark.run.checkpoints.BestInMemory)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without load_best_model_at_end" not in record.getMessage()


logging.getLogger("transformers.trainer_callback").addFilter(_BestRestoredHere())


class BenchmarkTrainer(BestInMemory, Trainer):
    """Trainer with two sampling fixes, the best weights kept in memory, checkpoints written in the background
    (benchmark.run.checkpoints) and a clear failure when one cannot be written.

    Training: length grouping reads the lengths the encoder already knows instead of
    indexing every example, in an order fixed by seed and epoch. Evaluation stays in dataset
    order (Trainer's sequential sampler, or with several processes whole batches dealt in turn
    and gathered back in order), so predictions line up with the examples.
    """

    def evaluate(self, *args, **kwargs):
        with self.timed("dev_evaluation"):
            return super().evaluate(*args, **kwargs)

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None, ignore_keys=None,
                        metric_key_prefix="eval"):  # fmt: skip
        """The loss of the gathered logits, example by example. Trainer averages per-batch means, and with several
        processes the last batch of each is filled up with examples from the start (they are dropped from the
        gathered predictions, but not from that batch's mean): the dev and test losses drifted from those of the
        same weights in one process."""
        output = super().evaluation_loop(
            dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix=metric_key_prefix
        )
        logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
        if logits is not None and output.label_ids is not None:
            output.metrics[f"{metric_key_prefix}_loss"] = cross_entropy(logits.astype(np.float64), output.label_ids)
        return output

    group_by_length = False  # set by build_trainer from --group-by-length

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.group_by_length and hasattr(dataset, "lengths"):
            return SeededLengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=dataset.lengths.tolist(),
                seed=self.args.data_seed if self.args.data_seed is not None else self.args.seed,
            )
        return super()._get_train_sampler(train_dataset)

    def prediction_step(self, *args, **kwargs):
        # Inference mode skips the autograd bookkeeping that no_grad still does (version counters, views).
        # Autocast gives evaluation the training precision even before training has wrapped the model's forward.
        with torch.inference_mode(), self.accelerator.autocast():
            return super().prediction_step(*args, **kwargs)


def collator_for(config: RunConfig, pad_token_id: int, padding_side: str = "right") -> PaddingCollator:
    """Each batch padded to its longest text (to a multiple of 8 on a GPU, where tensor cores want it), or to
    --max-length for static-shape runs."""
    if config.pad_to_max_length:
        return PaddingCollator(pad_token_id, fixed_length=config.max_length, padding_side=padding_side)
    return PaddingCollator(pad_token_id, multiple_of=pad_multiple(), padding_side=padding_side)


def dev_scores(prediction) -> dict:
    """Dev accuracy and macro-F1 beside the loss Trainer computes, for the progress bar, --select-by and the
    training curves."""
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    predicted, gold = np.argmax(logits, axis=-1), prediction.label_ids
    return {"accuracy": float((predicted == gold).mean()), "macro_f1": macro_f1(gold, predicted, logits.shape[-1])}


def build_trainer(
    model,
    train_set,
    dev_set,
    collator,
    config: RunConfig,
    output_dir: str,
    show_progress: bool = True,
    run_dir: Path | None = None,  # trackers name the run after it, TensorBoard writes in it (default: output_dir)
) -> tuple[BenchmarkTrainer, StopwatchCallback]:
    stopwatch, run_dir = StopwatchCallback(), Path(run_dir or output_dir)
    cadence = CheckpointCadence(config.save_every, config.select_by, save_every_minutes=config.save_every_minutes)
    with trackers_for(config, run_dir):  # Trainer sets its trackers up as it is built
        trainer = BenchmarkTrainer(
            model=model,
            args=training_arguments(config, output_dir, run_dir.name),
            train_dataset=train_set,
            eval_dataset=dev_set,
            data_collator=collator,
            compute_metrics=dev_scores,
            callbacks=[
                EarlyStoppingCallback(early_stopping_patience=config.patience_evaluations),
                cadence,
                SamplerEpoch(),
                stopwatch,
                StopOnNonFinite(),
                StopOnSigterm(),
            ],
        )
    trainer.group_by_length = config.group_by_length
    trainer.keep_best()
    cadence.save_best = trainer.sharded  # sharded weights are not copied in memory: the best is a checkpoint
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if show_progress:
        trainer.add_callback(progress_for_output())
    return trainer, stopwatch


def training_summary(trainer: Trainer, stopwatch: StopwatchCallback) -> dict:
    """What happened in training, read off the trainer state for the results file."""
    state, args = trainer.state, trainer.args
    history = []
    for entry in state.log_history:
        if "loss" in entry:
            history.append({"step": entry["step"], "train_loss": entry["loss"]})
        elif "eval_loss" in entry:
            history.append(
                {
                    "step": entry["step"],
                    "dev_loss": entry["eval_loss"],
                    "dev_accuracy": entry.get("eval_accuracy"),
                    "dev_macro_f1": entry.get("eval_macro_f1"),
                }
            )
    dev_points = [h for h in history if "dev_loss" in h]
    # The evaluation restored at the end: the best of the selected score, the earliest of equals.
    selected, higher = f"dev_{args.metric_for_best_model}", args.greater_is_better
    best = min(dev_points, key=lambda h: ((-1 if higher else 1) * (h[selected] or 0.0), h["step"]), default=None)
    effective_batch = args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps
    examples = (state.global_step - stopwatch.first_step) * effective_batch
    train_only = max(stopwatch.train_seconds - stopwatch.eval_seconds, 1e-9)
    return {
        "global_step": state.global_step,
        "max_steps": state.max_steps,
        "best_step": best["step"] if best else None,
        "best_dev_loss": best["dev_loss"] if best else None,
        "stopped_early": state.global_step < state.max_steps,
        "effective_batch": effective_batch,
        "num_processes": args.world_size,
        # What "auto" settings became on this machine.
        "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
        "eval_batch_size": args.per_device_eval_batch_size,
        "num_workers": args.dataloader_num_workers,
        "resumed_from_step": stopwatch.first_step or None,
        "history": history,
        "train_seconds": stopwatch.train_seconds,
        "train_examples_per_second": examples / train_only,
    }
