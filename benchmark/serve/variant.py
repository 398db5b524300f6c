"""How a serving variant is measured: every test text in batches of 64, and single headlines one at a time."""

from __future__ import annotations

import time

import numpy as np

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
