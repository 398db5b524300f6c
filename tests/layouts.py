"""Checkpoints laid out exactly as the published ones are, with random weights and tiny shapes.

Each layout is written from the facts of its release: the config file's name and fields, the weights file,
the prefix of the state-dict keys, where TensorFlow's `LayerNorm.gamma/beta` names survive, the extra tensors
(pre-training heads, stored position tables) and the tokenizer files. `build` returns where to load it from
and the tensors the encoder must hold afterwards, under the model's own names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from conftest import sample_lines
from safetensors.torch import save_file

from benchmark.loading.sources import build_vocab
from benchmark.registry import get_backbone

TEXTS = ["央行宣布下调存款准备金率", "楼市成交量环比上涨", "国足热身赛两球取胜", "NBA 新赛季 iPhone 发布"]
TINY = {
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 64,
}
REVISION = "0" * 40
# Google's BERT config fields (bert-base-chinese's config.json), at the tiny shape.
GOOGLE_BERT = {
    "attention_probs_dropout_prob": 0.1,
    "directionality": "bidi",
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pooler_fc_size": 768,
    "pooler_num_attention_heads": 12,
    "pooler_num_fc_layers": 3,
    "pooler_size_per_head": 128,
    "pooler_type": "first_token_transform",
    "type_vocab_size": 2,
}
# ERNIE 1.0's fields (nghuyong/ernie-1.0-base-zh, and the course's ERNIE_pretrain/bert_config.json).
ERNIE_1 = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "relu",
    "hidden_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "type_vocab_size": 2,
    "max_position_embeddings": 65,
}
NEZHA = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "type_vocab_size": 2,
    "max_relative_position": 4,
    "use_relative_position": True,
}


def masked_lm_heads(hidden: int, vocab: int, tf_names: bool) -> dict[str, torch.Tensor]:
    """BertForPreTraining's heads, which every published BERT-family checkpoint carries."""
    norm = ("gamma", "beta") if tf_names else ("weight", "bias")
    return {
        "cls.predictions.bias": torch.zeros(vocab),
        "cls.predictions.transform.dense.weight": torch.randn(hidden, hidden),
        "cls.predictions.transform.dense.bias": torch.zeros(hidden),
        f"cls.predictions.transform.LayerNorm.{norm[0]}": torch.ones(hidden),
        f"cls.predictions.transform.LayerNorm.{norm[1]}": torch.zeros(hidden),
        "cls.predictions.decoder.weight": torch.randn(vocab, hidden),
        "cls.seq_relationship.weight": torch.randn(2, hidden),
        "cls.seq_relationship.bias": torch.zeros(2),
    }


def position_tables(prefix: str, layers: int, length: int, head_size: int) -> dict[str, torch.Tensor]:
    """The relative-position encodings the community NeZha conversion saves as a persistent buffer per layer."""
    return {
        f"{prefix}encoder.layer.{i}.attention.self.relative_positions_encoding.positions_encoding": torch.randn(
            length, length, head_size
        )
        for i in range(layers)
    }


@dataclass
class Layout:
    name: str
    backbone: str
    config_file: str  # config.json or bert_config.json
    config: dict  # the published fields besides the tiny shape
    weights_file: str  # model.safetensors or pytorch_model.bin
    prefix: str  # of the encoder's keys: "bert.", "ernie.", "nezha."
    tf_names: str  # where LayerNorms are named gamma/beta: "all", "embeddings" or "none"
    tokenizer_files: dict = field(default_factory=dict)  # file name -> JSON content
    lowercase_file: bool | None = None  # do_lower_case of a tokenizer.json written beside vocab.txt
    in_hub_cache: bool = False  # laid out in the hub cache, loaded by the backbone's hub id
    position_tables: bool = False
    dtype: torch.dtype = torch.float32


