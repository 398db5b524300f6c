"""`python -m benchmark.perf.speed`: the harness's pipeline against the reference course's, side by side here.

Both pipelines run in one process on the same data, tokenizer, model
architecture and initial weights, back to back and repeated, and the table
gives each figure with its ratio to the reference:

- encode: lines per second, first encoding (reference: one tokenizer call per
  headline, padded to 32; harness: `benchmark.data.encode.encode_split`, cache
  miss) and cached re-run (harness: cache hit);
- train: examples per second of optimiser steps, without dev evaluation
  (reference: `benchmark.perf.reference.train`, batches padded to 32, fp32;
  harness: `benchmark.run.train.build_trainer` as a run builds it);
- eval: examples per second over test headlines (reference: batch 128 padded
  to 32 under no_grad; harness: `benchmark.run.evaluate.predict_logits`, and
  Trainer's dev evaluation as it runs every 100 steps on the length-sorted
  dev set);
- peak memory of training at batch 128 and of encoding, each measured in a
  subprocess of its own.

`--variants FIELD=VALUE` adds harness rows with one run option changed
(precision=bf16, eval_batch_size=512). `--accuracy-check` trains both
pipelines the same number of steps on the mini protocol with the quick shape,
several seeds each, and compares test accuracy.
docs/performance.md records the figures and how they were measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark.data import splits as data
from benchmark.perf.accuracy import ARMS, accuracy_check
from benchmark.perf.memory import measure_memory, probe
from benchmark.perf.report import format_accuracy, format_padding, format_table
from benchmark.perf.timing import bench_encoding, measure_evaluation, measure_padding, measure_training
from benchmark.perf.workload import (
    BASE_SHAPE,
    ENCODE_LINES,
    QUICK_SHAPE,
    SHARED_DATA,
    TRAIN_STEPS,
    VOCAB_NOTE,
    VOCAB_SIZE,
    build_tokenizer,
    check_data_dir,
    harness_config,
    load_average,
    load_folder,
    log,
    measurement,
    repeat_to,
    variant_config,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.perf.speed",
        description="Time the harness's pipeline against a re-implementation of the reference course's "
        "(one-line-at-a-time tokenisation, padding to 32, fp32, a hand-written loop) on this machine, "
        "side by side, and print each figure with its ratio to the reference.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=SHARED_DATA,
        help="THUCNews folder with dev.txt and test.txt (mini protocol: train on dev.txt, 10%% held "
        "out, score on test.txt); the default is ../shared/data/thucnews beside the repository",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a small model shape ({QUICK_SHAPE}) instead of BERT-base, fewer examples"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="times each measurement is repeated, the pipelines back to back (default 3, 2 for BERT-base)",
    )
    parser.add_argument(
        "--lines",
        type=int,
        default=ENCODE_LINES,
        help="lines to encode: the dev, held-out and test headlines repeated to this many",
    )
    parser.add_argument(
        "--train-examples",
        type=int,
        default=None,
        help="train on the first N of the 9,000 training headlines (default: all)",
    )
    parser.add_argument(
        "--train-steps",
        type=int,
        default=None,
        help=f"timed harness steps (default {TRAIN_STEPS}, after an untimed one)",
    )
    parser.add_argument(
        "--reference-steps",
        type=int,
        default=None,
        help="timed reference steps (default: as many as the harness, 4 for BERT-base; every "
        "reference batch is 128 x 32, so its step time does not depend on which texts it holds)",
    )
    parser.add_argument(
        "--eval-examples",
        type=int,
        default=None,
        help="test headlines to evaluate (default: all 10,000; 2,048 for BERT-base)",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=5e-4,
        help="learning rate of the timed steps and the accuracy check (random weights need more "
        "than fine-tuning's 5e-5)",
    )
    parser.add_argument(
        "--variants",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="extra harness rows, each with one run option changed, e.g. precision=bf16 (changes "
        "numerics) or eval_batch_size=512",
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=("encode", "padding", "train", "eval", "memory"),
        help="parts not to measure",
    )
    parser.add_argument("--memory-steps", type=int, default=3, help="training steps of each memory measurement")
    parser.add_argument(
        "--accuracy-check",
        action="store_true",
        help=f"also train both pipelines ({QUICK_SHAPE}) for --accuracy-steps on the mini protocol, "
        "once per seed, and compare test accuracy",
    )
    parser.add_argument("--accuracy-steps", type=int, default=300, help="optimiser steps of each accuracy run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds of the accuracy check")
    parser.add_argument(
        "--accuracy-arms",
        nargs="+",
        default=["reference", "harness", "harness-ungrouped"],
        choices=list(ARMS),
        help="what the accuracy check trains: " + "; ".join(f"{k}: {v}" for k, v in ARMS.items()),
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: torch's own choice, one per core available to the process)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every raw figure to this file")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)  # internal: one memory measurement
    return parser


@measurement
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.data_dir = check_data_dir(args.data_dir)
    if args.probe:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        shape = "quick" if args.quick else "base"
        print(json.dumps(probe(args.probe, args.data_dir, shape, args.lines, args.memory_steps)), flush=True)
        return 0
    return run(args)


def run(args) -> int:
    import torch

    from benchmark.data.encode import encode_split

    if args.threads:
        torch.set_num_threads(args.threads)
    shape = QUICK_SHAPE if args.quick else BASE_SHAPE
    repeats = args.repeats or (3 if args.quick else 2)
    for variant in args.variants:  # a mistyped variant fails now, not after minutes of measuring
        variant_config(harness_config(), variant)
    started = time.perf_counter()
    figures: dict = {
        "load_before": load_average(),
        "threads": torch.get_num_threads(),
        "quick": args.quick,
        "shape": shape or "BertConfig() defaults (BERT-base)",
        "vocab_size": VOCAB_SIZE,
    }
    log(f"machine load at start: {figures['load_before']}; torch threads {figures['threads']}")
    log(
        f"model: random BERT, {'quick shape ' + str(shape) if args.quick else 'BERT-base shape (BertConfig())'}, "
        f"vocab {VOCAB_SIZE}"
    )
    log(VOCAB_NOTE)
    task = load_folder(args.data_dir)

    with tempfile.TemporaryDirectory(prefix="speed-") as scratch:
        tokenizer = build_tokenizer(task.train.texts + task.dev.texts, Path(scratch) / "vocab")

        if "encode" not in args.skip:
            texts = repeat_to(task.train.texts + task.dev.texts + task.test.texts, args.lines)
            distinct = len(task.train.texts) + len(task.dev.texts) + len(task.test.texts)
            log(
                f"\nencoding {len(texts):,} lines (the {distinct:,} dev and test headlines repeated), {repeats} repeats"
            )
            figures["encode"] = bench_encoding(tokenizer, texts, repeats, 32)
            log(f"  identical ids from both encoders: {figures['encode']['identical_ids']}")

        if args.train_examples:
            task.train = data.Split(
                task.train.texts[: args.train_examples], task.train.labels[: args.train_examples], task.train.source
            )
        train_set = encode_split(tokenizer, task.train.texts, task.train.labels, 32, cache_dir=None)
        test_set = encode_split(tokenizer, task.test.texts, task.test.labels, 32, cache_dir=None)
        n_eval = args.eval_examples or (len(test_set) if args.quick else 2048)
        pick = np.sort(np.random.default_rng(0).permutation(len(test_set))[:n_eval])  # file order kept
        eval_set = test_set.subset(pick)
        config = harness_config(learning_rate=args.learning_rate, save_every=0, seed=1)

        if "padding" not in args.skip:
            figures.update(measure_padding(args, task, tokenizer, train_set, test_set, eval_set, config, scratch))

        if "train" not in args.skip:
            figures["train"] = measure_training(args, task, tokenizer, train_set, eval_set, config, shape, repeats)

        if "eval" not in args.skip:
            figures["eval"] = measure_evaluation(
                args, task, tokenizer, train_set, eval_set, pick, config, shape, repeats
            )

        if "memory" not in args.skip:
            figures["memory"] = measure_memory(args)

        if args.accuracy_check:
            log(f"\naccuracy check: {args.accuracy_steps} steps, seeds {args.seeds}, quick shape {QUICK_SHAPE}")
            figures["accuracy"] = accuracy_check(task, tokenizer, args)

    figures["load_after"] = load_average()
    figures["seconds"] = time.perf_counter() - started
    log("\n" + "=" * 96)
    table = format_table(figures)
    if table:
        log(
            f"harness vs reference on this machine ({'quick shape' if args.quick else 'BERT-base shape'}, random "
            f"weights; medians of {repeats} repeats; ratio = harness / reference)"
        )
        log(table)
    if "padding" in figures:
        log(format_padding(figures["padding"]))
    if "accuracy" in figures:
        log(format_accuracy(figures["accuracy"]))
    log(VOCAB_NOTE)
    if "encode" in figures:
        log(
            f"encoding: {figures['encode']['lines']:,} lines = the 20,000 dev and test headlines repeated; ids "
            f"identical between the two encoders: {figures['encode']['identical_ids']}"
        )
    log(
        f"machine load: {figures['load_before']} at start, {figures['load_after']} at the end; torch threads "
        f"{figures['threads']}; {figures['seconds'] / 60:.1f} min"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
