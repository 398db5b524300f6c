"""The values a numeric flag accepts, as `benchmark.config` declares them beside each flag."""

from __future__ import annotations

import math
from dataclasses import dataclass

SEED_LIMIT = 2**32  # numpy's seeds are unsigned 32-bit integers


@dataclass(frozen=True)
class Range:
    """The values a numeric flag accepts; an open end excludes its bound. `unset` is a value meaning "not given"."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    unset: object = None

    def admits(self, value) -> bool:
        if value is None or value == self.unset:
            return True
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        def bound(value):
            return f"{value:g}" if isinstance(value, float) else f"{value:,}".replace(",", "")

        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.low_open else 'at least'} {bound(self.low)}")
        if self.high is not None:
            parts.append(f"{'below' if self.high_open else 'at most'} {bound(self.high)}")
        text = " and ".join(parts)
        return text + (f" (or {self.unset} for unset)" if self.unset is not None else "")


POSITIVE = Range(0, low_open=True)
COUNT = Range(1)
FRACTION = Range(0, 1, high_open=True)  # [0, 1)
SEED = Range(0, SEED_LIMIT, high_open=True)
