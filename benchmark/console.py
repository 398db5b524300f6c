"""What a run says: progress lines from the main process, and one-line errors from any process."""

from __future__ import annotations

import os
import sys


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def log(message: str) -> None:
    """A line of progress; with several processes (torchrun) the main one speaks for all."""
    if rank() == 0:
        print(message, flush=True)


def report_error(message: str) -> None:
    """One line on stderr, naming the process when there are several. A run that failed mid-training leaves its
    progress bar open: close it first, so the message starts a line of its own."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
    print(f"{f'[rank {rank()}] ' if rank() else ''}error: {message}", file=sys.stderr, flush=True)
