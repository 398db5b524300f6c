"""Timing both pipelines: encoding, the padding each computes, training steps and evaluation."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmark.perf.workload import (
    TRAIN_STEPS,
    Stopwatch,
    log,
    make_harness_trainer,
    make_model,
    repeat_to,
    step_clock,
    variant_config,
)

# Encoding


def reference_ids(examples) -> tuple[np.ndarray, np.ndarray]:
    """The reference's padded rows as the harness's flat ids and lengths, for comparison."""
    lengths = np.fromiter((e[2] for e in examples), dtype=np.int64, count=len(examples))
    ids = np.fromiter((t for e in examples for t in e[0][: e[2]]), dtype=np.int32, count=int(lengths.sum()))
    return ids, lengths


def bench_encoding(tokenizer, texts: list[str], repeats: int, max_length: int) -> dict:
    from benchmark.data.encode import encode_split
    from benchmark.perf import reference

    labels = np.zeros(len(texts), dtype=np.int64)
    times = {"reference": [], "first": [], "cached": []}
    cpu = {"reference": [], "first": [], "cached": []}
    identical = None
    for repeat in range(repeats):
        with Stopwatch(times["reference"], cpu["reference"]):
            examples = reference.encode_lines(tokenizer, texts, labels, reference.PAD_SIZE)
        if repeat == 0:
            expected = reference_ids(examples)
        # The reference's 180k lists would otherwise stay on the heap and slow the harness's timing: every
        # garbage collection the harness's allocations trigger would walk them.
        del examples
        with tempfile.TemporaryDirectory(prefix="speed-cache-") as cache:
            with Stopwatch(times["first"], cpu["first"]):
                first = encode_split(tokenizer, texts, labels, max_length, cache_dir=Path(cache))
            with Stopwatch(times["cached"], cpu["cached"]):
                cached = encode_split(tokenizer, texts, labels, max_length, cache_dir=Path(cache))
        if repeat == 0:
            identical = all(
                np.array_equal(a, b)
                for a, b in (
                    (expected[0], first.ids),
                    (expected[1], first.lengths),
                    (first.ids, cached.ids),
                    (first.offsets, cached.offsets),
                )
            )
        log(
            f"  encode repeat {repeat + 1}: reference {len(texts) / times['reference'][-1]:,.0f}, "
            f"first {len(texts) / times['first'][-1]:,.0f}, cached {len(texts) / times['cached'][-1]:,.0f} lines/s"
        )
    return {"lines": len(texts), "seconds": times, "cpu_seconds": cpu, "identical_ids": identical}


# Padding: how many token positions each pipeline computes, from the batches themselves


def padding_figures(train_set, eval_set, config, make_trainer) -> dict:
    """Token positions per real token: reference (all 32), harness training batches, harness evaluation."""
    from benchmark.run import device

    trainer = make_trainer(train_set, eval_set, config)
    real_train = int(train_set.lengths.sum())
    grouped = sum(batch["input_ids"].numel() for batch in trainer.get_train_dataloader())
    rng = np.random.default_rng(0)
    shuffled = train_set.lengths[rng.permutation(len(train_set))]
    random_dynamic = _padded(shuffled, config.batch_size)
    real_eval = int(eval_set.lengths.sum())
    eval_batch = device.eval_batch_size(config)
    sorted_eval = _padded(np.sort(eval_set.lengths, kind="stable"), eval_batch)
    file_order_eval = _padded(eval_set.lengths, eval_batch)
    return {
        "train_examples": len(train_set),
        "batch_size": config.batch_size,
        "mean_tokens": float(train_set.lengths.mean()),
        "train_reference": config.max_length * len(train_set) / real_train,
        "train_grouped": grouped / real_train,
        "train_random_dynamic": random_dynamic / real_train,
        "eval_examples": len(eval_set),
        "eval_batch_size": eval_batch,
        "eval_reference": config.max_length * len(eval_set) / real_eval,
        "eval_sorted": sorted_eval / real_eval,
        "eval_file_order": file_order_eval / real_eval,
    }


def _padded(lengths: np.ndarray, batch_size: int) -> int:
    return int(
        sum(
            lengths[i : i + batch_size].max() * len(lengths[i : i + batch_size])
            for i in range(0, len(lengths), batch_size)
        )
    )


# Training and evaluation speed


def time_reference_train(model, examples, warm: int, steps: int, learning_rate: float) -> tuple[float, float]:
    """Wall and CPU seconds for `steps` optimiser steps after `warm` untimed ones."""
    from benchmark.perf import reference

    clock = reference.StepClock()
    reference.train(model, examples, None, warm + steps, learning_rate=learning_rate, on_step=clock)
    return clock.seconds(warm, warm + steps)


def time_harness_train(
    model, train_set, eval_set, config, warm: int, steps: int, variant: str | None = None
) -> tuple[float, float]:
    # No dev evaluation inside the timed steps: both pipelines' training is timed alone, evaluation separately.
    config = dataclasses.replace(variant_config(config, variant), max_steps=warm + steps, eval_every=10**9)
    with tempfile.TemporaryDirectory(prefix="speed-trainer-") as folder:
        trainer = make_harness_trainer(model, train_set, eval_set, config, folder)
        clock = step_clock()
        trainer.add_callback(clock)
        trainer.train()
    return (
        clock.times[warm + steps - 1] - clock.times[warm - 1],
        clock.cpu_times[warm + steps - 1] - clock.cpu_times[warm - 1],
    )


def time_reference_eval(model, examples) -> tuple[tuple[float, float], np.ndarray]:
    from benchmark.perf import reference

    wall, cpu = [], []
    with Stopwatch(wall, cpu):
        _, _, predicted = reference.evaluate(model, examples)
    return (wall[0], cpu[0]), predicted


def time_harness_eval(
    model, train_set, eval_set, config, variant: str | None = None
) -> tuple[tuple[float, float], tuple[float, float], np.ndarray]:
    """(wall, CPU) seconds for test scoring and for a dev evaluation as Trainer runs it during training (on the
    set sorted once by length, as the pipeline sorts its dev set), and the predictions."""
    from benchmark.run.evaluate import length_order, predict_logits

    with tempfile.TemporaryDirectory(prefix="speed-trainer-") as folder:
        trainer = make_harness_trainer(model, train_set, eval_set, variant_config(config, variant), folder)
        dev_set = eval_set.subset(length_order(eval_set))
        wall, cpu = [], []
        with Stopwatch(wall, cpu):
            logits, _, _ = predict_logits(trainer, eval_set)
        with Stopwatch(wall, cpu):
            trainer.evaluate(dev_set)
    return (wall[0], cpu[0]), (wall[1], cpu[1]), logits.argmax(axis=-1)


def measure_training(args, task, tokenizer, train_set, eval_set, config, shape: dict, repeats: int) -> dict:
    """Training speed of both pipelines (and the variants), from the same initial weights, repeated."""
    from benchmark.perf import reference

    n_labels = len(task.label_names)
    steps = args.train_steps or TRAIN_STEPS
    reference_steps = args.reference_steps or (steps if args.quick else 4)
    examples = reference.encode_lines(tokenizer, task.train.texts, task.train.labels)
    arms = ("harness", *args.variants)
    train = {
        "reference": [],
        **{arm: [] for arm in arms},
        "harness_examples": steps * config.batch_size,
        "reference_examples": reference_steps * reference.BATCH_SIZE,
        "steps": {"harness": steps, "reference": reference_steps, "warm_up": 1},
        "cpu": {name: [] for name in ("reference", *arms)},
    }
    log(
        f"\ntraining: {steps} timed harness steps and {reference_steps} reference steps at batch "
        f"{config.batch_size}, after one untimed step each, {repeats} repeats"
    )
    for repeat in range(repeats):
        seconds, cpu = time_reference_train(
            make_model(shape, n_labels, 1), examples, 1, reference_steps, args.learning_rate
        )
        train["reference"].append(seconds)
        train["cpu"]["reference"].append(cpu)
        line = f"  train repeat {repeat + 1}: reference {train['reference_examples'] / seconds:.2f}"
        for arm in arms:
            seconds, cpu = time_harness_train(
                make_model(shape, n_labels, 1), train_set, eval_set, config, 1, steps, None if arm == "harness" else arm
            )
            train[arm].append(seconds)
            train["cpu"][arm].append(cpu)
            line += f", {arm} {train['harness_examples'] / seconds:.2f}"
        log(line + f" examples/s; load {os.getloadavg()[0]:.2f}")
    return train


def measure_evaluation(args, task, tokenizer, train_set, eval_set, pick, config, shape: dict, repeats: int) -> dict:
    """Evaluation speed of both pipelines (and the variants) with the same weights, repeated; and whether they
    predict the same labels."""
    from benchmark.perf import reference

    model = make_model(shape, len(task.label_names), 1)
    examples = reference.encode_lines(tokenizer, [task.test.texts[i] for i in pick], task.test.labels[pick])
    arms = ("harness", *args.variants)
    ev = {"examples": len(eval_set), "reference": [], "cpu": {"reference": []}}
    for arm in arms:
        for kind in ("test", "dev"):
            ev[f"{arm}/{kind}"], ev["cpu"][f"{arm}/{kind}"] = [], []
    log(f"\nevaluation: {len(eval_set):,} test headlines, {repeats} repeats after an untimed one")
    # The untimed pass: the first evaluation of a process pays for page faults (the allocator returns big
    # blocks to the system until it has seen them freed) and for building kernels; a run's dev evaluations
    # come after its training steps, when both are paid.
    time_reference_eval(model, examples)
    for arm in arms:
        time_harness_eval(model, train_set, eval_set, config, None if arm == "harness" else arm)
    for repeat in range(repeats):
        (seconds, cpu), predicted_reference = time_reference_eval(model, examples)
        ev["reference"].append(seconds)
        ev["cpu"]["reference"].append(cpu)
        line = f"  eval repeat {repeat + 1}: reference {len(eval_set) / seconds:.2f}"
        for arm in arms:
            test, dev, predicted = time_harness_eval(
                model, train_set, eval_set, config, None if arm == "harness" else arm
            )
            for kind, (seconds, cpu) in (("test", test), ("dev", dev)):
                ev[f"{arm}/{kind}"].append(seconds)
                ev["cpu"][f"{arm}/{kind}"].append(cpu)
            ev[f"agreement/{arm}"] = float((predicted == predicted_reference).mean())
            line += f", {arm} test scoring {len(eval_set) / test[0]:.2f} dev {len(eval_set) / dev[0]:.2f}"
        log(line + f" examples/s; load {os.getloadavg()[0]:.2f}")
    for arm in arms:
        log(
            f"  {arm} and the reference predict the same label, with the same weights, for "
            f"{ev[f'agreement/{arm}']:.2%} of texts"
        )
    return ev


def measure_padding(args, task, tokenizer, train_set, test_set, eval_set, config, scratch: str) -> dict:
    """Token positions per real token of both pipelines: on the training split, on it repeated to --lines, and on
    the evaluation texts the timing uses."""
    from benchmark.data.encode import encode_split
    from benchmark.loading.sources import TINY_SHAPE
    from benchmark.perf.report import format_padding

    def tiny_trainer(train, evaluation, cfg):
        model = make_model(TINY_SHAPE, len(task.label_names), 0)
        return make_harness_trainer(model, train, evaluation, cfg, str(Path(scratch) / "padding"))

    big = encode_split(
        tokenizer, repeat_to(task.train.texts, args.lines), np.resize(task.train.labels, args.lines), 32, cache_dir=None
    )
    figures = {
        "padding": padding_figures(train_set, test_set, config, tiny_trainer),
        "padding_large": padding_figures(big, test_set, config, tiny_trainer),
        "padding_eval_subset": padding_figures(train_set, eval_set, config, tiny_trainer),
    }
    log("\n" + format_padding(figures["padding"]))
    log(
        f"  at {args.lines:,} training texts (mini train repeated): harness length-grouped "
        f"{figures['padding_large']['train_grouped']:.2f}"
    )
    subset = figures["padding_eval_subset"]
    log(
        f"  the {subset['eval_examples']:,} timed evaluation texts: reference {subset['eval_reference']:.2f}, "
        f"harness sorted {subset['eval_sorted']:.2f}, in file order {subset['eval_file_order']:.2f}"
    )
    return figures
