"""Fine-tuning on Trainer: every weight, LoRA adapters, or a distilled student, in one process or several.

The same code runs as one process or as each of the N processes torchrun / accelerate launch start: every
process trains on its share of each batch and scores its share of the test set, Trainer gathers the
predictions, and only the main process writes files and prints. A killed run resumes from its last checkpoint
(benchmark.run.resume); the best weights are written to model/ in the background while the test set is scored.
"""

from __future__ import annotations

import contextlib
import shutil
from datetime import timedelta
from pathlib import Path

from accelerate import PartialState
from accelerate.utils import broadcast_object_list, gather_object

from benchmark.atomic import write_failure, write_json
from benchmark.console import log
from benchmark.data.coverage import tokenisation_report
from benchmark.data.encode import encode_split
from benchmark.errors import HarnessError
from benchmark.loading.adapters import merged, prepare_training
from benchmark.loading.classifier import (
    balanced_weights,
    restore_saved,
    save_classifier,
    serving_settings,
    trainable_parameters,
)
from benchmark.loading.sources import encoder_source, load_options
from benchmark.loading.tokenizer import normalisation
from benchmark.phases import size_of
from benchmark.record import TrainingRecord
from benchmark.run.background import InBackground
from benchmark.run.device import cpu_processes
from benchmark.run.distill import attach_teacher
from benchmark.run.evaluate import length_order, predict_logits
from benchmark.run.method import Fitted, Method, Scored
from benchmark.run.resume import TRAINED_FILE, claim_run_dir, read_training
from benchmark.run.reuse import load_classifier_once
from benchmark.run.train import build_trainer, collator_for, training_summary
from benchmark.serve.predict import TorchPredictor
from benchmark.settings import training_mode


def write_trained_model(run_dir: Path, training: dict, *args, **kwargs) -> None:
    """model/ (save_classifier's arguments), then trained.json, which marks training as finished: from then on a
    killed run is only scored again."""
    save_classifier(*args, run_dir / "model", **kwargs)
    write_json(run_dir / TRAINED_FILE, training)


