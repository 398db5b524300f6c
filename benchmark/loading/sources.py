"""The smoke preset: the whole pipeline, offline, on the bundled sample with a tiny random model.

The tiny model has the chosen backbone's architecture and a character
vocabulary built from the sample, and is saved to a folder so it is loaded by
the same code that loads a user's local checkpoint. Its scores say the
pipeline works, nothing about the backbone. Backbones trained from scratch
(registry kind "scratch", e.g. TextCNN) start from the same kind of folder at
full size; `encoder_source` decides where every run's encoder comes from.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmark.atomic import publish_folder
from benchmark.backbone import Backbone
from benchmark.config import RunConfig
from benchmark.data.encode import cache_root
from benchmark.errors import HarnessError
from benchmark.loading import checkpoint
from benchmark.loading.tokenizer import load_tokenizer
from benchmark.record import model_folder
from benchmark.registry import get_backbone

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY_SHAPE = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": 64,
}


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2FA1F or 0xF900 <= code <= 0xFAFF
    )


def build_vocab(texts: list[str], word_pieces: bool = False) -> list[str]:
    """A character vocabulary: BERT's Chinese tokenizer splits CJK characters apart.

    word_pieces: letters and digits also get a `##` continuation piece, so WordPiece spells "iphone" or "2011"
    character by character instead of turning the whole word into [UNK]. Models trained from scratch use it;
    the smoke preset's tiny checkpoints keep the plain character vocabulary they were tested with.
    """
    pieces = set()
    for text in texts:
        for char in text.lower():
            if not char.isspace():
                pieces.add(char)
                if word_pieces and char.isalnum() and not _is_cjk(char):
                    pieces.add("##" + char)
    return SPECIAL_TOKENS + sorted(pieces)


BYTE_BPE_SPECIALS = ["<|endoftext|>"]  # Qwen's pad and end-of-text token
BYTE_BPE_VOCAB = 600


def write_byte_bpe(texts: list[str], folder: Path, tokenizer_class: str) -> int:
    """A byte-level BPE tokenizer learnt from `texts`, saved as decoder LLMs ship theirs (tokenizer.json and a
    tokenizer_config.json naming its class and pad token); returns its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BYTE_BPE_VOCAB,
        special_tokens=BYTE_BPE_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    pad = BYTE_BPE_SPECIALS[0]
    settings = {"tokenizer_class": tokenizer_class, "pad_token": pad, "eos_token": pad, "add_prefix_space": False}
    (folder / "tokenizer_config.json").write_text(json.dumps(settings, indent=1), encoding="utf-8")
    return tokenizer.get_vocab_size()


def write_tiny_model(
    backbone: Backbone,
    texts: list[str],
    folder: Path,
    seed: int = 0,
    shape: dict | None = None,
    word_pieces: bool | None = None,
) -> Path:
    """A randomly initialised model of the backbone's architecture, saved like its published checkpoint: the
    published config's fields with the sizes of `shape`, the published weight layout (`checkpoint_class`: its
    prefix and pre-training heads), and tokenizer files of the published kind.

    `shape` holds config fields; None gives the backbone's tiny smoke shape, and {} its config's own defaults
    (the full-size model a "scratch" backbone trains). word_pieces: see build_vocab (None: for "scratch" only).
    """
    import torch

    if backbone.kind == "sklearn":
        raise ValueError(f"{backbone.name} is a scikit-learn baseline; it has no torch model to write")
    if shape is None:
        shape = backbone.tiny_shape if backbone.tiny_shape is not None else TINY_SHAPE
    folder.mkdir(parents=True, exist_ok=True)
    if backbone.vocabulary == "byte-bpe":
        vocab_size = write_byte_bpe(texts, folder, backbone.tokenizer_class.__name__)
    else:
        vocab = build_vocab(texts, word_pieces=backbone.kind == "scratch" if word_pieces is None else word_pieces)
        # A vocab.txt is what published Chinese BERT-style checkpoints carry; the tokenizer is built from it on load.
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        vocab_size = len(vocab)
    published = {k: v for k, v in backbone.published_config.items() if k not in ("model_type", "architectures")}
    torch.manual_seed(seed)
    config = backbone.config_class(**{**published, **shape, "vocab_size": vocab_size, "pad_token_id": 0})
    (backbone.checkpoint_class or backbone.model_class)(config).save_pretrained(folder)
    if "model_type" in backbone.published_config:  # e.g. ERNIE 3.0 releases that call themselves "bert"
        path = folder / "config.json"
        written = json.loads(path.read_text(encoding="utf-8"))
        written["model_type"] = backbone.published_config["model_type"]
        path.write_text(json.dumps(written, indent=2), encoding="utf-8")
    return folder


