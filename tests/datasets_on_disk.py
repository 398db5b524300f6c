"""Small files in the exact formats the registered datasets publish, and the datasets' declarations pinned to
them (the real files' checksums would refuse these), so a test reads them through the same code a user's
download goes through."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

from benchmark.data.download import git_blob_id
from benchmark.dataset import SourceFile
from benchmark.registry import get_dataset

HEADLINES = [
    "央行宣布下调存款准备金率",
    "楼市成交量环比上涨",
    "国足热身赛两球取胜",
    "新款手机发布会定档",
    "高考改革方案出台",
]


def pinned(name: str, folder: Path):
    """The registered dataset `name`, its files pinned to the ones written in `folder`."""
    dataset = get_dataset(name)
    files = tuple(
        dataclasses.replace(source, git_blob=git_blob_id(folder / source.name), sha256=None, md5=None)
        for source in dataset.files
    )
    return dataclasses.replace(dataset, files=files)


def write_zip(path: Path, members: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return path


def toutiao(folder: Path, per_class: dict[str, int] | None = None, extra_lines: tuple[str, ...] = ()) -> Path:
    """toutiao_cat_data.txt.zip with `id_!_code_!_name_!_title_!_keywords` lines, classes as imbalanced as asked."""
    from tasks.toutiao15 import CODES, NAMES

    counts = per_class or {code: 10 + 3 * i for i, code in enumerate(CODES)}
    lines, identifier = [], 6552431613437805063
    for code, name in zip(CODES, NAMES, strict=True):
        for n in range(counts.get(code, 0)):
            identifier += 7
            title = f"{HEADLINES[n % len(HEADLINES)]}{code}{n}"
            lines.append(f"{identifier}_!_{code}_!_{name}_!_{title}_!_关键词{n},标签{code}")
    return write_zip(folder / "toutiao_cat_data.txt.zip", {"toutiao_cat_data.txt": "\n".join([*lines, *extra_lines])})


def clue(
    folder: Path, archive: str, desc_key: str, codes: list[str], names: list[str], sizes: dict[str, int], keywords: bool
) -> Path:
    """A CLUE archive: a top-level folder of JSON-line files; test.json without labels, as published."""
    top = archive.removesuffix(".zip")
    members = {
        f"{top}/labels.json": "\n".join(
            json.dumps({"label": c, desc_key: n}, ensure_ascii=False) for c, n in zip(codes, names, strict=True)
        )
    }
    for split, size in sizes.items():
        rows = []
        for i in range(size):
            row = {"sentence": f"{split}{HEADLINES[i % len(HEADLINES)]}{i}"}
            if split == "test":
                row = {"id": i, **row}
            else:
                row = {"label": codes[i % len(codes)], desc_key: names[i % len(codes)], **row}
            if keywords:
                row["keywords"] = f"关键词{i}"
            rows.append(json.dumps(row, ensure_ascii=False))
        members[f"{top}/{split}.json"] = "\n".join(rows) + "\n"
    return write_zip(folder / archive, members)


# Each CLUE archive's label key, whether its lines carry keywords, and the sizes written by default.
CLUE_FORMATS = {
    "tnews": ("label_desc", True, {"train": 90, "dev": 45, "test": 30}),
    "iflytek": ("label_des", False, {"train": 476, "dev": 238, "test": 20}),
}


def clue_archive(name: str, folder: Path, sizes: dict[str, int] | None = None) -> Path:
    dataset = get_dataset(name)
    desc_key, keywords, default_sizes = CLUE_FORMATS[name]
    return clue(
        folder,
        f"{name}_public.zip",
        desc_key,
        list(dataset.codes),
        list(dataset.labels),
        sizes or default_sizes,
        keywords=keywords,
    )


def tnews(folder: Path, sizes: dict[str, int] | None = None) -> Path:
    return clue_archive("tnews", folder, sizes)


def iflytek(folder: Path, sizes: dict[str, int] | None = None) -> Path:
    return clue_archive("iflytek", folder, sizes)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def with_files(dataset, **sources: SourceFile):
    return dataclasses.replace(dataset, files=tuple(sources.values()))
