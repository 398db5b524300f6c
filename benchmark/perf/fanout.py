"""`python -m benchmark.perf.fanout`: one queue of short runs, one after another and fanned out over Ray.

The same `python run.py` command (a tiny BERT with random weights and the real bert-base-chinese vocabulary,
the THUCNews mini protocol, seeds 1 to `--runs`), in processes of their own, each with an empty encoding cache:
as a queue one after another with every CPU thread, with `--workers` runs at a time on one share of the threads
each, and one after another on one thread, which is what each fanned-out run has, so that the two must give the
same results. It prints the wall times, the ratio of the first two, and how far the results of the last two
are apart. A measurement, not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark.errors import HarnessError
from benchmark.perf.wholerun import SHARED_VOCAB, make_model_folder
from benchmark.perf.workload import REPO_ROOT, SHARED_DATA, check_data_dir, load_average, measurement

TINY_SHAPE = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.perf.fanout",
        description="Time a queue of short runs one after another and fanned out over Ray (--workers), and check "
        "that both give the same results.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA, help="THUCNews folder with dev.txt, test.txt")
    parser.add_argument("--vocab-dir", type=Path, default=SHARED_VOCAB, help="a folder with bert-base-chinese's vocab")
    parser.add_argument("--runs", type=int, default=8, help="runs in the queue (seeds 1 to N)")
    parser.add_argument("--workers", type=int, default=2, help="runs at a time when fanned out")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps of each run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    return parser


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    child = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if child.returncode != 0:
        raise HarnessError(f"{' '.join(command[1:4])} ... failed (exit {child.returncode}):\n{child.stderr[-3000:]}")
    return time.perf_counter() - started


def results_of(folder: Path) -> dict[int, tuple[dict, list[dict]]]:
    found = {}
    for path in folder.glob("*/metrics.json"):
        metrics = json.loads(path.read_text(encoding="utf-8"))
        with open(path.parent / "predictions.csv", encoding="utf-8") as handle:
            found[metrics["seed"]] = (metrics["metrics"], list(csv.DictReader(handle)))
    return found


def compare(one: dict, other: dict) -> dict:
    """How far two queues' results are apart: the same predicted labels and counts, and the largest relative
    difference of a test loss or a probability. Compared at the same threads per run: one thread and two sum in
    another order, which moves the tenth digit and, over a few hundred steps, some predictions."""
    labels, largest = sorted(one) == sorted(other), 0.0
    for seed in one:
        (metrics, rows), (metrics_b, rows_b) = one[seed], other.get(seed, ({}, []))
        labels &= [r["predicted"] for r in rows] == [r["predicted"] for r in rows_b]
        labels &= metrics["confusion_matrix"] == metrics_b.get("confusion_matrix")
        pairs = [(metrics["loss"], metrics_b["loss"])] + [
            (float(a["probability"]), float(b["probability"])) for a, b in zip(rows, rows_b, strict=False)
        ]
        largest = max([largest, *(abs(a - b) / max(abs(a), 1e-12) for a, b in pairs)])
    return {"same_predictions": labels, "largest_relative_difference": largest}


@measurement
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_data_dir(args.data_dir)
    with tempfile.TemporaryDirectory(prefix="fanout-") as scratch:
        scratch = Path(scratch)
        model = make_model_folder(scratch / "model", args.vocab_dir, TINY_SHAPE)
        seeds = [str(seed) for seed in range(1, args.runs + 1)]
        command = [
            sys.executable, "run.py", "--model", "bert", "--model-path", str(model), "--name", "tiny-random-bert",
            "--data-dir", str(args.data_dir), "--protocol", "mini", "--max-steps", str(args.steps),
            "--eval-every", str(max(1, args.steps // 4)), "--learning-rate", "5e-3", "--batch-size", "32",
            "--offline", "--seeds", *seeds,
        ]  # fmt: skip
        load_before, walls = load_average(), {}
        for name, threads, extra in (
            ("one after another, every thread", None, []),
            (f"{args.workers} at a time", None, ["--workers", str(args.workers)]),
            ("one after another, one thread", "1", []),  # the threads of a fanned-out run: the same bits
        ):
            env = {**os.environ, "BENCHMARK_CACHE": str(scratch / f"cache-{len(walls)}"), "HF_HUB_OFFLINE": "1"}
            env.pop("OMP_NUM_THREADS", None)  # the queue takes every thread; a fanned-out run its share
            env |= {"OMP_NUM_THREADS": threads} if threads else {}
            results = scratch / f"results-{len(walls)}"
            print(f"$ {' '.join(command[1:])} {' '.join(extra)}  ({name})", flush=True)
            walls[name] = (timed([*command, "--results-dir", str(results), *extra], env), results_of(results))
    (sequential, _), (fanned, other), (single, alike) = walls.values()
    agreement = compare(alike, other)
    figures = {
        "runs": args.runs,
        "workers": args.workers,
        "steps": args.steps,
        "one_after_another_seconds": sequential,
        "fanned_out_seconds": fanned,
        "one_after_another_one_thread_seconds": single,
        "ratio": sequential / fanned,
        **agreement,
        "load_before": load_before,
        "load_after": load_average(),
    }
    print(
        f"{args.runs} runs of {args.steps} steps: one after another {sequential:.1f} s (every thread; "
        f"{single:.1f} s on one), {args.workers} at a time {fanned:.1f} s: {figures['ratio']:.2f}x faster. "
        f"Against the queue on one thread, as each fanned-out run has: predicted labels "
        f"{'the same for every run' if agreement['same_predictions'] else 'DIFFER'}, losses and probabilities "
        f"within {agreement['largest_relative_difference']:.1e} (relative)"
    )
    print(f"machine load: {figures['load_before']} at start, {figures['load_after']} at the end")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
