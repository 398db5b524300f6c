"""`python -m benchmark.perf.speed`: the harness's pipeline against the reference course's, side by side here.

Both pipelines run in one process on the same data, tokenizer, model
architecture and initial weights, back to back and repeated, and the table
gives each figure with its ratio to the reference:

- encode: lines per second, first encoding (reference: one tokenizer call per
  headline, padded to 32; harness: `benchmark.encode.encode_split`, cache
  miss) and cached re-run (harness: cache hit);
- train: examples per second of optimiser steps, without dev evaluation
  (reference: `benchmark.reference.train`, batches padded to 32, fp32;
  harness: `benchmark.train.build_trainer` as a run builds it);
- eval: examples per second over test headlines (reference: batch 128 padded
  to 32 under no_grad; harness: `benchmark.evaluate.predict_logits`, and
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
import contextlib
import dataclasses
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark.data import read as data
from benchmark.errors import HarnessError
from benchmark.perf.report import format_accuracy, format_padding, format_table

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "thucnews"
VOCAB_SIZE = 21128  # bert-base-chinese's vocabulary size: the embedding and its optimiser state are full size
BASE_SHAPE: dict = {}  # transformers.BertConfig() defaults: BERT-base
QUICK_SHAPE = {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}
ENCODE_LINES = 180_000  # the size of THUCNews-10's train split
# Timed harness steps: the grouped batches are dealt in a random order, so any 17 of them sample the lengths an
# epoch sees (with the longest batch, which comes first, in the untimed warm-up step).
TRAIN_STEPS = 17
VOCAB_NOTE = ("vocabulary: built from the characters of dev.txt (benchmark.smoke.build_vocab); the real "
              "bert-base-chinese vocab.txt cannot be downloaded here, and every model has random weights")


def log(message: str = "") -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Setup shared by both pipelines


def check_data_dir(folder: Path) -> Path:
    if not (folder / "dev.txt").is_file() or not (folder / "test.txt").is_file():
        raise HarnessError(
            f"no THUCNews data in {folder} (expected dev.txt and test.txt, as in ../shared/data/thucnews beside the "
            f"repository); pass --data-dir FOLDER. The benchmark uses the mini protocol: it trains on dev.txt "
            f"with 10% held out and scores on test.txt"
        )
    return folder


def load_task(folder: Path) -> data.Task:
    return data.load_task(folder, "mini")


def build_tokenizer(texts: list[str], folder: Path):
    from transformers import BertTokenizerFast

    from benchmark.model.sources import build_vocab

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(build_vocab(texts)) + "\n", encoding="utf-8")
    return BertTokenizerFast.from_pretrained(str(folder))


def make_model(shape: dict, num_labels: int, seed: int):
    """A random BERT of the given shape with the harness's head; the same seed gives the same weights."""
    import torch
    from transformers import BertConfig, BertModel

    from benchmark.model.classifier import TextClassifier

    torch.manual_seed(seed)
    encoder = BertModel(BertConfig(vocab_size=VOCAB_SIZE, **shape))
    return TextClassifier(encoder, num_labels, dropout=0.1)


def repeat_to(texts: list[str], n: int) -> list[str]:
    return (texts * math.ceil(n / len(texts)))[:n]


def harness_config(**changes):
    from benchmark.config import RunConfig

    config = RunConfig(model="bert", protocol="mini", warmup=0.05)
    known = {f.name for f in dataclasses.fields(RunConfig)}
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if k in known})


class Stopwatch:
    """Appends the wall and the CPU seconds (all threads of the process) a block took to two lists."""

    def __init__(self, wall: list[float], cpu: list[float]):
        self.wall, self.cpu = wall, cpu

    def __enter__(self):
        gc.collect()  # garbage left by the previous measurement is not this one's to collect
        self.started = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc):
        self.wall.append(time.perf_counter() - self.started[0])
        self.cpu.append(time.process_time() - self.started[1])


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min) on {len(os.sched_getaffinity(0))} cores"


# ---------------------------------------------------------------------------------------------------------------
# Encoding


