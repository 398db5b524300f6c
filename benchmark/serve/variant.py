"""A serving variant measured and written as a results folder of its own, beside the run it came from."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np

from benchmark.environment import environment, peak_memory_mb
from benchmark.errors import HarnessError
from benchmark.metrics import cross_entropy, score
from benchmark.record import ABSENT, METRICS_FILE, MODEL_FOLDER, MetricsRecord, RunRecord, TimingRecord, write_results
from benchmark.serve.cost import from_timings

LATENCY_TEXTS = 200  # headlines timed one by one (after a short warm-up)
BATCH_SIZE = 64


def measure(predictor, texts: list[str], latency_texts: int = LATENCY_TEXTS, batch_size: int = BATCH_SIZE) -> dict:
    """Logits of every text (batches of 64, file order, timed) and the latency of single headlines."""
    began = time.perf_counter()
    predictor.logits(texts[:batch_size], batch_size, sort=False)  # warm-up: allocations, lazy initialisation
    started = time.perf_counter()
    logits = predictor.logits(texts, batch_size, sort=False)
    seconds = time.perf_counter() - started
    timed = texts[:latency_texts]
    for text in timed[:10]:
        predictor.logits([text], 1, sort=False)
    latencies = []
    for text in timed:
        started = time.perf_counter()
        predictor.logits([text], 1, sort=False)
        latencies.append(1000 * (time.perf_counter() - started))
    return {
        # Export variants are CPU serving forms (int8, ONNX Runtime on the CPU).
        "inference": from_timings(sum(latencies) / 1000, len(latencies), seconds, len(texts), "cpu"),
        "logits": logits,
        "batch64_examples_per_second": len(texts) / seconds,
        "latency_ms_p50": float(np.percentile(latencies, 50)),
        "latency_ms_p95": float(np.percentile(latencies, 95)),
        "latency_texts": len(timed),
        "seconds": time.perf_counter() - began,
    }


def write_variant(
    run_dir: Path,
    source: RunRecord,
    suffix: str,
    description: str,
    texts: list[str],
    gold: np.ndarray,
    measured: dict,
    reference: dict,
    fill_model,
    extra: dict,
    log,
) -> Path:
    """One results folder for one variant: the source run's record with this variant's scores and timing."""
    folder = run_dir.parent / f"{run_dir.name}-{suffix}"
    if (folder / METRICS_FILE).exists():
        raise HarnessError(f"{folder} exists already; remove it to export again")
    shutil.rmtree(folder, ignore_errors=True)  # an unfinished earlier attempt
    folder.mkdir(parents=True)
    logits = measured["logits"]
    predicted = logits.argmax(axis=1)
    metrics = {**score(gold, predicted, source.task.labels), "loss": cross_entropy(logits.astype(np.float64), gold)}
    fill_model(folder / MODEL_FOLDER)
    figures = {key: measured[key] for key in ("latency_ms_p50", "latency_ms_p95", "batch64_examples_per_second")}
    reference_figures = {key: reference[key] for key in figures}
    name = f"{source.backbone.name}-{suffix}"
    record = dataclasses.replace(
        source,
        run_id=folder.name,
        backbone=dataclasses.replace(source.backbone, name=name, source=f"{source.run_id} ({description})"),
        environment=environment(),
        timing=TimingRecord(
            wall_seconds=measured["seconds"],
            train_seconds=None,
            train_examples_per_second=None,
            eval_examples_per_second=measured["batch64_examples_per_second"],
            peak_memory_mb=peak_memory_mb(),
            **figures,
            latency_texts=measured["latency_texts"],
            batch_size=BATCH_SIZE,
            inference=measured["inference"],
        ),
        metrics=MetricsRecord(**metrics),
        distillation=ABSENT,
        export={
            "from_run": source.run_id,
            "variant": suffix,
            "method": description,
            "reference_fp32": {"accuracy": reference["accuracy"], **reference_figures},
            "accuracy_change_points": 100 * (metrics["accuracy"] - reference["accuracy"]),
            "agreement_with_fp32": float((predicted == reference["logits"].argmax(axis=1)).mean()),
            "speedup": {
                "batch64_throughput": figures["batch64_examples_per_second"]
                / reference_figures["batch64_examples_per_second"],
                "latency_p50": reference_figures["latency_ms_p50"] / figures["latency_ms_p50"],
            },
            **extra,
        },
    )
    header = f"{name} on {source.task.dataset} ({source.task.protocol}), {description}, from run {source.run_id}"
    write_results(folder, record, texts, gold, logits, header)
    log(
        f"{name}: accuracy {metrics['accuracy']:.4f} ({record.export['accuracy_change_points']:+.2f} points), "
        f"p50 {figures['latency_ms_p50']:.2f} ms, p95 {figures['latency_ms_p95']:.2f} ms, batch 64 "
        f"{figures['batch64_examples_per_second']:.0f}/s ({record.export['speedup']['batch64_throughput']:.2f}x "
        f"fp32); results in {folder}"
    )
    return folder
