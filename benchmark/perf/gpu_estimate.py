"""`python -m benchmark.perf.gpu_estimate BEFORE.json AFTER.json`: a run's wall time on an A100 and an H100.

Not a measurement: compute comes from the FLOP model of docs/performance.md (6 x parameters x token positions
per training example, 2 x for evaluation, at 30% of the GPU's bf16 dense peak), and everything else from the
phases that `benchmark.perf.wholerun` measured here for BERT-base, before and after the best weights were kept
in memory (each JSON file is one of its `--json` outputs). The workload is one epoch of THUCNews-10's 180,000
training headlines at batch 128 (1,407 steps), a dev evaluation of 10,000 headlines every 100 steps (14), and
the 10,000 test headlines.

What scales how, from the mini-protocol run measured here (9,000 train, 1,000 dev, 10,000 test lines):
start-up, model loading and results writing are taken as measured; reading and encoding scale with the lines
(200,000 against 20,000); a full checkpoint and the model folder are written at the storage's speed (this
machine's disk as measured, or network storage at an assumed `--network-mb-s`). Before: a full checkpoint at
every new best, taken as every evaluation (early in fine-tuning dev loss improves at most of them), written
while training waits, plus the periodic ones (`--save-every` 500). After: a device-to-host copy of each periodic
checkpoint (at an assumed `--host-copy-gb-s`) while training waits, the write overlapped with the steps that
follow, and a copy of the best weights on the GPU at each new best, which takes milliseconds. CUDA start-up and
the launch overheads of small kernels are not modelled beyond the 30% utilisation; they would lower the share.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

GPUS = {"A100": 312e12, "H100 SXM": 989e12}  # bf16 dense peak, FLOP/s
TRAIN, DEV, TEST, BATCH, EVAL_EVERY, SAVE_EVERY = 180_000, 10_000, 10_000, 128, 100, 500
MEASURED_LINES = {"train": 9_000, "dev": 1_000, "test": 10_000}
COMPUTE = ("training", "dev_evaluation", "test_scoring")


def phase(run: dict, name: str, key: str = "seconds") -> float:
    return sum(p.get(key, 0) for p in run["phases"] if p["phase"] == name)


def estimate(run: dict, before: bool, gpu_flops: float, args, disk_mb_s: float, tokens: float) -> dict:
    params = run["parameters"]
    steps = math.ceil(args.epochs * TRAIN / BATCH)
    evaluations = steps // EVAL_EVERY
    bests = round(args.best_share * evaluations)
    flops = args.utilisation * gpu_flops
    compute = {
        "training": 6 * params * tokens * TRAIN * args.epochs / flops,
        "dev_evaluation": evaluations * 2 * params * tokens * DEV / flops,
        "test_scoring": 2 * params * tokens * TEST / flops,
    }
    scale = (TRAIN + DEV + TEST) / sum(MEASURED_LINES.values())
    overhead = {
        "startup": phase(run, "startup"),
        "data": phase(run, "data") * scale,
        "model_load": phase(run, "model_load"),
        "encode": phase(run, "encode") * scale,
        "results_write": phase(run, "results_write"),
        "other": phase(run, "other"),
    }
    checkpoint_bytes = args.checkpoint_bytes
    model_bytes = phase(run, "model_write", "bytes")
    storage = disk_mb_s * 1e6
    periodic = steps // SAVE_EVERY
    if before:
        overhead["checkpoint_write"] = (bests + periodic) * checkpoint_bytes / storage
        overhead["best_weights"] = 0.0
    else:
        # The last periodic write overlaps the steps after it; whatever is left shows at the end.
        steps_after = steps - periodic * SAVE_EVERY
        hidden = compute["training"] * steps_after / steps
        copy = periodic * checkpoint_bytes / (args.host_copy_gb_s * 1e9)
        overhead["checkpoint_write"] = copy + max(0.0, checkpoint_bytes / storage - hidden)
        overhead["best_weights"] = bests * model_bytes / (args.device_copy_gb_s * 1e9)
    overhead["model_write"] = model_bytes / storage
    total_compute, total_overhead = sum(compute.values()), sum(overhead.values())
    return {
        "compute": compute,
        "overhead": overhead,
        "compute_seconds": total_compute,
        "overhead_seconds": total_overhead,
        "wall_seconds": total_compute + total_overhead,
        "compute_share": total_compute / (total_compute + total_overhead),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.perf.gpu_estimate",
        description="Estimate one epoch of THUCNews-10 on an A100 and an H100 from the phases measured here.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("before", type=Path, help="benchmark.perf.wholerun --json output, before (BERT-base)")
    parser.add_argument("after", type=Path, help="the same, after")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of 180,000 headlines (a default run: 3)")
    parser.add_argument(
        "--best-share",
        type=float,
        default=1.0,
        help="share of the dev evaluations that find a new best (before: each wrote a full checkpoint)",
    )
    parser.add_argument("--utilisation", type=float, default=0.30, help="share of the bf16 dense peak reached")
    parser.add_argument("--network-mb-s", type=float, default=250.0, help="assumed network storage write speed")
    parser.add_argument("--host-copy-gb-s", type=float, default=10.0, help="assumed device-to-host copy speed")
    parser.add_argument("--device-copy-gb-s", type=float, default=500.0, help="assumed on-device copy speed")
    parser.add_argument(
        "--checkpoint-bytes",
        type=float,
        default=None,
        help="bytes of one full checkpoint (default: as measured in BEFORE)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the estimate to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    before, after = (json.loads(path.read_text(encoding="utf-8"))["runs"][0] for path in (args.before, args.after))
    written = phase(before, "checkpoint_write", "bytes")
    saves = next((p.get("count") for p in before["phases"] if p["phase"] == "checkpoint_write"), None) or 1
    args.checkpoint_bytes = args.checkpoint_bytes or written / saves
    disk_mb_s = written / 1e6 / phase(before, "checkpoint_write")
    tokens = after.get("train_mean_tokens") or before.get("train_mean_tokens") or 19.6
    tokens *= 1.03  # length grouping computes 3% more positions than tokens (docs/performance.md)
    print(
        f"measured here: a full BERT-base checkpoint {args.checkpoint_bytes / 1e9:.2f} GB, written at "
        f"{disk_mb_s:,.0f} MB/s (this disk, {saves} checkpoints); {tokens:.1f} positions per headline; "
        f"{before['parameters'] / 1e6:.0f}M parameters"
    )
    table, figures = [], {}
    for gpu, peak in GPUS.items():
        for storage, speed in (("local disk (measured)", disk_mb_s), ("network storage (assumed)", args.network_mb_s)):
            for label, run, is_before in (("before", before, True), ("after", after, False)):
                result = estimate(run, is_before, peak, args, speed, tokens)
                figures[f"{gpu}, {storage}, {label}"] = result
                table.append(
                    f"{gpu:<9} {storage:<26} {label:<7} {result['compute_seconds']:8.1f} "
                    f"{result['overhead_seconds']:9.1f} {result['wall_seconds']:8.1f} "
                    f"{100 * result['compute_share']:8.0f}%"
                    f"   checkpoints {result['overhead']['checkpoint_write']:.1f} s"
                )
    print(f"{'GPU':<9} {'storage':<26} {'':<7} {'compute':>8} {'overhead':>9} {'wall':>8} {'compute':>9}")
    print("\n".join(table))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
