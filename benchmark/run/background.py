"""Work a run does in a thread of its own while it goes on: writing checkpoints and the model folder."""

from __future__ import annotations

import threading
import time


class InBackground:
    """`function(*args, **kwargs)` started in a daemon thread; `wait()` joins it and raises what it raised.

    The work must not touch what the run changes meanwhile: it is given copies, or objects only read until it
    has been waited for. `seconds` is how long it ran, known once waited for."""

    def __init__(self, function, *args, name: str = "background", **kwargs):
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, args=(function, args, kwargs), name=name, daemon=True)
        self.thread.start()

    def _run(self, function, args, kwargs) -> None:
        began = time.perf_counter()
        try:
            function(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - raised in the waiting thread by wait()
            self.error = error
        finally:
            self.seconds = time.perf_counter() - began

    def wait(self) -> None:
        self.thread.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