def reference_ids(examples) -> tuple[np.ndarray, np.ndarray]:
    """The reference's padded rows as the harness's flat ids and lengths, for comparison."""
    lengths = np.fromiter((e[2] for e in examples), dtype=np.int64, count=len(examples))
    ids = np.fromiter((t for e in examples for t in e[0][:e[2]]), dtype=np.int32, count=int(lengths.sum()))
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
            identical = all(np.array_equal(a, b) for a, b in ((expected[0], first.ids), (expected[1], first.lengths),
                                                              (first.ids, cached.ids), (first.offsets, cached.offsets)))
        log(f"  encode repeat {repeat + 1}: reference {len(texts) / times['reference'][-1]:,.0f}, "
            f"first {len(texts) / times['first'][-1]:,.0f}, cached {len(texts) / times['cached'][-1]:,.0f} lines/s")
    return {"lines": len(texts), "seconds": times, "cpu_seconds": cpu, "identical_ids": identical}


# ---------------------------------------------------------------------------------------------------------------
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
        "train_examples": len(train_set), "batch_size": config.batch_size,
        "mean_tokens": float(train_set.lengths.mean()),
        "train_reference": config.max_length * len(train_set) / real_train,
        "train_grouped": grouped / real_train,
        "train_random_dynamic": random_dynamic / real_train,
        "eval_examples": len(eval_set), "eval_batch_size": eval_batch,
        "eval_reference": config.max_length * len(eval_set) / real_eval,
        "eval_sorted": sorted_eval / real_eval,
        "eval_file_order": file_order_eval / real_eval,
    }


def _padded(lengths: np.ndarray, batch_size: int) -> int:
    return int(sum(lengths[i:i + batch_size].max() * len(lengths[i:i + batch_size])
                   for i in range(0, len(lengths), batch_size)))


# ---------------------------------------------------------------------------------------------------------------
# Training and evaluation speed


