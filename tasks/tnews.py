"""CLUE TNEWS 1.1: 73,360 Toutiao headlines in 15 classes; scored on the public dev split."""

from benchmark.dataset import Dataset, Reported, SourceFile
from benchmark.registry import register
from tasks._clue import PADDLE, PADDLE_SETUP, PAPER_SETUP, PROTOCOL, figures, reader
from tasks.toutiao15 import CODES, NAMES

ARCHIVE = "tnews_public.zip"
# The CLUE README's per-task table (commit 21ef108) scored TNEWS 1.0, whose dev split 1.1 kept.
CLUE = "CLUE README (dev, TNEWS 1.0 dev = 1.1 dev)"
LERT = "LERT README (HFL), TNEWS dev"

register(
    Dataset(
        name="tnews",
        description="CLUE TNEWS 1.1 news headlines, 15 classes (53,360 train; scored on the 10,000 dev)",
        homepage="https://github.com/CLUEbenchmark/CLUE",
        # The archive was replaced in July 2021 (TNEWS 1.1: a new test.json); this is the newer one, whose md5
        # PaddleNLP pins (paddlenlp/datasets/clue.py).
        files=(
            SourceFile(
                ARCHIVE,
                f"https://storage.googleapis.com/cluebenchmark/tasks/{ARCHIVE}",
                md5="38186ed0a751bc33e3ae0c1b59319777",
                size=5_123_575,
            ),
        ),
        protocols=(PROTOCOL,),
        read=reader(ARCHIVE, "sentence"),
        # Toutiao's classes and codes (TNEWS was drawn from it); CLUE names code 114 news_stock.
        labels=tuple("news_stock" if name == "stock" else name for name in NAMES),
        codes=CODES,
        max_length=128,
        url_env="CLUE_URL",
        reported=(
            *figures(CLUE, PAPER_SETUP, bert=56.09, ernie=58.24, roberta_wwm=57.51),
            *figures(
                PADDLE,
                PADDLE_SETUP,
                bert=57.13,
                ernie=58.91,
                roberta_wwm=58.08,
                mengzi=57.76,
                ernie3_xbase=59.89,
                ernie3_base=58.26,
                ernie3_medium=57.00,
                ernie3_mini=55.24,
                ernie3_micro=55.05,
                ernie3_nano=54.57,
                rbt3=55.53,
                rbtl3=56.14,
                rbt4=56.50,
                rbt6=56.82,
                uer_tiny=51.47,
                uer_mini=54.22,
                uer_small=55.41,
                uer_medium=56.10,
                roberta_wwm_large=59.33,
            ),
            *(
                Reported(name, best, PROTOCOL.name, LERT, split="dev", note=f"best of several runs; their mean {mean}")
                for name, best, mean in (
                    ("lert_base", 57.5, 57.1),
                    ("pert_base", 56.7, 56.1),
                    ("macbert_large", 59.0, 58.8),
                )
            ),
        ),
    )
)
