"""The tables `python -m benchmark.perf.speed` prints, from the figures it measured (pure functions of them)."""

from __future__ import annotations

import math

import numpy as np


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def _rate(count: float, seconds: list[float]) -> float:
    return count / median(seconds) if seconds else math.nan


def _speed_row(label: str, n_ref: float, ref: tuple[list, list], n_har: float, har: tuple[list, list]) -> tuple:
    """A row: reference and harness rates (median wall seconds), the ratio, the ratio of the rates per CPU
    second, and the ratio of each repeat (paired by position) as min-max."""
    rate_ref, rate_har = _rate(n_ref, ref[0]), _rate(n_har, har[0])
    cpu_ratio = _rate(n_har, har[1]) / _rate(n_ref, ref[1]) if ref[1] and har[1] else math.nan
    pairs = [(n_har / h) / (n_ref / r) for h, r in zip(har[0], ref[0], strict=False)]
    spread = f"{min(pairs):.2f}-{max(pairs):.2f}" if len(pairs) > 1 else ""
    return label, rate_ref, rate_har, rate_har / rate_ref, cpu_ratio, spread


def format_table(figures: dict) -> str:
    rows = []
    enc = figures.get("encode")
    if enc:
        n, s, c = enc["lines"], enc["seconds"], enc.get("cpu_seconds", {})
        for key, label in (("first", "encode, first (lines/s)"), ("cached", "encode, cached re-run (lines/s)")):
            rows.append(_speed_row(label, n, (s["reference"], c.get("reference")), n, (s[key], c.get(key))))
    train = figures.get("train")
    if train:
        c = train.get("cpu", {})
        ref = (train["reference"], c.get("reference"))
        n_ref, n_har = train["reference_examples"], train["harness_examples"]
        for arm in (k for k in c if k != "reference"):
            label = "train (examples/s)" if arm == "harness" else f"train, {arm} (examples/s)"
            rows.append(_speed_row(label, n_ref, ref, n_har, (train[arm], c.get(arm))))
    ev = figures.get("eval")
    if ev:
        n, c = ev["examples"], ev.get("cpu", {})
        ref = (ev["reference"], c.get("reference"))
        for key in (k for k in c if k != "reference"):
            arm, kind = key.split("/")
            label = f"eval, {'test scoring' if kind == 'test' else 'dev during training'}"
            label += " (ex/s)" if arm == "harness" else f", {arm}"
            rows.append(_speed_row(label, n, ref, n, (ev[key], c.get(key))))
    memory = figures.get("memory") or {}
    for harness, label in (
        ("train-harness", "peak memory, training 128x32 (GiB)"),
        ("encode-harness", "encode memory beyond start (MiB)"),
    ):
        ref, har = memory.get(harness.split("-")[0] + "-reference"), memory.get(harness)
        if ref and har:
            if harness.startswith("train"):
                values = ref["peak_mib"] / 1024, har["peak_mib"] / 1024
            else:
                values = ref["peak_mib"] - ref["before_mib"], har["peak_mib"] - har["before_mib"]
            rows.append((label, values[0], values[1], values[1] / values[0], math.nan, "lower is better"))
    if not rows:
        return ""
    width = max([35, *(len(row[0]) for row in rows)])
    lines = [f"{'':{width}} {'reference':>10} {'harness':>10} {'ratio':>7} {'per CPU-s':>9}  {'per repeat':>10}"]
    for label, ref, har, ratio, cpu_ratio, spread in rows:
        cpu_text = f"{cpu_ratio:.2f}x" if cpu_ratio == cpu_ratio else "-"
        lines.append(f"{label:{width}} {_fmt(ref):>10} {_fmt(har):>10} {ratio:>6.2f}x {cpu_text:>9}  {spread:>10}")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def format_padding(p: dict) -> str:
    return "\n".join(
        [
            f"token positions computed per real token ({p['train_examples']:,} training texts, mean "
            f"{p['mean_tokens']:.1f} tokens with [CLS]/[SEP]; {p['eval_examples']:,} evaluation texts):",
            f"  training, batch {p['batch_size']}: reference (all padded to 32) {p['train_reference']:.2f}; harness "
            f"length-grouped {p['train_grouped']:.2f}; random batches padded to their longest "
            f"{p['train_random_dynamic']:.2f}",
            f"  evaluation, batch {p['eval_batch_size']}: reference (32, batch 128) {p['eval_reference']:.2f}; harness "
            f"length-sorted (test scoring and dev evaluation) {p['eval_sorted']:.2f}; in file order "
            f"{p['eval_file_order']:.2f}",
        ]
    )


def format_accuracy(result: dict) -> str:
    def std(values: np.ndarray) -> float:
        return float(values.std(ddof=1)) if len(values) > 1 else 0.0

    lines = [
        f"test accuracy after {result['steps']} steps (shape {result['shape']}, lr {result['learning_rate']}, "
        f"seeds {' '.join(map(str, result['seeds']))}; best dev-loss weights, dev evaluated every 100 steps):"
    ]
    by_arm = {arm: np.array(values) for arm, values in result["accuracy"].items()}
    for arm, values in by_arm.items():
        lines.append(
            f"  {arm:17} {values.mean():.4f} ± {std(values):.4f}   [{' '.join(f'{a:.4f}' for a in values)}]"
            f"   {result['arms'].get(arm, '')}"
        )
    ref = by_arm.get("reference")
    for arm, values in by_arm.items():
        if arm == "reference" or ref is None:
            continue
        noise = math.sqrt(std(ref) ** 2 / len(ref) + std(values) ** 2 / len(values))
        difference = float(values.mean() - ref.mean())
        verdict = "within" if abs(difference) <= 2 * noise else "NOT within"
        lines.append(
            f"  {arm} - reference: {difference:+.4f}, {verdict} run-to-run noise (2 x standard error {2 * noise:.4f})"
        )
    return "\n".join(lines)
