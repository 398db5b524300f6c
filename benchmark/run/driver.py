"""One run of any kind, top to bottom: settings → read → fit → score → inference cost → record → results folder.

Every run goes through `run`: fine-tuning (with LoRA or distillation), a linear probe, a classic baseline, an
export variant. What differs is the method (benchmark.run.method), chosen once by `method_for`; the driver
never asks which backbone or method it runs. Only the main process (the first of torchrun's) writes and speaks.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.console import log
from benchmark.metrics import score
from benchmark.phases import Phases, describe
from benchmark.record import write_results
from benchmark.registry import get_backbone
from benchmark.run.method import Method
from benchmark.settings import Settings, training_mode

SMOKE_BANNER = "SMOKE RUN: a tiny randomly initialised model on the bundled sample. These numbers are NOT a benchmark."


def method_for(settings: Settings, keep_model: bool = False, show_progress: bool = True) -> Method:
    """The method a run's settings ask for: the backbone's kind, then the training mode."""
    backbone = get_backbone(settings.config.model)
    if backbone.kind == "sklearn":
        from benchmark.run.classic import ClassicBaseline

        return ClassicBaseline(settings, backbone)
    if training_mode(settings.config) == "probe":
        from benchmark.run.probe import LinearProbe

        return LinearProbe(settings, backbone)
    from benchmark.run.finetune import FineTune

    return FineTune(settings, backbone, keep_model=keep_model, show_progress=show_progress)


def run(settings: Settings, skip_finished=False, keep_model=False, show_progress=True, splits=None) -> Path:
    """One run of these settings; returns its results folder. skip_finished: return a finished run of the same
    configuration already in the results folder instead (a queue submitted again). keep_model: a later run of
    this process starts from the same backbone (another seed), so keep the loaded model for it. splits: the data,
    when already read."""
    return run_method(method_for(settings, keep_model, show_progress), skip_finished, splits)


def run_method(method: Method, skip_finished: bool = False, splits=None) -> Path:
    """Run `method` to a results folder and return it (see `run`)."""
    config = method.config
    method.phases = phases = Phases()  # from the process's start for the first run of a command
    if config.smoke:
        log(SMOKE_BANNER)
    with phases("data"):
        splits = method.read(splits)
    done = method.finished(splits) if skip_finished else None
    if done is not None:
        log(f"already finished in {done}; skipped")
        return done
    method.prepare(splits)
    with method.folder() as run_dir:
        fitted = method.fit(run_dir)
        with phases("test_scoring"):
            scored = method.score("test")
            dev = method.score("dev") if method.selects_on_dev else None
        method.save(run_dir)
        metrics = {**score(splits.test.labels, scored.logits.argmax(axis=-1), splits.label_names), "loss": scored.loss}
        if method.is_main:
            with phases("inference_cost"):
                inference = method.inference_cost(splits.test.texts)
            record = method.record(run_dir, splits, fitted, scored, metrics, inference, dev)
            header = f"{fitted.backbone.name}{method.title} on {splits.dataset} ({splits.protocol}), seed {config.seed}"
            header = f"{SMOKE_BANNER}\n{header}" if config.smoke else header
            with phases("results_write"):
                texts, gold = splits.test.texts, splits.test.labels
                write_results(
                    run_dir, record, texts, gold, scored.logits, f"{header}, run {run_dir.name}", phases.complete_timing
                )
            method.finish(run_dir)
            log(describe(record.timing.phases, record.timing.wall_seconds))
    log(
        f"test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro']['f1']:.4f}"
        f"{fitted.summary}; results in {run_dir}" + (f"\n{SMOKE_BANNER}" if config.smoke else "")
    )
    return run_dir
