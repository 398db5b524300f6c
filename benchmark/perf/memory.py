"""Peak memory of each pipeline's encoding and training, one subprocess per measurement."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmark.errors import HarnessError
from benchmark.perf.workload import (
    BASE_SHAPE,
    QUICK_SHAPE,
    REPO_ROOT,
    build_tokenizer,
    harness_config,
    load_folder,
    log,
    make_harness_trainer,
    make_model,
    repeat_to,
    step_clock,
)

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
    task = load_folder(data_dir)
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
            config = harness_config(max_steps=steps, eval_every=10**9, save_every=0, pad_to_max_length=True)
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
        return {
            "kind": kind,
            "before_mib": before,
            "peak_mib": peak_rss_mib(),
            "widths": widths[:steps],
            "batch_size": 128,
            "threads": torch.get_num_threads(),
            "step_seconds": np.diff(times).tolist(),
        }


def run_probe(kind: str, args) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmark.perf.speed",
        "--probe",
        kind,
        "--data-dir",
        str(args.data_dir),
        "--lines",
        str(args.lines),
        "--memory-steps",
        str(args.memory_steps),
    ]
    if args.quick:
        command.append("--quick")
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    if done.returncode != 0:
        raise HarnessError(f"memory probe {kind} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_memory(args) -> dict:
    """Peak memory of both pipelines' encoding and training, each in a subprocess of its own."""
    log(
        f"\npeak memory, one subprocess each ({args.memory_steps} training steps at batch 128; encoding "
        f"{args.lines:,} lines)"
    )
    figures = {}
    for kind in ("encode-reference", "encode-harness", "train-reference", "train-harness"):
        figures[kind] = found = run_probe(kind, args)
        extra = ""
        if "widths" in found:
            extra = (
                f", batch widths {found['widths']}, steps after the first took "
                f"{', '.join(f'{t:.1f}' for t in found['step_seconds'])} s"
            )
        peak, before = found["peak_mib"], found["before_mib"]
        log(f"  {kind}: {peak:,.0f} MiB peak, {before:,.0f} MiB before the measured part{extra}")
    return figures
