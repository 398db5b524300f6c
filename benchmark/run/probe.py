"""A linear probe's run (--linear-probe): the frozen encoder's vectors, a logistic regression, the usual results.

No Trainer: the encoder is run once over each split (the vectors are cached), and the regression is fitted in
seconds. The regression's weights become the classifier's head, so prediction and export treat the saved model
like any other.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.atomic import write_json
from benchmark.baselines.probe import embed, embedding_key, embedding_path, fit_probe
from benchmark.config import PROBE_OPTIONS, RunConfig
from benchmark.console import log
from benchmark.data.coverage import tokenisation_report
from benchmark.data.encode import cache_key, encode_split
from benchmark.environment import environment, peak_memory_mb
from benchmark.errors import HarnessError
from benchmark.metrics import cross_entropy, score
from benchmark.model.checkpoint import LoadOptions
from benchmark.model.classifier import count_parameters, create_classifier, save_classifier
from benchmark.model.sources import encoder_source
from benchmark.model.tokenizer import normalisation
from benchmark.phases import Phases, describe, size_of
from benchmark.record import BackboneRecord, MetricsRecord, RunRecord, TimingRecord, TrainingRecord, write_results
from benchmark.registry import Backbone
from benchmark.run.folder import RUN_CONFIG, new_run_dir, run_config_of
from benchmark.serve.cost import inference_cost
from benchmark.serve.predict import TorchPredictor


def run_probe(config: RunConfig, backbone: Backbone, task, phases: Phases) -> Path:
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        raise HarnessError(
            "--linear-probe runs in one process (the encoder is run once and the regression fitted in seconds); "
            "start it with python run.py, not torchrun or accelerate launch"
        )
    source, source_record = encoder_source(config, backbone, task)
    log(f"loading {backbone.name} ({backbone.architecture}) from {source_record}, frozen for a linear probe")
    options = LoadOptions(config.cache_dir, config.offline, config.allow_missing_weights, config.max_length)
    with phases("model_load"):
        classifier = create_classifier(
            backbone, len(task.label_names), source=source, seed=config.seed, options=options
        )
        model, tokenizer = classifier.model, classifier.tokenizer
        model.requires_grad_(False)
        if torch.cuda.is_available():
            model.cuda()
    splits = {name: getattr(task, name) for name in ("train", "dev", "test")}
    with phases("encode"):
        encoded = {
            name: encode_split(tokenizer, split.texts, split.labels, config.max_length, truncation=config.truncation)
            for name, split in splits.items()
        }
    tokenisation = tokenisation_report(
        tokenizer,
        {name: (encoded[name], splits[name].texts) for name in splits},
        normalisation(tokenizer),
        log,
        config.allow_high_unk,
    )
    run_dir = new_run_dir(Path(config.results_dir), backbone.name, task.protocol, config.seed)
    write_json(run_dir / RUN_CONFIG, run_config_of(config.to_dict(), task.files, 1))
    log(f"run folder: {run_dir}")

    weight_files = [Path(classifier.weights.folder) / name for name in classifier.weights.files]

    def key_of(name: str) -> str:
        key = cache_key(tokenizer, config.max_length, splits[name].texts, config.truncation)
        return embedding_key(weight_files, model.pooling, key)

    def vectors(name: str) -> np.ndarray:
        return embed(model, encoded[name], tokenizer.pad_token_id, key_of(name), backbone.padding_side)

    # Train seconds cover the vectors of train and dev (read from the cache where they were computed before) and
    # the fit; the inference speed comes from timing the whole model, cache or not.
    cached = all(embedding_path(key_of(name)).is_file() for name in ("train", "dev"))
    fit_started = time.perf_counter()
    with phases("training"):
        weight, bias, history = fit_probe(
            vectors("train"), task.train.labels, vectors("dev"), task.dev.labels, len(task.label_names), log=log
        )
    fit_seconds = time.perf_counter() - fit_started
    with phases("test_scoring"):
        logits = vectors("test") @ weight.T + bias
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(weight))
        model.head.bias.copy_(torch.from_numpy(bias))
    metrics = {
        **score(task.test.labels, logits.argmax(axis=-1), task.label_names),
        "loss": cross_entropy(logits, task.test.labels),
    }
    best = min(history, key=lambda h: (h["dev_loss"], h["step"]))
    with phases("inference_cost"):
        predictor = TorchPredictor(
            model.eval(), tokenizer, task.label_names, backbone.name, config.max_length, config.truncation
        )
        inference = inference_cost(predictor, task.test.texts, str(next(model.parameters()).device))
    record = RunRecord(
        run_id=run_dir.name,
        smoke=config.smoke,
        backbone=BackboneRecord(
            name=backbone.name,
            hub_id=backbone.hub_id,
            source=source_record,
            architecture=backbone.architecture,
            parameters=count_parameters(model),
            weights=classifier.weights.record(),
            trainable_parameters=sum(p.numel() for p in model.head.parameters()),  # the regression alone
            mode="probe",
        ),
        task=task.record(),
        # Only the options a probe reads: learning rate, batch sizes and the like do not apply to it.
        config={name: value for name, value in config.to_dict().items() if name in PROBE_OPTIONS},
        seed=config.seed,
        environment=environment(offline=config.offline),
        timing=TimingRecord(
            wall_seconds=phases.wall(),
            train_seconds=fit_seconds,
            train_examples_per_second=len(task.train.texts) / fit_seconds,
            eval_examples_per_second=1e6 / inference["ms_per_1000_texts_batch_64"],
            peak_memory_mb=peak_memory_mb(),
            inference=inference,
        ),
        tokenization=tokenisation,
        training=TrainingRecord.of_grid(
            history,
            best,
            {
                "classifier": "logistic regression on the frozen encoder's pooled vectors",
                "C": best["C"],
                "encoder_frozen": source_record,
                "pooling": model.pooling,
                "dimensions": int(weight.shape[1]),
                "vectors_cached": cached,
            },
        ),
        metrics=MetricsRecord(**metrics),
    )
    with phases("model_write"):
        save_classifier(model, tokenizer, backbone, task.label_names, run_dir / "model", mode="probe", base=source)
    phases.note("model_write", bytes=size_of(run_dir / "model"))
    header = f"{backbone.name} (linear probe) on {task.dataset} ({task.protocol}), run {run_dir.name}"
    with phases("results_write"):
        write_results(run_dir, record, task.test.texts, task.test.labels, logits, header, phases.complete_timing)
    log(describe(record.timing.phases, record.timing.wall_seconds))
    log(
        f"test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro']['f1']:.4f} (C={best['C']:g}); "
        f"results in {run_dir}"
    )
    return run_dir
