"""The exceptions the command line turns into one line instead of a traceback."""

from __future__ import annotations

from pathlib import Path


class HarnessError(Exception):
    """A problem the user can fix: bad input, a missing file, an unknown name.

    The message must say what was wrong, where, and what was expected.
    """


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name when it has none), for a one-line report."""
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:limit]


class Terminated(Exception):
    """SIGTERM from a launcher (torchrun ending the others when one process failed) or a scheduler.

    On its way out it learns what it stopped: the run (backbone and seed), its folder, and what that folder holds
    to resume from (None: nothing, and the folder was removed).
    """

    def __init__(self, message: str = "stopped by SIGTERM from the launcher or scheduler"):
        super().__init__(message)
        self.run: str | None = None
        self.folder: Path | None = None
        self.resume_from: str | None = None

    def describe(self) -> str:
        """One line: what was stopped, and what the same command does next."""
        stopped = f"stopped by SIGTERM: {self.run or 'the run'}"
        if self.folder is None:
            return f"{stopped}, before its run folder was made; the same command starts it again"
        if self.resume_from is None:
            return (
                f"{stopped}, before it saved anything to resume from, so its run folder {self.folder} was removed; "
                f"the same command starts it again from the beginning"
            )
        return f"{stopped}, in {self.folder}; the same command resumes it from {self.resume_from}"


class Diverged(Exception):
    """The loss became NaN or infinite: the run failed, and its folder is kept, marked failed (failed.json)."""

    def __init__(self, what: str, value: float, step: int, learning_rate: float | None):
        self.what, self.value, self.step, self.learning_rate = what, value, step, learning_rate
        self.folder: Path | None = None
        rate = f" at learning rate {learning_rate:.3g}" if learning_rate is not None else ""
        super().__init__(
            f"the {what} became {value} at step {step}{rate}: the run diverged; try a lower --learning-rate or a "
            f"longer --warmup, and check the data"
        )

    def record(self) -> dict:
        return {
            "reason": "diverged",
            "what": self.what,
            "value": str(self.value),
            "step": self.step,
            "learning_rate": self.learning_rate,
            "message": str(self),
        }
