"""THUCNews-10: 200,000 news headlines in 10 balanced classes, the course's split (180k / 10k / 10k)."""

from benchmark.data.read import read_text_lines
from benchmark.dataset import Dataset, Protocol, Reported, SourceFile
from benchmark.registry import register
from benchmark.utf8 import not_utf8

SOURCE = "https://raw.githubusercontent.com/649453932/Bert-Chinese-Text-Classification-Pytorch/master/THUCNews/data"
COURSE = "the reference course: one GPU, max length 32, batch 128, lr 5e-5, one run each"
# The course's tokenizer folders held only vocab.txt, so BertTokenizer lower-cased for every backbone.
COURSE_SETUP = {"max_length": 32, "batch_size": 128, "learning_rate": 5e-5, "epochs": 3, "lowercase": True}


def read(folder, protocol, bad):
    """`headline<TAB>label id` a line; class.txt names the labels in id order."""
    splits = {}
    for split in {protocol.train, protocol.dev, protocol.test} - {None}:
        path = folder / f"{split}.txt"
        try:
            with open(path, encoding="utf-8-sig") as lines:
                splits[split] = (list(read_text_lines(lines, str(path), bad)), str(path))
        except UnicodeDecodeError:
            raise not_utf8(path) from None
    return splits


register(
    Dataset(
        name="thucnews",
        description="THUCNews-10 news headlines, 10 balanced classes (the course's split)",
        homepage="https://github.com/649453932/Bert-Chinese-Text-Classification-Pytorch",
        files=(
            SourceFile(
                "class.txt", f"{SOURCE}/class.txt", git_blob="4c20bac1a8a6be2c207f0e97be4c279651d76d21", role="labels"
            ),
            SourceFile("train.txt", f"{SOURCE}/train.txt", git_blob="ffe8979a12879da0747847aca49e9a6c1d29898f"),
            SourceFile("dev.txt", f"{SOURCE}/dev.txt", git_blob="cf7f8de6fc3e3c72284ab59e7ed850f49b7185c0"),
            SourceFile("test.txt", f"{SOURCE}/test.txt", git_blob="9c216ace7d0cf2c89fec1b4c9d49a92dc1791d0a"),
        ),
        protocols=(
            Protocol("full", "train on train.txt, stop early on dev.txt, score on test.txt"),
            Protocol(
                "mini",
                "for machines without the 180k train split: train on dev.txt with a held-out 10% for "
                "early stopping, score on test.txt",
                train="dev",
                dev=None,
                files=("class.txt", "dev.txt", "test.txt"),
            ),
        ),
        read=read,
        labels=(
            "finance",
            "realty",
            "stocks",
            "education",
            "science",
            "society",
            "politics",
            "sports",
            "game",
            "entertainment",
        ),
        max_length=32,
        url_env="THUCNEWS_URL",
        reported=(
            Reported("bert", 93.64, "full", COURSE, setup=COURSE_SETUP),
            Reported("ernie", 93.98, "full", COURSE, setup=COURSE_SETUP),
            Reported("roberta_wwm", 94.30, "full", COURSE, setup=COURSE_SETUP),
            Reported("macbert", 94.48, "full", COURSE, setup=COURSE_SETUP),
            Reported("mengzi", 94.24, "full", COURSE, setup=COURSE_SETUP),
            Reported(
                "nezha",
                90.78,
                "full",
                COURSE,
                setup=COURSE_SETUP,
                note="loaded as a plain BERT (random absolute position embeddings, no relative attention), so "
                "not comparable; this harness loads NeZha with its relative-position attention",
            ),
            Reported("bert", 94.83, "full", "the data's public source (its own scripts)"),
            Reported("ernie", 94.61, "full", "the data's public source (its own scripts)"),
        ),
    )
)
