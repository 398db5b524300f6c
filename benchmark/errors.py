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
