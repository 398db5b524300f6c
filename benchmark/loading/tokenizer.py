"""A backbone's tokenizer, used as its vocabulary must be used whatever the checkpoint's tokenizer files say."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from benchmark.backbone import Backbone
from benchmark.errors import HarnessError, first_line
from benchmark.utf8 import read_utf8

# The files a vocabulary is read from, in the order the tokenizer classes prefer them: the fast tokenizer's own
# tokenizer.json where the checkpoint ships one. Without any, transformers would build a tokenizer of five
# special tokens and turn every text into [UNK].
VOCABULARY_FILES = {"wordpiece": ("tokenizer.json", "vocab.txt"), "byte-bpe": ("tokenizer.json", "vocab.json")}


def vocabulary_file(backbone: Backbone, folder: Path, check: bool = True) -> Path:
    """The file the tokenizer's vocabulary comes from, checked to hold something: one line naming it otherwise."""
    names = VOCABULARY_FILES.get(backbone.vocabulary, ("tokenizer.json",))
    path = next((folder / name for name in names if (folder / name).is_file()), None)
    if path is None:
        raise HarnessError(f"{folder}: no tokenizer files; expected {' or '.join(names)} as the checkpoint ships them")
    if not check:
        return path
    expected = "the tokenizer's JSON" if path.suffix == ".json" else "the vocabulary, one token a line"
    content = read_utf8(path, expected)
    if not content.strip():
        raise HarnessError(f"{path}: the file is empty; expected {expected} as the checkpoint ships it")
    if path.suffix == ".json":
        try:
            json.loads(content)
        except ValueError as error:
            raise HarnessError(
                f"{path}: not valid JSON ({first_line(error)}); the file may be truncated, download it again"
            ) from None
    return path


def load_tokenizer(backbone: Backbone, folder: Path) -> PreTrainedTokenizerBase:
    """The folder's tokenizer, with the backbone's declared normalisation whatever its files say.

    bert-base-chinese's hub files say `do_lower_case: false` while its vocabulary holds no upper-case Latin
    letter, so "NBA" would become [UNK]; each backbone declares how its vocabulary must be used instead.
    """
    source = vocabulary_file(backbone, folder)
    options = {}
    if backbone.lowercase is not None:
        options = {"do_lower_case": backbone.lowercase, "strip_accents": backbone.strip_accents}
    try:
        tokenizer = backbone.tokenizer_class.from_pretrained(str(folder), **options)
        # A vocabulary without its [UNK] token loads, and fails only at the first text it cannot cover: Cyrillic's
        # multiocular O is in no Chinese vocabulary (and byte-level BPE covers every character).
        tokenizer("中文 NBA \ua66e", add_special_tokens=False)
    except Exception as error:  # tokenizers reports damaged files as bare Exceptions
        raise HarnessError(
            f"{source}: cannot make a tokenizer of it ({type(error).__name__}: {first_line(error)}); "
            f"expected the file as the checkpoint ships it"
        ) from None
    tokenizer.padding_side = backbone.padding_side  # for texts tokenised in batches when predicting
    if backbone.lowercase is not None:
        state = _normaliser(tokenizer)
        if state.get("lowercase") != backbone.lowercase:
            raise HarnessError(
                f"{folder}: the tokenizer did not take lowercase={backbone.lowercase} as declared for "
                f"{backbone.name} (its normaliser: {state or 'none'})"
            )
    return tokenizer


def _normaliser(tokenizer: PreTrainedTokenizerBase) -> dict:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return (json.loads(backend.to_str()).get("normalizer") or {}) if backend is not None else {}


def normalisation(tokenizer: PreTrainedTokenizerBase) -> dict:
    """How the tokenizer normalises text before splitting it, for the results file."""
    state = _normaliser(tokenizer)
    return {
        "lowercase": state.get("lowercase"),
        "strip_accents": state.get("strip_accents"),
        "normalizer": state.get("type"),
    }


def check_embedding_fits(backbone: Backbone, tokenizer: PreTrainedTokenizerBase, folder: Path, rows: int, config: Path):
    """Refuse a tokenizer whose ids would index past the embedding's `rows` (vocab_size in the `config` file), or
    whose size differs from it beyond what the backbone declares: the tokenizer files and the weights do not
    belong together, and a run would train on ids that mean other tokens, or fail on the first id past the end."""
    size, largest = len(tokenizer), max(tokenizer.get_vocab().values(), default=-1)
    source = vocabulary_file(backbone, folder, check=False)
    spare = backbone.spare_embedding_rows
    if largest < rows and rows - spare <= size <= rows:
        return
    allowed = f"up to {spare} more rows than tokens" if spare else "exactly one row per token"
    past = f"; its ids reach {largest}, past the last row" if largest >= rows else ""
    raise HarnessError(
        f"{source} holds {size} tokens but the embedding has {rows} rows (vocab_size in {config}){past}; "
        f"{backbone.name} expects {allowed}. The tokenizer files and the weights come from different "
        f"checkpoints: use the tokenizer files published with these weights"
    )
