"""`python -m benchmark.perf.gpu_estimate BEFORE.json AFTER.json`: a run's wall time on an A100 and an H100.

Not a measurement: compute comes from the FLOP model of docs/performance.md (6 x parameters x token positions
per training example, 2 x for evaluation, at 30% of the GPU's bf16 dense peak), and everything else from the
phases that `benchmark.perf.wholerun` measured here for BERT-base (each JSON file is one of its `--json`
outputs): BEFORE a commit that wrote a full checkpoint at every new best, AFTER the current code, run as a queue
of two seeds (`--seeds 1 2`), so that its second run shows what a run inside a queue pays. The workload is
`--epochs` of THUCNews-10's 180,000 training headlines at batch 128 (1,407 steps an epoch), a dev evaluation of
10,000 headlines every 100 steps, and the 10,000 test headlines.

Two kinds of run are estimated. A lone run is `python run.py --model bert` in a fresh process: start-up, model
loading and an uncached encoding are its own. A queued run is one of `--model all --seeds 1 2 3` (six backbones,
three seeds, one process): the start-up is shared by all its runs, a backbone is loaded once for its seeds, and
each tokenizer encodes the data once (`--tokenizers` of them; the queue's other runs read the encoding cache).

What scales how, from the mini-protocol run measured here (9,000 train, 1,000 dev, 10,000 test lines): start-up,
model loading, results writing and the rest are taken as measured; reading and encoding scale with the lines
(200,000 against 20,000); a full checkpoint, whose files are synced, is written at the storage's speed (this
machine's disk as measured, or network storage at an assumed `--network-mb-s`), and the model folder, which is
not synced, takes the time it took here, or its bytes at the network storage's speed.
Before: a full checkpoint at every new best (`--best-share` of the evaluations) and every 500 steps, written
while training waits, and the model folder written before the test set is scored. After: a resumable
checkpoint every `--save-every-minutes` of training, its device-to-host copy waited for and its write overlapped
with the steps after it; a copy of the best weights on the GPU at each new best; the model folder written while
the test set is scored; and the inference-cost timing every run records, whose one-text-at-a-time part is bound
by kernel launches rather than arithmetic, so it is taken at an assumed `--batch-1-ms` a text (a GPU is fast
enough to time every text within the timing's budget). CUDA start-up and the launch overheads of training's
small kernels are not modelled beyond the 30% utilisation; they would lower the share.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from benchmark.serve.cost import BATCH, BATCH_TEXTS, SINGLE_TEXTS, WARM_UP_TEXTS

GPUS = {"A100": 312e12, "H100 SXM": 989e12}  # bf16 dense peak, FLOP/s
TRAIN, DEV, TEST, BATCH_SIZE, EVAL_EVERY, OLD_SAVE_EVERY = 180_000, 10_000, 10_000, 128, 100, 500
MEASURED_LINES = {"train": 9_000, "dev": 1_000, "test": 10_000}
QUEUE_BACKBONES, QUEUE_SEEDS = 6, 3  # --model all --seeds 1 2 3 over the six reference backbones


def phase(run: dict, name: str, key: str = "seconds") -> float:
    return sum(p.get(key, 0) for p in run["phases"] if p["phase"] == name)


def compute_seconds(params: float, tokens: float, flops: float, args) -> dict:
    evaluations = args.epochs * math.ceil(TRAIN / BATCH_SIZE) // EVAL_EVERY
    return {
        "training": 6 * params * tokens * TRAIN * args.epochs / flops,
        "dev_evaluation": evaluations * 2 * params * tokens * DEV / flops,
        "test_scoring": 2 * params * tokens * TEST / flops,
    }


def measured_overhead(run: dict, queued: dict | None, args) -> dict:
    """Start-up, data, loading, encoding and bookkeeping: a lone run's own, or a queued run's share."""
    scale = (TRAIN + DEV + TEST) / sum(MEASURED_LINES.values())
    own = {name: phase(run, name) for name in ("startup", "model_load", "encode", "results_write", "other")}
    if queued is not None:
        runs = QUEUE_BACKBONES * QUEUE_SEEDS
        encodings = args.tokenizers
        own = {
            "startup": own["startup"] / runs,
            "model_load": (own["model_load"] + (QUEUE_SEEDS - 1) * phase(queued, "model_load")) / QUEUE_SEEDS,
            "encode": (encodings * own["encode"] + (runs - encodings) * phase(queued, "encode")) / runs,
            "results_write": phase(queued, "results_write"),
            "other": phase(queued, "other"),
        }
    own["data"] = phase(queued or run, "data") * scale
    own["encode"] *= scale
    return own


def model_write_seconds(run: dict, network_mb_s: float | None) -> float:
    """Writing the model folder: as long as it took here (unsynced, so into the page cache), or its bytes at the
    network storage's speed."""
    if network_mb_s is not None:
        return phase(run, "model_write", "bytes") / (network_mb_s * 1e6)
    return phase(run, "model_write", "background_seconds") or phase(run, "model_write")


