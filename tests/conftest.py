"""Shared fixtures: tiny checkpoints saved the way published ones are, and the shared THUCNews data."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark import checkpoint
from benchmark.smoke import write_tiny_model

SHARED_THUCNEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "thucnews"
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
TEXTS = ["央行宣布下调存款准备金率", "楼市成交量环比上涨", "国足热身赛两球取胜", "新款手机发布会定档"]


def save_in_hub_cache(backbone, cache_dir: Path, texts=TEXTS) -> Path:
    """A tiny random checkpoint laid out as the hub client caches a download of `backbone.hub_id`.

    Loading `backbone.hub_id` with this cache then runs exactly the code a user's hub id runs.
    """
    repo = cache_dir / ("models--" + backbone.hub_id.replace("/", "--"))
    revision = "0" * 40
    write_tiny_model(backbone, texts, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    return cache_dir


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Encodings and generated checkpoints go to a cache of the test session's own, never the repository's."""
    import os

    previous = os.environ.get("BENCHMARK_CACHE")
    os.environ["BENCHMARK_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("BENCHMARK_CACHE", None)
    else:
        os.environ["BENCHMARK_CACHE"] = previous


def load_backbone(backbone, source, **options):
    """Encoder and tokenizer through the code path every run takes (benchmark.checkpoint.load_pretrained)."""
    loaded = checkpoint.load_pretrained(backbone, str(source), log=lambda _: None, **options)
    return loaded.encoder, loaded.tokenizer


@pytest.fixture
def shared_thucnews() -> Path:
    if not (SHARED_THUCNEWS / "dev.txt").is_file():
        pytest.skip(f"the shared THUCNews data is not beside the repository (looked for {SHARED_THUCNEWS.name}/dev.txt "
                    "in ../shared/data); integration tests need it")
    return SHARED_THUCNEWS


@pytest.fixture
def one_torch_thread():
    """Tiny models gain nothing from a second thread, and on a busy machine the threads mostly wait for each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