LAYOUTS = [
    Layout(
        "bert-hub",
        "bert",
        "config.json",
        {"model_type": "bert", "architectures": ["BertForMaskedLM"], "pad_token_id": 0, **GOOGLE_BERT},
        "model.safetensors",
        "bert.",
        "all",
        {"tokenizer_config.json": {"do_lower_case": False, "model_max_length": 512}},
        lowercase_file=False,
        in_hub_cache=True,
    ),
    Layout(
        "ernie-hub",
        "ernie",
        "config.json",
        {
            "model_type": "ernie",
            "architectures": ["ErnieForMaskedLM"],
            "layer_norm_eps": 1e-05,
            "pad_token_id": 0,
            **ERNIE_1,
        },
        "pytorch_model.bin",
        "ernie.",
        "all",
        {
            "tokenizer_config.json": {"special_tokens_map_file": None, "full_tokenizer_file": None},
            "special_tokens_map.json": {
                "unk_token": "[UNK]",
                "sep_token": "[SEP]",
                "pad_token": "[PAD]",
                "cls_token": "[CLS]",
                "mask_token": "[MASK]",
            },
        },
        in_hub_cache=True,
    ),
    *(
        Layout(
            f"{name}-hub",
            name,
            "config.json",
            {
                "model_type": "bert",
                "architectures": ["BertForMaskedLM"],
                "bos_token_id": 0,
                "eos_token_id": 2,
                "output_past": True,
                "pad_token_id": 0,
                **GOOGLE_BERT,
            },
            "pytorch_model.bin",
            "bert.",
            "none",
            {"tokenizer_config.json": {"init_inputs": []}, "added_tokens.json": {}},
            lowercase_file=True,
            in_hub_cache=True,
        )
        for name in ("roberta_wwm", "macbert")
    ),
    # Mengzi: fp16 weights, a pad_token_id of 1 in its config, no tokenizer_config.json.
    Layout(
        "mengzi-hub",
        "mengzi",
        "config.json",
        {
            "model_type": "bert",
            "architectures": ["BertForMaskedLM"],
            "pad_token_id": 1,
            "bos_token_id": 0,
            "eos_token_id": 2,
            "torch_dtype": "float16",
            **GOOGLE_BERT,
        },
        "pytorch_model.bin",
        "bert.",
        "none",
        lowercase_file=True,
        in_hub_cache=True,
        dtype=torch.float16,
    ),
    Layout(
        "nezha-hub",
        "nezha",
        "config.json",
        {
            "model_type": "nezha",
            "architectures": ["NeZhaForMaskedLM"],
            "embedding_size": 128,
            "inner_group_num": 1,
            "num_hidden_groups": 1,
            "layer_norm_eps": 1e-12,
            **NEZHA,
        },
        "pytorch_model.bin",
        "nezha.",
        "none",
        {"tokenizer_config.json": {"do_lower_case": False}},
        in_hub_cache=True,
    ),
    # The course's folders, converted from Google's and Baidu's TensorFlow/Paddle releases.
    Layout("bert-course", "bert", "bert_config.json", GOOGLE_BERT, "pytorch_model.bin", "bert.", "all"),
    Layout("bert-course-renamed", "bert", "config.json", GOOGLE_BERT, "pytorch_model.bin", "bert.", "all"),
    Layout("ernie-course", "ernie", "bert_config.json", ERNIE_1, "pytorch_model.bin", "bert.", "embeddings"),
    Layout("ernie-course-renamed", "ernie", "config.json", ERNIE_1, "pytorch_model.bin", "bert.", "embeddings"),
    # Huawei's own release, and the community conversion with its stored relative-position tables.
    Layout("nezha-huawei", "nezha", "bert_config.json", NEZHA, "pytorch_model.bin", "bert.", "all"),
    Layout(
        "nezha-lonepatient", "nezha", "config.json", NEZHA, "pytorch_model.bin", "bert.", "none", position_tables=True
    ),
]


def published_name(layout: Layout, key: str) -> str:
    tf = layout.tf_names == "all" or (layout.tf_names == "embeddings" and key.startswith("embeddings."))
    if tf and ".LayerNorm." in key:
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    return layout.prefix + key


def write_tokenizer(folder: Path, vocab: list[str], layout: Layout) -> None:
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    if layout.lowercase_file is not None:
        from transformers import BertTokenizer

        BertTokenizer.from_pretrained(str(folder), do_lower_case=layout.lowercase_file).save_pretrained(folder)
        (folder / "tokenizer_config.json").unlink()  # only the published one, below, if the release has it
    for name, content in layout.tokenizer_files.items():
        (folder / name).write_text(json.dumps(content), encoding="utf-8")


def build(layout: Layout, root: Path, vocab: list[str] | None = None, seed: int = 0) -> tuple[str, dict, dict]:
    """(source to load, load options, expected encoder tensors under the model's own names)."""
    backbone = get_backbone(layout.backbone)
    # The bundled sample's training texts too: runs on it must not be mostly [UNK], which stops a run.
    training = [line.rsplit("\t", 1)[0] for line in sample_lines("train")]
    vocab = vocab or build_vocab(TEXTS + training, word_pieces=True)
    torch.manual_seed(seed)
    model = backbone.model_class(backbone.config_class(**{**layout.config, **TINY, "vocab_size": len(vocab)}))
    expected = {key: tensor.detach().clone().to(layout.dtype) for key, tensor in model.state_dict().items()}
    weights = {published_name(layout, key): tensor for key, tensor in expected.items()}
    weights |= masked_lm_heads(TINY["hidden_size"], len(vocab), layout.tf_names == "all")
    if layout.position_tables:
        head_size = TINY["hidden_size"] // TINY["num_attention_heads"]
        weights |= position_tables(layout.prefix, TINY["num_hidden_layers"], TINY["max_position_embeddings"], head_size)
    if layout.in_hub_cache:
        repo = root / ("models--" + backbone.hub_id.replace("/", "--"))
        folder = repo / "snapshots" / REVISION
        folder.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(REVISION)
        source, options = backbone.hub_id, {"cache_dir": str(root), "offline": True}
    else:
        folder = root / layout.name
        folder.mkdir(parents=True)
        source, options = str(folder), {}
    config = {**layout.config, **TINY, "vocab_size": len(vocab)}
    (folder / layout.config_file).write_text(json.dumps(config, indent=2), encoding="utf-8")
    if layout.weights_file == "model.safetensors":
        save_file({k: v.contiguous() for k, v in weights.items()}, folder / layout.weights_file)
    else:
        torch.save(weights, folder / layout.weights_file)
    write_tokenizer(folder, vocab, layout)
    return source, options, expected


def layout(name: str) -> Layout:
    return next(item for item in LAYOUTS if item.name == name)
