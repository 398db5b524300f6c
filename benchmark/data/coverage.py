"""How well the vocabulary covers the texts: tokens per text and the share of [UNK] in each split, printed and
recorded with the run; a warning above 1%, and a stop when the training texts are mostly beyond the vocabulary.
"""

from __future__ import annotations

import numpy as np
from transformers import PreTrainedTokenizerBase

from benchmark.data.encode import EncodedSplit
from benchmark.errors import HarnessError

# Above this share of [UNK] among a split's tokens, a run warns: the vocabulary is being used wrongly (upper-case
# Latin letters against a lower-case vocabulary), or it does not suit the data.
UNK_WARNING_SHARE = 0.01
# Above this share of [UNK] among the training tokens a run stops unless --allow-high-unk is given: the model
# would learn from placeholders, and its score would not measure the backbone. Real headlines sit far below:
# THUCNews-10 with bert-base-chinese's vocabulary, lower-cased as the harness does, is 0.49% [UNK] in dev.txt and
# 0.44% in test.txt (at most 1.69% in one class, education in dev; 1.56% and 1.50% without lower-casing).
UNK_LIMIT = 0.10
UNK_EXAMPLES = 3


def token_statistics(split: EncodedSplit, unk_id: int | None, special_ids: set[int]) -> dict:
    """Tokens per text ([CLS] and [SEP] included) and how many of the text tokens are [UNK], for one split."""
    lengths = split.lengths
    special = np.isin(split.ids, list(special_ids)) if special_ids else np.zeros(len(split.ids), dtype=bool)
    unknown = split.ids == unk_id if unk_id is not None else np.zeros(len(split.ids), dtype=bool)
    starts = split.offsets[:-1]
    per_text = np.add.reduceat(unknown.astype(np.int64), starts) if len(split.ids) else np.zeros(len(lengths))
    per_text[lengths == 0] = 0  # reduceat reads the next text's first token for an empty one
    text_tokens = int((~special).sum())
    return {
        "texts": len(lengths),
        "mean_tokens": float(lengths.mean()) if len(lengths) else 0.0,
        "unk_tokens": int(unknown.sum()),
        "unk_share": int(unknown.sum()) / text_tokens if text_tokens else 0.0,
        "texts_with_unk": int((per_text > 0).sum()),
        "unk_texts": np.flatnonzero(per_text > 0)[:UNK_EXAMPLES].tolist(),
    }


def unknown_pieces(tokenizer: PreTrainedTokenizerBase, text: str) -> list[str]:
    """The parts of `text` the tokenizer turns into [UNK], as written in the text."""
    encoded = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    return [
        text[start:end]
        for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
        if token == tokenizer.unk_token_id
    ]


def tokenisation_report(
    tokenizer: PreTrainedTokenizerBase,
    splits: dict[str, tuple[EncodedSplit, list[str]]],
    normalisation: dict,
    log=print,
    allow_high_unk: bool = False,
) -> dict:
    """Per split: tokens per text and the [UNK] rate, printed, with a warning and examples above 1%. Training
    texts above UNK_LIMIT stop the run here, before training, unless `allow_high_unk`; the record says so."""
    special = {i for i in (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id) if i is not None}
    record = {**normalisation, "splits": {}, "unk_limit": UNK_LIMIT, "unk_above_limit": False}
    for name, (encoded, texts) in splits.items():
        stats = token_statistics(encoded, tokenizer.unk_token_id, special)
        examples = stats.pop("unk_texts")
        record["splits"][name] = stats
        stats["truncated"] = encoded.truncated
        stats["truncated_share"] = encoded.truncated / max(len(encoded), 1)
        log(
            f"{name}: {stats['mean_tokens']:.1f} tokens per text; [UNK] {100 * stats['unk_share']:.2f}% of tokens, "
            f"in {stats['texts_with_unk']:,} of {stats['texts']:,} texts; {100 * stats['truncated_share']:.1f}% of "
            f"texts cut to the maximum length"
        )
        if stats["unk_share"] <= UNK_WARNING_SHARE:
            continue
        shown = "; ".join(
            f"{', '.join(map(repr, unknown_pieces(tokenizer, texts[i])[:UNK_EXAMPLES])) or '?'} in {texts[i][:40]!r}"
            for i in examples
        )
        share = f"{100 * stats['unk_share']:.1f}% of the {name} tokens are [UNK]"
        lowercase = normalisation.get("lowercase")
        covered = f"the vocabulary does not cover this text as it is tokenised (lower-casing: {lowercase})"
        if name == "train" and stats["unk_share"] > UNK_LIMIT:
            record["unk_above_limit"] = True
            if not allow_high_unk:
                raise HarnessError(
                    f"{share}, above the {100 * UNK_LIMIT:g}% limit (real headlines: under 2%): {covered}, for "
                    f"example {shown}. Check that the tokenizer files are the backbone's own, or give "
                    f"--allow-high-unk to train anyway; the run is then never ranked"
                )
            log(
                f"WARNING: {share}, above the {100 * UNK_LIMIT:g}% limit; going on (--allow-high-unk): the run is "
                f"recorded as such and the leaderboard lists it apart, never ranked. For example {shown}"
            )
            continue
        log(f"WARNING: {share} (above {100 * UNK_WARNING_SHARE:g}%): {covered}. For example {shown}")
    return record
