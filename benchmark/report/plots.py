"""Leaderboard plots: PNGs that are byte-identical when regenerated from the same runs.

Figures are drawn with the object-oriented API on an Agg canvas, never through pyplot,
so importing this module changes no global backend and leaves no figures open.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib.style
import numpy as np
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from benchmark.atomic import write_atomic

# Font families known to cover Chinese, best first; matched as substrings of the font name.
_CJK_HINTS = (
    "noto sans cjk sc",
    "noto sans sc",
    "source han sans sc",
    "source han sans cn",
    "wenquanyi",
    "wqy",
    "microsoft yahei",
    "pingfang",
    "simhei",
    "heiti",
    "noto sans cjk",
    "source han sans",
    "cjk",
)
_CJK_FILE_HINTS = ("cjk", "wqy", "sourcehan", "simhei", "msyh", "pingfang", "notosanssc", "notoserifsc")
_SEED_COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
)
_MARKERS = "osD^v<>pP*Xh"
# Above this many classes the count annotations would overlap.
_MAX_ANNOTATED_CLASSES = 20


def _known_cjk_font() -> str | None:
    names = sorted({entry.name for entry in font_manager.fontManager.ttflist})
    for hint in _CJK_HINTS:
        for name in names:
            if hint in name.lower():
                return name
    return None


def cjk_font() -> str | None:
    """Name of an installed font that renders Chinese, or None."""
    found = _known_cjk_font()
    if found is None:
        # Matplotlib caches its font list once; a font installed later is only found on disk.
        for path in sorted(font_manager.findSystemFonts()):
            if any(hint in re.sub(r"[-_ ]", "", Path(path).name.lower()) for hint in _CJK_FILE_HINTS):
                font_manager.fontManager.addfont(path)
        found = _known_cjk_font()
    return found


def plot_labels(labels: Sequence[str], font: str | None) -> tuple[list[str], bool]:
    """Label texts to draw, and whether they had to fall back to ids for want of a CJK font."""
    if font is None and not all(label.isascii() for label in labels):
        return [str(i) for i in range(len(labels))], True
    return list(labels), False


def _style(font: str | None):
    """Matplotlib's defaults (ignoring the user's matplotlibrc), plus the CJK font as glyph fallback."""
    # Glyph fallback only walks families named in font.family itself, not the generic lists.
    families = ["DejaVu Sans"] + ([font] if font else [])
    return rc_context({"font.family": families, "svg.hashsalt": "leaderboard", "axes.unicode_minus": False})


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    # No "Software" entry: the PNG then holds nothing but pixels, whatever the matplotlib version.
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return write_atomic(path, buffer.getvalue())


def _draw(path: Path, font: str | None, size: tuple[float, float], draw) -> Path:
    with matplotlib.style.context("default"), _style(font):
        figure = _new_figure(*size)
        draw(figure)
        return _save(figure, path)


def confusion_matrix(path: Path, matrix: np.ndarray, labels: Sequence[str], title: str, font: str | None) -> Path:
    """Heatmap coloured by row share (recall per gold class), annotated with the counts."""
    matrix = np.asarray(matrix)
    k = len(labels)
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    side = min(4 + 0.55 * k, 22)

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(k), labels, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(k), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(title)
        if k <= _MAX_ANNOTATED_CLASSES:
            for i in range(k):
                for j in range(k):
                    colour = "white" if shares[i, j] > 0.5 else "black"
                    ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=colour, fontsize=8)
        figure.colorbar(image, ax=ax, label="share of the gold class", shrink=0.8)

    return _draw(path, font, (side + 1.5, side), draw)


def per_class_f1(
    path: Path, labels: Sequence[str], series: dict[str, Sequence[float]], title: str, font: str | None
) -> Path:
    """Dot chart: one row per class, one marker per backbone (F1 in %)."""
    k = len(labels)

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        rows = np.arange(k)
        for n, (name, values) in enumerate(series.items()):
            ax.plot(
                100 * np.asarray(values),
                rows,
                linestyle="none",
                marker=_MARKERS[n % len(_MARKERS)],
                color=_SEED_COLOURS[n % len(_SEED_COLOURS)],
                label=name,
                alpha=0.85,
            )
        ax.set_yticks(rows, labels)
        ax.invert_yaxis()
        ax.set_xlabel("F1 (%), mean over runs")
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)

    return _draw(path, font, (8, 1.5 + 0.35 * k), draw)


def _series(history: Sequence[dict], key: str) -> tuple[list[float], list[float]]:
    points = [
        (entry["step"], entry[key])
        for entry in history
        if isinstance(entry.get(key), int | float) and np.isfinite(entry[key])
    ]
    return [p[0] for p in points], [p[1] for p in points]


def training_curves(
    path: Path, runs: Sequence[tuple[int, Sequence[dict], int | None]], title: str, font: str | None
) -> Path:
    """Losses and dev accuracy against step, one colour per seed; the restored step marked."""

    def draw(figure: Figure) -> None:
        loss_ax, acc_ax = figure.subplots(1, 2)
        for n, (seed, history, best_step) in enumerate(runs):
            colour = _SEED_COLOURS[n % len(_SEED_COLOURS)]
            loss_ax.plot(*_series(history, "train_loss"), color=colour, alpha=0.6, label=f"seed {seed} train")
            loss_ax.plot(
                *_series(history, "dev_loss"), color=colour, linestyle="--", marker=".", label=f"seed {seed} dev"
            )
            steps, accuracy = _series(history, "dev_accuracy")
            acc_ax.plot(steps, [100 * a for a in accuracy], color=colour, marker=".", label=f"seed {seed}")
            if best_step is not None:
                for ax in (loss_ax, acc_ax):
                    ax.axvline(best_step, color=colour, linestyle=":", linewidth=1)
                if best_step in steps:
                    acc_ax.plot(
                        best_step,
                        100 * accuracy[steps.index(best_step)],
                        marker="*",
                        markersize=14,
                        color=colour,
                        markeredgecolor="black",
                        linestyle="none",
                    )
        loss_ax.set(xlabel="step", ylabel="loss", title="train (solid) and dev (dashed) loss")
        acc_ax.set(xlabel="step", ylabel="dev accuracy (%)", title="dev accuracy (★ = restored step)")
        for ax in (loss_ax, acc_ax):
            ax.grid(alpha=0.3)
        if runs:
            loss_ax.legend(fontsize=7, loc="upper right")
            acc_ax.legend(fontsize=7, loc="lower right")
        figure.suptitle(title)

    return _draw(path, font, (11, 4.2), draw)


def pareto_front(points: Sequence[tuple[str, float, float]]) -> list[str]:
    """Names on the front of (cost, accuracy): no other point is as cheap and as accurate, and better in one.

    Returned in order of increasing cost.
    """
    front = []
    for name, cost, accuracy in points:
        dominated = any(c <= cost and a >= accuracy and (c < cost or a > accuracy) for _, c, a in points)
        if not dominated:
            front.append((cost, -accuracy, name))
    return [name for _, _, name in sorted(front)]


def accuracy_vs_cost(path: Path, points: Sequence[tuple[str, float, float]], title: str, font: str | None) -> Path:
    """Accuracy (%) against inference time per example (ms), Pareto front joined by a step line."""
    front = pareto_front(points)
    by_name = {name: (cost, accuracy) for name, cost, accuracy in points}

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        for name, cost, accuracy in points:
            on_front = name in front
            ax.plot(
                cost,
                100 * accuracy,
                marker="o",
                linestyle="none",
                markersize=7,
                color="tab:red" if on_front else "tab:gray",
            )
            ax.annotate(name, (cost, 100 * accuracy), textcoords="offset points", xytext=(6, 4), fontsize=9)
        if front:
            xs = [by_name[n][0] for n in front]
            ys = [100 * by_name[n][1] for n in front]
            ax.step(xs, ys, where="post", color="tab:red", linewidth=1.2, label="Pareto front")
            ax.legend(loc="lower right")
        else:
            ax.text(0.5, 0.5, "no inference timings recorded", transform=ax.transAxes, ha="center")
        ax.set_xlabel("inference time per example (ms) = 1000 / eval examples per second; lower is better")
        ax.set_ylabel("test accuracy (%), mean over runs")
        ax.margins(x=0.2, y=0.2)
        ax.grid(alpha=0.3)
        ax.set_title(title)

    return _draw(path, font, (8, 5.5), draw)


def expected_validation(
    path: Path, curves: dict[str, tuple[Sequence[tuple[float, float]], float, float]], ylabel: str, title: str, font
) -> Path:
    """Expected best dev score (%) against the number of trials k, one curve per study with a ±1 std band. Each
    curve comes with its lowest and highest trial score: the best of k trials lies between them, and so does its
    band."""

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        for n, (name, (points, lowest, highest)) in enumerate(curves.items()):
            trials = np.arange(1, len(points) + 1)
            mean = 100 * np.array([m for m, _ in points])
            std = 100 * np.array([s for _, s in points])
            band = np.clip(mean - std, 100 * lowest, None), np.clip(mean + std, None, 100 * highest)
            colour = _SEED_COLOURS[n % len(_SEED_COLOURS)]
            ax.plot(trials, mean, color=colour, marker=_MARKERS[n % len(_MARKERS)], markersize=4, label=name)
            ax.fill_between(trials, *band, color=colour, alpha=0.15, linewidth=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("trials k (the tuning budget)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.set_title(title)
        if curves:
            ax.legend(loc="lower right")

    return _draw(path, font, (8, 5), draw)
