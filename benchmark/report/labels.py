"""Row labels: when one backbone has rows with different settings, the settings that tell them apart, as text."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from benchmark.report.runs import Run

# How settings are named in labels: the config's own field names, and these from elsewhere in metrics.json.
_SETTING_NAMES = {
    "backbone.source": "source",
    "backbone.parameters": "parameters",
    "environment.num_processes": "processes",
}
# A hub id such as `hfl/chinese-macbert-base`; any other source is a local folder.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def _name(key: str) -> str:
    if key.startswith("data."):
        return f"{key.removeprefix('data.')} file"
    return _SETTING_NAMES.get(key, key)


def _show(key: str, settings: dict, shorten: bool) -> str:
    if key not in settings:
        return "unset"
    value = settings[key]
    if key.startswith("data.") and shorten and isinstance(value, str):
        return value[:8]  # a file's hash, shortened as the test file's is in the headings
    if key == "backbone.parameters" and isinstance(value, int):
        return f"{value:,}"
    if key == "backbone.source" and shorten and isinstance(value, str) and not _HUB_ID.fullmatch(value):
        # A local folder's full path names the user's machine; its last part usually tells folders apart.
        return "…/" + re.split(r"[\\/]", value.rstrip("\\/"))[-1]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def differing_settings(variants: Sequence[Run]) -> list[str]:
    """For runs of one backbone with different settings, one per variant: the settings that differ, as text."""
    # In the order of the names shown, so labels read alphabetically.
    keys = sorted({key for run in variants for key in run.settings}, key=lambda k: (_name(k), k))
    differing = [
        key
        for key in keys
        if len({json.dumps(run.settings.get(key), sort_keys=True) if key in run.settings else None for run in variants})
        > 1
    ]

    def describe(run: Run, shorten: bool) -> str:
        return ", ".join(f"{_name(key)} {_show(key, run.settings, shorten)}" for key in differing)

    texts = [describe(run, shorten=True) for run in variants]
    if len(set(texts)) < len(texts):
        texts = [describe(run, shorten=False) for run in variants]
    if len(set(texts)) < len(texts):  # values that only differ in type, such as 32 and "32"
        texts = [f"{text} [{run.settings_id}]" for text, run in zip(texts, variants, strict=True)]
    return texts
