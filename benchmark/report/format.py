"""Small text helpers shared by the leaderboard's outputs: Markdown cells, numbers, names of anchors and plots."""

from __future__ import annotations

import re


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell: one line, no table or emphasis syntax."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return re.sub(r"([\\|*_`<>\[\]#])", r"\\\1", text)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def pct(value: float) -> str:
    return f"{100 * value:.2f}"


def pct_std(mean_std: tuple[float, float | None]) -> str:
    mean, std = mean_std
    return pct(mean) if std is None else f"{pct(mean)} ± {pct(std)}"


def count(n: int | None) -> str:
    if n is None:
        return "—"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(n)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def number(value: float | None, pattern: str) -> str:
    return "—" if value is None else format(value, pattern)


def p_value(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def table_kind(group) -> str:
    """Which settings a group's runs ran with, where its test file has a tuned table: "" where it has none."""
    if group.most_trials is None:
        return ""
    if group.budget is None:
        return "recommended settings"
    if group.budget < group.most_trials:
        return f"tuned, {plural(group.budget, 'trial')} — fewer than the {group.most_trials} of the others"
    return f"tuned, {plural(group.budget, 'trial')} each"


def place_title(place) -> str:
    """A dataset, protocol and test file, as every heading names them."""
    return f"{place.dataset} · {place.protocol} · test file {place.test_sha256[:8]}"


def group_title(group) -> str:
    kind = table_kind(group)
    return place_title(group) + (f" · {kind}" if kind else "")


def group_heading(group) -> str:
    """The group's Markdown heading."""
    return f"## {cell(group_title(group))}"


def anchor(group, entry) -> str:
    """The id of an entry's section in errors.md."""
    return f"{group.slug}-{slug(entry.key)}".lower()


def plot_name(kind: str, entry=None) -> str:
    """File name of a plot: of the whole group, or of one entry."""
    return f"{kind}-{slug(entry.key)}.png" if entry is not None else f"{kind}.png"
