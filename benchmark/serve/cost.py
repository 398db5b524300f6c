"""What inference costs on the machine at hand: milliseconds per 1,000 texts at batch 1 (a request at a time) and
at batch 64 (offline scoring), measured on the run's own test texts, for every kind of model alike.

A torch model is timed as it is served: in its stored precision (fp32) without autocast, LoRA adapters merged
into the weights; the record names the device the texts ran on.
"""

from __future__ import annotations

import time

from benchmark.environment import device_name

# Test texts timed: the first 256 in batches of 64, the first 64 one at a time, after an untimed warm-up.
BATCH_TEXTS = 256
SINGLE_TEXTS = 64
BATCH = 64


def inference_cost(predictor, texts: list[str], device: str = "cpu") -> dict:
    """Time `predictor.logits(texts, batch_size, sort=False)` (benchmark.serve.predict.Predictor) in file order;
    `device` is the torch device it computes on."""
    batch, single = texts[:BATCH_TEXTS], texts[:SINGLE_TEXTS]
    predictor.logits(batch[:BATCH], BATCH, sort=False)  # warm-up: allocations, lazy initialisation, caches
    started = time.perf_counter()
    predictor.logits(batch, BATCH, sort=False)
    batched = time.perf_counter() - started
    for text in single[:5]:
        predictor.logits([text], 1, sort=False)
    started = time.perf_counter()
    for text in single:
        predictor.logits([text], 1, sort=False)
    one_by_one = time.perf_counter() - started
    return from_timings(one_by_one, len(single), batched, len(batch), device)


def from_timings(single_seconds: float, single_texts: int, batch_seconds: float, batch_texts: int, device: str) -> dict:
    """The record's figures from two timings (also used where an export has timed its own texts)."""
    return {
        "ms_per_1000_texts_batch_1": 1e6 * single_seconds / max(single_texts, 1),
        "ms_per_1000_texts_batch_64": 1e6 * batch_seconds / max(batch_texts, 1),
        "texts_batch_1": single_texts,
        "texts_batch_64": batch_texts,
        "device": device_name(device),
    }
