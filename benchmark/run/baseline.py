"""A scikit-learn baseline's run: fitted outside Trainer in seconds, written as the same results folder."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from benchmark.atomic import write_json
from benchmark.baselines.tfidf import fit_tfidf
from benchmark.config import SKLEARN_OPTIONS, RunConfig
from benchmark.console import log
from benchmark.environment import environment, peak_memory_mb
from benchmark.errors import HarnessError
from benchmark.metrics import cross_entropy, score
from benchmark.phases import Phases, describe, size_of
from benchmark.record import BackboneRecord, MetricsRecord, RunRecord, TimingRecord, TrainingRecord, write_results
from benchmark.registry import Backbone
from benchmark.run.folder import RUN_CONFIG, new_run_dir, run_config_of
from benchmark.serve.cost import inference_cost
from benchmark.serve.predict import TfidfPredictor


def run_sklearn(config: RunConfig, backbone: Backbone, task, phases: Phases | None = None) -> Path:
    """Fit and score a scikit-learn baseline on `task` and write its results folder, as a fine-tuning run does."""
    phases = Phases() if phases is None else phases
    if backbone.name != "tfidf":
        raise HarnessError(f"no scikit-learn recipe for backbone {backbone.name!r}; expected tfidf")
    if config.teacher:
        raise HarnessError(
            "tfidf cannot be a distillation student (it learns from gold labels only); choose a "
            "torch student such as rbt3_student or textcnn, or drop --teacher"
        )
    if config.report_to != "none":  # refusing would stop a queue (--model all) that is fine for every other run
        log(
            f"--report-to {config.report_to} ignored: {backbone.name} is fitted outside Trainer, with no curves to send"
        )
    run_dir = new_run_dir(Path(config.results_dir), backbone.name, task.protocol, config.seed)
    write_json(run_dir / RUN_CONFIG, run_config_of(config.to_dict(), task.files, 1))  # lets --skip-finished find it
    log(f"run folder: {run_dir}")
    with phases("model_load"):  # jieba reads its dictionary on first use: counted here, not as fitting
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    fit_started = time.perf_counter()
    with phases("training"):
        model, history = fit_tfidf(
            task.train.texts, task.train.labels, task.dev.texts, task.dev.labels, len(task.label_names), log=log
        )
    train_seconds = time.perf_counter() - fit_started
    scored = time.perf_counter()
    with phases("test_scoring"):
        logits = model.logits(task.test.texts)
    eval_seconds = time.perf_counter() - scored
    metrics = {
        **score(task.test.labels, logits.argmax(axis=-1), task.label_names),
        "loss": cross_entropy(logits, task.test.labels),
    }
    best = min(history, key=lambda h: (h["dev_loss"], h["step"]))
    with phases("inference_cost"):
        inference = inference_cost(TfidfPredictor(model, task.label_names, backbone.name), task.test.texts, "cpu")
    record = RunRecord(
        run_id=run_dir.name,
        smoke=config.smoke,
        backbone=BackboneRecord(
            name=backbone.name,
            hub_id=None,
            source="fitted from the training texts",
            architecture=backbone.architecture,
            parameters=model.parameters,
            trainable_parameters=model.parameters,
            mode="finetune",
        ),
        task=task.record(),
        # Only the options this run reads: learning rate, dropout, batch sizes and the like do not apply to it.
        config={name: value for name, value in config.to_dict().items() if name in SKLEARN_OPTIONS},
        seed=config.seed,
        environment=environment(extra_packages=("jieba",), offline=config.offline),
        timing=TimingRecord(
            wall_seconds=phases.wall(),
            train_seconds=train_seconds,
            train_examples_per_second=len(task.train.texts) / train_seconds,
            eval_examples_per_second=len(task.test.texts) / eval_seconds,
            peak_memory_mb=peak_memory_mb(),
            inference=inference,
        ),
        training=TrainingRecord.of_grid(
            history,
            best,
            {
                "classifier": "LinearSVC, margins scaled to logits on dev",
                "C": best["C"],
                "scale": best["scale"],
                "features": len(model.terms),
                **model.settings.to_dict(),
            },
        ),
        metrics=MetricsRecord(**metrics),
    )
    try:
        with phases("model_write"):
            model.save(run_dir / "model", backbone.name, task.label_names)
        phases.note("model_write", bytes=size_of(run_dir / "model"))
    except OSError as error:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise HarnessError(f"cannot write the model to {run_dir / 'model'}: {error.strerror or error}") from None
    with phases("results_write"):
        write_results(
            run_dir,
            record,
            task.test.texts,
            task.test.labels,
            logits,
            f"{backbone.name} on {task.dataset} ({task.protocol}), run {run_dir.name}",
            phases.complete_timing,
        )
    log(describe(record.timing.phases, record.timing.wall_seconds))
    log(
        f"test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro']['f1']:.4f} (C={best['C']:g}, "
        f"{train_seconds:.1f} s to fit); results in {run_dir}"
    )
    return run_dir
