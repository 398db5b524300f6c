"""Toutiao news headlines: 382,688 titles with keywords in 15 imbalanced classes, split 8:1:1 here.

The source publishes no split, so one is made: within each class, its ids in sorted order are shuffled by a
fixed seed and cut 8:1:1 (benchmark.data.split). A hash of each part's ids is recorded beside the data on the
first load and checked on every later one, so a changed split is an error, never a silent new benchmark.
"""

from benchmark.data.read import member_lines
from benchmark.data.split import fixed_split
from benchmark.dataset import Dataset, Protocol, SourceFile
from benchmark.registry import register

REPOSITORY = "https://raw.githubusercontent.com/aceimnorstuvwxz/toutiao-text-classfication-dataset/master"
ARCHIVE, MEMBER = "toutiao_cat_data.txt.zip", "toutiao_cat_data.txt"
SEPARATOR = "_!_"
SPLIT_SEED = 1
# The source's codes (105 and 111 are unused) and names, from its README.
CODES = ("100", "101", "102", "103", "104", "106", "107", "108", "109", "110", "112", "113", "114", "115", "116")
NAMES = (
    "news_story",
    "news_culture",
    "news_entertainment",
    "news_sports",
    "news_finance",
    "news_house",
    "news_car",
    "news_edu",
    "news_tech",
    "news_military",
    "news_travel",
    "news_world",
    "stock",
    "news_agriculture",
    "news_game",
)


def read(folder, protocol, bad):
    """`id_!_code_!_name_!_title_!_keywords` a line; the text is the title, or the title and its keywords."""
    where = f"{folder / ARCHIVE}:{MEMBER}"
    names = dict(zip(CODES, NAMES, strict=True))
    ids, rows = [], []
    for number, line in enumerate(member_lines(folder / ARCHIVE, MEMBER), 1):
        fields = line.rstrip("\r\n").split(SEPARATOR)
        if not line.strip():
            continue
        if len(fields) not in (4, 5):
            bad(where, number, f"expected id_!_code_!_name_!_title_!_keywords, found {len(fields)} fields")
            continue
        identifier, code, name, title, keywords = (*fields, "")[:5]
        if names.get(code, name) != name:
            bad(where, number, f"code {code} is {names[code]} in the source's README, but the line says {name}")
            continue
        text = f"{title} {keywords}".strip() if protocol.name == "title+keywords" else title
        if not text.strip():
            bad(where, number, "empty title; expected a headline")
            continue
        ids.append(identifier)
        rows.append((number, text, code))
    return fixed_split(rows, ids, folder, seed=SPLIT_SEED, where=where)


register(
    Dataset(
        name="toutiao15",
        description="Toutiao news headlines, 15 imbalanced classes, split 8:1:1 by a fixed seed",
        homepage="https://github.com/aceimnorstuvwxz/toutiao-text-classfication-dataset",
        files=(SourceFile(ARCHIVE, f"{REPOSITORY}/{ARCHIVE}", git_blob="f7347310f74fc71ec1b709e97b342929e246b37a"),),
        protocols=(
            Protocol("title", "the headline alone; train, dev and test are the 8:1:1 split"),
            Protocol("title+keywords", "the headline followed by its keywords; the same split"),
        ),
        read=read,
        labels=NAMES,
        codes=CODES,
        max_length=64,
        main_score="macro_f1",
    )
)
