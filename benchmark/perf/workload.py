"""The workload both pipelines are measured on: data, vocabulary, model shape and the harness's settings."""

from __future__ import annotations

import dataclasses
import functools
import gc
import math
import os
import sys
import time
from pathlib import Path

from benchmark.data import load
from benchmark.data.splits import Splits
from benchmark.errors import HarnessError

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "thucnews"
VOCAB_SIZE = 21128  # bert-base-chinese's vocabulary size: the embedding and its optimiser state are full size
BASE_SHAPE: dict = {}  # transformers.BertConfig() defaults: BERT-base
QUICK_SHAPE = {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}
ENCODE_LINES = 180_000  # the size of THUCNews-10's train split
# Timed harness steps: the grouped batches are dealt in a random order, so any 17 of them sample the lengths an
# epoch sees (with the longest batch, which comes first, in the untimed warm-up step).
TRAIN_STEPS = 17
VOCAB_NOTE = (
    "vocabulary: built from the characters of dev.txt (benchmark.loading.sources.build_vocab); the real "
    "bert-base-chinese vocab.txt cannot be downloaded here, and every model has random weights"
)


def log(message: str = "") -> None:
    print(message, flush=True)


# Setup shared by both pipelines


def check_data_dir(folder: Path) -> Path:
    if not (folder / "dev.txt").is_file() or not (folder / "test.txt").is_file():
        raise HarnessError(
            f"no THUCNews data in {folder} (expected dev.txt and test.txt, as in ../shared/data/thucnews beside the "
            f"repository); pass --data-dir FOLDER. The benchmark uses the mini protocol: it trains on dev.txt "
            f"with 10% held out and scores on test.txt"
        )
    return folder


def load_folder(folder: Path) -> Splits:
    return load.load_folder(folder, "mini")


def build_tokenizer(texts: list[str], folder: Path):
    from transformers import BertTokenizerFast

    from benchmark.loading.sources import build_vocab

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(build_vocab(texts)) + "\n", encoding="utf-8")
    return BertTokenizerFast.from_pretrained(str(folder))


def make_model(shape: dict, num_labels: int, seed: int):
    """A random BERT of the given shape with the harness's head; the same seed gives the same weights."""
    import torch
    from transformers import BertConfig

    from benchmark.loading.classifier import create_classifier
    from benchmark.registry import get_backbone

    torch.manual_seed(seed)  # before the encoder, so its weights too follow the seed
    return create_classifier(get_backbone("bert"), num_labels, config=BertConfig(vocab_size=VOCAB_SIZE, **shape)).model


def repeat_to(texts: list[str], n: int) -> list[str]:
    return (texts * math.ceil(n / len(texts)))[:n]


def harness_config(**changes):
    from benchmark.config import RunConfig

    config = RunConfig(model="bert", protocol="mini", warmup=0.05, max_length=32, truncation="head")
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


def measurement(main):
    """A measurement script's main(): an input it refuses is one line and exit status 2, as with the harness."""

    @functools.wraps(main)
    def command(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except HarnessError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return command


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min) on {len(os.sched_getaffinity(0))} cores"


def make_harness_trainer(model, train_set, eval_set, config, output_dir: str):
    from benchmark.run.train import build_trainer, collator_for

    trainer, _ = build_trainer(
        model, train_set, eval_set, collator_for(config, 0), config, output_dir, show_progress=False
    )
    return trainer


def variant_config(config, variant: str | None):
    """The harness config with one run option changed, written as on the command line's field: precision=bf16,
    eval_batch_size=512, group_by_length=false."""
    from benchmark.config import value_type

    if not variant:
        return config
    name, _, text = variant.partition("=")
    spec = {f.name: f for f in dataclasses.fields(config)}.get(name.replace("-", "_"))
    if spec is None or not text:
        raise HarnessError(
            f"--variants {variant!r}: expected FIELD=VALUE with a run option such as precision=bf16 "
            f"or eval_batch_size=512"
        )
    if spec.type == "bool":
        value = text.lower() in ("1", "true", "yes", "on")
    else:
        kind = value_type(spec)
        try:
            value = kind(text)
        except ValueError:
            raise HarnessError(f"--variants {variant!r}: {name} expects a value of type {kind.__name__}") from None
    return dataclasses.replace(config, **{spec.name: value})


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