def step_clock():
    """A Trainer callback noting the time at the end of every optimiser step (transformers is imported late so
    that --help stays quick)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self):
            self.times, self.cpu_times = [], []

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())
            self.cpu_times.append(time.process_time())

    return StepClock()


def make_harness_trainer(model, train_set, eval_set, config, output_dir: str):
    from benchmark.run.device import collator_for
    from benchmark.run.train import build_trainer

    trainer, _ = build_trainer(model, train_set, eval_set, collator_for(config, 0), config, output_dir,
                               show_progress=False)
    return trainer


def time_reference_train(model, examples, warm: int, steps: int, learning_rate: float) -> tuple[float, float]:
    """Wall and CPU seconds for `steps` optimiser steps after `warm` untimed ones."""
    from benchmark.perf import reference

    clock = reference.StepClock()
    reference.train(model, examples, None, warm + steps, learning_rate=learning_rate, on_step=clock)
    return clock.seconds(warm, warm + steps)


def variant_config(config, variant: str | None):
    """The harness config with one run option changed, written as on the command line's field: precision=bf16,
    eval_batch_size=512, group_by_length=false."""
    from benchmark.config import value_type

    if not variant:
        return config
    name, _, text = variant.partition("=")
    spec = {f.name: f for f in dataclasses.fields(config)}.get(name.replace("-", "_"))
    if spec is None or not text:
        raise HarnessError(f"--variants {variant!r}: expected FIELD=VALUE with a run option such as precision=bf16 "
                           f"or eval_batch_size=512")
    if spec.type == "bool":
        value = text.lower() in ("1", "true", "yes", "on")
    else:
        kind = value_type(spec)
        try:
            value = kind(text)
        except ValueError:
            raise HarnessError(f"--variants {variant!r}: {name} expects a value of type {kind.__name__}") from None
    return dataclasses.replace(config, **{spec.name: value})


def time_harness_train(model, train_set, eval_set, config, warm: int, steps: int, variant: str | None = None
                       ) -> tuple[float, float]:
    # No dev evaluation inside the timed steps: both pipelines' training is timed alone, evaluation separately.
    config = dataclasses.replace(variant_config(config, variant), max_steps=warm + steps, eval_every=10 ** 9)
    with tempfile.TemporaryDirectory(prefix="speed-trainer-") as folder:
        trainer = make_harness_trainer(model, train_set, eval_set, config, folder)
        clock = step_clock()
        trainer.add_callback(clock)
        trainer.train()
    return (clock.times[warm + steps - 1] - clock.times[warm - 1],
            clock.cpu_times[warm + steps - 1] - clock.cpu_times[warm - 1])


def time_reference_eval(model, examples) -> tuple[tuple[float, float], np.ndarray]:
    from benchmark.perf import reference

    wall, cpu = [], []
    with Stopwatch(wall, cpu):
        _, _, predicted = reference.evaluate(model, examples)
    return (wall[0], cpu[0]), predicted


def time_harness_eval(model, train_set, eval_set, config, variant: str | None = None
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
    train = {"reference": [], **{arm: [] for arm in arms},
             "harness_examples": steps * config.batch_size,
             "reference_examples": reference_steps * reference.BATCH_SIZE,
             "steps": {"harness": steps, "reference": reference_steps, "warm_up": 1},
             "cpu": {name: [] for name in ("reference", *arms)}}
    log(f"\ntraining: {steps} timed harness steps and {reference_steps} reference steps at batch "
        f"{config.batch_size}, after one untimed step each, {repeats} repeats")
    for repeat in range(repeats):
        seconds, cpu = time_reference_train(make_model(shape, n_labels, 1), examples, 1, reference_steps,
                                            args.learning_rate)
        train["reference"].append(seconds)
        train["cpu"]["reference"].append(cpu)
        line = f"  train repeat {repeat + 1}: reference {train['reference_examples'] / seconds:.2f}"
        for arm in arms:
            seconds, cpu = time_harness_train(make_model(shape, n_labels, 1), train_set, eval_set, config, 1, steps,
                                              None if arm == "harness" else arm)
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
            test, dev, predicted = time_harness_eval(model, train_set, eval_set, config,
                                                     None if arm == "harness" else arm)
            for kind, (seconds, cpu) in (("test", test), ("dev", dev)):
                ev[f"{arm}/{kind}"].append(seconds)
                ev["cpu"][f"{arm}/{kind}"].append(cpu)
            ev[f"agreement/{arm}"] = float((predicted == predicted_reference).mean())
            line += f", {arm} test scoring {len(eval_set) / test[0]:.2f} dev {len(eval_set) / dev[0]:.2f}"
        log(line + f" examples/s; load {os.getloadavg()[0]:.2f}")
    for arm in arms:
        log(f"  {arm} and the reference predict the same label, with the same weights, for "
            f"{ev[f'agreement/{arm}']:.2%} of texts")
    return ev


# ---------------------------------------------------------------------------------------------------------------
# Peak memory, one subprocess per measurement


def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM starts afresh at exec, unlike ru_maxrss, which a child
    inherits from the parent's image it replaced."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform == "darwin" else 1)
    return kib / 1024


def probe(kind: str, data_dir: Path, shape_name: str, lines: int, steps: int) -> dict:
    """Runs in its own process: peak memory of one pipeline's encoding or training."""
    import torch

    from benchmark.data.encode import encode_split
    from benchmark.perf import reference

    shape = QUICK_SHAPE if shape_name == "quick" else BASE_SHAPE
    task = load_task(data_dir)
    with tempfile.TemporaryDirectory(prefix="speed-probe-") as folder:
        tokenizer = build_tokenizer(task.train.texts + task.dev.texts, Path(folder) / "vocab")
        if kind.startswith("encode"):
            texts = repeat_to(task.train.texts + task.dev.texts + task.test.texts, lines)
            labels = np.zeros(len(texts), dtype=np.int64)
            before = peak_rss_mib()
            if kind == "encode-reference":
                result = reference.encode_lines(tokenizer, texts, labels)
            else:
                result = encode_split(tokenizer, texts, labels, 32, cache_dir=None)
            peak = peak_rss_mib()
            del result
            return {"kind": kind, "before_mib": before, "peak_mib": peak, "lines": len(texts)}
        train_set = encode_split(tokenizer, task.train.texts, task.train.labels, 32, cache_dir=None)
        examples = reference.encode_lines(tokenizer, task.train.texts, task.train.labels)
        model = make_model(shape, len(task.label_names), seed=1)
        before = peak_rss_mib()
        if kind == "train-reference":
            clock = reference.StepClock()
            reference.train(model, examples, None, steps, on_step=clock)
            widths, times = [reference.PAD_SIZE] * steps, clock.times
        else:
            # Every batch 32 wide: the widest batch of a dynamic-padding epoch, here from the first step on, so the
            # optimiser state and a full-width batch's activations are both present by the second step.
            config = harness_config(max_steps=steps, eval_every=10 ** 9, save_every=0, pad_to_max_length=True)
            widths = []
            with tempfile.TemporaryDirectory(prefix="speed-trainer-") as output:
                trainer = make_harness_trainer(model, train_set, train_set, config, output)
                collate = trainer.data_collator

                def recording(features):
                    batch = collate(features)
                    widths.append(int(batch["input_ids"].shape[1]))
                    return batch

                trainer.data_collator = recording
                clock = step_clock()
                trainer.add_callback(clock)
                trainer.train()
                times = clock.times
        # Seconds of each step after the first, to see that the steps measured were ordinary ones.
        return {"kind": kind, "before_mib": before, "peak_mib": peak_rss_mib(), "widths": widths[:steps],
                "batch_size": 128, "threads": torch.get_num_threads(), "step_seconds": np.diff(times).tolist()}