class FineTune(Method):
    def __init__(self, settings, backbone, keep_model: bool = False, show_progress: bool = True):
        super().__init__(settings, backbone)
        # Join the process group torchrun / accelerate launch describe in the environment (alone: nothing to join).
        # The timeout is Trainer's default; the other processes wait that long for the main one's downloads.
        self.state = PartialState(cpu=cpu_processes(), timeout=timedelta(seconds=1800))
        self.keep_model, self.show_progress = keep_model, show_progress
        self.distillation, self.model_writing, self.start = None, None, None
        # A checkpoint of the user's own is listed under its --name; a distilled student as <student>-kd-<teacher>.
        self.listed_name = settings.config.name or backbone.name

    @property
    def is_main(self) -> bool:
        return self.state.is_main_process

    @property
    def num_processes(self) -> int:
        return self.state.num_processes

    @property
    def name(self) -> str:
        return self.listed_name

    def read(self, splits=None):
        # The main process reads first: it alone downloads data files, and the others then read what it wrote.
        with self.state.main_process_first():
            splits = super().read(splits)
        self.same_on_every_process(splits)
        return splits

    def same_on_every_process(self, splits) -> None:
        """Every process of a run must train the same settings on the same data: each one's resolved settings
        and data files are compared with the main process's, and any difference stops them all alike."""
        if self.num_processes == 1:
            return
        mine = {"config": self.config.to_dict(), "data": {k: f["sha256"] for k, f in sorted(splits.files.items())}}
        everyone = gather_object([mine])
        found = [None]
        if self.is_main:
            main = everyone[0]
            for rank, theirs in enumerate(everyone[1:], 1):
                flags = [
                    f"--{key.replace('_', '-')} {theirs['config'].get(key)!r} there, {main['config'].get(key)!r} here"
                    for key in sorted(main["config"].keys() | theirs["config"].keys())
                    if main["config"].get(key) != theirs["config"].get(key)
                ] + (["other data files (sha256)"] if theirs["data"] != main["data"] else [])
                if flags:
                    found = [f"process {rank} was started otherwise than process 0: {'; '.join(flags)}"]
                    break
        broadcast_object_list(found)
        if found[0]:
            raise HarnessError(f"{found[0]}; every process of a run must be given the same flags and data")

    def finished(self, splits) -> Path | None:
        done = [None]
        if self.is_main:
            found = super().finished(splits)
            done = [str(found) if found else None]
        broadcast_object_list(done)
        return Path(done[0]) if done[0] else None

    def prepare(self, splits) -> None:
        """Load the encoder and its tokenizer and encode the splits; the main process first, since it alone
        downloads model files, writes generated checkpoints and fills the encoding cache."""
        config, backbone, phases = self.config, self.backbone, self.phases
        self.splits = splits
        with self.state.main_process_first():
            # A hub id, a local folder, or a generated checkpoint (smoke preset, from-scratch model, distillation
            # student). Every encoder tensor comes from the checkpoint, or the run stops here.
            self.source, self.source_record = encoder_source(config, backbone, splits)
            log(f"loading {backbone.name} ({backbone.architecture}) from {self.source_record}")
            options = load_options(config, backbone)
            with phases("model_load"):
                self.classifier, reused = load_classifier_once(
                    backbone,
                    len(splits.label_names),
                    self.source,
                    config.dropout,
                    config.seed,
                    options,
                    keep=self.keep_model,
                )
            phases.note("model_load", reused=reused)
            self.model, self.tokenizer = self.classifier.model, self.classifier.tokenizer
            prepare_training(self.model, backbone, config)
            if config.class_weights == "balanced":
                self.model.class_weights = balanced_weights(splits.train.labels, len(splits.label_names))
            with phases("encode"):  # each split in one batched call, cached on disk
                self.encoded = {
                    name: encode_split(
                        self.tokenizer, split.texts, split.labels, config.max_length, truncation=config.truncation
                    )
                    for name, split in (("train", splits.train), ("dev", splits.dev), ("test", splits.test))
                }
            phases.note("encode", cached=all(split.cached for split in self.encoded.values()))
        self.tokenization = tokenisation_report(
            self.tokenizer,
            {name: (encoded, getattr(splits, name).texts) for name, encoded in self.encoded.items()},
            normalisation(self.tokenizer),
            log,
            self.config.allow_high_unk,
        )
        # Dev loss and accuracy do not depend on the order of the dev set; sorted once, every evaluation during
        # training pads as little as the test scoring does.
        self.encoded["dev"] = self.encoded["dev"].subset(length_order(self.encoded["dev"]))
        self.collator = collator_for(config, self.tokenizer.pad_token_id, backbone.padding_side)
        self.student = self.model
        if config.teacher:  # the same student, trained on its teacher's soft labels as well
            with self.state.main_process_first():
                self.student, self.encoded["train"], self.collator, self.distillation = attach_teacher(
                    config, backbone, self.model, splits, self.encoded["train"], self.collator, log
                )
            self.listed_name = self.distillation.pop("backbone_name")
        log(
            f"effective batch: {config.batch_size} per device x {self.num_processes} process(es) x "
            f"{config.grad_accum} accumulation = {config.batch_size * self.num_processes * config.grad_accum} "
            f"examples per optimiser step"
        )

    @contextlib.contextmanager
    def folder(self):
        """The run folder, the same on every process: an unfinished run of this configuration is continued."""
        with claim_run_dir(self.settings, self.name, self.splits, self.state, log) as (run_dir, self.start):
            self.run_dir = run_dir
            log(f"run folder: {run_dir}" + (f" (resuming from {Path(self.start).name})" if self.start else ""))
            yield run_dir

    def fit(self, run_dir: Path) -> Fitted:
        config, phases = self.config, self.phases
        trainer, stopwatch = build_trainer(
            self.student,
            self.encoded["train"],
            self.encoded["dev"],
            self.collator,
            config,
            str(run_dir / "checkpoints"),
            self.show_progress,
            run_dir,
        )
        trainer.phases = phases  # dev evaluations, best weights and checkpoints are timed apart from the steps
        self.trainer = trainer
        if self.start is not None and Path(self.start).name == TRAINED_FILE:
            log("training had finished; scoring the best weights saved in model/")
            with phases("model_load"):
                restore_saved(self.model, run_dir / "model")
            training = read_training(run_dir)
        else:
            # Train with early stopping; the best weights are restored when training ends. A resumed run restores
            # weights, optimiser, schedule, random states, data position and patience first.
            with phases("training"):
                trainer.train(resume_from_checkpoint=self.start)
            training = training_summary(trainer, stopwatch)
            if self.is_main:
                # The best weights go to model/ in the background while the test set is scored (which only reads
                # them); trained.json, written once they are whole, marks training as finished for a resume.
                self.model_writing = InBackground(
                    write_trained_model,
                    run_dir,
                    training,
                    trainer.model,
                    self.tokenizer,
                    self.backbone,
                    self.splits.label_names,
                    serving=serving_settings(config),
                    mode=training_mode(config),
                    base=self.source,
                    name="model-writer",
                )
                if self.num_processes > 1 or trainer.sharded:  # written first: sharded weights are gathered
                    self.save(run_dir, background=False)
            self.state.wait_for_everyone()
        training = dict(training)
        seconds, speed = training.pop("train_seconds"), training.pop("train_examples_per_second")
        return Fitted(
            backbone=self.encoder_record(training_mode(config), trainable_parameters(self.model)),
            training=TrainingRecord(**training),
            # The main process's figures; a resumed run's training time covers only the steps it trained.
            train_seconds=seconds,
            train_examples_per_second=speed,
            sections={"distillation": self.distillation} if self.distillation else {},
            summary=f", best step {training['best_step']} of {training['global_step']}",
        )

    def score(self, name: str) -> Scored:
        """Every process scores a share; all get the whole, in file order."""
        try:
            logits, loss, speed = predict_logits(self.trainer, self.encoded[name])
        except BaseException:
            if self.model_writing is not None:  # finished all the same: the same command then only scores model/
                try:
                    self.save(self.run_dir)
                except Exception as failure:  # the scoring failure is the one raised; this one is said too
                    log(f"also: {failure}")
            raise
        return Scored(logits, loss, speed, labels=self.encoded[name].labels)  # dev is in length order

    def save(self, run_dir: Path, background: bool = True) -> None:
        """Wait for model/ and trained.json to be written (only what scoring did not hide); a failed write names
        the folder."""
        if self.model_writing is None:
            return
        writing, self.model_writing = self.model_writing, None
        with self.phases("model_write"):
            try:
                writing.wait()
            except Exception as error:
                if write_failure(error) is None:
                    raise
                raise HarnessError(
                    f"cannot write {run_dir / 'model'}: {write_failure(error)}; the checkpoints "
                    f"in {run_dir / 'checkpoints'} are intact"
                ) from None
        self.phases.note("model_write", bytes=size_of(run_dir / "model"))
        if background:
            self.phases.note("model_write", background_seconds=writing.seconds)

    @property
    def device(self) -> str:
        return str(next(self.model.parameters()).device)

    def predictor(self) -> TorchPredictor:
        served = merged(self.model)  # as --predict serves it: adapters added into the weights
        config = self.config
        return TorchPredictor(
            served.eval(),
            self.tokenizer,
            self.splits.label_names,
            self.backbone.name,
            config.max_length,
            config.truncation,
        )

    def finish(self, run_dir: Path) -> None:
        (run_dir / TRAINED_FILE).unlink(missing_ok=True)
        if not self.config.keep_checkpoints:
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
