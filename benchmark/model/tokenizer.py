"""A backbone's tokenizer, used as its vocabulary must be used whatever the checkpoint's tokenizer files say."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from benchmark.errors import HarnessError, first_line
from benchmark.registry import Backbone


def load_tokenizer(backbone: Backbone, folder: Path) -> PreTrainedTokenizerBase:
    """The folder's tokenizer, with the backbone's declared normalisation whatever its files say.

    bert-base-chinese's hub files say `do_lower_case: false` while its vocabulary holds no upper-case Latin
    letter, so "NBA" would become [UNK]; each backbone declares how its vocabulary must be used instead.
    """
    options = {}
    if backbone.lowercase is not None:
        options = {"do_lower_case": backbone.lowercase, "strip_accents": backbone.strip_accents}
    try:
        tokenizer = backbone.tokenizer_class.from_pretrained(str(folder), **options)
    except Exception as error:  # tokenizers reports damaged files as bare Exceptions
        raise HarnessError(
            f"{folder}: cannot load the tokenizer ({type(error).__name__}: {first_line(error)}); "
            f"expected vocab.txt or tokenizer.json as the checkpoint ships them"
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
