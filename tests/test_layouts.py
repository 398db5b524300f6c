"""Every published checkpoint layout loads every encoder tensor, or is refused with one clear line.

The layouts (tests/layouts.py) are written as the releases are: config file name and fields, weights file,
key prefix, TensorFlow LayerNorm names, heads and stored position tables, tokenizer files; the weights are
random and tiny. Loading goes through the code path every run takes (benchmark.loading.checkpoint.load_pretrained),
by hub id through the hub cache for the hub layouts.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from layouts import LAYOUTS, TEXTS, build, layout
from safetensors.torch import save_file

from benchmark.errors import HarnessError
from benchmark.loading import checkpoint
from benchmark.loading.tokenizer import normalisation
from benchmark.registry import get_backbone

SHARED_VOCAB = Path(__file__).resolve().parents[2] / "shared" / "vocab" / "bert-base-chinese" / "vocab.txt"


def quiet_load(name: str, source: str, **options) -> checkpoint.Pretrained:
    return checkpoint.load_pretrained(get_backbone(name), source, checkpoint.LoadOptions(**options), log=lambda _: None)


@pytest.mark.parametrize("case", LAYOUTS, ids=lambda case: case.name)
def test_published_layout_loads_every_encoder_tensor(case, tmp_path):
    source, options, expected = build(case, tmp_path)
    loaded = quiet_load(case.backbone, source, **options)
    state = loaded.encoder.state_dict()
    assert set(state) == set(expected), "every tensor the encoder holds comes from the file"
    for name, tensor in state.items():
        assert torch.equal(tensor, expected[name].to(tensor.dtype)), name
    report = loaded.weights
    assert report.complete and report.loaded == len(expected) and report.ignored >= 8  # the MLM/NSP heads
    assert report.files == [case.weights_file]
    assert loaded.tokenizer.tokenize("NBA") == ["n", "##b", "##a"], "every backbone lower-cases Latin letters"


def test_nezha_community_conversion_sets_its_position_tables_aside(tmp_path):
    case = layout("nezha-lonepatient")
    source, options, _ = build(case, tmp_path)
    loaded = quiet_load("nezha", source, **options)
    # Two layers' tables and the eight head tensors; the tables are recomputed from the config instead.
    assert loaded.weights.ignored == 2 + 8 and loaded.encoder.config.max_relative_position == 4


def test_course_bert_folder_is_read_through_bert_config_json(tmp_path):
    source, _, _ = build(layout("bert-course"), tmp_path)
    assert not (Path(source) / "config.json").exists()
    loaded = quiet_load("bert", source)
    assert loaded.encoder.config.vocab_size == loaded.tokenizer.vocab_size, "not transformers' default 30522"


def test_bert_lower_cases_with_the_real_vocabulary_whatever_the_hub_files_say(tmp_path):
    if not SHARED_VOCAB.is_file():
        pytest.skip(f"the real bert-base-chinese vocabulary is not beside the repository ({SHARED_VOCAB.name})")
    # One token a line, split at "\n" only: splitlines() would also split at the vocabulary's U+2028 and U+0085.
    vocab = SHARED_VOCAB.read_text(encoding="utf-8").rstrip("\n").split("\n")
    assert not any("A" <= token <= "Z" for token in vocab if len(token) == 1), "the vocabulary is lower-case only"
    source, options, _ = build(layout("bert-hub"), tmp_path, vocab=vocab)
    snapshot = next(tmp_path.glob("models--*/snapshots/*"))
    assert json.loads((snapshot / "tokenizer_config.json").read_text())["do_lower_case"] is False
    assert json.loads((snapshot / "tokenizer.json").read_text())["normalizer"]["lowercase"] is False
    tokenizer = quiet_load("bert", source, **options).tokenizer
    for text in ("NBA", "A股", "iPhone"):
        assert tokenizer.unk_token_id not in tokenizer(text, add_special_tokens=False)["input_ids"], text
    assert normalisation(tokenizer)["lowercase"] is True


@pytest.mark.parametrize("spare", [0, 271, 600])
def test_a_decoder_embedding_may_have_the_spare_rows_its_declaration_allows(spare, tmp_path):
    """Qwen's published embedding has 271 rows more than its tokenizer has tokens; a BERT's has none spare."""
    from benchmark.loading.sources import write_tiny_model

    backbone = get_backbone("qwen2_5_0_5b")
    folder = write_tiny_model(backbone, TEXTS, tmp_path / "qwen")
    config = backbone.config_class.from_pretrained(folder)
    tokens, config.vocab_size = config.vocab_size, config.vocab_size + spare
    backbone.checkpoint_class(config).save_pretrained(folder)  # the weights hold the padded rows too
    if spare <= backbone.spare_embedding_rows:
        assert quiet_load(backbone.name, str(folder)).encoder.config.vocab_size == tokens + spare
    else:
        message = refused(backbone.name, str(folder))
        assert message.startswith(f"{folder / 'tokenizer.json'} holds {tokens} tokens but the embedding has ")
        assert f"{backbone.name} expects up to {backbone.spare_embedding_rows} more rows than tokens" in message


# ---------------------------------------------------------------- refused, each in one line


def refused(name: str, source: str, **options) -> str:
    with pytest.raises(HarnessError) as error:
        quiet_load(name, source, **options)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_another_architectures_config_is_refused(tmp_path):
    source, options, _ = build(layout("nezha-hub"), tmp_path)
    snapshot = next(tmp_path.glob("models--*/snapshots/*"))
    message = refused("bert", str(snapshot))
    assert "'nezha' model" in message and "bert is 'bert'" in message


def test_a_bert_checkpoint_loaded_as_nezha_is_refused_for_its_unused_positions(tmp_path):
    source, _, _ = build(layout("bert-course"), tmp_path)
    message = refused("nezha", source)
    assert "have no place in it" in message and "bert.embeddings.position_embeddings.weight" in message
    assert "--allow-missing-weights" in message


def test_allow_missing_weights_goes_on_and_reports(tmp_path):
    source, _, expected = build(layout("ernie-course"), tmp_path)
    weights = torch.load(Path(source) / "pytorch_model.bin", weights_only=True)
    del weights["bert.pooler.dense.weight"]
    torch.save(weights, Path(source) / "pytorch_model.bin")
    message = refused("ernie", source)
    assert f"{source} does not hold a complete ernie encoder" in message
    assert f"1 of its {len(expected)} tensors are missing (pooler.dense.weight)" in message
    said = []
    loaded = checkpoint.load_pretrained(
        get_backbone("ernie"), source, checkpoint.LoadOptions(allow_missing=True), log=said.append
    )
    assert not loaded.weights.complete and loaded.weights.missing == ["pooler.dense.weight"]
    assert loaded.weights.record()["complete"] is False and "WARNING" in said[0]


def test_max_length_beyond_the_models_positions_is_refused_before_loading_weights(tmp_path):
    source, _, _ = build(layout("bert-course"), tmp_path)
    (Path(source) / "pytorch_model.bin").write_bytes(b"not read")
    message = refused("bert", source, max_length=100000)
    assert message.startswith("--max-length 100000: expected at most 64") and source in message
    # NeZha's positions are relative: any length fits.
    nezha_source, _, _ = build(layout("nezha-huawei"), tmp_path)
    assert quiet_load("nezha", nezha_source, max_length=100000).weights.complete


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_safetensors_names_the_file(tmp_path, damage):
    source, options, _ = build(layout("bert-hub"), tmp_path)
    path = next(tmp_path.glob("models--*/snapshots/*")) / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    message = refused("bert", source, **options)
    assert str(path) in message and "download it again" in message


def test_truncated_pickle_names_the_file(tmp_path):
    source, _, _ = build(layout("ernie-course"), tmp_path)
    path = Path(source) / "pytorch_model.bin"
    path.write_bytes(path.read_bytes()[:5000])
    message = refused("ernie", source)
    assert str(path) in message and "cannot read the weights" in message


class Payload:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_a_pickle_holding_objects_is_never_unpickled(tmp_path, capsys):
    source, _, _ = build(layout("bert-course"), tmp_path)
    path = Path(source) / "pytorch_model.bin"
    with open(path, "wb") as handle:
        pickle.dump({"bert.embeddings.word_embeddings.weight": Payload()}, handle)
    message = refused("bert", source)
    assert message.startswith(f"{path}: holds more than tensors (builtins.print); refused, since loading it would run")
    assert "weights_only" not in message and "damaged" not in message
    assert "this would run on load" not in capsys.readouterr().out


def test_damaged_config_names_the_file_and_line(tmp_path):
    source, _, _ = build(layout("bert-course-renamed"), tmp_path)
    path = Path(source) / "config.json"
    path.write_text(path.read_text()[:40], encoding="utf-8")
    message = refused("bert", source)
    assert message.startswith(f"{path}:") and "not valid JSON" in message


def test_damaged_tokenizer_json_names_the_file(tmp_path):
    source, options, _ = build(layout("macbert-hub"), tmp_path)
    snapshot = next(tmp_path.glob("models--*/snapshots/*"))
    (snapshot / "tokenizer.json").write_text('{"version": "1.0", "trunc', encoding="utf-8")
    message = refused("macbert", source, **options)
    assert message.startswith(f"{snapshot / 'tokenizer.json'}: not valid JSON") and "download it again" in message


def test_folder_without_config_or_weights(tmp_path):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *TEXTS[0]]
    (tmp_path / "vocab.txt").write_text("\n".join(tokens), encoding="utf-8")
    message = refused("bert", str(tmp_path))
    assert "no model config; expected config.json or bert_config.json" in message
    (tmp_path / "config.json").write_text(json.dumps({"vocab_size": len(tokens)}), encoding="utf-8")
    assert "no weights; expected model.safetensors or pytorch_model.bin" in refused("bert", str(tmp_path))


def test_a_file_given_as_model_folder(tmp_path):
    weights = tmp_path / "model.safetensors"
    save_file({"x": torch.zeros(1)}, weights)
    assert "is a file; --model-path expects the folder" in refused("bert", str(weights))


def test_sharded_safetensors_load(tmp_path):
    source, _, expected = build(layout("bert-course-renamed"), tmp_path)
    folder = Path(source)
    weights = torch.load(folder / "pytorch_model.bin", weights_only=True)
    (folder / "pytorch_model.bin").unlink()
    names = sorted(weights)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({k: weights[k].contiguous() for k in keys}, folder / shard)
    index = {"weight_map": {k: shard for shard, keys in shards.items() for k in keys}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    loaded = quiet_load("bert", source)
    assert loaded.weights.complete and loaded.weights.loaded == len(expected)
    (folder / "model-00002-of-00002.safetensors").unlink()
    assert "lists model-00002-of-00002.safetensors, which is not in" in refused("bert", source)