def run_probe(kind: str, args) -> dict:
    command = [sys.executable, "-m", "benchmark.perf.speed", "--probe", kind, "--data-dir", str(args.data_dir),
               "--lines", str(args.lines), "--memory-steps", str(args.memory_steps)]
    if args.quick:
        command.append("--quick")
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    if done.returncode != 0:
        raise HarnessError(f"memory probe {kind} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------------
# Accuracy: the same number of steps, several seeds, both pipelines


ARMS = {
    "reference": "the reference loop",
    "harness": "the harness as it runs",
    "harness-ungrouped": "the harness with --no-group-by-length (random batches, still padded to their longest)",
    "harness-bf16": "the harness with --precision bf16",
}


def accuracy_check(task, tokenizer, args) -> dict:
    from benchmark.data.encode import encode_split
    from benchmark.perf import reference
    from benchmark.run.evaluate import predict_logits

    splits = {name: getattr(task, name) for name in ("train", "dev", "test")}
    encoded = {name: encode_split(tokenizer, s.texts, s.labels, 32, cache_dir=None) for name, s in splits.items()}
    examples = {name: reference.encode_lines(tokenizer, s.texts, s.labels) for name, s in splits.items()}
    arms = getattr(args, "accuracy_arms", None) or ["reference", "harness", "harness-ungrouped"]
    results = {"steps": args.accuracy_steps, "learning_rate": args.learning_rate, "seeds": args.seeds,
               "shape": QUICK_SHAPE, "arms": {arm: ARMS[arm] for arm in arms},
               "accuracy": {arm: [] for arm in arms}, "best_step": {arm: [] for arm in arms}}
    for seed in args.seeds:
        for arm in arms:
            with tempfile.TemporaryDirectory(prefix="speed-accuracy-") as folder:
                model = make_model(QUICK_SHAPE, len(task.label_names), seed)  # the same start in every arm
                started = time.perf_counter()
                if arm == "reference":
                    run = reference.train(model, examples["train"], examples["dev"], args.accuracy_steps,
                                          learning_rate=args.learning_rate, checkpoint=Path(folder) / "best.pt")
                    accuracy, best = reference.evaluate(model, examples["test"])[0], run["best_step"]
                else:
                    config = harness_config(max_steps=args.accuracy_steps, eval_every=100, seed=seed, save_every=0,
                                            learning_rate=args.learning_rate,
                                            group_by_length=arm != "harness-ungrouped",
                                            precision="bf16" if arm == "harness-bf16" else "auto")
                    trainer = make_harness_trainer(model, encoded["train"], encoded["dev"], config, folder)
                    trainer.train()
                    logits, _, _ = predict_logits(trainer, encoded["test"])
                    accuracy = float((logits.argmax(axis=-1) == task.test.labels).mean())
                    checkpoint = trainer.state.best_model_checkpoint
                    best = int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None
            results["accuracy"][arm].append(accuracy)
            results["best_step"][arm].append(best)
            log(f"  seed {seed}: {arm:17} {accuracy:.4f} (best step {best}, {time.perf_counter() - started:.0f} s)")
    return results


# ---------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.perf.speed",
        description="Time the harness's pipeline against a re-implementation of the reference course's "
                    "(one-line-at-a-time tokenisation, padding to 32, fp32, a hand-written loop) on this machine, "
                    "side by side, and print each figure with its ratio to the reference.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA,
                        help="THUCNews folder with dev.txt and test.txt (mini protocol: train on dev.txt, 10%% held "
                             "out, score on test.txt); the default is ../shared/data/thucnews beside the repository")
    parser.add_argument("--quick", action="store_true",
                        help=f"a small model shape ({QUICK_SHAPE}) instead of BERT-base, fewer examples")
    parser.add_argument("--repeats", type=int, default=None,
                        help="times each measurement is repeated, the pipelines back to back (default 3, 2 for "
                             "BERT-base)")
    parser.add_argument("--lines", type=int, default=ENCODE_LINES,
                        help="lines to encode: the dev, held-out and test headlines repeated to this many")
    parser.add_argument("--train-examples", type=int, default=None,
                        help="train on the first N of the 9,000 training headlines (default: all)")
    parser.add_argument("--train-steps", type=int, default=None,
                        help=f"timed harness steps (default {TRAIN_STEPS}, after an untimed one)")
    parser.add_argument("--reference-steps", type=int, default=None,
                        help="timed reference steps (default: as many as the harness, 4 for BERT-base; every "
                             "reference batch is 128 x 32, so its step time does not depend on which texts it holds)")
    parser.add_argument("--eval-examples", type=int, default=None,
                        help="test headlines to evaluate (default: all 10,000; 2,048 for BERT-base)")
    parser.add_argument("--learning-rate", type=float, default=5e-4,
                        help="learning rate of the timed steps and the accuracy check (random weights need more "
                             "than fine-tuning's 5e-5)")
    parser.add_argument("--variants", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="extra harness rows, each with one run option changed, e.g. precision=bf16 (changes "
                             "numerics) or eval_batch_size=512")
    parser.add_argument("--skip", nargs="*", default=[], choices=("encode", "padding", "train", "eval", "memory"),
                        help="parts not to measure")
    parser.add_argument("--memory-steps", type=int, default=3, help="training steps of each memory measurement")
    parser.add_argument("--accuracy-check", action="store_true",
                        help=f"also train both pipelines ({QUICK_SHAPE}) for --accuracy-steps on the mini protocol, "
                             "once per seed, and compare test accuracy")
    parser.add_argument("--accuracy-steps", type=int, default=300, help="optimiser steps of each accuracy run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds of the accuracy check")
    parser.add_argument("--accuracy-arms", nargs="+", default=["reference", "harness", "harness-ungrouped"],
                        choices=list(ARMS),
                        help="what the accuracy check trains: " + "; ".join(f"{k}: {v}" for k, v in ARMS.items()))
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice, one per core available to the process)")
    parser.add_argument("--json", type=Path, default=None, help="also write every raw figure to this file")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)  # internal: one memory measurement
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.data_dir = check_data_dir(args.data_dir)
        if args.probe:
            if args.threads:
                import torch

                torch.set_num_threads(args.threads)
            shape = "quick" if args.quick else "base"
            print(json.dumps(probe(args.probe, args.data_dir, shape, args.lines, args.memory_steps)), flush=True)
            return 0
        return run(args)
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


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
    figures: dict = {"load_before": load_average(), "threads": torch.get_num_threads(), "quick": args.quick,
                     "shape": shape or "BertConfig() defaults (BERT-base)", "vocab_size": VOCAB_SIZE}
    log(f"machine load at start: {figures['load_before']}; torch threads {figures['threads']}")
    log(f"model: random BERT, {'quick shape ' + str(shape) if args.quick else 'BERT-base shape (BertConfig())'}, "
        f"vocab {VOCAB_SIZE}")
    log(VOCAB_NOTE)
    task = load_task(args.data_dir)
    n_labels = len(task.label_names)

    with tempfile.TemporaryDirectory(prefix="speed-") as scratch:
        tokenizer = build_tokenizer(task.train.texts + task.dev.texts, Path(scratch) / "vocab")

        if "encode" not in args.skip:
            texts = repeat_to(task.train.texts + task.dev.texts + task.test.texts, args.lines)
            distinct = len(task.train.texts) + len(task.dev.texts) + len(task.test.texts)
            log(f"\nencoding {len(texts):,} lines (the {distinct:,} dev and test headlines repeated), "
                f"{repeats} repeats")
            figures["encode"] = bench_encoding(tokenizer, texts, repeats, 32)
            log(f"  identical ids from both encoders: {figures['encode']['identical_ids']}")

        if args.train_examples:
            task.train = data.Split(task.train.texts[:args.train_examples], task.train.labels[:args.train_examples],
                                    task.train.source)
        train_set = encode_split(tokenizer, task.train.texts, task.train.labels, 32, cache_dir=None)
        test_set = encode_split(tokenizer, task.test.texts, task.test.labels, 32, cache_dir=None)
        n_eval = args.eval_examples or (len(test_set) if args.quick else 2048)
        pick = np.sort(np.random.default_rng(0).permutation(len(test_set))[:n_eval])  # file order kept
        eval_set = test_set.subset(pick)
        config = harness_config(learning_rate=args.learning_rate, save_every=0, seed=1)

        if "padding" not in args.skip:
            def tiny_trainer(train, evaluation, cfg):
                from benchmark.model.sources import TINY_SHAPE

                return make_harness_trainer(make_model(TINY_SHAPE, n_labels, 0), train, evaluation, cfg,
                                            str(Path(scratch) / "padding"))

            figures["padding"] = padding_figures(train_set, test_set, config, tiny_trainer)
            big = encode_split(tokenizer, repeat_to(task.train.texts, args.lines),
                               np.resize(task.train.labels, args.lines), 32, cache_dir=None)
            figures["padding_large"] = padding_figures(big, test_set, config, tiny_trainer)
            figures["padding_eval_subset"] = padding_figures(train_set, eval_set, config, tiny_trainer)
            log("\n" + format_padding(figures["padding"]))
            log(f"  at {args.lines:,} training texts (mini train repeated): harness length-grouped "
                f"{figures['padding_large']['train_grouped']:.2f}")
            subset = figures["padding_eval_subset"]
            log(f"  the {subset['eval_examples']:,} timed evaluation texts: reference {subset['eval_reference']:.2f}, "
                f"harness sorted {subset['eval_sorted']:.2f}, in file order {subset['eval_file_order']:.2f}")

        if "train" not in args.skip:
            figures["train"] = measure_training(args, task, tokenizer, train_set, eval_set, config, shape, repeats)

        if "eval" not in args.skip:
            figures["eval"] = measure_evaluation(args, task, tokenizer, train_set, eval_set, pick, config, shape,
                                                 repeats)

        if "memory" not in args.skip:
            log(f"\npeak memory, one subprocess each ({args.memory_steps} training steps at batch 128; encoding "
                f"{args.lines:,} lines)")
            figures["memory"] = {}
            for kind in ("encode-reference", "encode-harness", "train-reference", "train-harness"):
                figures["memory"][kind] = found = run_probe(kind, args)
                extra = ""
                if "widths" in found:
                    extra = (f", batch widths {found['widths']}, steps after the first took "
                             f"{', '.join(f'{t:.1f}' for t in found['step_seconds'])} s")
                log(f"  {kind}: {found['peak_mib']:,.0f} MiB peak, {found['before_mib']:,.0f} MiB before the "
                    f"measured part{extra}")

        if args.accuracy_check:
            log(f"\naccuracy check: {args.accuracy_steps} steps, seeds {args.seeds}, quick shape {QUICK_SHAPE}")
            figures["accuracy"] = accuracy_check(task, tokenizer, args)

    figures["load_after"] = load_average()
    figures["seconds"] = time.perf_counter() - started
    log("\n" + "=" * 96)
    table = format_table(figures)
    if table:
        log(f"harness vs reference on this machine ({'quick shape' if args.quick else 'BERT-base shape'}, random "
            f"weights; medians of {repeats} repeats; ratio = harness / reference)")
        log(table)
    if "padding" in figures:
        log(format_padding(figures["padding"]))
    if "accuracy" in figures:
        log(format_accuracy(figures["accuracy"]))
    log(VOCAB_NOTE)
    if "encode" in figures:
        log(f"encoding: {figures['encode']['lines']:,} lines = the 20,000 dev and test headlines repeated; ids "
            f"identical between the two encoders: {figures['encode']['identical_ids']}")
    log(f"machine load: {figures['load_before']} at start, {figures['load_after']} at the end; torch threads "
        f"{figures['threads']}; {figures['seconds'] / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
