"""`python -m benchmark.perf.wholerun`: the wall time of complete runs, split into their phases.

Each run is `python run.py` in a process of its own, so start-up and imports are in it, on the mini protocol
(train on dev.txt with 10% held out, score the 10,000 test headlines), from a model folder made here: a BERT
of the quick shape or BERT-base with random weights and the real bert-base-chinese vocabulary (`--vocab-dir`).
The encoding cache starts empty, so the first run tokenises and later ones read the cache. `--seeds 1 2`
runs a queue in one process, which shows what the second seed reuses. The table gives each phase's seconds,
the bytes written, and the overhead (every phase but the optimiser steps, dev evaluations and test scoring);
`--json` keeps the figures for the GPU estimate (`python -m benchmark.perf.gpu_estimate`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark.errors import HarnessError
from benchmark.perf.workload import (
    BASE_SHAPE,
    QUICK_SHAPE,
    REPO_ROOT,
    SHARED_DATA,
    check_data_dir,
    load_average,
    measurement,
)
from benchmark.phases import COMPUTE, NAMES

SHARED_VOCAB = REPO_ROOT.parent / "shared" / "vocab" / "bert-base-chinese"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.perf.wholerun",
        description="Run complete short runs (python run.py, mini protocol, random weights) and print where "
        "their wall time went, phase by phase.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA, help="THUCNews folder with dev.txt, test.txt")
    parser.add_argument(
        "--vocab-dir",
        type=Path,
        default=Path(os.environ.get("BENCHMARK_VOCAB_DIR", SHARED_VOCAB)),
        help="a folder with bert-base-chinese's vocab.txt (or set BENCHMARK_VOCAB_DIR); the default is "
        "../shared/vocab/bert-base-chinese beside the repository",
    )
    parser.add_argument("--quick", action="store_true", help=f"the quick shape ({QUICK_SHAPE}) instead of BERT-base")
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps of each run (--max-steps)")
    parser.add_argument("--eval-every", type=int, default=100, help="dev evaluation every N steps")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="seeds, run as one queue in one process")
    parser.add_argument("--label", default="", help="a name for this measurement in the table and the JSON")
    parser.add_argument("--extra", default="", help="further run.py flags, e.g. '--save-every 100'")
    parser.add_argument("--keep", type=Path, default=None, help="keep the results folders here")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    return parser


def make_model_folder(folder: Path, vocab_dir: Path, shape: dict) -> Path:
    """A BERT checkpoint folder as a hub download holds it: config, safetensors weights (random), vocab.txt."""
    import torch
    from transformers import BertConfig, BertModel

    vocab = vocab_dir / "vocab.txt"
    if not vocab.is_file():
        raise HarnessError(f"no vocab.txt in {vocab_dir}; pass --vocab-dir or set BENCHMARK_VOCAB_DIR")
    folder.mkdir(parents=True, exist_ok=True)
    size = sum(1 for _ in vocab.open(encoding="utf-8"))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=size, **shape)).save_pretrained(folder)
    shutil.copy(vocab, folder / "vocab.txt")
    return folder


def run_command(model: Path, args, results: Path) -> list[str]:
    return [
        sys.executable,
        "run.py",
        "--model",
        "bert",
        "--model-path",
        str(model),
        "--name",  # random weights: a checkpoint of its own, whatever its shape
        f"random-bert-{'quick' if args.quick else 'base'}",
        "--data-dir",
        str(args.data_dir),
        "--protocol",
        "mini",
        "--max-steps",
        str(args.steps),
        "--eval-every",
        str(args.eval_every),
        "--seeds",
        *map(str, args.seeds),
        "--results-dir",
        str(results),
        "--offline",
        *args.extra.split(),
    ]


def read_runs(results: Path) -> list[dict]:
    runs = []
    for path in sorted(results.glob("*/metrics.json"), key=lambda p: json.loads(p.read_text())["seed"]):
        metrics = json.loads(path.read_text(encoding="utf-8"))
        runs.append(
            {
                "seed": metrics["seed"],
                "wall_seconds": metrics["timing"]["wall_seconds"],
                "phases": metrics["timing"]["phases"],
                "global_step": metrics["training"]["global_step"],
                "best_step": metrics["training"]["best_step"],
                "parameters": metrics["backbone"]["parameters"],
                "accuracy": metrics["metrics"]["accuracy"],
                "sizes": metrics["task"]["sizes"],
                "peak_memory_mb": metrics["timing"]["peak_memory_mb"],
                "train_mean_tokens": metrics.get("tokenization", {})
                .get("splits", {})
                .get("train", {})
                .get("mean_tokens"),
            }
        )
    return runs


def overhead(run: dict) -> float:
    return sum(p["seconds"] for p in run["phases"] if p["phase"] not in COMPUTE)


def format_runs(runs: list[dict], label: str) -> str:
    header = f"{'phase':<18}" + "".join(f"{'seed ' + str(r['seed']):>14}" for r in runs)
    lines = [f"{label}: seconds per phase (and bytes written)", header]
    for name in NAMES:
        cells, shown = [], False
        for run in runs:
            entry = next((p for p in run["phases"] if p["phase"] == name), None)
            shown |= entry is not None
            if entry is None:
                cells.append(f"{'-':>14}")
                continue
            note = f" {entry['bytes'] / 1e6:,.0f}MB" if entry.get("bytes") else ""
            cells.append(f"{entry['seconds']:>8.2f}{note:>6}" if note else f"{entry['seconds']:>14.2f}")
        if shown:
            lines.append(f"{name:<18}" + "".join(cells))
    lines.append(f"{'wall':<18}" + "".join(f"{r['wall_seconds']:>14.2f}" for r in runs))
    lines.append(f"{'overhead':<18}" + "".join(f"{overhead(r):>14.2f}" for r in runs))
    lines.append(f"{'peak memory (MB)':<18}" + "".join(f"{r['peak_memory_mb']:>14,.0f}" for r in runs))
    lines.append("overhead: every phase but training (optimiser steps), dev evaluation and test scoring")
    for run in runs:
        for entry in run["phases"]:
            if entry.get("background_seconds"):
                lines.append(
                    f"seed {run['seed']}: {entry['phase']} also ran {entry['background_seconds']:.2f} s in the "
                    f"background, overlapped with the run's other work"
                )
    return "\n".join(lines)


@measurement
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.data_dir = check_data_dir(args.data_dir)
    shape = QUICK_SHAPE if args.quick else BASE_SHAPE
    started = time.perf_counter()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="wholerun-") as scratch:
        scratch = Path(scratch)
        model = make_model_folder(scratch / "model", args.vocab_dir, shape)
        results = args.keep or scratch / "results"
        command = run_command(model, args, results)
        env = {**os.environ, "BENCHMARK_CACHE": str(scratch / "cache"), "HF_HUB_OFFLINE": "1"}
        print("$ " + " ".join(command[1:]), flush=True)
        child = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        if child.returncode != 0:
            raise HarnessError(f"the run failed (exit {child.returncode}):\n{child.stderr[-3000:]}")
        runs = read_runs(results)
    figures = {
        "label": args.label,
        "shape": "quick" if args.quick else "BERT-base",
        "steps": args.steps,
        "eval_every": args.eval_every,
        "extra": args.extra,
        "runs": runs,
        "load_before": load_before,
        "load_after": load_average(),
        "seconds": time.perf_counter() - started,
    }
    print(format_runs(runs, f"{args.label or 'whole run'} ({figures['shape']}, {args.steps} steps)"))
    print(f"machine load: {figures['load_before']} at start, {figures['load_after']} at the end")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
