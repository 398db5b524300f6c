"""--report-to: Trainer's own experiment trackers, checked before use, with TensorBoard's files in the run folder."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from benchmark.config import RunConfig
from benchmark.settings import check_tracker

TENSORBOARD_FOLDER = "tensorboard"
# Trainer's TensorBoard callback reads its folder from this variable when the Trainer is built; transformers 5
# has no logging_dir argument any more, and without either it writes under output_dir (the checkpoints, which go).
TENSORBOARD_DIR_VARIABLE = "TENSORBOARD_LOGGING_DIR"


@contextmanager
def trackers_for(config: RunConfig, run_dir: Path):
    """Around building a Trainer: the tracker's package checked (a clear error, not Trainer's), and TensorBoard
    pointed at <run_dir>/tensorboard. The variable is put back afterwards, so it never leaks into a later run
    of the same process."""
    check_tracker(config.report_to)
    if config.report_to != "tensorboard":
        yield
        return
    previous = os.environ.get(TENSORBOARD_DIR_VARIABLE)
    os.environ[TENSORBOARD_DIR_VARIABLE] = str(Path(run_dir) / TENSORBOARD_FOLDER)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(TENSORBOARD_DIR_VARIABLE, None)
        else:
            os.environ[TENSORBOARD_DIR_VARIABLE] = previous
