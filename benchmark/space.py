"""Search spaces for tuning (--tune): the settings a sweep draws, each a range or a list, declared as data.

A backbone declares its space beside its other settings (`Backbone.search_space`); where it declares none, its
kind and training mode give one (`default_space`). On the command line a dimension is written as text, which
is also how records keep it:

| text | what is drawn |
|---|---|
| `log:1e-5:1e-4` | a number, uniform in its logarithm (learning rates) |
| `0:0.1` | a number, uniform |
| `2:4` | a whole number from 2 to 4 (both ends whole) |
| `16,32,64` | one of the values |
| `0.05` | that value alone |
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import HarnessError


@dataclass(frozen=True)
class Dimension:
    kind: str  # log, uniform, int or choice
    low: float = 0.0
    high: float = 0.0
    values: tuple = ()

    def text(self) -> str:
        if self.kind == "choice":
            return ",".join(str(value) for value in self.values)
        bounds = f"{self.low:g}:{self.high:g}"
        return f"log:{bounds}" if self.kind == "log" else bounds

    def bounds(self) -> tuple:
        """The values at its ends (every value, for a choice): what a flag's range must admit."""
        return self.values if self.kind == "choice" else (self.low, self.high)


def log(low: float, high: float) -> Dimension:
    return Dimension("log", low, high)


def uniform(low: float, high: float) -> Dimension:
    return Dimension("uniform", low, high)


def integers(low: int, high: int) -> Dimension:
    return Dimension("int", low, high)


def choice(*values) -> Dimension:
    return Dimension("choice", values=tuple(values))


def _number(text: str):
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse(text: str, where: str) -> Dimension:
    """A dimension from its text (see the module's table); `where` names it in the error."""
    try:
        if text.startswith("log:"):
            low, high = (float(part) for part in text[4:].split(":"))
            if not 0 < low < high:
                raise ValueError("a log range needs 0 < low < high")
            return log(low, high)
        if ":" in text:
            low, high = (_number(part) for part in text.split(":"))
            if not low < high:
                raise ValueError("low must be below high")
            both_whole = isinstance(low, int) and isinstance(high, int)
            return integers(low, high) if both_whole else uniform(float(low), float(high))
        values = tuple(_value(part.strip()) for part in text.split(","))
        return choice(*values)
    except ValueError as error:
        raise HarnessError(
            f"{where}: {text!r} is not a range ({error}); expected log:LOW:HIGH, LOW:HIGH or VALUE,VALUE,..."
        ) from None


def _value(text: str):
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return _number(text)
    except ValueError:
        if not text:
            raise ValueError("an empty value") from None
        return text


def parse_entries(entries: list[str]) -> dict[str, Dimension]:
    """--search NAME=RANGE ...: the dimensions to narrow or replace."""
    found = {}
    for entry in entries:
        name, sign, text = entry.partition("=")
        if not sign or not name or not text:
            raise HarnessError(f"--search {entry!r}: expected NAME=RANGE, e.g. learning_rate=log:1e-5:5e-5")
        found[name.replace("-", "_")] = parse(text, f"--search {name}")
    return found


def read_space(path: Path) -> dict[str, Dimension]:
    """--search-space FILE: a JSON object of NAME: RANGE text, the whole space."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"--search-space {path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise HarnessError(f"--search-space {path}: not a readable JSON file ({error})") from None
    if not isinstance(data, dict) or not data or not all(isinstance(v, str | int | float) for v in data.values()):
        raise HarnessError(f'--search-space {path}: expected an object such as {{"learning_rate": "log:1e-5:1e-4"}}')
    return {name: parse(str(text), f"{path}: {name}") for name, text in data.items()}


# The space of full fine-tuning (BERT-style encoders): the ranges the papers that tuned them searched.
FINE_TUNING = {
    "learning_rate": log(1e-5, 1e-4),
    "batch_size": choice(16, 32, 64, 128),
    "epochs": integers(2, 4),
    "warmup": uniform(0.0, 0.1),
}
# A linear probe, or a classic baseline: the inverse regularisation strength of its linear classifier.
LINEAR = {"regularization": log(1e-3, 1e2)}


def default_space(backbone, mode: str, declared_mode: str) -> dict[str, Dimension]:
    """A backbone's own space when it runs in the mode it declares its space for (the mode of its recommended
    settings: LoRA for a decoder), else the kind's space for the mode asked (full fine-tuning of a decoder given
    --lora-r 0 draws no adapter rank)."""
    if mode == "probe":
        return dict(LINEAR)
    if backbone.search_space and mode == declared_mode:
        return dict(backbone.search_space)
    return dict(LINEAR) if backbone.kind == "sklearn" else dict(FINE_TUNING)


def space_text(space: dict[str, Dimension]) -> dict[str, str]:
    return {name: dimension.text() for name, dimension in sorted(space.items())}
