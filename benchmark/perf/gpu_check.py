"""`python -m benchmark.perf.gpu_check`: what a GPU can settle that the estimates assume, in one JSON file.

Within about eight minutes on one GPU, on the real THUCNews dev split and the real bert-base-chinese vocabulary
(random weights throughout):

1. throughput: bf16 training steps (batch 128) and evaluation (batch 512) of the BERT-base shape, in examples
   and tokens a second, and the share of the GPU's bf16 peak they reach (the estimates assume 30%);
2. phases: where a short `python run.py` run's wall time goes (start-up, loading, encoding, training, writing);
3. sharing: two such runs side by side on the one GPU through the fan-out (`--workers 2 --gpus-per-run 0.5`)
   against the same two one after another.

`--cpu` runs the same at a tiny shape on the CPU, for the test suite; its figures say nothing of a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark.errors import HarnessError
from benchmark.perf.gpu_estimate import GPUS
from benchmark.perf.wholerun import SHARED_VOCAB, make_model_folder, read_runs
from benchmark.perf.workload import BASE_SHAPE, REPO_ROOT, SHARED_DATA, check_data_dir, load_average, measurement

TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.perf.gpu_check",
        description="Measure on a GPU what the GPU estimates assume: throughput, a run's phases, two runs sharing.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA, help="THUCNews folder with dev.txt, test.txt")
    parser.add_argument("--vocab-dir", type=Path, default=SHARED_VOCAB, help="a folder with bert-base-chinese's vocab")
    parser.add_argument("--cpu", action="store_true", help="a tiny shape on the CPU (for the tests)")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps of each run (default 300; --cpu 20)")
    parser.add_argument("--json", type=Path, default=Path("gpu-check.json"), help="where the figures go")
    return parser


def throughput(args, shape: dict, device: str) -> dict:
    """Training steps and evaluation batches of the harness's classifier on real headlines, timed after a warm-up."""
    import torch
    from transformers import BertTokenizerFast

    from benchmark.data.encode import PaddingCollator, encode_split
    from benchmark.perf.workload import load_folder, make_model

    splits = load_folder(args.data_dir)
    tokenizer = BertTokenizerFast.from_pretrained(str(args.vocab_dir), do_lower_case=True)
    encoded = encode_split(tokenizer, splits.train.texts, splits.train.labels, 32, cache_dir=None)
    model = make_model(shape, len(splits.label_names), seed=0).to(device)
    collate = PaddingCollator(tokenizer.pad_token_id, multiple_of=8 if device == "cuda" else None)
    precision = torch.bfloat16 if device == "cuda" else torch.float32
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=device == "cuda")
    parameters = sum(p.numel() for p in model.parameters())

    def batches(size: int, count: int):
        for k in range(count):
            rows = [encoded[(k * size + i) % len(encoded)] for i in range(size)]
            yield {name: tensor.to(device) for name, tensor in collate(rows).items()}

    def timed(step, size: int, count: int) -> tuple[float, int]:
        for batch in batches(size, 3):  # warm-up: allocations, kernel selection
            step(batch)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        sync()
        started, tokens = time.perf_counter(), 0
        for batch in batches(size, count):
            step(batch)
            tokens += int(batch["attention_mask"].sum())
        sync()
        return time.perf_counter() - started, tokens

    def train(batch):
        with torch.autocast(device, dtype=precision, enabled=device == "cuda"):
            loss = model(**batch)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def evaluate(batch):
        with torch.inference_mode(), torch.autocast(device, dtype=precision, enabled=device == "cuda"):
            model(**batch)

    steps = 50 if device == "cuda" else 5
    model.train()
    train_seconds, train_tokens = timed(train, 128, steps)
    model.eval()
    eval_seconds, eval_tokens = timed(evaluate, 512, steps // 2)
    peak = GPUS.get("H100 SXM") if device == "cuda" else None
    achieved = 6 * parameters * train_tokens / train_seconds
    return {
        "parameters": parameters,
        "train_examples_per_second": 128 * steps / train_seconds,
        "train_tokens_per_second": train_tokens / train_seconds,
        "eval_examples_per_second": 512 * (steps // 2) / eval_seconds,
        "eval_tokens_per_second": eval_tokens / eval_seconds,
        "train_flops_per_second": achieved,
        "share_of_h100_bf16_peak": achieved / peak if peak else None,
    }


def run(args, model: Path, results: Path, seeds: list[str], extra: list[str], cache: Path) -> float:
    """A `python run.py` queue of these seeds; its wall time."""
    command = [
        sys.executable, "run.py", "--model", "bert", "--model-path", str(model), "--name", "random-bert",
        "--data-dir", str(args.data_dir), "--protocol", "mini", "--max-steps", str(args.steps),
        "--eval-every", str(max(1, args.steps // 3)), "--offline", "--results-dir", str(results), "--seeds", *seeds,
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "BENCHMARK_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    child = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if child.returncode != 0:
        raise HarnessError(f"{' '.join(command[1:])} failed (exit {child.returncode}):\n{child.stderr[-3000:]}")
    return time.perf_counter() - started


@measurement
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    check_data_dir(args.data_dir)
    device = "cpu" if args.cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise HarnessError("no GPU here; --cpu measures the same at a tiny shape on the CPU")
    args.steps = args.steps or (20 if args.cpu else 300)
    shape = TINY if args.cpu else BASE_SHAPE
    figures = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "shape": "tiny" if args.cpu else "BERT-base",
        "steps": args.steps,
        "load_before": load_average(),
    }
    print(f"throughput of the {figures['shape']} shape on {figures['device']}", flush=True)
    figures["throughput"] = throughput(args, shape, device)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        scratch = Path(scratch)
        model = make_model_folder(scratch / "model", args.vocab_dir, shape)
        print("phases of one run, then two runs one after another and side by side", flush=True)
        run(args, model, scratch / "one", ["1"], [], scratch / "cache-one")
        figures["phases"] = read_runs(scratch / "one")[0]
        sharing = ["--workers", "2"] + ([] if args.cpu else ["--gpus-per-run", "0.5"])
        after = run(args, model, scratch / "after", ["1", "2"], [], scratch / "cache-two")
        side = run(args, model, scratch / "side", ["1", "2"], sharing, scratch / "cache-side")
    figures["two_runs"] = {"one_after_another_seconds": after, "side_by_side_seconds": side, "ratio": after / side}
    figures["load_after"] = load_average()
    args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    speed = figures["throughput"]
    print(
        f"training {speed['train_examples_per_second']:,.0f} examples/s, evaluation "
        f"{speed['eval_examples_per_second']:,.0f}/s; two runs: one after another {after:.1f} s, side by side "
        f"{side:.1f} s ({after / side:.2f}x); figures in {args.json}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
