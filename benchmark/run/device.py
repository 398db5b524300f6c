"""What the machine decides: precision, threads, batch padding, evaluation batch, data-loading workers.

The defaults that differ between a GPU and a CPU live here, each with the reason; a flag given on the command
line always wins. benchmark.run.train turns them into Trainer's arguments.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from benchmark.config import RunConfig
from benchmark.errors import HarnessError

# Evaluation batch when --eval-batch-size is not given. A GPU is fed best by large batches. On a CPU the
# activations of a large batch fall out of cache: of 64 to 512, 64 evaluated BERT-base fastest, and a small
# shape within 5% of its fastest (docs/performance.md).
EVAL_BATCH_GPU = 512
EVAL_BATCH_CPU = 64
# Data-loading workers when --num-workers is not given: on a GPU they collate the next batches while the device
# computes; on a CPU they would take cores from the computation itself.
WORKERS_GPU = 2
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def on_gpu() -> bool:
    return torch.cuda.is_available()


def cpu_supports_bf16() -> bool:
    """bf16 kernels on this CPU (AVX-512 BF16 or AMX); elsewhere bf16 is emulated and slower than fp32."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def resolve_precision(config: RunConfig) -> str:
    if config.precision == "auto":
        if on_gpu():
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"  # CPU bf16 changes numerics; it is opt-in with --precision bf16
    if not on_gpu():
        if config.precision == "fp16":
            raise HarnessError("--precision fp16 needs a GPU; on a CPU use fp32, or bf16 where the CPU has it")
        if config.precision == "bf16" and not cpu_supports_bf16():
            raise HarnessError(
                "--precision bf16: this CPU has no bf16 instructions (AVX-512 BF16 or AMX), so "
                "bf16 would be emulated and slower than fp32; use --precision fp32"
            )
    return config.precision


def eval_batch_size(config: RunConfig) -> int:
    return config.eval_batch_size or (EVAL_BATCH_GPU if on_gpu() else EVAL_BATCH_CPU)


def num_workers(config: RunConfig) -> int:
    return config.num_workers if config.num_workers is not None else (WORKERS_GPU if on_gpu() else 0)


def cpu_processes() -> bool:
    """Several processes on a machine without GPUs: Accelerate only forms a CPU (gloo) process group when told
    to use the CPU, and otherwise lets every process train alone."""
    accelerator = getattr(torch, "accelerator", None)
    has_accelerator = accelerator.is_available() if accelerator else torch.cuda.is_available()
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not has_accelerator


def cores_granted() -> int:
    """The cores this process may use: its CPU affinity mask, capped by a container's CPU quota (cgroup v2).

    torch sizes its thread pool from the machine, which on a shared host can be many more cores than a container
    is given; threads beyond the quota only wait for each other.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path(CGROUP_CPU_MAX).read_text().split()[:2]
        limit = math.ceil(int(quota) / int(period))
    except (OSError, ValueError):  # no cgroup v2 quota file, or "max": no quota
        return cores
    return max(1, min(cores, limit))


def set_cpu_threads() -> int:
    """One compute thread per core granted, shared among the processes of this machine; OMP_NUM_THREADS wins."""
    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(max(1, cores_granted() // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    return torch.get_num_threads()


def pad_multiple() -> int | None:
    """What batch widths are rounded up to: a multiple of 8 on a GPU, where tensor cores want it; none on a CPU."""
    return 8 if on_gpu() else None
