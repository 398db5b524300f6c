"""One run, top to bottom: read → validate → encode → train → evaluate → results folder.

The same code runs as one process or as each of the N processes torchrun / accelerate launch start: every
process trains on its share of each batch and scores its share of the test set, Trainer gathers the
predictions, and only the main process writes files and prints.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

from accelerate import PartialState
from accelerate.utils import broadcast_object_list

from benchmark.atomic import write_failure, write_json
from benchmark.config import RunConfig
from benchmark.console import log
from benchmark.data.coverage import tokenisation_report
from benchmark.data.encode import encode_split
from benchmark.data.load import read_task
from benchmark.data.task import summarize
from benchmark.environment import environment, peak_memory_mb
from benchmark.errors import HarnessError
from benchmark.metrics import score
from benchmark.model.adapters import merged, prepare_training
from benchmark.model.checkpoint import LoadOptions
from benchmark.model.classifier import (
    balanced_weights,
    count_parameters,
    restore_saved,
    save_classifier,
    trainable_parameters,
)
from benchmark.model.sources import encoder_source
from benchmark.model.tokenizer import normalisation
from benchmark.phases import Phases, describe, size_of
from benchmark.record import (
    ABSENT,
    BackboneRecord,
    MetricsRecord,
    RunRecord,
    TimingRecord,
    TrainingRecord,
    write_results,
)
from benchmark.registry import get_backbone
from benchmark.run.background import InBackground
from benchmark.run.baseline import run_sklearn
from benchmark.run.device import cpu_processes
from benchmark.run.distill import attach_teacher
from benchmark.run.evaluate import length_order, predict_logits
from benchmark.run.folder import finished_run, run_config_of
from benchmark.run.probe import run_probe
from benchmark.run.resume import TRAINED_FILE, claim_run_dir, read_training
from benchmark.run.reuse import load_classifier_once
from benchmark.run.train import build_trainer, collator_for, training_summary
from benchmark.serve.cost import inference_cost
from benchmark.serve.predict import TorchPredictor
from benchmark.settings import check_mode, training_mode

SMOKE_BANNER = "SMOKE RUN: a tiny randomly initialised model on the bundled sample. These numbers are NOT a benchmark."


def write_trained_model(run_dir: Path, training: dict, *args, **kwargs) -> None:
    """model/ (save_classifier's arguments), then trained.json, which marks training as finished: from then on a
    killed run is only scored again."""
    save_classifier(*args, run_dir / "model", **kwargs)
    write_json(run_dir / TRAINED_FILE, training)


def finish_model_write(writing: InBackground, run_dir: Path, phases: Phases, background: bool = True) -> None:
    """Wait for model/ and trained.json to be written; a write failure names the folder."""
    try:
        writing.wait()
    except Exception as error:
        if write_failure(error) is None:
            raise
        raise HarnessError(
            f"cannot write {run_dir / 'model'}: {write_failure(error)}; the checkpoints "
            f"in {run_dir / 'checkpoints'} are intact"
        ) from None
    phases.note("model_write", bytes=size_of(run_dir / "model"))
    if background:
        phases.note("model_write", background_seconds=writing.seconds)


def run(config: RunConfig, show_progress: bool = True, skip_finished: bool = False, keep_model: bool = False) -> Path:
    """Fine-tune one backbone, score the test set, and return the results folder.

    skip_finished: when a finished run of this same configuration is already in the results folder, return it
    instead of running again (a queue submitted again after pre-emption). keep_model: a later run of this
    process starts from the same backbone (another seed), so keep the loaded model for it (benchmark.run.reuse).
    """
    phases = Phases()  # from the process's start for the first run of a command
    # Join the process group torchrun / accelerate launch describe in the environment (alone: nothing to join).
    # The timeout is Trainer's default; the other processes wait that long for the main one's downloads.
    state = PartialState(cpu=cpu_processes(), timeout=timedelta(seconds=1800))
    backbone = get_backbone(config.model)
    if config.smoke:
        log(SMOKE_BANNER)

    # The main process reads, loads and encodes first: it alone downloads data or model files, writes generated
    # checkpoints and fills the encoding cache, and the others then read what it wrote.
    # Read and validate: every file problem stops here, before any model is loaded.
    with state.main_process_first(), phases("data"):
        task = read_task(config)
    # What the command line left unset follows the dataset, within what the backbone is meant for.
    length = config.max_length or min(task.max_length, backbone.max_length or task.max_length)
    config = dataclasses.replace(config, max_length=length, truncation=config.truncation or task.truncation)
    check_mode(backbone, config)
    log(summarize(task))
    if backbone.kind == "sklearn":  # a classic baseline: fitted in seconds, outside Trainer, same results files
        return run_sklearn(config, backbone, task, phases)
    if config.linear_probe:  # a frozen encoder's vectors and a logistic regression: no Trainer either
        return run_probe(config, backbone, task, phases)

    if skip_finished:
        done = [None]
        if state.is_main_process:
            found = finished_run(
                Path(config.results_dir), run_config_of(config.to_dict(), task.files, state.num_processes)
            )
            done = [str(found) if found else None]
        broadcast_object_list(done)
        if done[0]:
            log(f"already finished in {done[0]}; skipped")
            return Path(done[0])

    with state.main_process_first():
        # The pretrained encoder and its tokenizer, from a hub id, a local folder, or a generated checkpoint
        # (smoke preset, from-scratch model, distillation student). Every encoder tensor comes from the
        # checkpoint, or the run stops here (benchmark.model.checkpoint).
        source, source_record = encoder_source(config, backbone, task)
        log(f"loading {backbone.name} ({backbone.architecture}) from {source_record}")
        options = LoadOptions(config.cache_dir, config.offline, config.allow_missing_weights, config.max_length)
        with phases("model_load"):
            classifier, reused = load_classifier_once(
                backbone, len(task.label_names), source, config.dropout, config.seed, options, keep=keep_model
            )
        phases.note("model_load", reused=reused)
        model, tokenizer = classifier.model, classifier.tokenizer
        prepare_training(model, backbone, config)
        if config.class_weights == "balanced":
            model.class_weights = balanced_weights(task.train.labels, len(task.label_names))

        # Encode each split in one batched call (cached on disk).
        with phases("encode"):
            train_set, dev_set, test_set = (
                encode_split(tokenizer, split.texts, split.labels, config.max_length, truncation=config.truncation)
                for split in (task.train, task.dev, task.test)
            )
        phases.note("encode", cached=all(split.cached for split in (train_set, dev_set, test_set)))
    tokenisation = tokenisation_report(
        tokenizer,
        {"train": (train_set, task.train.texts), "dev": (dev_set, task.dev.texts), "test": (test_set, task.test.texts)},
        normalisation(tokenizer),
        log,
        config.allow_high_unk,
    )
    # Dev loss and accuracy do not depend on the order of the dev set; sorted once, every evaluation during
    # training pads as little as the test scoring does.
    dev_set = dev_set.subset(length_order(dev_set))
    collator = collator_for(config, tokenizer.pad_token_id, backbone.padding_side)
    # Distillation: the same student, trained on its teacher's soft labels as well (logits cached by the teacher).
    distillation, listed_name = None, backbone.name
    if config.teacher:
        with state.main_process_first():
            model, train_set, collator, distillation = attach_teacher(
                config, backbone, model, task, train_set, collator, log
            )
        listed_name = distillation.pop("backbone_name")
    log(
        f"effective batch: {config.batch_size} per device x {state.num_processes} process(es) x "
        f"{config.grad_accum} accumulation = {config.batch_size * state.num_processes * config.grad_accum} "
        f"examples per optimiser step"
    )

    mode = training_mode(config)
    with claim_run_dir(config, listed_name, task, state, log) as (run_dir, start):
        trained = start is not None and Path(start).name == TRAINED_FILE
        log(f"run folder: {run_dir}" + (f" (resuming from {Path(start).name})" if start else ""))
        trainer, stopwatch = build_trainer(
            model, train_set, dev_set, collator, config, str(run_dir / "checkpoints"), show_progress, run_dir
        )
        trainer.phases = phases  # dev evaluations, best weights and checkpoints are timed apart from the steps
        model_writing = None
        if trained:
            # Training had finished before the run was stopped: its best weights are in model/.
            log("training had finished; scoring the best weights saved in model/")
            with phases("model_load"):
                restore_saved(model, run_dir / "model")
            training = read_training(run_dir)
        else:
            # Train with early stopping on dev loss; the best checkpoint is restored when training ends. A resumed
            # run restores weights, optimiser, schedule, random states, data position and patience first.
            with phases("training"):
                trainer.train(resume_from_checkpoint=start)
            training = training_summary(trainer, stopwatch)
            if trainer.is_world_process_zero():
                # One process writes the best weights to model/ in the background while it scores the test set,
                # which only reads them; trained.json, written once they are whole, marks training as finished
                # for a resume. The checkpoints stay until metrics.json is written.
                model_writing = InBackground(
                    write_trained_model,
                    run_dir,
                    training,
                    trainer.model,
                    tokenizer,
                    backbone,
                    task.label_names,
                    mode=mode,
                    base=source,
                    name="model-writer",
                )
                if state.num_processes > 1 or trainer.sharded:  # written first: sharded weights are gathered
                    with phases("model_write"):
                        finish_model_write(model_writing, run_dir, phases, background=False)
                    model_writing = None
            state.wait_for_everyone()

        # Score the test set with the restored best weights; every process scores a share, all get the whole.
        try:
            with phases("test_scoring"):
                logits, test_loss, eval_speed = predict_logits(trainer, test_set)
        except BaseException:
            if model_writing is not None:  # finished all the same: the same command then only scores model/
                try:
                    finish_model_write(model_writing, run_dir, phases)
                except Exception as failure:  # the scoring failure is the one raised; this one is said too
                    log(f"also: {failure}")
            raise
        if model_writing is not None:
            with phases("model_write"):  # only what scoring did not hide
                finish_model_write(model_writing, run_dir, phases)
        metrics = {**score(task.test.labels, logits.argmax(axis=-1), task.label_names), "loss": test_loss}
        parameters, trained_parameters = count_parameters(model), trainable_parameters(model)
        inference = ABSENT
        if trainer.is_world_process_zero():  # what a text costs at batch 1 and 64 here, as every kind of run says
            with phases("inference_cost"):
                served = merged(model)  # as --predict serves it: adapters added into the weights
                predictor = TorchPredictor(
                    served.eval(), tokenizer, task.label_names, backbone.name, config.max_length, config.truncation
                )
                inference = inference_cost(predictor, task.test.texts, str(next(served.parameters()).device))

        training = dict(training)
        record = RunRecord(
            run_id=run_dir.name,
            smoke=config.smoke,
            backbone=BackboneRecord(
                name=listed_name,
                hub_id=backbone.hub_id,
                source=source_record,
                architecture=backbone.architecture,
                parameters=parameters,
                trainable_parameters=trained_parameters,
                mode=mode,
                weights=classifier.weights.record(),
            ),
            task=task.record(),
            config=config.to_dict(),
            seed=config.seed,
            environment=environment(offline=config.offline),
            # The main process's figures; a resumed run's training time covers only the steps it trained.
            timing=TimingRecord(
                wall_seconds=phases.wall(),
                train_seconds=training.pop("train_seconds"),
                train_examples_per_second=training.pop("train_examples_per_second"),
                eval_examples_per_second=eval_speed,
                peak_memory_mb=peak_memory_mb(),
                inference=inference,
            ),
            tokenization=tokenisation,
            training=TrainingRecord(**training),
            metrics=MetricsRecord(**metrics),
        )
        if distillation:
            record.distillation = distillation
        if trainer.is_world_process_zero():
            header = f"{backbone.name} on {task.dataset} ({task.protocol}), seed {config.seed}, run {run_dir.name}"
            if config.smoke:
                header = f"{SMOKE_BANNER}\n{header}"
            with phases("results_write"):
                write_results(
                    run_dir, record, task.test.texts, task.test.labels, logits, header, phases.complete_timing
                )
            (run_dir / TRAINED_FILE).unlink(missing_ok=True)
            if not config.keep_checkpoints:
                shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    if trainer.is_world_process_zero():
        log(describe(record.timing.phases, record.timing.wall_seconds))
    log(
        f"test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro']['f1']:.4f}, "
        f"best step {training['best_step']} of {training['global_step']}; results in {run_dir}"
    )
    if config.smoke:
        log(SMOKE_BANNER)
    return run_dir
