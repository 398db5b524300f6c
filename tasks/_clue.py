"""What CLUE's classification archives share: a zip of JSON lines with a code for the label, whose public test
split carries no labels. So a CLUE protocol trains on train with a held-out part for early stopping and scores
on dev, which is how published dev figures are made."""

from pathlib import Path, PurePosixPath

from benchmark.data.read import member_lines, read_json_lines
from benchmark.dataset import Protocol, Reported

PROTOCOL = Protocol(
    "clue-dev",
    "train on train.json with a held-out 10% for early stopping, score on dev.json (the public test.json has no "
    "labels); published dev figures are made this way",
    train="train",
    dev=None,
    test="dev",
)
PAPER_SETUP = {"max_length": 128, "batch_size": 16, "learning_rate": 2e-5, "epochs": 3}  # the CLUE baselines
# PaddleNLP's CLUE benchmark (model_zoo/ernie-3.0/README.md, commit 00c5293): grid-searched, max length 128.
PADDLE = "PaddleNLP ERNIE 3.0 model zoo README, CLUE dev, grid-searched"
PADDLE_SETUP = {"max_length": 128, "epochs": 3}


def figures(source: str, setup: dict, **accuracy: float) -> tuple[Reported, ...]:
    """Dev accuracies one source published, per backbone, under the clue-dev protocol."""
    return tuple(
        Reported(name, value, PROTOCOL.name, source, split="dev", setup=setup) for name, value in accuracy.items()
    )


def member(archive: Path, name: str) -> str:
    """The archive's member with this file name (CLUE's zips hold a top-level folder)."""
    import zipfile

    with zipfile.ZipFile(archive) as opened:
        found = [m for m in opened.namelist() if PurePosixPath(m).name == name]
    return found[0] if found else name


def reader(archive_name: str, text_field: str):
    def read(folder, protocol, bad):
        archive = folder / archive_name
        splits = {}
        for split in {protocol.train, protocol.dev, protocol.test} - {None}:
            name = member(archive, f"{split}.json")
            where = f"{archive}:{name}"
            lines = member_lines(archive, name)
            rows = read_json_lines(lines, where, text_field, "label", bad, hint=" (CLUE's format)")
            splits[split] = (list(rows), where)
        return splits

    return read