def write_student_from_teacher(backbone, teacher: Path, folder: Path) -> Path:
    """A student checkpoint cut from the teacher: its embeddings, its lowest `student_layers` layers, its pooler,
    and its tokenizer, saved like a pretrained checkpoint so the usual loading code reads it."""
    from benchmark.loading.classifier import create_classifier

    source = model_folder(teacher)
    if not (source / "model.safetensors").is_file():
        raise HarnessError(
            f"{teacher}: {backbone.name} starts from the teacher's layers, so the teacher must be "
            f"a fine-tuned transformer run (model/model.safetensors); this one is not"
        )
    saved = json.loads((source / "labels.json").read_text(encoding="utf-8"))
    teacher_backbone = get_backbone(saved["backbone"])
    if teacher_backbone.architecture != backbone.architecture:
        raise HarnessError(
            f"{backbone.name} is a {backbone.architecture} model and starts from its teacher's "
            f"layers, but the teacher {teacher.name} is {teacher_backbone.architecture}; use a "
            f"{backbone.architecture} teacher, or a student that trains from scratch (textcnn)"
        )
    config = checkpoint.read_config(backbone, source)
    layers = backbone.student_layers
    if layers > config.num_hidden_layers:
        raise HarnessError(
            f"the teacher {teacher.name} has {config.num_hidden_layers} layers, fewer than the "
            f"{layers} of {backbone.name}"
        )
    config.num_hidden_layers = layers
    student = create_classifier(backbone, len(saved["labels"]), config=config).model.encoder
    prefix = "encoder."
    weights = {
        key[len(prefix) :]: value
        for key, value in checkpoint.read_weights(source)[0].items()
        if key.startswith(prefix) and _layer(key) < layers
    }
    missing, unexpected = student.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise HarnessError(
            f"{teacher}: the teacher's weights do not fit {backbone.name} (missing: "
            f"{', '.join(missing[:4]) or '-'}; unexpected: {', '.join(unexpected[:4]) or '-'})"
        )
    folder.mkdir(parents=True, exist_ok=True)
    student.save_pretrained(folder)
    load_tokenizer(backbone, source).save_pretrained(folder)
    return folder


def _layer(key: str) -> int:
    """The layer index of an encoder weight name (`...layer.7.attention...`), -1 for embeddings and pooler."""
    parts = key.split(".")
    for name, index in zip(parts, parts[1:], strict=False):
        if name == "layer" and index.isdigit():
            return int(index)
    return -1


def _generated(kind: str, parts: list) -> Path:
    """Where a checkpoint generated from `parts` is kept: the same parts always give the same folder."""
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:24]
    return cache_root() / "checkpoints" / f"{kind}-{digest}"


def generated(config: RunConfig, backbone: Backbone) -> bool:
    """Whether the encoder starts from a checkpoint the harness writes itself (no user's checkpoint to check)."""
    return bool(config.smoke or backbone.kind == "scratch" or (config.teacher and backbone.student_layers))


def load_options(config: RunConfig, backbone: Backbone):
    """How a run loads its encoder: the run's own checkpoint is checked to be the backbone it is run as."""
    return checkpoint.LoadOptions(
        config.cache_dir,
        config.offline,
        config.allow_missing_weights,
        config.max_length,
        check_identity=not generated(config, backbone),
        name=config.name,
    )


def encoder_source(config: RunConfig, backbone: Backbone, task) -> tuple[str, str]:
    """Where the encoder's starting weights are loaded from, and how the results file describes that.

    In order: a distillation student built from its teacher's lower layers, the smoke preset's tiny model,
    --model-path, a "scratch" backbone's random initialisation (vocabulary from the training texts), the hub id.
    A generated checkpoint is written once into the cache (`.cache/checkpoints/`, named by what it is made
    from), so every process of a multi-process run reads the same folder, through the same code as a user's
    local checkpoint.
    """
    teacher = getattr(config, "teacher", None)
    if teacher and backbone.student_layers:
        weights = Path(teacher) / "model" / "model.safetensors"
        stamp = [weights.stat().st_size, weights.stat().st_mtime_ns] if weights.is_file() else None
        folder = _generated("student", [backbone.name, str(Path(teacher).resolve()), stamp])
        publish_folder(folder, lambda target: write_student_from_teacher(backbone, Path(teacher), target))
        return str(folder), f"lower {backbone.student_layers} layers of the teacher {Path(teacher).name}"
    if config.smoke:
        texts = task.train.texts + task.dev.texts
        folder = _generated("tiny", [backbone.name, backbone.tiny_shape, config.seed, texts])
        publish_folder(folder, lambda target: write_tiny_model(backbone, texts, target, config.seed))
        return str(folder), "tiny random model (smoke)"
    if config.model_path:
        return config.model_path, config.model_path
    if backbone.kind == "scratch":
        texts = task.train.texts
        folder = _generated("scratch", [backbone.name, config.seed, texts])
        publish_folder(folder, lambda target: write_tiny_model(backbone, texts, target, config.seed, shape={}))
        return str(folder), "random initialisation, character vocabulary from the training texts"
    return backbone.hub_id, backbone.hub_id
