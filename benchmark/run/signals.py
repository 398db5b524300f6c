"""SIGTERM ends a run like an error: torchrun ends the other processes with it when one fails, and a scheduler
stops a job with it. The run then removes a folder holding nothing to resume and says what it stopped."""

from __future__ import annotations

import signal

from benchmark.errors import Terminated


def end_like_an_error_on_sigterm():
    """torchrun ends the other processes with SIGTERM when one fails, and a scheduler stops a job with it: end like
    an error, so a run folder that holds nothing to continue from is removed rather than left behind, and a lone
    process says what it stopped. Returns the handler it replaces."""

    global _terminated
    _terminated = False

    def terminated(signum, frame):
        global _terminated
        _terminated = True
        if not in_finaliser(frame):  # there Python would print the exception and drop it; training raises it next
            raise Terminated()

    return signal.signal(signal.SIGTERM, terminated)


_terminated = False  # a SIGTERM arrived (its exception may have been swallowed; see raise_if_terminated)


def in_finaliser(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def raise_if_terminated() -> None:
    """Raise Terminated if SIGTERM arrived while a finaliser (__del__) ran, where the handler does not raise: Python
    would print the exception and drop it. Training checks after every step."""
    if _terminated:
        raise Terminated()
