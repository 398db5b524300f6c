"""The reference course pipeline, re-implemented for side-by-side speed and accuracy comparison.

It reproduces what the course's scripts do, not how they are written: every
headline is tokenised on its own and padded to a fixed 32 tokens with a mask,
kept as Python lists and turned into tensors batch by batch; training is a
hand-written fp32 loop (AdamW with linear warm-up and decay, forward and
backward per batch, gradients clipped at 1.0 as the course's optimiser did)
that evaluates the whole dev set every 100 steps and keeps the weights of the
best dev loss. It is used by `benchmark.perf.speed` and its tests only; the harness
never runs it.

One deliberate difference: the course prepended [CLS] and left out [SEP];
here the tokenizer's own per-text call is used, so both pipelines feed the
model identical token ids and the comparison isolates speed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

PAD_SIZE = 32
BATCH_SIZE = 128
EVAL_EVERY = 100

# One example as the course keeps it: (token ids padded to PAD_SIZE, label, real length, attention mask).
Example = tuple[list[int], int, int, list[int]]


def encode_lines(tokenizer, texts: list[str], labels, pad_size: int = PAD_SIZE) -> list[Example]:
    """One tokenizer call per headline, padded to a fixed length, as the course built its datasets."""
    examples = []
    for text, label in zip(texts, labels, strict=True):
        encoded = tokenizer(text, truncation=True, max_length=pad_size, padding="max_length")
        mask = encoded["attention_mask"]
        examples.append((encoded["input_ids"], int(label), sum(mask), mask))
    return examples


def batches(examples: list[Example], batch_size: int = BATCH_SIZE):
    """Batches in file order, each turned into tensors from the Python lists when it is needed."""
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        yield (
            torch.LongTensor([e[0] for e in chunk]),
            torch.LongTensor([e[3] for e in chunk]),
            torch.LongTensor([e[1] for e in chunk]),
        )


def evaluate(model, examples: list[Example], batch_size: int = BATCH_SIZE) -> tuple[float, float, np.ndarray]:
    """Accuracy, mean batch loss and predictions over a whole split, under no_grad, in fp32."""
    model.eval()
    total_loss, predicted, gold = 0.0, [], []
    with torch.no_grad():
        for input_ids, mask, labels in batches(examples, batch_size):
            logits = model(input_ids=input_ids, attention_mask=mask)["logits"]
            total_loss += F.cross_entropy(logits, labels).item()
            predicted.append(logits.argmax(dim=1).numpy())
            gold.append(labels.numpy())
    predicted_all = np.concatenate(predicted) if predicted else np.zeros(0, dtype=np.int64)
    gold_all = np.concatenate(gold) if gold else np.zeros(0, dtype=np.int64)
    n_batches = max(1, math.ceil(len(examples) / batch_size))
    return (
        float((predicted_all == gold_all).mean()) if len(gold_all) else math.nan,
        total_loss / n_batches,
        predicted_all,
    )


def _optimizer(model, learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    # Biases and LayerNorm weights are not decayed, as in the course (and in Trainer).
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
            "weight_decay": weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=learning_rate)


def _linear_schedule(optimizer, warmup_steps: int, total_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train(
    model,
    train_examples: list[Example],
    dev_examples: list[Example] | None,
    steps: int,
    *,
    learning_rate: float = 5e-5,
    weight_decay: float = 0.01,
    warmup: float = 0.05,
    batch_size: int = BATCH_SIZE,
    eval_every: int = EVAL_EVERY,
    checkpoint: Path | None = None,
    on_step: Callable[[int], None] | None = None,
) -> dict:
    """The course's loop for a fixed number of steps; returns the dev history and the best step.

    With a checkpoint path the best dev-loss weights are saved there (as the course saved its model) and
    loaded back at the end. `on_step(step)` is called after every optimiser step, for timing.
    """
    optimizer = _optimizer(model, learning_rate, weight_decay)
    scheduler = _linear_schedule(optimizer, math.ceil(warmup * steps), steps)
    history, best_loss, best_step, step = [], math.inf, None, 0
    model.train()
    while step < steps:
        for input_ids, mask, labels in batches(train_examples, batch_size):
            logits = model(input_ids=input_ids, attention_mask=mask)["logits"]
            model.zero_grad()
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            if on_step is not None:
                on_step(step)
            if dev_examples is not None and step % eval_every == 0:
                dev_accuracy, dev_loss, _ = evaluate(model, dev_examples, batch_size)
                history.append(
                    {"step": step, "train_loss": loss.item(), "dev_loss": dev_loss, "dev_accuracy": dev_accuracy}
                )
                if dev_loss < best_loss:
                    best_loss, best_step = dev_loss, step
                    if checkpoint is not None:
                        torch.save(model.state_dict(), checkpoint)
                model.train()
            if step >= steps:
                break
    if checkpoint is not None and best_step is not None:
        model.load_state_dict(torch.load(checkpoint, weights_only=True))
    return {"history": history, "best_step": best_step, "best_dev_loss": best_loss, "steps": step}


class StepClock:
    """Wall-clock and CPU time at the end of each step, to time a window of steps after a warm-up."""

    def __init__(self):
        self.times: list[float] = []
        self.cpu_times: list[float] = []

    def __call__(self, step: int) -> None:
        self.times.append(time.perf_counter())
        self.cpu_times.append(time.process_time())

    def seconds(self, first: int, last: int) -> tuple[float, float]:
        """Wall and CPU seconds (all threads) spent on steps first+1 .. last (1-based step numbers)."""
        return (self.times[last - 1] - self.times[first - 1], self.cpu_times[last - 1] - self.cpu_times[first - 1])