def estimate(before: dict, after: dict | None, queued: bool, gpu_flops: float, args, network: bool) -> dict:
    """The wall time of the workload, split into compute and overhead, for BEFORE (after=None) or AFTER, on this
    machine's disk or on network storage."""
    run = before if after is None else after["runs"][0]
    measured = after["runs"][1] if queued else run
    flops = args.utilisation * gpu_flops
    params = run["parameters"]
    compute = compute_seconds(params, args.tokens, flops, args)
    overhead = measured_overhead(run, measured if queued else None, args)
    steps = args.epochs * math.ceil(TRAIN / BATCH_SIZE)
    bests = round(args.best_share * (steps // EVAL_EVERY))
    storage = (args.network_mb_s if network else args.disk_mb_s) * 1e6  # synced checkpoint files
    model_write = model_write_seconds(measured, args.network_mb_s if network else None)
    if after is None:  # a full checkpoint at each new best and every 500 steps, training waiting for each
        overhead["checkpoint_write"] = (bests + steps // OLD_SAVE_EVERY) * args.checkpoint_bytes / storage
        overhead["model_write"] = model_write
        overhead["best_weights"] = 0.0
        overhead["inference_cost"] = 0.0  # not timed yet then
    else:
        training_wall = compute["training"] + compute["dev_evaluation"]
        periodic = int(training_wall // (60 * args.save_every_minutes)) if args.save_every_minutes > 0 else 0
        # The last periodic write overlaps the training after it; whatever is left shows at the end.
        after_last = training_wall - periodic * 60 * args.save_every_minutes
        copy = periodic * args.checkpoint_bytes / (args.host_copy_gb_s * 1e9)
        unhidden = max(0.0, args.checkpoint_bytes / storage - after_last) if periodic else 0.0
        overhead["checkpoint_write"] = copy + unhidden
        overhead["best_weights"] = bests * phase(run, "model_write", "bytes") / (args.device_copy_gb_s * 1e9)
        overhead["model_write"] = max(0.0, model_write - compute["test_scoring"])  # written while scoring
        timed_in_batches = (BATCH + BATCH_TEXTS) * 2 * params * args.tokens / flops  # warm-up batch, then timed
        overhead["inference_cost"] = timed_in_batches + (WARM_UP_TEXTS + SINGLE_TEXTS) * args.batch_1_ms / 1e3
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
        description="Estimate a THUCNews-10 run on an A100 and an H100 from the phases measured here.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("before", type=Path, help="benchmark.perf.wholerun --json output, before (BERT-base)")
    parser.add_argument("after", type=Path, help="the same, after, with --seeds 1 2")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of 180,000 headlines (a default run: 3)")
    parser.add_argument(
        "--best-share",
        type=float,
        default=0.5,
        help="share of the dev evaluations that find a new best (before: each wrote a full checkpoint)",
    )
    parser.add_argument("--utilisation", type=float, default=0.30, help="share of the bf16 dense peak reached")
    parser.add_argument("--network-mb-s", type=float, default=250.0, help="assumed network storage write speed")
    parser.add_argument("--host-copy-gb-s", type=float, default=10.0, help="assumed device-to-host copy speed")
    parser.add_argument("--device-copy-gb-s", type=float, default=500.0, help="assumed on-device copy speed")
    parser.add_argument("--batch-1-ms", type=float, default=6.0, help="assumed ms per text scored one at a time")
    parser.add_argument("--save-every-minutes", type=float, default=10.0, help="after: the checkpoint cadence")
    parser.add_argument(
        "--tokenizers",
        type=int,
        default=QUEUE_BACKBONES,
        help="distinct tokenizers in the queue, each encoding the data once (bert, roberta_wwm and macbert share "
        "one, which makes 4 for the six)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the estimate to this file")
    return parser


def measured_settings(args, before: dict, after: dict) -> int:
    """What the estimate takes from the measurements: a checkpoint's bytes, this disk's speed, the positions per
    headline (on `args`); returns how many checkpoints BEFORE wrote."""
    written = phase(before, "checkpoint_write", "bytes")
    saves = next((p.get("count") for p in before["phases"] if p["phase"] == "checkpoint_write"), None) or 1
    args.checkpoint_bytes = written / saves
    args.disk_mb_s = written / 1e6 / phase(before, "checkpoint_write")
    tokens = after["runs"][0].get("train_mean_tokens") or before.get("train_mean_tokens") or 19.6
    args.tokens = tokens * 1.03  # length grouping computes 3% more positions than tokens (docs/performance.md)
    return saves


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    before_file, after = (json.loads(path.read_text(encoding="utf-8")) for path in (args.before, args.after))
    before = before_file["runs"][0]
    if len(after["runs"]) < 2:
        print("error: AFTER needs a queue of two seeds (benchmark.perf.wholerun --seeds 1 2)", file=sys.stderr)
        return 2
    saves = measured_settings(args, before, after)
    disk_mb_s = args.disk_mb_s
    print(
        f"measured here: a full BERT-base checkpoint {args.checkpoint_bytes / 1e9:.2f} GB, written at "
        f"{disk_mb_s:,.0f} MB/s (this disk, {saves} checkpoints); {args.tokens:.1f} positions per headline; "
        f"{before['parameters'] / 1e6:.0f}M parameters; {args.epochs} epoch(s), a new best at "
        f"{args.best_share:.0%} of the evaluations"
    )
    rows, figures = [], {}
    cases = (
        ("lone run", "before", None, False),
        ("lone run", "after", after, False),
        ("queued run", "after", after, True),
    )
    for gpu, peak in GPUS.items():
        for storage in ("this disk", "network storage"):
            for kind, label, measured, queued in cases:
                result = estimate(before, measured, queued, peak, args, network=storage == "network storage")
                figures[f"{gpu}, {storage}, {kind}, {label}"] = result
                biggest = sorted(result["overhead"].items(), key=lambda item: -item[1])[:3]
                rows.append(
                    f"{gpu:<9} {storage:<16} {kind:<10} {label:<6} {result['compute_seconds']:8.1f} "
                    f"{result['overhead_seconds']:9.1f} {result['wall_seconds']:8.1f} "
                    f"{100 * result['compute_share']:7.1f}%   "
                    + ", ".join(f"{name} {seconds:.1f}" for name, seconds in biggest)
                )
    print(
        f"{'GPU':<9} {'storage':<16} {'run':<10} {'':<6} {'compute':>8} {'overhead':>9} {'wall':>8} "
        f"{'compute':>8}   largest overheads (s)"
    )
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
