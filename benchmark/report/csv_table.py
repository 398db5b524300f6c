"""`leaderboard.csv`: the leaderboard's rows for programs, one per backbone and settings per group."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from benchmark.report.ranking import Group

_COLUMNS = [
    "group", "dataset", "protocol", "test_sha256", "test_examples", "rank", "backbone", "settings", "settings_id",
    "runs", "seeds", "accuracy_mean", "accuracy_std", "macro_f1_mean", "macro_f1_std", "macro_f1_ci_low",
    "macro_f1_ci_high", "leader", "paired_seeds", "only_leader_right", "only_this_right",
    "mcnemar_p", "tied_with_leader", "parameters", "train_seconds", "train_examples_per_second",
    "eval_ms_per_example", "peak_memory_mb",
]


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def leaderboard_csv(groups: Sequence[Group]) -> str:
    """One row per entry per group; fractions in [0, 1] like metrics.json; empty where unknown."""
    labels = list(dict.fromkeys(label for g in groups for label in g.labels))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_COLUMNS + [f"f1:{label}" for label in labels])
    for g in groups:
        for n, e in enumerate(g.entries):
            test = e.versus_leader
            row = [
                g.slug, g.dataset, g.protocol, g.test_sha256, g.n_examples, e.rank, e.backbone, e.settings,
                e.settings_id, len(e.runs), " ".join(map(str, e.seeds)), *e.accuracy, *e.macro_f1,
                *e.macro_f1_ci, n == 0, " ".join(map(str, e.paired_seeds)), test and test.only_first,
                test and test.only_second, test and test.p_value, e.tied, e.runs[0].parameters,
                e.mean("train_seconds"), e.mean("train_examples_per_second"), e.eval_ms_per_example,
                e.peak_memory_mb,
            ]
            per_class = dict(zip(g.labels, e.per_class_f1.tolist(), strict=True))
            writer.writerow([_csv_value(v) for v in row] + [_csv_value(per_class.get(x)) for x in labels])
    return buffer.getvalue()
