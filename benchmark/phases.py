"""Where a run's wall time goes: named phases, timed as they happen, that add up to the run's wall time.

A run started from the command line counts from the moment its process was created, so the interpreter's
start-up and the imports before the run are in its wall time (the phase `startup`); the later runs of a queue
count from their own start. Whatever no phase claims (building the trainer, the tokenisation report, folder
bookkeeping) is `other`, so the phases always sum to the wall time. `metrics.json` records them as
`timing.phases` (docs/results-format.md), and `python run.py` prints them at the end of a run.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

# (name, what it covers), in the order of a run.
PHASES = (
    ("startup", "process start-up and imports, before the run began (the first run of a process only)"),
    ("data", "reading and validating the data files"),
    ("model_load", "loading the pretrained model and its tokenizer (tfidf: loading jieba's dictionary)"),
    ("encode", "tokenising the splits, or reading them from the encoding cache"),
    ("training", "optimiser steps: forward, backward and update (tfidf: fitting)"),
    ("dev_evaluation", "the dev evaluations during training"),
    ("best_weights", "copying each new best dev score's weights in memory, and restoring them at the end"),
    ("checkpoint_write", "writing resumable checkpoints (the time training waited for them)"),
    ("test_scoring", "scoring the test set"),
    ("model_write", "writing the fine-tuned model's folder (in the background while the test set is scored: the wait)"),
    ("inference_cost", "timing inference at batch 1 and 64 for the record (benchmark.serve.cost)"),
    ("results_write", "writing metrics.json, predictions.csv and report.txt"),
    ("other", "everything no phase above claims"),
)
NAMES = tuple(name for name, _ in PHASES)
# The arithmetic of the model; every other phase is overhead that a faster device does not shrink.
COMPUTE = ("training", "dev_evaluation", "test_scoring")

_command_line_start: float | None = None


def started_from_command_line() -> None:
    """Count the first run of this process from the moment the process was created (run.py calls this)."""
    global _command_line_start
    now_wall, now = time.time(), time.perf_counter()
    try:
        import psutil

        created = psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - no process table to read: count from here, as a run started in code does
        created = now_wall
    _command_line_start = now - max(0.0, now_wall - created)


class Phases:
    """A run's stopwatch: `with phases("data"): ...`, `phases.add(name, seconds, bytes=...)`, and `record()`."""

    def __init__(self):
        global _command_line_start
        now = time.perf_counter()
        self.started = _command_line_start if _command_line_start is not None else now
        _command_line_start = None  # the next run of a queue counts from its own start
        self.entries: dict[str, dict] = {}
        self._open: list[list] = []  # [name, seconds claimed by phases inside it, start]
        self.add("startup", now - self.started)

    @contextmanager
    def __call__(self, name: str):
        """Time a phase; a phase timed inside it (e.g. dev evaluations inside training) is not counted twice."""
        began = time.perf_counter()
        self._open.append([name, 0.0, began])
        try:
            yield
        finally:
            _, inner, _ = self._open.pop()
            self.add(name, time.perf_counter() - began - inner)  # its own time, taken from the enclosing phase
            if self._open:  # and what its inner phases took, which was inside the enclosing phase too
                self._open[-1][1] += inner

    def add(self, name: str, seconds: float, **extra) -> None:
        """Add seconds to a phase, taken from the phase open around it if any; extra figures (bytes, count)
        add up, other values (cached) are replaced."""
        if name not in NAMES or name == "other":
            raise ValueError(f"unknown phase {name!r}")
        entry = self.entries.setdefault(name, {"seconds": 0.0})
        entry["seconds"] += seconds
        if self._open:
            self._open[-1][1] += seconds
        for key, value in extra.items():
            summable = isinstance(value, int | float) and not isinstance(value, bool)
            entry[key] = entry.get(key, 0) + value if summable else value

    def note(self, name: str, **extra) -> None:
        """Figures about a phase that take no time of the run (bytes, counts, whether from a cache)."""
        self.add(name, 0.0, **extra)

    def wall(self) -> float:
        return time.perf_counter() - self.started

    def record(self, wall: float | None = None) -> list[dict]:
        """One entry per phase that took place, in run order, then `other`: the rest of `wall` (default: now).
        A phase still open counts its time so far."""
        now = time.perf_counter()
        wall = now - self.started if wall is None else wall
        entries = {name: dict(entry) for name, entry in self.entries.items()}
        for depth, (name, inner, began) in enumerate(self._open):
            deeper = now - self._open[depth + 1][2] if depth + 1 < len(self._open) else 0.0
            entries.setdefault(name, {"seconds": 0.0})["seconds"] += now - began - inner - deeper
        found = [{"phase": name, **entries[name]} for name in NAMES if name in entries]
        found.append({"phase": "other", "seconds": max(0.0, wall - sum(e["seconds"] for e in found))})
        return found

    def complete_timing(self, record) -> None:
        """Set a results record's wall time and phases to now (just before its metrics.json is written)."""
        record.timing.wall_seconds = self.wall()
        record.timing.phases = self.record(record.timing.wall_seconds)


def size_of(path: Path) -> int:
    """Bytes in a file, or in every file under a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def describe(phases: list[dict], wall: float) -> str:
    """The split as a small table for the end of a run."""
    lines = [f"where the {wall:.1f} s went:"]
    for entry in phases:
        if entry["seconds"] < 0.0005 and entry["phase"] != "other" and not entry.get("background_seconds"):
            continue
        notes = []
        if entry.get("bytes"):
            notes.append(f"{entry['bytes'] / 1e6:,.0f} MB")
        if entry.get("count"):
            notes.append(f"{entry['count']} time" + ("s" if entry["count"] > 1 else ""))
        if entry.get("background_seconds"):
            notes.append(f"{entry['background_seconds']:.1f} s written in the background")
        if entry.get("reused"):
            notes.append("kept from the previous run of this process")
        if "cached" in entry:
            notes.append("from the cache" if entry["cached"] else "not cached")
        share = 100 * entry["seconds"] / wall if wall > 0 else 0.0
        shown = f"  {entry['phase']:<17}{entry['seconds']:9.2f} s {share:5.1f}%"
        lines.append(shown + (f"  ({', '.join(notes)})" if notes else ""))
    compute = sum(e["seconds"] for e in phases if e["phase"] in COMPUTE)
    lines.append(f"  compute (training, dev evaluation, test scoring) {compute:.1f} s, the rest {wall - compute:.1f} s")
    return "\n".join(lines)
