"""What inference costs on the machine at hand: milliseconds per 1,000 texts at batch 1 (a request at a time) and
at batch 64 (offline scoring), measured on the run's own first test texts, for every kind of model alike.

A torch model is timed as it is served: in its stored precision (fp32) without autocast, LoRA adapters merged
into the weights; the record names the device the texts ran on.
"""

from __future__ import annotations

import time

from benchmark.environment import device_name

# Test texts timed, after an untimed warm-up: up to the first 256 in batches of 64 and the first 64 one at a
# time, each timing stopping early once it has run TIME_BUDGET seconds (with at least one batch and
# MIN_SINGLE_TEXTS texts), so that a slow device does not spend minutes on a figure a few seconds settle.
BATCH_TEXTS = 256
SINGLE_TEXTS = 64
BATCH = 64
WARM_UP_TEXTS = 5
MIN_SINGLE_TEXTS = 16
TIME_BUDGET = 2.0


def inference_cost(predictor, texts: list[str], device: str = "cpu", clock=time.perf_counter) -> dict:
    """Time `predictor.logits(texts, batch_size, sort=False)` (benchmark.serve.predict.Predictor) in file order;
    `device` is the torch device it computes on. The record says how many texts each figure timed."""
    predictor.logits(texts[:BATCH], BATCH, sort=False)  # warm-up: allocations, lazy initialisation, caches
    batched, batch_texts = timed(predictor, texts[:BATCH_TEXTS], BATCH, minimum=BATCH, clock=clock)
    for text in texts[:WARM_UP_TEXTS]:
        predictor.logits([text], 1, sort=False)
    one_by_one, single_texts = timed(predictor, texts[:SINGLE_TEXTS], 1, minimum=MIN_SINGLE_TEXTS, clock=clock)
    return from_timings(one_by_one, single_texts, batched, batch_texts, device)


def timed(predictor, texts: list[str], batch: int, minimum: int, clock) -> tuple[float, int]:
    """Seconds and texts scored, `batch` at a time, until all `texts` or TIME_BUDGET once `minimum` are done."""
    seconds, done = 0.0, 0
    while done < len(texts) and (done < minimum or seconds < TIME_BUDGET):
        chunk = texts[done : done + batch]
        started = clock()
        predictor.logits(chunk, batch, sort=False)
        seconds += clock() - started
        done += len(chunk)
    return seconds, done


def from_timings(single_seconds: float, single_texts: int, batch_seconds: float, batch_texts: int, device: str) -> dict:
    """The record's figures from two timings (also used where an export has timed its own texts)."""
    return {
        "ms_per_1000_texts_batch_1": 1e6 * single_seconds / max(single_texts, 1),
        "ms_per_1000_texts_batch_64": 1e6 * batch_seconds / max(batch_texts, 1),
        "texts_batch_1": single_texts,
        "texts_batch_64": batch_texts,
        "device": device_name(device),
    }
