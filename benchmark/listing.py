"""What `--list` and `--list-datasets` print: the registries, as a person reads them."""

from __future__ import annotations

import statistics
import textwrap

from benchmark.config import DEFAULT_DATASET
from benchmark.registry import get_dataset, list_backbones, list_datasets

WRAP = 100


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join(v.ljust(w) for v, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in [header, *rows]
    ]


def _note(text: str) -> str:
    return textwrap.fill(text, WRAP, initial_indent="      note: ", subsequent_indent="            ")


def _size(parameters: int | None) -> str:
    if parameters is None:
        return "-"
    return f"{parameters / 1e9:.2f}B" if parameters >= 1e9 else f"{parameters / 1e6:.1f}M"


def print_backbones(pattern: str = "*") -> None:
    """The registry by family, smallest first within each, the families in the order of their median size."""
    course = {}
    for figure in get_dataset(DEFAULT_DATASET).reported:  # the first published figure of each backbone
        course.setdefault(figure.backbone, figure)
    backbones = list_backbones(pattern)
    sizes = {b.name: b.parameters for b in backbones}
    grouped: dict[str, list] = {}
    for backbone in sorted(backbones, key=lambda b: (sizes[b.name] or 0, b.name)):
        grouped.setdefault(backbone.family or "other", []).append(backbone)

    def median_size(family: str) -> float:
        return float(statistics.median(sizes[b.name] or 0 for b in grouped[family]))

    families = {family: grouped[family] for family in sorted(grouped, key=lambda f: (median_size(f), f))}
    header = ("name", "hub id", "params", "arch", "pooling", "modes", "reported", "description")
    for family, members in families.items():
        rows = [
            (
                b.name,
                b.hub_id or "-",
                _size(sizes[b.name]),
                b.architecture,
                b.pooling if b.kind == "pretrained" else "-",
                ",".join(b.modes),
                f"{course[b.name].value:.2f}" if b.name in course else "-",
                b.description,
            )
            for b in members
        ]
        lines = _table(header, rows)
        print(f"\n{family} ({len(members)})")
        print("  " + lines[0])
        for line, backbone in zip(lines[1:], members, strict=True):
            print("  " + line)
            if backbone.note:
                print("  " + _note(backbone.note))
    print(
        f"\n{len(backbones)} backbones. params: of the published encoder, counted from its config. modes: finetune "
        f"(every weight), lora (--lora-r), probe (--linear-probe). reported: test accuracy (%) on "
        f"{DEFAULT_DATASET} (full protocol) as first published (see --list-datasets for every figure and its "
        f"source); not measured here. A name pattern such as 'ernie3*' lists or queues a family."
    )


def print_datasets() -> None:
    for dataset in list_datasets():
        print(f"{dataset.name}: {dataset.description}")
        print(
            f"  main score {dataset.main_score}; {len(dataset.labels)} classes; max length {dataset.max_length}, "
            f"truncation {dataset.truncation}; {dataset.homepage}"
        )
        for protocol in dataset.protocols:
            print(
                textwrap.fill(
                    protocol.description,
                    WRAP,
                    initial_indent=f"  --protocol {protocol.name}: ",
                    subsequent_indent="      ",
                )
            )
        for source in dataset.files:
            check = (
                "git blob " + source.git_blob
                if source.git_blob
                else ("sha256 " + source.sha256 if source.sha256 else "md5 " + source.md5)
            )
            print(f"  file {source.name}: {source.url} ({check})")
        for figure in dataset.reported:
            print(
                f"  reported {figure.backbone} {figure.value:.2f} ({figure.metric}, {figure.protocol}, "
                f"{figure.split}): {figure.source}"
            )
        print()
    print(
        f"--dataset NAME picks one ({DEFAULT_DATASET} by default); its files are fetched into data/NAME on first "
        f"use and verified, or read from --data-dir."
    )
