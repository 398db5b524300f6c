"""One run of a fanned-out queue, as a Ray worker process runs it (benchmark.run.fanout submits it).

The worker moves to the folder the command was started in, takes the CPU threads Ray gave it, says where it
started (a line in the queue's `started` file, which the driver reads to print "started ... on ..."), sends
everything the run prints to a log file, and runs the ordinary driver: the results folder is the same as when
run alone. The log then goes into the run's folder as run.log. A failure comes back as one line, never as an
exception Ray would have to carry: only a worker that dies is Ray's to retry, and a retried run resumes from its
last checkpoint by the usual resume.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from benchmark.errors import Diverged
from benchmark.record import METRICS_FILE
from benchmark.settings import Settings

LOG_FILE = "run.log"


def where_am_i() -> str:
    """This worker, as a person tells machines apart: its host, and its GPUs or CPU threads."""
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
    threads = os.environ.get("OMP_NUM_THREADS", "?")
    return f"{socket.gethostname()} ({f'GPU {gpus}' if gpus else f'{threads} CPU thread' + 's' * (threads != '1')})"


@contextlib.contextmanager
def output_to(log: Path):
    """Everything this process writes to stdout and stderr, libraries and subprocesses included, into `log`
    (appended: a retried run's log continues the first attempt's)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    handle = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def run_one(settings: Settings, splits, cwd: str, bookkeeping: str, key: str, skip_finished: bool) -> dict:
    """Run `settings` here; returns {"folder", "accuracy", "macro_f1", "seconds", "worker"} or {"error", ...}."""
    from benchmark.registry import get_backbone
    from benchmark.run.driver import run
    from benchmark.run.queue import describe_failure, failed_by_settings

    os.chdir(cwd)  # the same relative paths as the command's: its records are those of a run started alone
    started, worker = time.time(), where_am_i()
    book = Path(bookkeeping)
    with open(book / f"{key}.started", "a", encoding="utf-8") as marker:
        marker.write(json.dumps({"worker": worker, "pid": os.getpid(), "at": started}) + "\n")
    log = book / f"{key}.log"
    outcome = {"worker": worker}
    with output_to(log):
        try:
            if get_backbone(settings.config.model).kind != "sklearn":  # a scikit-learn run needs no torch
                threads(int(os.environ.get("OMP_NUM_THREADS") or 1))  # Ray's share for this task
            folder = run(settings, skip_finished=skip_finished, splits=splits)
            outcome |= scores(folder)
        except Exception as error:  # one line for the summary; the log keeps the rest
            outcome["error"] = describe_failure(error)  # with a traceback where no message foresaw the failure
            outcome["failed_by_settings"] = failed_by_settings(error)
            print(f"error: {outcome['error']}", file=sys.stderr)
            folder = error.folder if isinstance(error, Diverged) else None
    outcome["seconds"] = time.time() - started
    if folder is not None and Path(folder).is_dir():
        with contextlib.suppress(OSError):
            with open(Path(folder) / LOG_FILE, "ab") as kept, open(log, "rb") as written:
                shutil.copyfileobj(written, kept)
            log.unlink()
            outcome["log"] = str(Path(folder) / LOG_FILE)
    return outcome | ({} if "log" in outcome else {"log": str(log)})


def threads(count: int) -> None:
    """torch takes its thread count from the machine when first imported; a run gets the share Ray gave it."""
    import torch

    torch.set_num_threads(max(1, count))


def scores(folder) -> dict:
    metrics = json.loads((Path(folder) / METRICS_FILE).read_text(encoding="utf-8"))
    return {
        "folder": str(folder),
        "accuracy": metrics["metrics"]["accuracy"],
        "macro_f1": metrics["metrics"]["macro"]["f1"],
    }
