"""`python -m benchmark.perf.leaderboard_estimate BEFORE.json AFTER.json`: a whole THUCNews-10 leaderboard on
1, 8 and 64 H100s, each run split over every GPU (DDP) or the runs side by side (fan-out, --workers), and what
one GPU computes with one run or two on it.

Not a measurement. A run's compute comes from the FLOP model of `benchmark.perf.gpu_estimate` (6 x parameters x
positions per training example, 2 x for evaluation, at `--utilisation` of the bf16 dense peak), with each
backbone's declared parameter count; its overhead (start-up, loading, encoding, writing, inference timing) is
the one that estimate takes from the phases measured here for BERT-base (BEFORE and AFTER: the JSON files
`benchmark.perf.gpu_estimate` reads). The queues, in order: the six course backbones with seeds 1 2 3 (18 runs),
and every registered transformer backbone with seeds 1 2 3 (the classic baselines are minutes on a CPU and left
out). Assumptions, all flags:

- DDP: one optimiser step on G GPUs takes the larger of its compute / G and a floor of kernel launches
  (`--launch-floor-ms`: a BERT-base step launches about a thousand small kernels, a few microseconds each,
  whatever the batch), plus the all-reduce of the fp32 gradients, 2 (G - 1) / G x 4 bytes x parameters at
  `--nvlink-gb-s` within a node of 8 GPUs or `--network-gb-s` across nodes, not overlapped (an upper bound;
  with compute this small there is little to overlap it with). Evaluation splits without communication. Runs
  go one after another, in one process (a queued run's overhead).
- Fan-out: each GPU takes the next run as it frees, a fresh worker process each (a lone run's overhead, plus
  `--worker-start` seconds); the leaderboard takes as long as the busiest GPU.
- Two runs on a GPU (--gpus-per-run 0.5): the GPU computes both runs' arithmetic one after the other while each
  run's CPU-side work (start-up, loading, encoding, writing) overlaps the other's compute.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from benchmark.perf.gpu_estimate import BATCH_SIZE, GPUS, TRAIN, compute_seconds, measured_settings
from benchmark.perf.gpu_estimate import build_parser as estimate_parser
from benchmark.perf.gpu_estimate import estimate as run_estimate

COURSE = ("bert", "ernie", "roberta_wwm", "macbert", "mengzi", "nezha")
SEEDS = 3
GPUS_PER_NODE = 8


def leaderboards() -> dict[str, list[tuple[str, int]]]:
    """(backbone, parameters) of each run of the two queues, in queue order."""
    from benchmark.registry import list_backbones

    declared = {b.name: b.parameters for b in list_backbones() if b.parameters}
    every = [(name, declared[name]) for name in declared for _ in range(SEEDS)]
    course = [(name, declared[name]) for name in COURSE for _ in range(SEEDS)]
    return {f"{len(COURSE)} x {SEEDS}": course, f"{len(declared)} x {SEEDS}": every}


def run_seconds(parameters: int, overhead: float, flops: float, args) -> tuple[float, float]:
    """(compute, overhead) of one run on one GPU."""
    return sum(compute_seconds(parameters, args.tokens, flops, args).values()), overhead


def ddp_seconds(parameters: int, overhead: float, gpus: int, flops: float, args) -> float:
    """One run split over `gpus`: steps bound by launches and the all-reduce; evaluation split evenly."""
    compute = compute_seconds(parameters, args.tokens, flops, args)
    steps = args.epochs * math.ceil(TRAIN / BATCH_SIZE)
    step = compute["training"] / steps
    bandwidth = (args.nvlink_gb_s if gpus <= GPUS_PER_NODE else args.network_gb_s) * 1e9
    reduce = 2 * (gpus - 1) / gpus * 4 * parameters / bandwidth if gpus > 1 else 0.0
    training = steps * (max(step / gpus, args.launch_floor_ms / 1e3) + reduce)
    return training + (compute["dev_evaluation"] + compute["test_scoring"]) / gpus + overhead


def makespan(durations: list[float], gpus: int) -> float:
    """Runs taken in order by whichever GPU frees first: when the last one ends."""
    free = [0.0] * gpus
    for seconds in durations:
        first = min(range(gpus), key=free.__getitem__)
        free[first] += seconds
    return max(free)


def pairs(runs: list[tuple[float, float]]) -> list[float]:
    """Two runs at a time on one GPU: their arithmetic one after the other, the CPU-side work hidden under the
    other's compute (never shorter than either run alone)."""
    paired = []
    for first, second in zip(runs[::2], runs[1::2] + [(0.0, 0.0)] * (len(runs) % 2), strict=True):
        (c1, o1), (c2, o2) = first, second
        paired.append(max(c1 + c2, c1 + o1, c2 + o2))
    return paired


def build_parser() -> argparse.ArgumentParser:
    parser = estimate_parser()
    parser.prog = "python -m benchmark.perf.leaderboard_estimate"
    parser.description = "Estimate a whole leaderboard on 1, 8 and 64 H100s: DDP per run against fan-out."
    parser.add_argument("--launch-floor-ms", type=float, default=4.0, help="assumed least time of one DDP step")
    parser.add_argument("--nvlink-gb-s", type=float, default=400.0, help="assumed all-reduce bandwidth in a node")
    parser.add_argument("--network-gb-s", type=float, default=40.0, help="assumed all-reduce bandwidth across nodes")
    parser.add_argument("--worker-start", type=float, default=1.0, help="assumed seconds to start a Ray worker")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    before_file, after = (json.loads(Path(path).read_text(encoding="utf-8")) for path in (args.before, args.after))
    before = before_file["runs"][0]
    measured_settings(args, before, after)
    peak = GPUS["H100 SXM"]
    flops = args.utilisation * peak
    lone = run_estimate(before, after, False, peak, args, network=False)
    queued = run_estimate(before, after, True, peak, args, network=False)
    print(
        f"one BERT-base run on an H100: compute {lone['compute_seconds']:.1f} s; overhead "
        f"{lone['overhead_seconds']:.1f} s alone, {queued['overhead_seconds']:.1f} s inside a queue"
    )
    single = lone["compute_seconds"] / lone["wall_seconds"]
    two = 2 * lone["compute_seconds"] / max(2 * lone["compute_seconds"], lone["wall_seconds"])
    print(f"share of an H100 computing: one run {100 * single:.0f}%, two runs on it {100 * two:.0f}%")
    figures = {"gpu_share": {"one_run": single, "two_runs": two}, "leaderboards": {}}
    print(f"{'leaderboard':<12} {'GPUs':>5} {'DDP per run':>12} {'fan-out':>10} {'2 per GPU':>10}  fan-out speed-up")
    for name, queue in leaderboards().items():
        for gpus in (1, 8, 64):
            ddp = sum(ddp_seconds(p, queued["overhead_seconds"], gpus, flops, args) for _, p in queue)
            runs = [run_seconds(p, lone["overhead_seconds"] + args.worker_start, flops, args) for _, p in queue]
            fanned = makespan([c + o for c, o in runs], gpus)
            shared = makespan(pairs(runs), gpus)
            figures["leaderboards"][f"{name}, {gpus} GPUs"] = {"ddp": ddp, "fanout": fanned, "two_per_gpu": shared}
            print(
                f"{name:<12} {gpus:>5} {ddp / 60:>10.1f} m {fanned / 60:>8.1f} m {shared / 60:>8.1f} m  "
                f"{ddp / fanned:5.1f}x ({ddp / shared:.1f}x with 2 per GPU)"
            )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
