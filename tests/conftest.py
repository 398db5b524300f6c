"""Shared fixtures: tiny checkpoints saved the way published ones are, and the shared THUCNews data."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmark.loading import checkpoint
from benchmark.loading.sources import write_tiny_model
from benchmark.registry import get_backbone

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


def settings(name: str, /, **given):
    """A run's settings as the command line would make them: defaults, the backbone's, a preset, then `given`."""
    from benchmark.registry import get_backbone
    from benchmark.settings import resolve_settings

    return resolve_settings(get_backbone(name), given).config


def run_config(config, **options) -> Path:
    """One run of `config` through the driver, its settings resolved as the command line resolves them (the
    values that differ from the defaults taken as given), without the progress bar."""
    from benchmark.config import default_of
    from benchmark.run.driver import run
    from benchmark.settings import resolve_settings

    given = {k: v for k, v in config.to_dict().items() if k != "model" and v != default_of(k)}
    return run(resolve_settings(get_backbone(config.model), given), show_progress=False, **options)


def load_backbone(backbone, source, **options):
    """Encoder and tokenizer through the code path every run takes (benchmark.loading.checkpoint.load_pretrained)."""
    loaded = checkpoint.load_pretrained(backbone, str(source), checkpoint.LoadOptions(**options), log=lambda _: None)
    return loaded.encoder, loaded.tokenizer


@pytest.fixture
def shared_thucnews() -> Path:
    if not (SHARED_THUCNEWS / "dev.txt").is_file():
        pytest.skip(
            f"the shared THUCNews data is not beside the repository (looked for {SHARED_THUCNEWS.name}/dev.txt "
            "in ../shared/data); integration tests need it"
        )
    return SHARED_THUCNEWS


@pytest.fixture
def one_torch_thread():
    """Tiny models gain nothing from a second thread, and on a busy machine the threads mostly wait for each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def no_model_loading(monkeypatch, tmp_path):
    """Any attempt to load a tokenizer or an encoder fails the test; relative paths land in tmp_path."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded although the run should have stopped before")

    monkeypatch.setattr(checkpoint, "load_pretrained", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def data_folder(folder: Path, train: str = "央行宣布降准\t0\n北京房价回升\t1\n") -> Path:
    folder.mkdir(parents=True)
    (folder / "class.txt").write_text("财经\n房产\n", encoding="utf-8")
    (folder / "train.txt").write_text(train, encoding="utf-8")
    (folder / "dev.txt").write_text("房贷利率下调\t1\n", encoding="utf-8")
    (folder / "test.txt").write_text("外汇储备稳定\t0\n", encoding="utf-8")
    return folder


def wait_while_running(child, done, what: str, seconds: float = 180) -> None:
    """Poll until `done()` holds; fail, with the end of the child's stderr, if the child ends first or the time runs
    out (a child started to be killed or stopped midway)."""
    deadline = time.monotonic() + seconds
    while not done():
        if child.poll() is not None:
            _, err = child.communicate()
            err = err.decode() if isinstance(err, bytes) else err or ""
            raise AssertionError(f"the child ended before {what}:\n{err[-3000:]}")
        assert time.monotonic() < deadline, f"no {what} within {seconds:g} s"
        time.sleep(0.05)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


def sample_lines(split: str) -> list[str]:
    return (SAMPLE_DIR / f"{split}.txt").read_text(encoding="utf-8").splitlines()


def sample_copy(folder: Path, **replaced: list[str]) -> Path:
    """The bundled sample in `folder`, with the lines of the splits named in `replaced` (dev=..., test=...)."""
    folder.mkdir(parents=True)
    (folder / "class.txt").write_bytes((SAMPLE_DIR / "class.txt").read_bytes())
    for split in ("train", "dev", "test"):
        (folder / f"{split}.txt").write_text(
            "\n".join(replaced.get(split) or sample_lines(split)) + "\n", encoding="utf-8"
        )
    return folder


def tiny_bert(folder: Path, covering: list[str] = ()) -> Path:
    """A tiny random BERT with the sample's character vocabulary, saved as a pretrained checkpoint. `covering`:
    texts of other data it is run on, so its vocabulary covers them, Latin words and numbers spelt in word pieces
    (training texts mostly [UNK] stop a run)."""
    texts = [line.split("\t")[0] for line in sample_lines("train")]
    return write_tiny_model(get_backbone("bert"), [*texts, *covering], folder, seed=0, word_pieces=bool(covering))


TINY = "tiny-bert"  # a tiny checkpoint runs under a name of its own: it is not bert-base-chinese


def run_flags(model: Path, data: Path, options: str) -> list[str]:
    """Command-line flags for a run of `model` (a tiny BERT, under the name tiny-bert) on `data`, offline, with
    `options` as typed on a command line."""
    return [
        "--model",
        "bert",
        "--model-path",
        str(model),
        "--name",
        TINY,
        "--data-dir",
        str(data),
        "--offline",
        *options.split(),
    ]


@pytest.fixture
def no_plots(monkeypatch):
    """For leaderboard tests about text output: drawing is the slow part and is covered by the tests that keep it."""
    from benchmark.report import leaderboard

    monkeypatch.setattr(leaderboard, "_write_plots", lambda group, plots_dir, font: [])
    monkeypatch.setattr(leaderboard, "_write_sweep_plot", lambda sweep, plots_dir, font: [])
